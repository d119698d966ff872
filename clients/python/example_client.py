#!/usr/bin/env python3
"""Example pipe-io plugin: replies "echo: <message>" to every message and
exits 0 when the server stops (end of stream).

    example_client.py [SEND_PATH RECV_PATH]    (default: $PIPE_IO_SEND, $PIPE_IO_RECV)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipe_io_client import PipeIOClient  # noqa: E402


def main(argv):
    if len(argv) not in (1, 3):
        print("usage: %s [SEND_PATH RECV_PATH]" % argv[0], file=sys.stderr)
        return 2
    send_path, recv_path = (argv[1], argv[2]) if len(argv) == 3 else (None, None)
    with PipeIOClient(send_path, recv_path) as client:
        for message in client:  # ends when the server stops
            try:
                client.send("echo: " + message)
            except BrokenPipeError:  # the server stopped before our reply
                break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
