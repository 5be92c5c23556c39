"""A 127.0.0.1 TCP proxy that paces bytes like a UART, and counts them.

Each direction is a line of its own (full duplex). A chunk of n bytes read at time t leaves the proxy at
max(t, line free) + n x bits_per_byte / baud, which is when its last byte would have arrived over the wire;
the line is then busy until that instant. Frames are line-oriented, so delivering a chunk when its last
byte would arrive gives the receiver the same instant a real UART would. The proxy also counts bytes and
newline-terminated frames in each direction, independent of either end's own accounting.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class _Line:
    def __init__(self) -> None:
        self.bytes = 0
        self.frames = 0
        self.busy_until = 0.0
        self.first_t: float | None = None
        self.last_t = 0.0
        self.sizes: list[int] = []  # bytes of each complete frame
        self.heads: list[bytes] = []  # the first bytes of each frame (its SEQ and command)
        self._partial = b""

    def count(self, data: bytes) -> None:
        buf = self._partial + data
        *lines, self._partial = buf.split(b"\n")
        for line in lines:
            self.sizes.append(len(line) + 1)
            self.heads.append(line[:16])


class PacedProxy:
    """Listen on 127.0.0.1 (`port` after `start()`), forward every connection to `upstream`, paced."""

    def __init__(self, upstream: tuple[str, int], baud: int, bits_per_byte: int = 10) -> None:
        if upstream[0] != "127.0.0.1":
            raise ValueError(f"upstream: must be on 127.0.0.1 (got {upstream!r})")
        self.upstream = upstream
        self.baud = baud
        self.byte_s = bits_per_byte / baud
        self.to_rig = _Line()
        self.to_host = _Line()
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self.port: int = self._srv.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._closed = False
        self._lock = threading.Lock()

    def start(self) -> PacedProxy:
        self._srv.listen(4)
        t = threading.Thread(target=self._accept, name="paced-proxy-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def reset_counts(self) -> None:
        with self._lock:
            self.to_rig = _Line()
            self.to_host = _Line()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            for s in (client, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._socks.append(s)
            for src, dst, name in ((client, up, "to_rig"), (up, client, "to_host")):
                t = threading.Thread(target=self._pump, args=(src, dst, name), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, name: str) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            now = time.perf_counter()
            with self._lock:
                line: _Line = getattr(self, name)
                start = max(now, line.busy_until)
                done = start + len(data) * self.byte_s
                line.busy_until = done
                line.bytes += len(data)
                line.frames += data.count(b"\n")
                line.count(data)
                if line.first_t is None:
                    line.first_t = start
                line.last_t = done
            delay = done - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._closed = True
        for s in [self._srv, *self._socks]:
            with contextlib.suppress(OSError):
                s.close()
