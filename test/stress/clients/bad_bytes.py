"""Writes one bad-bytes case into the in pipe (row 7), like a careless client would.

usage: bad_bytes.py IN_PIPE CASE [ARG]
"""
import os
import sys

in_path, case = sys.argv[1], sys.argv[2]
arg = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 0
fd = os.open(in_path, os.O_WRONLY)


def write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if case == "utf8":
    # lone continuation, impossible bytes, truncated sequences, overlong, surrogate, beyond U+10FFFF
    write_all(b"bad\x80\xff\xfe|\xc3(|\xe2\x82end|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|ok\xc3\xa9\n")
elif case == "nul":
    write_all(b"a\x00b\x00\x00c\n\x00\n\x00\x00\x00\n")
elif case == "crlf":
    write_all(b"one\r\ntwo\rthree\n\r\n\n\r\rfour\n\r")
    write_all(b"five\r\n")
elif case == "huge":
    # ARG MiB with no newline, in 1 MiB writes, then a newline and a normal line
    block = b"h" * (1 << 20)
    for _ in range(arg):
        write_all(block)
    write_all(b"\nafter-huge\n")
elif case == "huge-eof":
    # ARG MiB with no newline at all, then the client goes away
    block = b"z" * (1 << 20)
    for _ in range(arg):
        write_all(block)
elif case == "empty":
    write_all(b"\n" * arg + b"after-empty\n")
elif case == "limit":
    # exactly ARG bytes (accepted), then ARG + 1 bytes (dropped), written in odd pieces
    data = b"L" * arg + b"\n" + b"X" * (arg + 1) + b"\nafter-limit\n"
    for i in range(0, len(data), 65537):
        write_all(data[i : i + 65537])
elif case == "line":
    write_all(sys.argv[3].encode() + b"\n")
os.close(fd)
