#!/usr/bin/env bash
# Example pipe-io RPC plugin in bash: serves JSON-RPC 2.0 (one message per line)
# with jq. Methods:
#   add    [a, b]       -> a + b
#   upper  {"text": s}  -> s in capitals
# Batches are answered as the specification says; notifications ($/cancelRequest
# included) and responses get no reply. One jq process per message: fine for a
# few calls per second, not for thousands.
#
#   pipe-io call add '[2, 3]' -- bash clients/bash/example-rpc-plugin.sh
set -u
command -v jq >/dev/null || { echo "example-rpc-plugin.sh: jq is required" >&2; exit 1; }

# One message in, its reply (or nothing) out. `id` is echoed verbatim; the
# specification wants null when it cannot be read.
read -r -d '' PROGRAM <<'JQ'
def reply($id; body): {jsonrpc: "2.0", id: $id} + body;
def error($id; code; msg): reply($id; {error: {code: code, message: msg}});
def valid_id: type == "string" or type == "number" or type == "null";
def handle:
  if type != "object" then error(null; -32600; "Invalid Request")
  elif has("method") | not then
    if has("result") or has("error") then empty                 # a response: never answered
    else error(if (.id | valid_id) then .id else null end; -32600; "Invalid Request") end
  elif .jsonrpc != "2.0" or (.method | type) != "string"
       or (has("params") and ((.params | type) as $t | $t != "array" and $t != "object"))
    then error(if (.id | valid_id) then .id else null end; -32600; "Invalid Request")
  elif has("id") | not then empty                                # a notification
  elif (.id | valid_id) | not then error(null; -32600; "Invalid Request")
  elif .method == "add" then
    if (.params | type) == "array" and (.params | length) == 2 and all(.params[]; type == "number")
    then reply(.id; {result: (.params[0] + .params[1])})
    else error(.id; -32602; "Invalid params: add takes [number, number]") end
  elif .method == "upper" then
    if (.params | type) == "object" and (.params.text | type) == "string"
    then reply(.id; {result: (.params.text | ascii_upcase)})
    else error(.id; -32602; "Invalid params: upper takes {\"text\": string}") end
  else error(.id; -32601; "Method not found") end;
if type == "array" then
  if length == 0 then error(null; -32600; "Invalid Request")
  else [.[] | handle] | if length == 0 then empty else . end end
else handle end
JQ

exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
# `read` takes one byte per read(2) from a pipe: nothing is read ahead, so a
# restarted plugin loses no message.
while IFS= read -r line <&3; do
  if ! reply=$(jq -c "$PROGRAM" <<<"$line" 2>/dev/null); then
    reply='{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'
  fi
  [ -z "$reply" ] || printf '%s\n' "$reply" >&4 || exit 0   # the host went away
done
