"""Client for a pipe-io-server: one line of UTF-8 text per message, or of raw
bytes with ``binary=True``.

Standard library only, Python >= 3.8, Linux.

    from pipe_io_client import PipeIOClient

    with PipeIOClient() as client:          # paths from PIPE_IO_SEND / PIPE_IO_RECV
        client.send("hello")
        for message in client:              # ends when the server stops
            client.send("echo: " + message)
"""

import errno
import os
import select
import stat
import time
from typing import Iterator, Optional, Union

__all__ = ["PipeIOClient"]

_CHUNK = 65536


class PipeIOClient:
    """Writes messages to ``send_path`` (the server's in pipe) and reads them
    from ``recv_path`` (the server's out pipe). The paths default to the
    environment variables ``PIPE_IO_SEND`` and ``PIPE_IO_RECV``.

    ``timeout`` (seconds, ``None`` = wait forever) bounds connecting, each
    ``send`` and each ``recv``; when it expires they raise ``TimeoutError``.
    Connecting waits for the server to have its in pipe open.

    ``binary=True``: messages are ``bytes``, exactly the bytes between two
    newlines (any byte but ``\n``, NUL included), never decoded; ``send``
    takes ``bytes``, ``bytearray`` or ``memoryview``. For a server with
    ``codec: 'buffer'``.
    """

    def __init__(self, send_path=None, recv_path=None, timeout=None, binary=False):
        # type: (Optional[str], Optional[str], Optional[float], bool) -> None
        send_path = send_path or os.environ.get("PIPE_IO_SEND")
        recv_path = recv_path or os.environ.get("PIPE_IO_RECV")
        if not send_path or not recv_path:
            raise ValueError("give send_path and recv_path or set PIPE_IO_SEND and PIPE_IO_RECV")
        self.timeout = timeout
        self.binary = bool(binary)
        self._send_fd = -1
        self._recv_fd = -1
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already known to hold no newline
        self._eof = False
        deadline = self._deadline()
        try:
            # Kept open for the client's lifetime: a reader that closes the
            # pipe would lose whatever it had read ahead past the last line.
            # O_NONBLOCK never blocks on open, and poll() stays silent (no
            # false end of stream) until the server's writer shows up.
            self._recv_fd = _open_fifo(recv_path, os.O_RDONLY | os.O_NONBLOCK)
            self._send_fd = self._open_send(send_path, deadline)
        except BaseException:
            self.close()
            raise

    def _open_send(self, path, deadline):
        # type: (str, Optional[float]) -> int
        # A blocking open for writing would hang (untimed) until the server
        # reads; a non-blocking one fails with ENXIO instead, so retry that.
        delay = 0.005
        while True:
            try:
                return _open_fifo(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
            remaining = _remaining(deadline)
            if remaining == 0:
                raise TimeoutError("no server is reading " + path)
            time.sleep(delay if remaining is None else min(delay, remaining))
            delay = min(delay * 2, 0.1)

    def send(self, message):
        # type: (Union[str, bytes]) -> None
        """Send one message: str, or bytes-like in binary mode. Raises
        ValueError if it contains a newline, BrokenPipeError if the server has
        stopped, TimeoutError if the server does not take it in time (if that
        happens halfway through a line longer than 4096 bytes, the client stops
        sending: later sends raise ValueError)."""
        if self.binary:
            if not isinstance(message, (bytes, bytearray, memoryview)):
                raise TypeError("message must be bytes in binary mode, not " + type(message).__name__)
            line = bytes(message) + b"\n"
            if line.find(b"\n") != len(line) - 1:
                raise ValueError("a message cannot contain a newline byte")
        else:
            if not isinstance(message, str):
                raise TypeError("message must be str, not " + type(message).__name__)
            if "\n" in message:
                raise ValueError("a message cannot contain a newline")
            line = (message + "\n").encode("utf-8")
        if self._send_fd < 0:
            raise ValueError("send on a closed PipeIOClient")
        data = memoryview(line)
        deadline = self._deadline()
        # One write() of the whole line: the kernel keeps it in one piece up to
        # PIPE_BUF (4096 bytes), so other clients' lines never land inside it.
        # Only a longer line can be written in parts; it cannot be atomic.
        whole = len(data)
        while data:
            try:
                data = data[os.write(self._send_fd, data):]
            except BlockingIOError:  # pipe full: the server is behind
                try:
                    self._wait(self._send_fd, select.POLLOUT, deadline)
                except TimeoutError:
                    if len(data) < whole:
                        # Half a line is in the pipe; anything sent after it
                        # would be glued to it, so stop sending altogether.
                        os.close(self._send_fd)
                        self._send_fd = -1
                    raise

    def recv(self):
        # type: () -> Union[str, bytes]
        """Return the next message (bytes in binary mode). Raises EOFError
        once the server has stopped and every message before that was
        returned, TimeoutError if none arrives in time."""
        if self._recv_fd < 0:
            raise ValueError("recv on a closed PipeIOClient")
        deadline = self._deadline()
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._scanned = 0
                if self.binary:
                    return line
                # Same as the server: invalid UTF-8 becomes U+FFFD.
                return line.decode("utf-8", errors="replace")
            self._scanned = len(self._buffer)
            if self._eof:
                # Bytes after the last newline are not a whole message.
                raise EOFError("the server closed the pipe")
            self._wait(self._recv_fd, select.POLLIN, deadline)
            try:
                chunk = os.read(self._recv_fd, _CHUNK)
            except BlockingIOError:
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    def __iter__(self):
        # type: () -> Iterator[Union[str, bytes]]
        while True:
            try:
                yield self.recv()
            except EOFError:
                return

    def close(self):
        # type: () -> None
        for name in ("_send_fd", "_recv_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                os.close(fd)

    def __enter__(self):
        # type: () -> PipeIOClient
        return self

    def __exit__(self, *exc_info):
        # type: (object) -> None
        self.close()

    def __del__(self):
        # type: () -> None
        if getattr(self, "_send_fd", -1) >= 0 or getattr(self, "_recv_fd", -1) >= 0:
            self.close()

    def _deadline(self):
        # type: () -> Optional[float]
        return None if self.timeout is None else time.monotonic() + self.timeout

    def _wait(self, fd, events, deadline):
        # type: (int, int, Optional[float]) -> None
        # Returns when fd is ready, or on POLLHUP/POLLERR: the read or write
        # that follows then reports end of stream or EPIPE.
        poller = select.poll()
        poller.register(fd, events)
        while True:
            remaining = _remaining(deadline)
            if remaining == 0:
                raise TimeoutError("timed out after %s s" % self.timeout)
            if poller.poll(None if remaining is None else max(1, int(remaining * 1000 + 0.999))):
                return


def _remaining(deadline):
    # type: (Optional[float]) -> Optional[float]
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _open_fifo(path, flags):
    # type: (str, int) -> int
    fd = os.open(path, flags)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a FIFO", path)
    return fd
