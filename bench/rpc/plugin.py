"""The RPC bench's Python plugin: pipe_io_rpc serving add(a, b) (PYTHONPATH: clients/python)."""
from pipe_io_rpc import RpcPeer

rpc = RpcPeer()


@rpc.method
def add(a, b):
    return a + b


with rpc:
    rpc.serve()
