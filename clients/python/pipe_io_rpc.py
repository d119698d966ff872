"""JSON-RPC 2.0 over a pipe-io channel: one message per line.

Standard library only, Python >= 3.8, Linux. The other end is usually a Node host
with ``RpcPeer`` (pipe-io-server); any JSON-RPC 2.0 peer that writes one message
per line will do.

    from pipe_io_rpc import RpcPeer, RpcError, INVALID_PARAMS

    rpc = RpcPeer()                      # connects through PIPE_IO_SEND / PIPE_IO_RECV

    @rpc.method
    def resize(w, h=480):                # params by name {"w": 640} or by position [640]
        if w <= 0:
            raise RpcError(INVALID_PARAMS, "w must be positive", {"w": w})
        rpc.notify("log", {"resized": w})            # a notification to the host
        return {"w": w, "h": h, "scale": rpc.request("scale")}   # a request back to the host

    rpc.serve()                          # until the host stops the channel

Requests are served one at a time, in order. While a handler waits in
``request()`` for the host's reply, requests the host sends meanwhile are served
(nested), so calls back and forth cannot deadlock. ``$/cancelRequest`` from the
host is accepted and ignored: a handler runs to its end (the host has already
given up on the reply, and drops it). A handler that raises ``RpcError`` answers
with exactly that error; anything else answers -32603 with the exception's
message only (``expose_errors``), and its traceback goes to stderr, not to the host.

``request()`` works outside ``serve()`` too (at start-up, say): it serves what
the host sends until its reply comes. One thread at a time: a peer is not
thread-safe. A request's ``timeout`` sets the client's ``timeout`` attribute
around each read, then puts it back.
"""

import inspect
import json
import sys
import time
import traceback
from typing import Any, Callable, Dict, Optional, Set

from pipe_io_client import PipeIOClient

__all__ = [
    "RpcPeer",
    "RpcError",
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "REQUEST_CANCELLED",
    "REQUEST_TIMEOUT",
    "CONNECTION_CLOSED",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800
# Local reasons, never sent: the same numbers as the Node RpcErrorCodes.
REQUEST_TIMEOUT = -32001
CONNECTION_CLOSED = -32002

_ABANDONED_MEMORY = 10000


class RpcError(Exception):
    """A JSON-RPC error: raised by ``request()`` (the host's error, or a local
    timeout / closed channel), and raised by a handler to answer with it."""

    def __init__(self, code, message, data=None):
        # type: (int, str, Any) -> None
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self):
        # type: () -> Dict[str, Any]
        error = {"code": self.code, "message": self.message}  # type: Dict[str, Any]
        if self.data is not None:
            error["data"] = self.data
        return error

    def __repr__(self):
        # type: () -> str
        return "RpcError(%d, %r, %r)" % (self.code, self.message, self.data)


def _error(id_, code, message):
    # type: (Any, int, str) -> Dict[str, Any]
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def _is_id(value):
    # type: (Any) -> bool
    return value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


class RpcPeer:
    """One end of a JSON-RPC 2.0 conversation over a ``PipeIOClient``.

    ``client`` defaults to ``PipeIOClient()`` (the paths from the environment a
    pipe-io host sets). ``expose_errors`` is what the host learns when a handler
    raises something other than ``RpcError``: ``"message"`` (default),
    ``"none"`` (only "Internal error") or ``"traceback"`` (adds ``data.traceback``;
    for debugging).
    """

    def __init__(self, client=None, expose_errors="message"):
        # type: (Optional[PipeIOClient], str) -> None
        if expose_errors not in ("none", "message", "traceback"):
            raise ValueError("expose_errors must be 'none', 'message' or 'traceback'")
        self.client = client if client is not None else PipeIOClient()
        self.expose_errors = expose_errors
        self._methods = {}  # type: Dict[str, Callable[..., Any]]
        self._next_id = 0
        self._replies = {}  # type: Dict[int, Dict[str, Any]]
        self._waiting = set()  # type: Set[int]
        self._abandoned = []  # type: list
        self._closed = False

    # -- registering ------------------------------------------------------

    def method(self, name_or_func=None):
        # type: (Any) -> Any
        """Registers a handler: ``@rpc.method`` (under the function's name) or
        ``@rpc.method("other.name")``. Params by position are passed as
        positional arguments, by name as keyword arguments; params that do not
        fit the signature answer -32602 without calling it."""
        if callable(name_or_func):
            self._methods[name_or_func.__name__] = name_or_func
            return name_or_func

        def register(func):
            # type: (Callable[..., Any]) -> Callable[..., Any]
            self._methods[name_or_func or func.__name__] = func
            return func

        return register

    # -- calling the other side -------------------------------------------

    def request(self, method, params=None, timeout=None):
        # type: (str, Any, Optional[float]) -> Any
        """Calls ``method`` on the host and returns its result. Raises
        ``RpcError``: the host's error, ``REQUEST_TIMEOUT`` after ``timeout``
        seconds (the host is sent ``$/cancelRequest``), or ``CONNECTION_CLOSED``."""
        if self._closed:
            raise RpcError(CONNECTION_CLOSED, "the channel is closed")
        self._next_id += 1
        id_ = self._next_id
        message = {"jsonrpc": "2.0", "id": id_, "method": method}  # type: Dict[str, Any]
        if params is not None:
            message["params"] = params
        self._waiting.add(id_)
        try:
            self._send(message)
            reply = self._wait_for(id_, timeout)
        finally:
            self._waiting.discard(id_)
        if "error" in reply:
            error = reply["error"]
            raise RpcError(error.get("code", INTERNAL_ERROR), error.get("message", ""), error.get("data"))
        return reply.get("result")

    def notify(self, method, params=None):
        # type: (str, Any) -> None
        """Sends the host a notification (no reply)."""
        message = {"jsonrpc": "2.0", "method": method}  # type: Dict[str, Any]
        if params is not None:
            message["params"] = params
        self._send(message)

    # -- serving ----------------------------------------------------------

    def serve(self):
        # type: () -> None
        """Serves the host's requests until it stops the channel (end of stream)."""
        while not self._closed:
            try:
                line = self.client.recv()
            except EOFError:
                self._closed = True
                return
            self._on_line(line)

    def close(self):
        # type: () -> None
        self._closed = True
        self.client.close()

    def __enter__(self):
        # type: () -> RpcPeer
        return self

    def __exit__(self, *exc_info):
        # type: (object) -> None
        self.close()

    # -- inside -----------------------------------------------------------

    def _send(self, message):
        # type: (Any) -> None
        try:
            self.client.send(json.dumps(message, separators=(",", ":"), ensure_ascii=False))
        except (BrokenPipeError, ValueError) as e:
            self._closed = True
            raise RpcError(CONNECTION_CLOSED, "cannot send: %s" % e)

    def _wait_for(self, id_, timeout):
        # type: (int, Optional[float]) -> Dict[str, Any]
        saved = self.client.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while id_ not in self._replies:
                if deadline is not None:
                    self.client.timeout = max(0.0, deadline - time.monotonic())
                try:
                    line = self.client.recv()
                except TimeoutError:
                    self._abandon(id_)
                    raise RpcError(REQUEST_TIMEOUT, "no reply within %s s" % timeout)
                except EOFError:
                    self._closed = True
                    raise RpcError(CONNECTION_CLOSED, "the host closed the channel before replying")
                finally:
                    self.client.timeout = saved
                self._on_line(line)
            return self._replies.pop(id_)
        finally:
            self.client.timeout = saved

    def _abandon(self, id_):
        # type: (int) -> None
        self._abandoned.append(id_)
        del self._abandoned[:-_ABANDONED_MEMORY]
        try:
            self.notify("$/cancelRequest", {"id": id_})
        except RpcError:
            pass

    def _on_line(self, line):
        # type: (str) -> None
        try:
            value = json.loads(line)
        except ValueError as e:
            _warn("not JSON (answered -32700): %s: %.200s" % (e, line))
            self._reply(_error(None, PARSE_ERROR, "Parse error"))
            return
        if isinstance(value, list):
            if not value:
                self._reply(_error(None, INVALID_REQUEST, "Invalid Request"))
                return
            replies = [r for r in (self._on_message(entry) for entry in value) if r is not None]
            if replies:
                self._reply(replies)
            return
        reply = self._on_message(value)
        if reply is not None:
            self._reply(reply)

    def _on_message(self, message):
        # type: (Any) -> Optional[Dict[str, Any]]
        """Handles one message; returns the reply it needs, if any."""
        if not isinstance(message, dict):
            return _error(None, INVALID_REQUEST, "Invalid Request")
        id_ = message.get("id") if _is_id(message.get("id")) else None
        if "method" not in message:
            if "result" in message or "error" in message:
                self._on_response(message)
                return None
            return _error(id_, INVALID_REQUEST, "Invalid Request")
        method, params = message.get("method"), message.get("params")
        if message.get("jsonrpc") != "2.0" or not isinstance(method, str) or ("params" in message and not isinstance(params, (list, dict))):
            return _error(id_, INVALID_REQUEST, "Invalid Request")
        is_request = "id" in message
        if is_request and not _is_id(message["id"]):
            return _error(None, INVALID_REQUEST, "Invalid Request")
        if method.startswith("$/"):
            return None  # $/cancelRequest and friends: accepted, nothing to do in a serial server
        handler = self._methods.get(method)
        if handler is None:
            if not is_request:
                _warn("notification %r has no handler" % method)
                return None
            return _error(id_, METHOD_NOT_FOUND, "Method not found")
        args, kwargs = (params, {}) if isinstance(params, list) else ((), params or {})
        try:
            inspect.signature(handler).bind(*args, **kwargs)
        except TypeError as e:
            if not is_request:
                _warn("notification %r: %s" % (method, e))
                return None
            return {"jsonrpc": "2.0", "id": id_, "error": {"code": INVALID_PARAMS, "message": "Invalid params: %s" % e}}
        except ValueError:
            pass  # no signature to check (a builtin): let the call decide
        try:
            result = handler(*args, **kwargs)
        except RpcError as e:
            return {"jsonrpc": "2.0", "id": id_, "error": e.to_json()} if is_request else None
        except Exception as e:  # noqa: BLE001 - any failure of a handler becomes an error reply
            sys.stderr.write("pipe_io_rpc: handler %r failed:\n%s" % (method, traceback.format_exc()))
            if not is_request:
                return None
            return {"jsonrpc": "2.0", "id": id_, "error": self._internal(e)}
        if not is_request:
            return None
        return {"jsonrpc": "2.0", "id": id_, "result": result}

    def _internal(self, e):
        # type: (BaseException) -> Dict[str, Any]
        if self.expose_errors == "none":
            return {"code": INTERNAL_ERROR, "message": "Internal error"}
        error = {"code": INTERNAL_ERROR, "message": str(e) or type(e).__name__}  # type: Dict[str, Any]
        if self.expose_errors == "traceback":
            error["data"] = {"traceback": traceback.format_exc()}
        return error

    def _on_response(self, message):
        # type: (Dict[str, Any]) -> None
        id_ = message.get("id")
        if id_ in self._waiting:
            self._replies[id_] = message
        elif id_ in self._abandoned:
            self._abandoned.remove(id_)  # a late reply: dropped
        elif id_ is None and isinstance(message.get("error"), dict):
            _warn("the host reported an error: %s" % message["error"].get("message"))
        else:
            _warn("reply for unknown id %r dropped" % (id_,))

    def _reply(self, reply):
        # type: (Any) -> None
        try:
            line = json.dumps(reply, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as e:
            _warn("a reply could not be encoded as JSON: %s" % e)
            replies = reply if isinstance(reply, list) else [reply]
            fixed = []
            for r in replies:
                try:
                    json.dumps(r)
                    fixed.append(r)
                except (TypeError, ValueError):
                    fixed.append(_error(r.get("id"), INTERNAL_ERROR, "the result could not be encoded as JSON"))
            line = json.dumps(fixed if isinstance(reply, list) else fixed[0], separators=(",", ":"), ensure_ascii=False)
        try:
            self.client.send(line)
        except (BrokenPipeError, ValueError) as e:
            self._closed = True
            _warn("a reply could not be sent: %s" % e)


def _warn(text):
    # type: (str) -> None
    sys.stderr.write("pipe_io_rpc: %s\n" % text)
