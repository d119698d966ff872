/**
 * The host's side of a plugin's FIFO pair: a private folder, the two FIFOs in it, and the
 * servers on them. It outlives any one run of the plugin, which is what makes restarts
 * lossless for lines not yet read (see handle.ts).
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CodecOption, Outgoing } from '../codec.js';
import { PipeIOError } from '../errors.js';
import type { OversizeInfo } from '../events.js';
import { makeFifo } from '../fifo.js';
import { PipeReaderServer } from '../reader.js';
import { PipeWriterServer } from '../writer.js';
import { groupHasOpen } from './procfs.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;

/** Where the channel reports what it receives. */
export interface ChannelSink<T> {
  message: (...message: [T]) => void;
  oversize: (info: OversizeInfo) => void;
  warning: (error: PipeIOError) => void;
  drain: () => void;
}

/** What {@link PluginChannel.end} needs to know of the process on the other end. */
export interface ChannelPeer {
  /** The running instance's pid, or `undefined` between runs. */
  readonly pid: number | undefined;
  /** Whether an instance runs or one is about to. */
  readonly alive: boolean;
}

/** The FIFO pair in `dir`, served. */
export class PluginChannel<T> {
  /** The private folder. */
  readonly dir: string;
  /** `PIPE_IO_SEND`: the FIFO the plugin writes to. */
  readonly sendPath: string;
  /** `PIPE_IO_RECV`: the FIFO the plugin reads from. */
  readonly recvPath: string;
  readonly #sink: ChannelSink<T>;
  #reader: PipeReaderServer<T> | undefined;
  #writer: PipeWriterServer<T> | undefined;
  #accepting = true;
  /** end() has closed the host's writer: the plugin reads end of stream once the pipe is empty. */
  #inputEnded = false;
  /** A reader on the recv pipe that never reads; see open(). */
  #keeper = -1;
  #ending: Promise<void> | undefined;
  #pending = new Set<Promise<void>>();

  constructor(dir: string, sink: ChannelSink<T>) {
    this.dir = dir;
    this.sendPath = path.join(dir, 'send');
    this.recvPath = path.join(dir, 'recv');
    this.#sink = sink;
  }

  /** Makes the FIFOs in the (existing, private) folder and starts serving them. */
  async open(options: { codec?: CodecOption<T> | undefined; highWaterMark?: number | undefined; maxMessageBytes?: number | undefined }): Promise<void> {
    const { codec, highWaterMark, maxMessageBytes } = options;
    const warn = this.#sink.warning;
    // The host makes the FIFOs and removes them with the folder, and holds a reader of its
    // own on the recv pipe (#keeper) for the plugin's whole life, past the writer server's:
    // after end() the lines not yet read must outlive a crash of the plugin and the path
    // must stay, so that a restarted instance still gets them, then end of stream.
    await makeFifo(this.sendPath, 0o600);
    await makeFifo(this.recvPath, 0o600);
    this.#keeper = fs.openSync(this.recvPath, O_RDONLY | O_NONBLOCK);
    this.#writer = new PipeWriterServer<T>(this.recvPath, { managePipes: false, codec, highWaterMark });
    this.#writer.on('warning', warn).on('drain', this.#sink.drain);
    this.#reader = new PipeReaderServer<T>(this.sendPath, { managePipes: false, codec, maxMessageBytes });
    this.#reader.on('warning', warn).on('oversize', this.#sink.oversize).on('message', this.#sink.message);
    // The out pipe first, as PipeIOServer does: a plugin that finds its recv pipe can count on it.
    await this.#writer.start();
    await this.#reader.start();
  }

  /** Whether the send queue is above `highWaterMark`. */
  get needsDrain(): boolean {
    return this.#writer?.needsDrain ?? false;
  }

  /** Refuses further sends. */
  refuse(): void {
    this.#accepting = false;
  }

  /** See {@link PluginHandle.send}. */
  send(value: Outgoing<T>, id: string): Promise<void> {
    if (!this.#accepting || !this.#writer) {
      return Promise.reject(
        new PipeIOError('ERR_SERVER_STOPPED', `Cannot send to the plugin '${id}': it is ${this.#inputEnded ? 'ended (end() was called)' : 'stopping or done'}.`, {
          path: this.recvPath,
        }),
      );
    }
    const sent = this.#writer.send(value);
    this.#pending.add(sent);
    const forget = (): void => void this.#pending.delete(sent);
    sent.then(forget, forget);
    return sent;
  }

  /** See {@link PluginHandle.end}. */
  end(peer: ChannelPeer): Promise<void> {
    this.#ending ??= (async () => {
      this.#accepting = false;
      await Promise.allSettled([...this.#pending]);
      // A plugin that opens its recv pipe after the host's writer is gone would block in
      // open() for good (a blocking open for reading waits for a writer): close only once the
      // plugin has it open. Nothing in the FIFO API tells when a reader arrives; /proc does.
      while (peer.alive) {
        const pid = peer.pid;
        if (pid !== undefined && (await this.#untilOpened(peer, pid))) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      this.#inputEnded = true;
      await this.#writer?.stop();
    })();
    return this.#ending;
  }

  /**
   * A restarted instance is about to start: after end() no writer is left on the recv pipe,
   * and a plugin's blocking open() for reading waits for one, so lend it one until the new
   * instance has the pipe open.
   */
  relaunching(peer: ChannelPeer, started: Promise<number | undefined>): void {
    let bridge = -1;
    try {
      if (this.#inputEnded) bridge = fs.openSync(this.recvPath, O_WRONLY | O_NONBLOCK);
    } catch (error) {
      this.#sink.warning(new PipeIOError('ERR_PIPE_OPEN', `Cannot hold '${this.recvPath}' open for the restarted plugin: ${(error as Error).message}`, { path: this.recvPath, cause: error }));
    }
    if (bridge < 0) return;
    void started
      .then((pid) => (pid === undefined ? undefined : this.#untilOpened(peer, pid)))
      .finally(() => fs.closeSync(bridge));
  }

  /**
   * Resolves true once instance `pid` (or a process in its group) has the recv pipe open,
   * false if it is no longer the running instance.
   */
  async #untilOpened(peer: ChannelPeer, pid: number): Promise<boolean> {
    let delay = 5;
    while (peer.pid === pid) {
      if (groupHasOpen(pid, this.recvPath)) return true;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 100);
    }
    return false;
  }

  /** Stops both servers. */
  async stopServers(): Promise<void> {
    await Promise.all([this.#reader?.stop(), this.#writer?.stop()]);
  }

  /** Lets go of the FIFOs and removes the folder; reports a folder it cannot remove. */
  async remove(): Promise<void> {
    if (this.#keeper >= 0) fs.closeSync(this.#keeper);
    this.#keeper = -1;
    await fs.promises.rm(this.dir, { recursive: true, force: true }).catch((error: unknown) => {
      this.#sink.warning(new PipeIOError('ERR_PIPE_OPEN', `Cannot remove the plugin folder '${this.dir}': ${(error as Error).message}`, { path: this.dir, cause: error }));
    });
  }

  /** Removes the folder synchronously, for a host that is exiting. */
  removeNow(): void {
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // The host is exiting: nothing left to report to.
    }
  }

  /** The plugin's messages as an async iterator; see {@link PluginHandle.messages}. */
  messages(): AsyncIterableIterator<T> {
    return this.#reader!.messages();
  }
}
