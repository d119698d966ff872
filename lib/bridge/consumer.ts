/**
 * The reading side shared by {@link PipeBridge} and {@link pull}: turns a transport's entries
 * into messages, reports and skips malformed ones, takes over what dead group members held,
 * and keeps what this member holds from being taken over while a slow reader delays it.
 * @module
 */
import { BridgeError } from './errors.js';
import type { TopicEntry, TopicReader } from './transport.js';

/** @internal One entry read: `message` is undefined when the entry was malformed or lost (already reported). */
export interface ConsumedItem {
  readonly id: string;
  readonly message: string | undefined;
}

/** @internal */
export interface ConsumerOptions {
  /** Most entries per read. */
  readonly count: number;
  /** Longest wait of one read, in ms. */
  readonly blockMs: number;
  /** Queue mode: entries idle this long on another member are taken over. */
  readonly claimIdleMs: number;
  /** Longest message, in UTF-8 bytes. */
  readonly maxMessageBytes: number;
  /** Where problems go. */
  readonly warn: (error: BridgeError) => void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** @internal Reads, checks, claims and keeps alive; the caller delivers and then acknowledges. */
export class TopicConsumer {
  #nextClaim = 0;
  #held = new Set<string>();
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #queue: boolean;

  constructor(
    readonly reader: TopicReader,
    private readonly options: ConsumerOptions,
  ) {
    this.#queue = reader.subscription.mode === 'queue';
    // A member that just started looks for orphans soon, but not before its own pending entries.
    this.#nextClaim = Date.now() + Math.min(1000, this.#claimInterval);
  }

  /** Scanning the group's pending list more often than entries can become claimable is wasted work. */
  get #claimInterval(): number {
    return Math.max(50, Math.floor(this.options.claimIdleMs / 2));
  }

  /** The next batch; `[]` when nothing came within `blockMs`. Rejects only when the reader is closed. */
  async next(): Promise<ConsumedItem[]> {
    const { count } = this.options;
    if (this.#queue && Date.now() >= this.#nextClaim) {
      const claimed = await this.reader.claim({ minIdleMs: this.options.claimIdleMs, count });
      // A full page means the scan is not over: go on at once.
      this.#nextClaim = claimed.length >= count ? 0 : Date.now() + this.#claimInterval;
      if (claimed.length > 0) return this.#check(claimed);
    }
    // Blocking past the next claim would delay taking over a dead member's entries.
    const untilClaim = this.#queue ? Math.max(10, this.#nextClaim - Date.now()) : Infinity;
    const entries = await this.reader.read({ count, blockMs: Math.min(this.options.blockMs, untilClaim) });
    return this.#check(entries);
  }

  #check(entries: readonly TopicEntry[]): ConsumedItem[] {
    const topic = this.reader.subscription.topic;
    return entries.map((entry) => {
      const decoded = this.#decode(entry);
      if (typeof decoded === 'string') return { id: entry.id, message: decoded };
      this.options.warn(
        entry.deleted
          ? new BridgeError('ERR_BRIDGE_LOST', `Entry ${entry.id} of '${topic}' was deleted (trimmed?) before it was delivered: that message is lost.`, {
              topic,
              id: entry.id,
            })
          : new BridgeError('ERR_BRIDGE_MALFORMED', `Entry ${entry.id} of '${topic}' ${decoded.problem}; it was skipped.`, { topic, id: entry.id }),
      );
      return { id: entry.id, message: undefined };
    });
  }

  /** The entry as one line, or why it cannot be one. */
  #decode(entry: TopicEntry): string | { problem: string } {
    const payload = entry.payload;
    if (payload === undefined) return { problem: 'has no message field' };
    if (payload.byteLength > this.options.maxMessageBytes) {
      return { problem: `is ${payload.byteLength} bytes long, more than maxMessageBytes (${this.options.maxMessageBytes})` };
    }
    let text: string;
    try {
      text = utf8.decode(payload);
    } catch {
      return { problem: 'is not a UTF-8 string' };
    }
    return text.includes('\n') ? { problem: 'contains a newline' } : text;
  }

  /** Acknowledges delivered entries (see {@link TopicReader.ack}). */
  ack(ids: readonly string[]): Promise<void> {
    return this.reader.ack(ids);
  }

  /**
   * Entries being delivered: while any are held, the broker is told now and then that they
   * are in progress, so a slow local reader does not get them taken over and delivered twice.
   */
  hold(ids: readonly string[]): void {
    if (!this.#queue) return;
    for (const id of ids) this.#held.add(id);
    if (this.#heartbeat !== undefined || this.#held.size === 0) return;
    this.#heartbeat = setInterval(
      () => void this.reader.inProgress([...this.#held]).catch(() => {}),
      Math.max(20, Math.floor(this.options.claimIdleMs / 3)),
    ).unref();
  }

  /** Entries delivered (or given up): no longer kept alive. */
  release(ids: readonly string[]): void {
    if (this.#held.size === 0) return;
    for (const id of ids) this.#held.delete(id);
    if (this.#held.size === 0 && this.#heartbeat !== undefined) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  /** Stops the heartbeat. */
  dispose(): void {
    this.#held.clear();
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
