# pipe-io.sh: talk to a pipe-io-server from bash (>= 4.1). Source it, don't run it.
#
#   . pipe-io.sh
#   pipe_io_connect "$@" || exit 1          # send path, recv path; default: $PIPE_IO_SEND, $PIPE_IO_RECV
#   pipe_io_send "hello"
#   while pipe_io_recv message; do
#       pipe_io_send "echo: $message" || break
#   done                                    # the loop ends when the server stops
#   pipe_io_close
#
# A message is one line of UTF-8 text without its newline.

# Prime bash's stdout buffer. bash's printf/echo builtins write through one stdio
# buffer whose size is fixed the first time the script prints anything: 4096 bytes
# if stdout was then a pipe, a file or /dev/null, but 1024 if it was a terminal.
# A line longer than that buffer leaves printf as several write()s, and another
# client's line can land between them. Printing a byte to /dev/null here, before
# the script can print to a terminal, gets the 4096-byte buffer (= PIPE_BUF).
# (If the script printed to a terminal before sourcing this file, it is too late.)
printf x >/dev/null

# The descriptors pipe_io_connect opens; empty when not connected.
pipe_io_send_fd=
pipe_io_recv_fd=

# pipe_io_connect [SEND_PATH RECV_PATH]
# Opens both pipes once and keeps them open until pipe_io_close or exit.
# Waits until the server has its pipes open.
#
# Why keep the send pipe open instead of `printf ... > "$path"` per message:
#  - a blocking open of a FIFO for writing waits for a reader, so a per-message
#    open after the server has stopped would hang forever instead of failing;
#  - if the server has already removed its FIFO, `> "$path"` silently creates a
#    regular file there, swallowing the message and breaking the next server;
#  - with a kept descriptor a write after the server stopped fails with EPIPE.
# The recv pipe stays open too, so the script reads one continuous stream.
pipe_io_connect() {
    local send=${1:-${PIPE_IO_SEND:-}} recv=${2:-${PIPE_IO_RECV:-}}
    if [[ -z $send || -z $recv ]]; then
        echo "pipe_io_connect: give SEND and RECV paths or set PIPE_IO_SEND and PIPE_IO_RECV" >&2
        return 2
    fi
    # Refuse anything but a FIFO: opening a missing path for writing would create a file.
    if [[ ! -p $send || ! -p $recv ]]; then
        echo "pipe_io_connect: no FIFO at $([[ -p $send ]] && echo "$recv" || echo "$send") (is the server running?)" >&2
        return 1
    fi
    pipe_io_close
    # Each blocking open returns once the server holds the other end.
    exec {pipe_io_recv_fd}<"$recv" || { pipe_io_recv_fd=; return 1; }
    exec {pipe_io_send_fd}>"$send" || { pipe_io_send_fd=; pipe_io_close; return 1; }
}

# pipe_io_send MESSAGE
# One printf of the whole line is one write() up to 4096 bytes, so lines up to
# that size are never interleaved with other clients' lines. Longer lines cannot
# be atomic on a pipe. If the server has stopped, the write fails with EPIPE and,
# as for any shell command, SIGPIPE ends the script unless it runs `trap '' PIPE`
# (then pipe_io_send returns non-zero instead).
pipe_io_send() {
    if [[ -z $pipe_io_send_fd ]]; then
        echo "pipe_io_send: not connected" >&2
        return 2
    fi
    if [[ $1 == *$'\n'* ]]; then
        echo "pipe_io_send: a message cannot contain a newline" >&2
        return 2
    fi
    printf '%s\n' "$1" >&"$pipe_io_send_fd"
}

# pipe_io_recv VAR
# Reads the next message into VAR. Returns non-zero at end of stream (the server
# stopped); text after the last newline at that point is not a whole message.
# bash's read takes one byte per read() from a pipe, so it never reads past the
# newline and nothing is lost if the script stops reading here.
pipe_io_recv() {
    if [[ -z $pipe_io_recv_fd ]]; then
        echo "pipe_io_recv: not connected" >&2
        return 2
    fi
    IFS= read -r -u "$pipe_io_recv_fd" -- "$1"
}

# pipe_io_close: closes both pipes; safe to call twice.
pipe_io_close() {
    if [[ -n $pipe_io_send_fd ]]; then exec {pipe_io_send_fd}>&-; fi
    if [[ -n $pipe_io_recv_fd ]]; then exec {pipe_io_recv_fd}<&-; fi
    pipe_io_send_fd=
    pipe_io_recv_fd=
}
