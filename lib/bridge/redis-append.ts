/**
 * Appending to a stream exactly once: a Lua script keyed by a per-producer batch number, so
 * that a batch sent again after a lost reply is not appended twice.
 * @module
 */
import { messageOf } from '../errors.js';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BridgeError, closedError } from './errors.js';
import { type Failure, type RedisConnection } from './redis-link.js';

/**
 * Appends one batch exactly once. KEYS: stream, producer key. ARGV: batch number, TTL of the
 * producer key, field, MAXLEN ('' for none), messages… A batch number not above the last one
 * this producer appended means the batch is already in: its reply was lost, not its effect.
 * The producer key is written last, so a batch cut short by an error is appended again
 * (duplicates) rather than skipped (loss).
 */
const APPEND_SCRIPT = `local seq = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') >= seq then return 0 end
for i = 5, #ARGV do
  if ARGV[4] == '' then
    redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[i])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', ARGV[3], ARGV[i])
  end
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return #ARGV - 4`;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');
const PRODUCER_TTL_SECONDS = 24 * 3600;

/** @internal What an appender needs from its transport. */
export interface AppendContext {
  /** The main connection, once connected. */
  connection(): Promise<RedisConnection>;
  classify(error: unknown): Failure;
  warn(error: BridgeError): void;
  readonly closed: boolean;
}

/**
 * @internal Appends batches one at a time, in call order, each exactly once. Owns the producer
 * key and the batch numbers of one transport.
 */
export class StreamAppender {
  #seq = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #useEval = false;

  constructor(
    private readonly context: AppendContext,
    private readonly producerKey: string,
    private readonly field: string,
    private readonly maxLen: number | undefined,
  ) {}

  append(topic: string, messages: readonly string[]): Promise<void> {
    const run = this.#chain.then(() => this.#append(topic, messages));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #append(topic: string, messages: readonly string[]): Promise<void> {
    if (messages.length === 0) return;
    const main = await this.context.connection();
    const seq = String(++this.#seq);
    const tail = [this.producerKey, seq, String(PRODUCER_TTL_SECONDS), this.field, String(this.maxLen ?? ''), ...messages];
    for (let attempt = 0; ; attempt++) {
      if (this.context.closed) throw closedError(`Cannot append to '${topic}'`, topic);
      try {
        await main.sendCommand(this.#useEval ? ['EVAL', APPEND_SCRIPT, '2', topic, ...tail] : ['EVALSHA', APPEND_SHA, '2', topic, ...tail]);
        return;
      } catch (error) {
        const failure = this.context.classify(error);
        if (failure === 'closed') throw closedError(`Cannot append to '${topic}'`, topic);
        if (failure === 'reply' && messageOf(error).startsWith('NOSCRIPT')) {
          // A restarted Redis has an empty script cache; EVAL loads the script again.
          this.#useEval = true;
          continue;
        }
        this.#useEval = false;
        if (failure === 'reply') {
          this.context.warn(new BridgeError('ERR_BRIDGE_BROKER', `Redis refused to append to '${topic}' (${messageOf(error)}); retrying.`, { topic, cause: error }));
        }
        // The outcome of a command cut by a lost connection is unknown: the batch number makes the retry safe.
        await sleep(Math.min(50 * 2 ** Math.min(attempt, 6), 2000));
      }
    }
  }
}
