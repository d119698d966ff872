"""Reader of the stress suite's deletion row (row 3) that is the bundled Python client itself.

usage: bundled_reader.py IN_PIPE OUT_PIPE

Connects with clients/python/pipe_io_client.py and prints every message on its own line until
end of stream. It does nothing about deleted pipes: following a recreated out pipe is the
client's job, which is what the row checks. Exits 0 at end of stream or on SIGTERM.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "clients", "python"))
from pipe_io_client import PipeIOClient  # noqa: E402

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

with PipeIOClient(sys.argv[1], sys.argv[2]) as client:
    out = sys.stdout
    for message in client:
        out.write(message + "\n")
