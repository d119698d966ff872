"""Echo client of the stress suite (row 8: the server killed and started again).

usage: echo_client.py IN_PIPE OUT_PIPE SRC

Sends one message at a time with one write() and waits for the server to echo it back. When the
server goes away (EOF on the out pipe, EPIPE on the in pipe, ENOENT, or no answer within 10 s)
it reconnects, blocking in open() until a server is back, and sends the unanswered message again.
Prints "connected", "ok <n>" after each round trip, "dup <seq>" for an echo of an earlier message
(a resend answered twice), "bad <line>" for anything else, "eof"/"epipe"/"timeout" on reconnects.
"""
import errno
import os
import select
import signal
import sys
import time

in_path, out_path, src = sys.argv[1], sys.argv[2], sys.argv[3]
PAYLOAD = "abcdefghijklmnopqrstuvwxyz0123456789"
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def fnv1a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def message(seq: int) -> bytes:
    body = f"M{src}.{seq}." + "".join(PAYLOAD[(seq * 7 + i * 13) % 36] for i in range(24))
    body = body.encode()
    return body + b"." + f"{fnv1a(body):08x}".encode()


def open_retry(path: str, flags: int) -> int:
    while True:
        try:
            return os.open(path, flags)
        except FileNotFoundError:
            time.sleep(0.001)
        except InterruptedError:
            pass


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


seq = 0
ok = 0
while True:
    # Replies' pipe first: the server makes it first, and a blocking open() waits for the server.
    out_fd = open_retry(out_path, os.O_RDONLY)
    try:
        in_fd = os.open(in_path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        os.close(out_fd)
        if error.errno not in (errno.ENOENT, errno.ENXIO):
            raise
        time.sleep(0.001)
        continue
    os.set_blocking(in_fd, True)
    say("connected")
    pending = b""
    reason = None
    while reason is None:
        sent = message(seq)
        try:
            os.write(in_fd, sent + b"\n")
        except BrokenPipeError:
            reason = "epipe"
            break
        while True:
            nl = pending.find(b"\n")
            if nl >= 0:
                line, pending = pending[:nl], pending[nl + 1 :]
                if line == sent:
                    seq += 1
                    ok += 1
                    say(f"ok {ok}")
                    break
                if line.startswith(f"M{src}.".encode()) and line.split(b".")[1].isdigit() and int(line.split(b".")[1]) < seq:
                    say(f"dup {int(line.split(b'.')[1])}")
                    continue
                say("bad " + line.decode("latin1")[:200])
                continue
            ready, _, _ = select.select([out_fd], [], [], 10)
            if not ready:
                reason = "timeout"
                break
            chunk = os.read(out_fd, 65536)
            if not chunk:
                reason = "eof"
                break
            pending += chunk
    say(reason)
    os.close(in_fd)
    os.close(out_fd)
