/** The RPC bench's Node plugin: RpcPeer over PipeIOClient, serving `add` { a, b }. */
import { PipeIOClient, RpcPeer } from '../../lib/index.js';

const client = new PipeIOClient();
await client.connect();
const rpc = new RpcPeer(client, { methods: { add: ({ a, b }: { a: number; b: number }) => a + b } });
await rpc.closed;
await client.close();
