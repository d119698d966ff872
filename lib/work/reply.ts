/**
 * Reply mode: the program is a JSON-RPC plugin (spawnPlugin + RpcPeer); each entry is one
 * request `METHOD({ message, meta })`, and its result is the entry's one output (`null`: no
 * output, for a filter that drops it).
 *
 * Delivery, at least once: an entry is acknowledged only after its output is appended. When
 * the program dies holding requests, they are sent again to its next instance (the reply ids
 * keep each result tied to its entry, so a reply to the dead instance's copy is dropped as
 * late); when the worker dies, what it held goes to another member of the group after the
 * claim timeout. Duplicates in the output can come only from entries whose output was
 * appended and whose acknowledgement was lost with the worker: at most what was in flight.
 * A request the program answers with an error is reported and skipped (acknowledged).
 * @module
 */
import { BridgeError } from '../bridge/errors.js';
import { type PluginHandle, spawnPlugin } from '../plugin/handle.js';
import type { PluginExit } from '../plugin/types.js';
import { RpcError, RpcErrorCodes } from '../rpc/errors.js';
import { RpcPeer } from '../rpc/peer.js';
import type { ProgramOptions, Stage, StageContext, StageInput } from './stage.js';

/** @internal How a reply stage runs its program. */
export interface ReplyStageOptions extends ProgramOptions {
  readonly method: string;
  readonly from: string;
}

/** @internal See the module comment. */
export class ReplyStage implements Stage {
  readonly #options: ReplyStageOptions;
  readonly #context: StageContext;
  #plugin: PluginHandle | undefined;
  #rpc: RpcPeer | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #ended: Promise<PluginExit> = new Promise(() => {});

  constructor(options: ReplyStageOptions, context: StageContext) {
    this.#options = options;
    this.#context = context;
  }

  get ended(): Promise<PluginExit> {
    return this.#ended;
  }

  async start(): Promise<void> {
    const { command, args, env, restart, maxRestarts, gracePeriod } = this.#options;
    const plugin = await spawnPlugin(command, args, { stdio: 'pipe', env, restart, maxRestarts, gracePeriod });
    this.#plugin = plugin;
    plugin.stdout!.pipe(this.#context.stderr, { end: false });
    plugin.stderr!.pipe(this.#context.stderr, { end: false });
    plugin.on('warning', (error) => this.#context.warn(new BridgeError('ERR_BRIDGE_MALFORMED', `The program: ${error.message}`, { cause: error })));
    plugin.on('restart', (info) => this.#context.restarting(info));
    // The handler bound stays the peer's default; the worker's maxInFlight is the real bound.
    this.#rpc = new RpcPeer(plugin, { maxQueued: 1 << 20 });
    this.#rpc.on('warning', (warning) => {
      // Replies to requests that died with an instance, and were sent again, are expected.
      if (warning.kind === 'unknown-response') return;
      this.#context.warn(new BridgeError('ERR_BRIDGE_MALFORMED', `The program: ${warning.message}`, { cause: warning }));
    });
    this.#ended = plugin.exited;
  }

  feed(inputs: readonly StageInput[]): Promise<void> {
    for (const input of inputs) {
      const work = this.#handle(input).finally(() => this.#inFlight.delete(work));
      this.#inFlight.add(work);
    }
    // The worker bounds what is in flight; nothing to wait for here.
    return Promise.resolve();
  }

  async #handle(input: StageInput): Promise<void> {
    const rpc = this.#rpc!;
    for (;;) {
      let result: unknown;
      try {
        result = await rpc.request(this.#options.method, { message: input.value, meta: this.#context.meta(input.id) });
      } catch (error) {
        if (error instanceof RpcError && error.code === RpcErrorCodes.PeerExited) {
          // It may have run it or not: it has no output, so it runs again (at least once).
          this.#context.retried();
          continue;
        }
        if (error instanceof RpcError && error.code !== RpcErrorCodes.ConnectionClosed && error.code !== RpcErrorCodes.RequestCancelled) {
          this.#context.done(
            input.id,
            new BridgeError('ERR_BRIDGE_MALFORMED', `Entry ${input.id} of '${this.#options.from}': the program answered error ${error.code} (${error.message}); it was skipped.`, {
              topic: this.#options.from,
              id: input.id,
              cause: error,
            }),
          );
          return;
        }
        // The program is gone for good: the entry stays unacknowledged and comes again later.
        return;
      }
      if (result !== null && result !== undefined) {
        try {
          await this.#context.output(result, input.id);
        } catch {
          return; // closing: not appended, so not acknowledged
        }
      }
      this.#context.done(input.id);
      return;
    }
  }

  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
  }

  async stop(): Promise<PluginExit> {
    await this.#rpc?.close();
    if (this.#plugin === undefined) return { code: null, signal: null, restarts: 0 };
    const plugin = this.#plugin;
    // End of input first, as pipe-io call does: a plugin's cue to exit on its own.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      plugin.end().then(() => plugin.exited.then(() => true)),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#options.gracePeriod))),
    ]);
    clearTimeout(timer);
    return ended ? plugin.exited : plugin.stop();
  }
}
