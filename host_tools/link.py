"""The byte link to a rig over pyserial: open any pyserial URL, send frames, read rig replies with a deadline.

Framing, CRC and reply parsing are `firmware_py.protocol`'s (the same code the rig runs); this module only
moves bytes and turns every port failure into one of three `CommError` subclasses, each with a one-line
message that says which failure it was:

- `PortOpenError`   the port cannot be opened (no such device, busy, connection refused, bad URL);
- `RigTimeoutError`      no (valid) reply within the timeout;
- `RigDisconnectedError` the port went away while in use (pty closed, socket reset, USB unplugged).

Any pyserial URL works: a device path (`/dev/ttyACM0`, a pty's `/dev/pts/N`), `socket://127.0.0.1:PORT`,
`loop://`, `rfc2217://HOST:PORT`.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections import deque
from types import TracebackType
from typing import Protocol, cast

import serial
import serial.rfc2217

try:  # pyserial's POSIX backend lets termios.error (not an OSError) out of flush() and buffer resets
    import termios

    _PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # pragma: no cover - Windows
    _PORT_ERRORS = (serial.SerialException, OSError)

from firmware_py import protocol
from host_tools.errors import CommError

DEFAULT_BAUDRATE = 115_200
DEFAULT_TIMEOUT_S = 2.0
_POLL_S = 0.05  # longest single blocking read, so a deadline is honoured closely


class PortOpenError(CommError):
    """The port cannot be opened. Exit 3."""

    kind = "port cannot be opened"


class RigTimeoutError(CommError):
    """No valid reply arrived in time. Exit 3."""

    kind = "timeout"


class RigDisconnectedError(CommError):
    """The port went away while in use. Exit 3."""

    kind = "disconnect"


class SerialPort(Protocol):
    """What the link needs from a pyserial port (every `serial_for_url` class has it)."""

    timeout: float | None

    @property
    def is_open(self) -> bool: ...
    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes, /) -> int | None: ...
    def flush(self) -> None: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class Link:
    """An open port carrying protocol frames. Thread-compatible, not thread-safe: one user at a time."""

    def __init__(self, port: SerialPort, url: str) -> None:
        self._port = port
        self.url = url
        self._parser = protocol.FrameParser(protocol.RIG_START)
        self._lines: deque[bytes] = deque()
        self.bad_frames = 0  # frames dropped for CRC, syntax or length (noise on the line)
        self.bytes_sent = 0
        self.bytes_received = 0

    @classmethod
    def open(cls, url: str, *, baudrate: int = DEFAULT_BAUDRATE) -> Link:
        """Open `url` with `serial.serial_for_url`. Raises `PortOpenError` naming the URL and the cause."""
        try:
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=_POLL_S, do_not_open=True)
            # rfc2217:// refuses to open with a write timeout (NotImplementedError): it writes to TCP.
            if not isinstance(port, serial.rfc2217.Serial):
                port.write_timeout = DEFAULT_TIMEOUT_S
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortOpenError(f"port cannot be opened: {url}: {_reason(exc)}") from None
        link = cls(cast(SerialPort, port), url)
        # A partial frame left on the line by an earlier host ends here as a bad frame (docs/protocol.md).
        link.send(b"\n")
        return link

    def __repr__(self) -> str:
        return f"Link({self.url!r})"

    def __enter__(self) -> Link:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return bool(self._port.is_open)

    def close(self) -> None:
        """Close the port (idempotent; errors while closing a dead port are ignored)."""
        # pyserial's socket:// close() skips closing the socket when shutdown() fails on a connection the
        # peer already dropped (pyserial 3.5); close it here too (socket.close is idempotent).
        sock = getattr(self._port, "_socket", None)
        with contextlib.suppress(*_PORT_ERRORS):
            self._port.close()
        if isinstance(sock, socket.socket):
            sock.close()

    def send(self, frame: bytes) -> None:
        """Write one or more complete frames."""
        if not self._port.is_open:
            raise RigDisconnectedError(f"disconnect: port {self.url} is closed")
        try:
            self._port.write(frame)
            self._port.flush()
        except serial.SerialTimeoutException:
            raise RigTimeoutError(f"timeout: writing to {self.url} did not complete") from None
        except _PORT_ERRORS as exc:
            raise RigDisconnectedError(f"disconnect: writing to {self.url} failed: {_reason(exc)}") from None
        self.bytes_sent += len(frame)

    def _fill(self, wait_s: float) -> None:
        # Read what is there (or wait up to wait_s for the first byte) and queue complete lines.
        self._port.timeout = max(0.0, min(wait_s, _POLL_S))
        try:
            waiting = self._port.in_waiting
            data = self._port.read(max(1, min(waiting, 4096)))
        except _PORT_ERRORS as exc:
            raise RigDisconnectedError(
                f"disconnect: reading from {self.url} failed: {_reason(exc)}"
            ) from None
        if not data:
            return
        self.bytes_received += len(data)
        for line in self._parser.feed(data):
            if line is None:
                self.bad_frames += 1
            else:
                self._lines.append(line)

    def receive(self, timeout_s: float) -> protocol.Reply:
        """The next well-formed rig reply, waiting at most `timeout_s`. Corrupt frames are dropped, counted.

        Raises `RigTimeoutError` when nothing valid arrives in time, `RigDisconnectedError` when the port
        goes away.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            while self._lines:
                line = self._lines.popleft()
                try:
                    return protocol.parse_reply(line)
                except protocol.FrameError:
                    self.bad_frames += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise RigTimeoutError(f"timeout: no reply from the rig on {self.url} within {timeout_s:g} s")
            self._fill(left)

    def discard_input(self) -> None:
        """Drop everything received so far (late replies after a timeout)."""
        self._lines.clear()
        self._parser.reset()
        try:
            self._port.reset_input_buffer()
        except _PORT_ERRORS as exc:
            raise RigDisconnectedError(f"disconnect: {self.url}: {_reason(exc)}") from None


def open_link(url: str, *, baudrate: int = DEFAULT_BAUDRATE) -> Link:
    """Open a link on any pyserial URL (see `Link.open`)."""
    return Link.open(url, baudrate=baudrate)
