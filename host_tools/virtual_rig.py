"""The rig firmware (`firmware_py.rig.Rig`, unchanged) served under CPython on a pseudo-terminal or on a
127.0.0.1 TCP port, in a background thread.

- `VirtualRig(transport="pty")`: the host opens `rig.url` (a `/dev/pts/N` path) like a USB serial device.
- `VirtualRig(transport="tcp", port=P)`: the host opens `socket://127.0.0.1:P` (pyserial's socket URL). One
  connection is served at a time and a new one takes over, as a new cable would: the old one is closed, and
  no partial frame and no session carry over (`Rig.link_reset`). A client that stops reading is dropped after
  `SEND_TIMEOUT_S`.

The rig runs on a `BenchClock` (time moves only with `ADV`) and persists its state with the firmware's `Store`
in a directory (a temporary one unless `state_dir` is given). A random key is made per session unless one is
given; it is handed to the host in process (`rig.key`), never printed.

`builtin_rig()` is what every host command uses when it gets no `--port`.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from firmware_py.clock import BenchClock
from firmware_py.config import Config, bench_config
from firmware_py.rig import Rig
from firmware_py.store import OsFs, Store
from host_tools.errors import UsageError
from host_tools.keys import RigKey, generate_key

# 2026-01-05 00:00 rig time, a Monday: a bench session starts at midnight on the first day of a week, so hour
# buckets line up with the schedule and day 0 of a weekly schedule is Monday.
DEFAULT_START_S = 1_767_571_200
STATE_PREFIX = "itb_state"
_WAKE_S = 0.2
SEND_TIMEOUT_S = 2.0
VIRTUAL_CONFIG = bench_config("virtual")

RigFactory = Callable[[RigKey, BenchClock, Store, Config], Rig]


class _SyncedFile:
    """A file opened for a streamed write whose close() flushes it to the disk (fsync) first."""

    def __init__(self, path: str) -> None:
        self._f = open(path, "wb")  # noqa: SIM115 (closed by close(), as the firmware's Store calls it)

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()


class HostFs(OsFs):
    """The firmware's file system adapter, with an fsync of each file written instead of a global
    `os.sync()` after it; with `durable` False (a rig whose state is discarded), no sync at all."""

    def __init__(self, durable: bool = True) -> None:
        self.durable = durable

    def open_write(self, path: str) -> object:
        return _SyncedFile(path) if self.durable else open(path, "wb")

    def sync(self) -> None:
        # Each file written was synced on close (durable), or need not be: never a global os.sync().
        return

    def write(self, path: str, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            if self.durable:
                os.fsync(f.fileno())


def default_rig(key: RigKey, clock: BenchClock, store: Store, config: Config) -> Rig:
    """The firmware rig, as on a board but with a bench clock (and the host's os.urandom for sessions)."""
    return Rig(key.secret(), clock, store, config)


class VirtualRig:
    """The firmware served on a pty or a 127.0.0.1 TCP port. Use as a context manager.

    Test hooks: `mute` (read frames but answer none: a timeout), `drop_request(line) -> bool` (the frame
    never reaches the rig: lost on the way), `reply_filter(frame) -> bytes` (rewrite or drop each reply
    frame: a lost reply, a tampered rig), `disconnect()` (close the port under the host).
    """

    def __init__(
        self,
        *,
        transport: str = "pty",
        port: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
        key: RigKey | None = None,
        start_s: int = DEFAULT_START_S,
        rig_factory: RigFactory = default_rig,
        durable: bool = False,
        config: Config = VIRTUAL_CONFIG,
    ) -> None:
        if transport not in ("pty", "tcp"):
            raise UsageError(f"transport must be pty or tcp (got {transport!r})")
        if transport == "pty" and not hasattr(os, "openpty"):
            transport = "tcp"
        self.transport = transport
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="itb-rig-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.key = key if key is not None else generate_key()
        self.clock = BenchClock(start_s)
        self.store = Store(str(self.state_dir / STATE_PREFIX), HostFs(durable))
        self.config = config
        self.rig = rig_factory(self.key, self.clock, self.store, config)
        self.mute = False
        self.reply_filter: Callable[[bytes], bytes] | None = None
        self.drop_request: Callable[[bytes], bool] | None = None
        self.frames_in = 0
        self._partial = b""
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._master = -1
        self._slave = -1
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self.url = ""
        if transport == "pty":
            self._open_pty()
        else:
            self._open_tcp(port)

    def __repr__(self) -> str:
        return f"VirtualRig({self.url!r})"

    # -- set-up --

    def _open_pty(self) -> None:
        import tty  # noqa: PLC0415  (POSIX only, like os.openpty)

        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: bytes pass unchanged
        self.url = os.ttyname(self._slave)

    def _open_tcp(self, port: int) -> None:
        if not 0 <= port <= 65535:
            raise UsageError(f"--tcp: port must be 0 to 65535 (got {port})")
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lst.bind(("127.0.0.1", port))  # loopback only: a bench rig is never on the network
        except OSError as exc:
            lst.close()
            raise UsageError(f"--tcp: cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        lst.listen(8)
        self._listener = lst
        self.url = f"socket://127.0.0.1:{lst.getsockname()[1]}"

    # -- life cycle --

    def start(self) -> VirtualRig:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="itb-virtual-rig", daemon=True)
            self._thread.start()
        return self

    def __enter__(self) -> VirtualRig:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until `close()` (from another thread) or KeyboardInterrupt."""
        self._serve()

    def close(self) -> None:
        """Stop serving and release the port, the pipe and the temporary state directory."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._close_port()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def disconnect(self) -> None:
        """Close the port under the host (a cable pulled): its next read or write fails."""
        with self._lock:
            self._close_port()

    def _close_port(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        for s in (self._conn, self._listener):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()
        self._conn = self._listener = None

    # -- the loop --

    def _answer(self, data: bytes) -> bytes:
        with self._lock:
            self.frames_in += data.count(b"\n")
            if self.drop_request is not None:
                data = self._filter_requests(data)
            out = self.rig.feed(data)
            if self.mute:
                return b""
            if self.reply_filter is not None and out:
                f = self.reply_filter
                out = b"".join(f(line) for line in out.splitlines(keepends=True))
            return out

    def _filter_requests(self, data: bytes) -> bytes:
        # Line-wise, so a hook sees whole frames even when the OS splits them.
        buf = self._partial + data
        cut = buf.rfind(b"\n") + 1
        self._partial = buf[cut:]
        drop = self.drop_request
        assert drop is not None
        return b"".join(x for x in buf[:cut].splitlines(keepends=True) if not drop(x))

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                if self.transport == "pty":
                    if not self._serve_pty_once():
                        return
                elif not self._serve_tcp_once():
                    return
        finally:
            self._stop.set()

    def _wait(self, fds: list[int]) -> list[int]:
        try:
            ready, _, _ = select.select([*fds, self._wake_r], [], [], _WAKE_S)
        except (OSError, ValueError):
            return []
        return [fd for fd in ready if fd != self._wake_r]

    def _serve_pty_once(self) -> bool:
        master = self._master
        if master < 0:
            return False
        if not self._wait([master]):
            return True
        try:
            data = os.read(master, 4096)
        except OSError:
            return False
        out = self._answer(data)
        while out and not self._stop.is_set():
            try:
                n = os.write(master, out)
            except OSError:
                return False
            out = out[n:]
        return True

    def _serve_tcp_once(self) -> bool:
        lst = self._listener
        if lst is None:
            return False
        conn = self._conn
        ready = self._wait([lst.fileno()] + ([conn.fileno()] if conn is not None else []))
        if lst.fileno() in ready:
            # A new connection takes over, as a new cable would.
            try:
                new, _addr = lst.accept()
            except OSError:
                return False
            new.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            new.settimeout(SEND_TIMEOUT_S)
            self._hang_up()
            self._conn = new
            return True
        if conn is None or conn.fileno() not in ready:
            return True
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._hang_up()  # the host hung up; wait for the next one
            return True
        out = self._answer(data)
        if out:
            try:
                conn.sendall(out)
            except OSError:  # a client that does not read (socket.timeout is an OSError)
                self._hang_up()
        return True

    def _hang_up(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.close()
            self._conn = None
            self._partial = b""
            self.rig.link_reset()


@contextlib.contextmanager
def builtin_rig(transport: str = "pty", **kwargs: object) -> Iterator[VirtualRig]:
    """A virtual rig for one command: started, yielded, and closed (state discarded) afterwards."""
    rig = VirtualRig(transport=transport, **kwargs)  # type: ignore[arg-type]
    try:
        yield rig.start()
    finally:
        rig.close()
