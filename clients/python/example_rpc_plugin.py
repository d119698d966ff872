#!/usr/bin/env python3
"""Example pipe-io RPC plugin (JSON-RPC 2.0): started by a host with spawnPlugin()
and driven with RpcPeer. It serves ``resize`` and ``add``, and ``resize`` asks the
host for its ``scale`` on the way. Exits 0 when the host stops it (end of stream).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipe_io_rpc import INVALID_PARAMS, RpcError, RpcPeer  # noqa: E402

rpc = RpcPeer()


@rpc.method
def resize(w, h=480):
    if not isinstance(w, (int, float)) or w <= 0:
        raise RpcError(INVALID_PARAMS, "w must be a positive number", {"w": w})
    scale = rpc.request("scale", timeout=5)  # a call back into the host
    rpc.notify("log", {"resized": [w, h]})
    return {"w": w * scale, "h": h * scale}


@rpc.method("add")
def add_numbers(a, b):
    return a + b


if __name__ == "__main__":
    with rpc:
        rpc.serve()
