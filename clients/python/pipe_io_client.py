"""Client for a pipe-io-server: one line of UTF-8 text per message, or of raw
bytes with ``binary=True``.

Standard library only, Python >= 3.8, Linux.

    from pipe_io_client import PipeIOClient

    with PipeIOClient() as client:          # paths from PIPE_IO_SEND / PIPE_IO_RECV
        client.send("hello")
        for message in client:              # ends when the server stops
            client.send("echo: " + message)

    with PipeIOClient.session("/run/myapp") as client:   # a private session
        client.send("hello")
        print(client.recv())
"""

import errno
import os
import select
import stat
import tempfile
import time
from typing import Iterator, Optional, Union

__all__ = ["PipeIOClient"]

_CHUNK = 65536
# How long connecting waits for the server when no timeout is given: long
# enough for a server started at the same moment, short enough that a client
# with no server fails instead of hanging.
_CONNECT_TIMEOUT = 10.0


class PipeIOClient:
    """Writes messages to ``send_path`` (the server's in pipe) and reads them
    from ``recv_path`` (the server's out pipe). The paths default to the
    environment variables ``PIPE_IO_SEND`` and ``PIPE_IO_RECV``.

    ``timeout`` (seconds, ``None`` = wait forever) bounds each ``send`` and
    each ``recv``; when it expires they raise ``TimeoutError``.

    Connecting waits for the server: while a pipe does not exist yet, or no
    server reads the in pipe, it retries until ``timeout`` (10 s when
    ``timeout`` is ``None``), then raises ``TimeoutError`` saying which.

    If the server's out pipe is deleted and the server makes it again, the
    client follows it (see ``_follow``); sends keep going to the in pipe the
    client opened, which the server goes on reading while the client holds it.

    ``binary=True``: messages are ``bytes``, exactly the bytes between two
    newlines (any byte but ``\n``, NUL included), never decoded; ``send``
    takes ``bytes``, ``bytearray`` or ``memoryview``. For a server with
    ``codec: 'buffer'``.
    """

    #: The id a session server gave this client's session (see ``session``).
    session_id = None  # type: Optional[int]
    _session_folder = None  # type: Optional[str]

    @classmethod
    def session(cls, dir, timeout=None, binary=False):
        # type: (str, Optional[float], bool) -> PipeIOClient
        """Open a session with the session server (PipeSessionServer) of the
        folder ``dir``: make a private folder and FIFO pair in it, ask on
        ``dir/connect``, open the pair and read the server's answer.

        Raises ``ConnectionRefusedError`` with the server's reason when it
        refuses (too many sessions...), ``PermissionError`` when this user may
        not connect, ``TimeoutError`` when no server answers within
        ``timeout`` (10 s when ``None``; afterwards ``timeout`` bounds each
        send and recv as usual). ``close()`` ends the session.
        """
        deadline = time.monotonic() + (_CONNECT_TIMEOUT if timeout is None else timeout)
        try:
            folder = tempfile.mkdtemp(prefix="s.", dir=dir)  # mode 0700
        except PermissionError as e:
            raise PermissionError(e.errno, "cannot make a session folder in %r: the server does not let this user connect" % dir) from None
        except FileNotFoundError as e:
            raise FileNotFoundError(e.errno, "there is no sessions folder %r: start the session server first" % dir) from None
        self = cls.__new__(cls)
        self.timeout = timeout
        self.binary = bool(binary)
        self._send_fd = -1
        self._recv_fd = -1
        self._buffer = bytearray()
        self._scanned = 0
        self._eof = False
        self._session_folder = folder
        send_path = os.path.join(folder, "in")
        self._recv_path = os.path.join(folder, "out")
        try:
            os.mkfifo(send_path, 0o600)
            os.mkfifo(self._recv_path, 0o600)
            _request_session(dir, os.path.basename(folder), deadline)
            # The protocol's order: in first (ENXIO until the server reads it), then out.
            # The server opens it within microseconds of the request: retry from 20 µs.
            delay = 0.00002
            while True:
                try:
                    self._send_fd = _open_fifo(send_path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
                    break
                except OSError as e:
                    if e.errno != errno.ENXIO:
                        raise
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the session server of %r did not take the request in time" % dir)
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.05)
            self._recv_fd = _open_fifo(self._recv_path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
            st = os.fstat(self._recv_fd)
            self._recv_id = (st.st_dev, st.st_ino)
            self._owner = st.st_uid
            self.timeout = max(0.001, deadline - time.monotonic())
            try:
                answer = self.recv()
            except EOFError:
                raise ConnectionRefusedError("the session server of %r ended the session without answering" % dir) from None
            finally:
                self.timeout = timeout
            if isinstance(answer, bytes):
                answer = answer.decode("utf-8", errors="replace")
            words = answer.split(" ")
            if words[0] == "refused":
                raise ConnectionRefusedError("the session server of %r refused the session: %s" % (dir, answer[len("refused "):]))
            if words[0] != "ok" or len(words) != 3:
                raise ConnectionRefusedError("unexpected answer from the session server of %r: %r" % (dir, answer))
            self.session_id = int(words[2])
        except BaseException:
            self.close()
            raise
        return self

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
        self._recv_path = recv_path
        self._recv_id = (0, 0)  # (st_dev, st_ino) of the out pipe being read
        self._owner = -1        # uid owning it: a recreated pipe must have it too
        try:
            self._connect(send_path, recv_path, _CONNECT_TIMEOUT if timeout is None else timeout)
        except BaseException:
            self.close()
            raise

    def _connect(self, send_path, recv_path, timeout):
        # type: (str, str, float) -> None
        # Both opens are O_NONBLOCK, so neither can hang: a missing pipe is
        # ENOENT and an in pipe nobody reads is ENXIO; both are retried with a
        # short backoff until the deadline. The out pipe is opened first and
        # kept for the client's lifetime: being a reader before the server
        # writes means nothing is missed, and a reader that closed the pipe
        # would lose what it had read ahead past the last line. poll() stays
        # silent (no false end of stream) until the server's writer shows up.
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            missing = ""
            if self._recv_fd < 0:
                try:
                    self._recv_fd = _open_fifo(recv_path, os.O_RDONLY | os.O_NONBLOCK)
                    st = os.fstat(self._recv_fd)
                    self._recv_id = (st.st_dev, st.st_ino)
                    self._owner = st.st_uid
                except FileNotFoundError:
                    missing = "there is no pipe at %r" % recv_path
            if self._recv_fd >= 0:
                try:
                    self._send_fd = _open_fifo(send_path, os.O_WRONLY | os.O_NONBLOCK)
                    return
                except OSError as e:
                    if e.errno == errno.ENOENT:
                        missing = "there is no pipe at %r" % send_path
                    elif e.errno == errno.ENXIO:
                        missing = "no server is reading %r (the FIFO exists but its server is not running)" % send_path
                    else:
                        raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    "%s after %g s: start the server first, or check the paths "
                    "(PIPE_IO_SEND / PIPE_IO_RECV)" % (missing, timeout))
            time.sleep(min(delay, remaining))
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
        returned, TimeoutError if none arrives in time. A recreated out pipe
        is followed on its own."""
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
            elif not self._follow():
                self._eof = True

    def _follow(self):
        # type: () -> bool
        """At end of stream on the out pipe: True if the server moved to a new
        out pipe at the same path (now being read), False if it stopped.

        The server closes its old out pipe only once the new one is at the
        path, so a FIFO there with another inode is where it goes on; a path
        that is gone or names the same inode means the server stopped. The
        unfinished text in the buffer stays: the server moves what nobody read
        of the old pipe into the new one, so the line continues there. Only a
        FIFO owned by the old pipe's owner is followed (O_NOFOLLOW: no
        symlink), so another user cannot plant a pipe for the client to read.
        """
        try:
            fd = os.open(self._recv_path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            return False
        if (not stat.S_ISFIFO(st.st_mode) or st.st_uid != self._owner
                or (st.st_dev, st.st_ino) == self._recv_id):
            os.close(fd)
            return False
        os.close(self._recv_fd)
        self._recv_fd = fd
        self._recv_id = (st.st_dev, st.st_ino)
        return True

    def __iter__(self):
        # type: () -> Iterator[Union[str, bytes]]
        while True:
            try:
                yield self.recv()
            except EOFError:
                return

    def close(self):
        # type: () -> None
        """Close both pipes; for a session, end it and remove its folder."""
        for name in ("_send_fd", "_recv_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                os.close(fd)
        folder = self._session_folder
        if folder is not None:
            self._session_folder = None
            for name in ("in", "out"):
                try:
                    os.unlink(os.path.join(folder, name))
                except OSError:
                    pass  # the server removed it already
            try:
                os.rmdir(folder)
            except OSError:
                pass

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


def _request_session(dir, name, deadline):
    # type: (str, str, float) -> None
    """Write the request line into dir/connect with one write() (atomic: far
    below PIPE_BUF), waiting while no server reads it (ENOENT, ENXIO) or the
    pipe is full (EAGAIN), until the deadline."""
    connect = os.path.join(dir, "connect")
    line = ("pipe-io-session 1 %s\n" % name).encode()
    delay = 0.002
    while True:
        try:
            fd = _open_fifo(connect, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
            try:
                os.write(fd, line)
                return
            finally:
                os.close(fd)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENXIO, errno.EAGAIN):
                raise
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no session server is reading %r: start it first, or check the folder" % connect)
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)


def _open_fifo(path, flags):
    # type: (str, int) -> int
    fd = os.open(path, flags | os.O_CLOEXEC)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a FIFO", path)
    return fd
