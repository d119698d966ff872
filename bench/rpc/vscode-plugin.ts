/** The RPC bench's anchor: the same `add` served by vscode-jsonrpc over stdio, as an LSP server is. */
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';

const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
connection.onRequest('add', ({ a, b }: { a: number; b: number }) => a + b);
connection.onClose(() => process.exit(0));
connection.listen();
