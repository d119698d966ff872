# pipe-io.sh: talk to a pipe-io-server from bash (>= 4.1). Source it, don't run it.
#
#   . pipe-io.sh
#   pipe_io_connect "$@" || exit 1          # send path, recv path [, timeout s]; default: $PIPE_IO_SEND, $PIPE_IO_RECV, 10
#   pipe_io_send "hello"
#   while pipe_io_recv message; do
#       pipe_io_send "echo: $message" || break
#   done                                    # the loop ends when the server stops
#   pipe_io_close
#
# A message is one line of UTF-8 text without its newline.
#
# With a session server (PipeSessionServer, `pipe-io echo --sessions DIR`), each
# client gets a private pair instead: pipe_io_session DIR [TIMEOUT] replaces
# pipe_io_connect, the rest is the same, and pipe_io_close ends the session.

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
# What pipe_io_recv needs to follow a recreated out pipe: its path, the
# device:inode being read, and the uid owning it.
_pipe_io_recv_path=
_pipe_io_recv_id=
_pipe_io_owner=

# pipe_io_connect [SEND RECV [TIMEOUT]]
# Opens both pipes once and keeps them open until pipe_io_close or exit.
# While a pipe does not exist yet, or no server reads the in pipe, it waits up
# to TIMEOUT seconds (default 10; decimals allowed), then returns 1 with a
# message saying which was missing.
#
# Why keep the send pipe open instead of `printf ... > "$path"` per message:
#  - a blocking open of a FIFO for writing waits for a reader, so a per-message
#    open after the server has stopped would hang forever instead of failing;
#  - if the server has already removed its FIFO, `> "$path"` silently creates a
#    regular file there, swallowing the message and breaking the next server;
#  - with a kept descriptor a write after the server stopped fails with EPIPE.
# The recv pipe stays open too, so the script reads one continuous stream.
# The send pipe is never reopened: if it is deleted, the server goes on
# reading the old one while this client holds it.
pipe_io_connect() {
    local send=${1:-${PIPE_IO_SEND:-}} recv=${2:-${PIPE_IO_RECV:-}} timeout=${3:-10}
    local timeout_ms frac deadline delay=0.01 missing path
    if [[ -z $send || -z $recv ]]; then
        echo "pipe_io_connect: give SEND and RECV paths or set PIPE_IO_SEND and PIPE_IO_RECV" >&2
        return 2
    fi
    if [[ ! $timeout =~ ^([0-9]+)([.]([0-9]{0,3})[0-9]*)?$ ]]; then
        echo "pipe_io_connect: TIMEOUT is in seconds (like 10 or 0.5), got '$timeout'" >&2
        return 2
    fi
    frac=${BASH_REMATCH[3]}000
    timeout_ms=$((10#${BASH_REMATCH[1]} * 1000 + 10#${frac:0:3}))
    _pipe_io_now_ms
    deadline=$((_pipe_io_ms + timeout_ms))
    # bash has no non-blocking open, and a blocking open of a FIFO whose server is
    # gone waits forever. So first wait, without opening, until both FIFOs exist
    # and a server reads the in pipe: dd's O_NONBLOCK open for writing fails
    # (ENXIO) while nobody reads. Then the opens return at once (the server holds
    # both pipes open while it runs, and releases them when it stops).
    while :; do
        for path in "$recv" "$send"; do
            # Refuse anything but a FIFO: opening it for writing would create a file.
            if [[ -e $path && ! -p $path ]]; then
                echo "pipe_io_connect: '$path' is not a FIFO: is it the right path?" >&2
                return 1
            fi
        done
        if [[ ! -p $recv ]]; then
            missing="there is no pipe at '$recv'"
        elif [[ ! -p $send ]]; then
            missing="there is no pipe at '$send'"
        elif dd of="$send" oflag=nonblock conv=nocreat,notrunc count=0 status=none </dev/null 2>/dev/null; then
            break
        else
            missing="no server is reading '$send' (the FIFO exists but its server is not running)"
        fi
        _pipe_io_now_ms
        if ((_pipe_io_ms >= deadline)); then
            echo "pipe_io_connect: $missing after $timeout s: start the server first, or check the paths (PIPE_IO_SEND / PIPE_IO_RECV)" >&2
            return 1
        fi
        sleep "$delay"
        case $delay in 0.01) delay=0.02 ;; 0.02) delay=0.05 ;; *) delay=0.1 ;; esac
    done
    pipe_io_close
    exec {pipe_io_recv_fd}<"$recv" || { pipe_io_recv_fd=; return 1; }
    exec {pipe_io_send_fd}>"$send" || { pipe_io_send_fd=; pipe_io_close; return 1; }
    local id
    id=$(stat -L -c '%u|%d:%i' "/dev/fd/$pipe_io_recv_fd") || { pipe_io_close; return 1; }
    _pipe_io_recv_path=$recv
    _pipe_io_owner=${id%%|*}
    _pipe_io_recv_id=${id#*|}
}

# Milliseconds on some clock, into _pipe_io_ms (no subshell).
_pipe_io_now_ms() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        local t=${EPOCHREALTIME//[.,]/}
        _pipe_io_ms=$((10#$t / 1000))
    else
        _pipe_io_ms=$((SECONDS * 1000))
    fi
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
# If the server's out pipe was deleted and made again, end of stream on the old
# one is not the end: pipe_io_recv follows the new pipe and goes on, keeping the
# unfinished line (it continues there).
pipe_io_recv() {
    if [[ -z $pipe_io_recv_fd ]]; then
        echo "pipe_io_recv: not connected" >&2
        return 2
    fi
    local _pipe_io_part _pipe_io_start=
    while ! IFS= read -r -u "$pipe_io_recv_fd" -- _pipe_io_part; do
        _pipe_io_start+=$_pipe_io_part
        if ! _pipe_io_follow; then
            printf -v "$1" '%s' "$_pipe_io_start"
            return 1
        fi
    done
    printf -v "$1" '%s' "$_pipe_io_start$_pipe_io_part"
}

# At end of stream: 0 if the server moved to a new out pipe at the same path
# (now open on pipe_io_recv_fd), 1 if it stopped. The server closes its old out
# pipe only once the new one is at the path, so a FIFO there with another inode
# is where it goes on; a path that is gone or names the same inode means it
# stopped. Only a FIFO owned by the old pipe's owner is followed, never a
# symlink (stat without -L looks at the link itself), and what was opened is
# checked again, in case the path changed between the look and the open.
_pipe_io_follow() {
    local id new
    id=$(stat -c '%F|%u|%d:%i' -- "$_pipe_io_recv_path" 2>/dev/null) || return 1
    [[ $id == "fifo|$_pipe_io_owner|"* && ${id##*|} != "$_pipe_io_recv_id" ]] || return 1
    # A plain open for reading never creates a file; it returns once the
    # server's writer is there, which it is while the server runs.
    { exec {new}<"$_pipe_io_recv_path"; } 2>/dev/null || return 1
    id=$(stat -L -c '%F|%u|%d:%i' "/dev/fd/$new" 2>/dev/null)
    if [[ $id != "fifo|$_pipe_io_owner|"* || ${id##*|} == "$_pipe_io_recv_id" ]]; then
        exec {new}<&-
        return 1
    fi
    exec {pipe_io_recv_fd}<&-
    pipe_io_recv_fd=$new
    _pipe_io_recv_id=${id##*|}
}

# pipe_io_session DIR [TIMEOUT]
# Opens a session with the session server of DIR (protocol in the README, "Many
# clients at once"): makes a private folder and FIFO pair in DIR, asks on
# DIR/connect, opens the pair and reads the server's answer. Returns 1 with the
# reason on stderr if the server refuses (too many sessions…), if this user may
# not connect, or if no server answers within TIMEOUT seconds (default 10).
# The session id is in pipe_io_session_id afterwards.
pipe_io_session() {
    local dir=${1:-} timeout=${2:-10} timeout_ms frac deadline delay=0.005 folder answer status
    if [[ -z $dir ]]; then
        echo "pipe_io_session: give the sessions folder (DIR)" >&2
        return 2
    fi
    if [[ ! $timeout =~ ^([0-9]+)([.]([0-9]{0,3})[0-9]*)?$ ]]; then
        echo "pipe_io_session: TIMEOUT is in seconds (like 10 or 0.5), got '$timeout'" >&2
        return 2
    fi
    frac=${BASH_REMATCH[3]}000
    timeout_ms=$((10#${BASH_REMATCH[1]} * 1000 + 10#${frac:0:3}))
    _pipe_io_now_ms
    deadline=$((_pipe_io_ms + timeout_ms))
    pipe_io_close
    if ! folder=$(mktemp -d "$dir/s.XXXXXX" 2>&1); then
        echo "pipe_io_session: cannot make a session folder in '$dir' (${folder##*: }): no session server there, or it does not let this user connect" >&2
        return 1
    fi
    _pipe_io_session_folder=$folder
    if ! mkfifo -m 600 "$folder/in" "$folder/out"; then
        _pipe_io_session_cleanup
        return 1
    fi
    # The request, one write into DIR/connect; dd's non-blocking open fails (ENXIO)
    # while no server reads it, where a shell redirection would wait forever. Then
    # wait, the same way, until the server reads our in pipe: it took the request.
    local step=request
    while :; do
        if [[ $step == request ]]; then
            if [[ -e $dir/connect && ! -p $dir/connect ]]; then
                echo "pipe_io_session: '$dir/connect' is not a FIFO: is '$dir' a sessions folder?" >&2
                _pipe_io_session_cleanup
                return 1
            fi
            if [[ -p $dir/connect ]] && printf 'pipe-io-session 1 %s\n' "${folder##*/}" |
                dd of="$dir/connect" oflag=nonblock conv=nocreat,notrunc status=none 2>/dev/null; then
                step=answer
                continue
            fi
        elif dd of="$folder/in" oflag=nonblock conv=nocreat,notrunc count=0 status=none </dev/null 2>/dev/null; then
            break
        fi
        _pipe_io_now_ms
        if ((_pipe_io_ms >= deadline)); then
            if [[ $step == request ]]; then
                echo "pipe_io_session: no session server is reading '$dir/connect' after $timeout s: start it first, or check the folder" >&2
            else
                echo "pipe_io_session: the session server of '$dir' did not take the request within $timeout s" >&2
            fi
            _pipe_io_session_cleanup
            return 1
        fi
        sleep "$delay"
        case $delay in 0.005) delay=0.01 ;; 0.01) delay=0.02 ;; 0.02) delay=0.05 ;; *) delay=0.1 ;; esac
    done
    exec {pipe_io_send_fd}>"$folder/in" || { pipe_io_send_fd=; _pipe_io_session_cleanup; return 1; }
    exec {pipe_io_recv_fd}<"$folder/out" || { pipe_io_recv_fd=; pipe_io_close; return 1; }
    _pipe_io_now_ms
    local left=$((deadline - _pipe_io_ms > 1 ? deadline - _pipe_io_ms : 1)) wait
    printf -v wait '%d.%03d' $((left / 1000)) $((left % 1000))
    if ! IFS= read -r -t "$wait" -u "$pipe_io_recv_fd" answer; then
        echo "pipe_io_session: the session server of '$dir' ended the session without answering${answer:+ (it said '$answer')}" >&2
        pipe_io_close
        return 1
    fi
    status=${answer%% *}
    if [[ $status != ok ]]; then
        if [[ $status == refused ]]; then
            echo "pipe_io_session: the session server of '$dir' refused the session: ${answer#refused }" >&2
        else
            echo "pipe_io_session: unexpected answer from the session server of '$dir': '$answer'" >&2
        fi
        pipe_io_close
        return 1
    fi
    pipe_io_session_id=${answer##* }
    # pipe_io_recv ends at end of stream: the session's out pipe is never made again.
    local id
    id=$(stat -L -c '%u|%d:%i' "/dev/fd/$pipe_io_recv_fd") || { pipe_io_close; return 1; }
    _pipe_io_recv_path=$folder/out
    _pipe_io_owner=${id%%|*}
    _pipe_io_recv_id=${id#*|}
}

# The folder of the open session, removed by pipe_io_close (the server removes it too).
_pipe_io_session_folder=
pipe_io_session_id=
_pipe_io_session_cleanup() {
    if [[ -n $_pipe_io_session_folder ]]; then
        rm -f -- "$_pipe_io_session_folder/in" "$_pipe_io_session_folder/out"
        # The server removes the folder too, and may have already: under `set -e` a failed
        # rmdir here would end the caller's script.
        rmdir -- "$_pipe_io_session_folder" 2>/dev/null || true
    fi
    _pipe_io_session_folder=
    return 0
}

# pipe_io_close: closes both pipes (and ends a session); safe to call twice.
pipe_io_close() {
    if [[ -n $pipe_io_send_fd ]]; then exec {pipe_io_send_fd}>&-; fi
    if [[ -n $pipe_io_recv_fd ]]; then exec {pipe_io_recv_fd}<&-; fi
    pipe_io_send_fd=
    pipe_io_recv_fd=
    _pipe_io_session_cleanup
}
