/**
 * Plugins: a child process that talks to its host over a private FIFO pair. `handle.ts`
 * ties together the channel (`channel.ts`: the folder, the FIFOs and their servers) and the
 * supervision of the process (`supervisor.ts`: process group, restarts, stop).
 * @module
 */
export { spawnPlugin, PluginHandle } from './handle.js';
export type { PluginOptions, PluginExit, PluginRestartInfo, PluginEvents, PluginState } from './types.js';
