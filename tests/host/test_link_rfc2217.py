"""The host client over an `rfc2217://` URL (serial over telnet, as a networked serial server provides).

pyserial's own RFC 2217 server side (`serial.rfc2217.PortManager`) sits on 127.0.0.1 in front of the
virtual rig (reached by the server as `socket://`: a pseudo-terminal has no modem lines to report), so the
client goes through real RFC 2217 negotiation and escaping.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import serial
import serial.rfc2217

from firmware_py import program as pg
from firmware_py import protocol as wire
from host_tools.client import Refill, RigClient
from tests.host.rig_support import encoded, program, served


class _Writer:
    """The connection object PortManager writes its telnet negotiation to."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self._conn.sendall(data)


@contextlib.contextmanager
def rfc2217_server(device: str) -> Iterator[int]:
    """Serve `device` (a pyserial URL) as RFC 2217 on an ephemeral 127.0.0.1 port, one client at a time."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        conn, _addr = listener.accept()
        ser = serial.serial_for_url(device, timeout=0.05)
        manager = serial.rfc2217.PortManager(ser, _Writer(conn))  # type: ignore[arg-type]

        def rig_to_net() -> None:
            while not stop.is_set():
                try:
                    data = ser.read(ser.in_waiting or 1)
                except (serial.SerialException, OSError):
                    return
                if data:
                    with contextlib.suppress(OSError):
                        conn.sendall(b"".join(manager.escape(data)))

        reader = threading.Thread(target=rig_to_net, daemon=True)
        reader.start()
        conn.settimeout(0.05)
        while not stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            ser.write(b"".join(manager.filter(data)))
        stop.set()
        reader.join(timeout=2)
        ser.close()
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=2)


def test_load_and_readback_over_rfc2217() -> None:
    """Identify, load (stage, commit, read back, compare) and status through an RFC 2217 server."""
    data = encoded()
    with served("tcp") as vr, rfc2217_server(vr.url) as port:
        client = RigClient.connect(f"rfc2217://127.0.0.1:{port}", vr.key, timeout_s=2.0)
        try:
            assert client.identify().proto == wire.PROTO_VERSION
            res = client.load(data, Refill(20_000_000, 500, 0))
            assert res.new_prog == pg.short_id(data)
            assert client.readback() == data
            st = client.status()
            assert (st.state, st.prog, st.reservoir_nl) == ("running", res.new_prog, 20_000_000)
            assert pg.decode(client.readback()) == program()
        finally:
            client.close()
