/**
 * What a channel must offer for JSON-RPC to run over it, and the one adapter that uses it.
 * @module
 */
import { PluginHandle, type PluginExit } from '../plugin/index.js';

/**
 * A line channel an {@link RpcPeer} can run over. `PipeIOServer`, `PluginHandle` and
 * `PipeIOClient` all are one, in the text codec (the default): the peer does the JSON itself,
 * one message per line, so that it can answer a line that is not JSON with -32700.
 *
 * - `send(line)` writes one line and resolves once it is written; it rejects when the
 *   channel is closed.
 * - `messages()` yields every line received from the moment it is called, and ends when
 *   the channel closes for good; that end is how the peer learns the channel is gone. While
 *   the peer does not take lines (its handlers are saturated), the iterator should stop
 *   reading: the package's iterators pause their pipe, which makes the sender wait.
 */
export interface RpcChannel {
  /** Writes one line (no newline in it). */
  send(line: string): Promise<unknown>;
  /** Lines received from now on; ends when the channel closes. */
  messages(): AsyncIterator<unknown> | AsyncIterable<unknown>;
}

/** @internal The channel as the peer uses it. */
export interface ChannelLink {
  send(line: string): Promise<unknown>;
  lines: AsyncIterator<unknown>;
  /**
   * Calls `listener` each time the process on the other end is gone while the channel
   * itself goes on (a plugin instance exited; with `restart: 'on-failure'` another will read
   * the same pipes). Returns the unsubscribe.
   */
  onPeerExit(listener: (status: PluginExit) => void): () => void;
}

/** @internal */
export function linkChannel(channel: RpcChannel): ChannelLink {
  const source = channel.messages();
  const lines = Symbol.asyncIterator in source ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (source as AsyncIterator<unknown>);
  return {
    send: (line) => channel.send(line),
    lines,
    onPeerExit(listener) {
      // Only a plugin has instances that die under a channel that stays: a server or a client
      // ends its iterator when it closes, and that is all the peer needs from them.
      if (!(channel instanceof PluginHandle)) return () => {};
      channel.on('exit', listener);
      return () => void channel.off('exit', listener);
    },
  };
}
