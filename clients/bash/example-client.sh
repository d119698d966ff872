#!/usr/bin/env bash
# Example pipe-io client in plain bash: replies "echo: <message>" to every
# message and exits 0 when the server stops (end of stream).
#
#   example-client.sh [SEND_PATH RECV_PATH]     (default: $PIPE_IO_SEND, $PIPE_IO_RECV)
#
# It needs nothing but bash; pipe-io.sh wraps the same steps in functions.
set -u

send=${1:-${PIPE_IO_SEND:-}}
recv=${2:-${PIPE_IO_RECV:-}}
if [[ -z $send || -z $recv ]]; then
    echo "usage: $0 SEND_PATH RECV_PATH (or set PIPE_IO_SEND and PIPE_IO_RECV)" >&2
    exit 2
fi
if [[ ! -p $send || ! -p $recv ]]; then
    echo "$0: $send and $recv must be FIFOs (is the server running?)" >&2
    exit 1
fi

# bash's printf goes through a stdio buffer sized when the script first prints:
# 1024 bytes if stdout is a terminal then, which would split replies longer than
# that into several write()s. Printing to /dev/null first sizes it at 4096 (PIPE_BUF).
printf x >/dev/null

# Open the send pipe once: `printf ... > "$send"` per reply would hang if the
# server stopped meanwhile (no reader), or create a regular file if it had
# already removed the FIFO. With a kept descriptor a late reply fails (EPIPE).
exec {send_fd}>"$send" || exit 1

# `done < "$recv"` opens the recv pipe once for the whole loop. bash's read takes
# one byte per read() from a pipe, so it never swallows the next message.
while IFS= read -r message; do
    reply="echo: $message"
    # One printf of the whole line = one write(), atomic up to 4096 bytes.
    printf '%s\n' "$reply" >&"$send_fd" || break
done < "$recv"

exec {send_fd}>&-
exit 0
