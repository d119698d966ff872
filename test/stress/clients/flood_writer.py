"""Flood writer of the handler-flow tests (issue 18): writes as fast as the pipe takes them.

usage: flood_writer.py IN_PIPE LINES BYTES

Writes LINES lines of BYTES bytes each (newline included): an 8-digit sequence number, then
'x' padding. Up to PIPE_BUF bytes of whole lines per write(), so a blocked write() means the
pipe is full. Opens the FIFO with a blocking open(); exits 0 when every line is written, and
prints "done <seconds>" (time spent writing).
"""
import os
import sys
import time

path, lines, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if size < 10:
    sys.exit("BYTES must be at least 10")
per_write = max(1, 4096 // size)
pad = b"x" * (size - 9)
fd = os.open(path, os.O_WRONLY)
started = time.monotonic()
seq = 0
while seq < lines:
    n = min(per_write, lines - seq)
    chunk = b"".join(b"%08d%s\n" % (seq + i, pad) for i in range(n))
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view):]
    seq += n
os.close(fd)
print("done %.3f" % (time.monotonic() - started), flush=True)
