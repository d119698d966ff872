/**
 * The examples at the end of the JSON-RPC 2.0 specification, as raw lines with the replies it
 * shows, for the conformance tests of every RPC peer the package ships (Node, Python).
 */

/** [request line, expected reply (undefined: none)], in the specification's order. */
export const EXAMPLES: [string, string, unknown][] = [
  ['positional params', '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}', { jsonrpc: '2.0', result: 19, id: 1 }],
  ['positional params, reversed', '{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}', { jsonrpc: '2.0', result: -19, id: 2 }],
  ['named params', '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}', { jsonrpc: '2.0', result: 19, id: 3 }],
  ['named params, other order', '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}', { jsonrpc: '2.0', result: 19, id: 4 }],
  ['a notification', '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', undefined],
  ['a notification of a missing method', '{"jsonrpc": "2.0", "method": "foobar"}', undefined],
  ['a non-existent method', '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}', { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: '1' }],
  ['invalid JSON', '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }],
  ['an invalid Request object', '{"jsonrpc": "2.0", "method": 1, "params": "bar"}', { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }],
  [
    'a batch of invalid JSON',
    '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]',
    { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null },
  ],
  ['an empty array', '[]', { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }],
  ['an invalid batch, not empty', '[1]', [{ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }]],
  [
    'an invalid batch',
    '[1,2,3]',
    [
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
    ],
  ],
  [
    'a batch',
    '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}, {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"}, {"foo": "boo"}, {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"}, {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]',
    [
      { jsonrpc: '2.0', result: 7, id: '1' },
      { jsonrpc: '2.0', result: 19, id: '2' },
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
      { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: '5' },
      { jsonrpc: '2.0', result: ['hello', 5], id: '9' },
    ],
  ],
  ['a batch of notifications', '[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]', undefined],
];

/** JSON with sorted keys: member order means nothing in JSON. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
/** Batch replies compared as sets (the specification lets them come in any order). */
export const normalize = (value: unknown): unknown => (Array.isArray(value) ? value.map(canonical).sort() : canonical(value));

