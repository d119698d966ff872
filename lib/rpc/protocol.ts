/**
 * The shapes of JSON-RPC 2.0 messages, and telling them apart.
 * @module
 */
import type { RpcErrorObject } from './errors.js';

/** A request id: this package sends numbers; a peer may use strings, or `null` (discouraged by the specification). */
export type RpcId = string | number | null;

/** Params of a request or notification: by position or by name. */
export type RpcParams = readonly unknown[] | Readonly<Record<string, unknown>>;

/** A call that expects a response. */
export interface RpcRequestMessage {
  /** Always `'2.0'`. */
  jsonrpc: '2.0';
  /** Echoed in the response. */
  id: RpcId;
  /** The method to call. */
  method: string;
  /** Its params, if any. */
  params?: RpcParams;
}

/** A call that gets no response. */
export interface RpcNotificationMessage {
  /** Always `'2.0'`. */
  jsonrpc: '2.0';
  /** The method to call. */
  method: string;
  /** Its params, if any. */
  params?: RpcParams;
}

/** A successful response. */
export interface RpcResultMessage {
  /** Always `'2.0'`. */
  jsonrpc: '2.0';
  /** The request's id. */
  id: RpcId;
  /** What the method returned (`null` for nothing). */
  result: unknown;
}

/** A failed response. */
export interface RpcErrorMessage {
  /** Always `'2.0'`. */
  jsonrpc: '2.0';
  /** The request's id, or `null` when it could not be read (parse error, invalid request). */
  id: RpcId;
  /** What went wrong. */
  error: RpcErrorObject;
}

/** Any single JSON-RPC 2.0 message. */
export type RpcMessage = RpcRequestMessage | RpcNotificationMessage | RpcResultMessage | RpcErrorMessage;

/** @internal What a parsed JSON value is, as a JSON-RPC message. */
export type Classified =
  | { kind: 'request'; message: RpcRequestMessage }
  | { kind: 'notification'; message: RpcNotificationMessage }
  | { kind: 'response'; message: RpcResultMessage | RpcErrorMessage }
  /** Looks like a response but is not a valid one: responses are never answered, so this is only reported. */
  | { kind: 'bad-response'; reason: string }
  /** To be answered with -32600. */
  | { kind: 'invalid'; id: RpcId; reason: string };

const isId = (id: unknown): id is RpcId => typeof id === 'string' || typeof id === 'number' || id === null;

/** @internal Sorts one JSON value (not a batch) into what the peer must do with it. */
export function classify(value: unknown): Classified {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'invalid', id: null, reason: `a message must be an object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}` };
  }
  const m = value as Record<string, unknown>;
  // The id is echoed only when it is a valid one: the specification wants null when it cannot be read.
  const id = isId(m.id) ? m.id : null;
  if ('method' in m) {
    if (m.jsonrpc !== '2.0') return { kind: 'invalid', id, reason: `"jsonrpc" must be "2.0", got ${JSON.stringify(m.jsonrpc)}` };
    if (typeof m.method !== 'string') return { kind: 'invalid', id, reason: `"method" must be a string, got ${JSON.stringify(m.method)}` };
    if ('params' in m && (typeof m.params !== 'object' || m.params === null)) {
      return { kind: 'invalid', id, reason: `"params" must be an array or an object, got ${JSON.stringify(m.params)}` };
    }
    if (!('id' in m)) return { kind: 'notification', message: m as unknown as RpcNotificationMessage };
    if (!isId(m.id)) return { kind: 'invalid', id: null, reason: `"id" must be a string, a number or null, got ${JSON.stringify(m.id)}` };
    return { kind: 'request', message: m as unknown as RpcRequestMessage };
  }
  if ('result' in m || 'error' in m) {
    if (m.jsonrpc !== '2.0') return { kind: 'bad-response', reason: `"jsonrpc" must be "2.0", got ${JSON.stringify(m.jsonrpc)}` };
    if (!('id' in m) || !isId(m.id)) return { kind: 'bad-response', reason: 'a response needs an "id" that is a string, a number or null' };
    if ('result' in m && 'error' in m) return { kind: 'bad-response', reason: 'a response has either "result" or "error", not both' };
    if ('error' in m) {
      const error = m.error as Partial<RpcErrorObject> | null;
      if (typeof error !== 'object' || error === null || !Number.isInteger(error.code) || typeof error.message !== 'string') {
        return { kind: 'bad-response', reason: '"error" must be an object with an integer "code" and a string "message"' };
      }
    }
    return { kind: 'response', message: m as unknown as RpcResultMessage | RpcErrorMessage };
  }
  return { kind: 'invalid', id, reason: 'a message needs "method" (a request or notification) or "result"/"error" (a response)' };
}
