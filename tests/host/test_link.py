"""The pyserial link: framing through firmware_py.protocol over loop://, and the three failure kinds.

REQ: ITB-DIS-01 (an interrupted session must say what the rig was left running, never fail silently).
"""

from __future__ import annotations

import socket

import pytest

from firmware_py import protocol
from host_tools.client import RigClient
from host_tools.errors import EXIT_COMM, CommError
from host_tools.link import Link, PortOpenError, RigTimeoutError
from tests.host.rig_support import run_cli


def test_loop_carries_rig_frames_byte_exact() -> None:
    # A rig reply written into loop:// comes back parsed by the firmware's own codec; noise before it,
    # a frame with a wrong CRC and a host frame (">...", which the host parser never accepts) are dropped.
    good = protocol.reply(7, "ACK", "ST", [("state", "running"), ("t", 3600)])
    bad = bytearray(protocol.reply(8, "ACK", "ST", [("state", "stopped")]))
    bad[-3] ^= 0x01  # corrupt one CRC digit
    with Link.open("loop://") as link:
        link.send(b"garbage\r\n" + bytes(bad) + protocol.request(9, "ST", []) + good)
        r = link.receive(1.0)
        assert (r.seq, r.ok, r.name, r.fields) == (7, True, "ST", {"state": "running", "t": "3600"})
        assert link.bad_frames == 1
        with pytest.raises(RigTimeoutError) as exc:
            link.receive(0.05)
    assert str(exc.value).startswith("timeout: ")


def test_frame_split_across_reads_is_reassembled() -> None:
    frame = protocol.reply(3, "ACK", "ID", [("fw", "x"), ("seq", 0)])
    with Link.open("loop://") as link:
        link.send(frame[:5])
        with pytest.raises(RigTimeoutError):
            link.receive(0.05)
        link.send(frame[5:])
        assert link.receive(1.0).fields == {"fw": "x", "seq": "0"}


def test_loopback_without_rig_times_out_with_bounded_retries() -> None:
    # A loop-back plug and no rig: every request only echoes; the client gives up after 1 + retries tries.
    link = Link.open("loop://")
    client = RigClient(link, None, timeout_s=0.05, retries=2)
    with pytest.raises(RigTimeoutError) as exc:
        client.status()
    msg = str(exc.value)
    assert "timeout" in msg and "3 tries" in msg and "rig left running" not in msg  # nothing was changed
    assert "\n" not in msg
    assert client.retried == 2
    link.close()


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.mark.parametrize(
    "url", ["/dev/itb-no-such-device", f"socket://127.0.0.1:{_free_port()}", "nosuchscheme://x"]
)
def test_port_cannot_be_opened(url: str) -> None:
    with pytest.raises(PortOpenError) as exc:
        Link.open(url)
    assert isinstance(exc.value, CommError)
    assert str(exc.value).startswith(f"port cannot be opened: {url}")
    assert "rig left running" not in str(exc.value)


def test_cli_port_cannot_be_opened_exit_3_one_line() -> None:
    code, out, err = run_cli(["status", "--port", "/dev/itb-no-such-device"])
    assert code == EXIT_COMM
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("itb: port cannot be opened: /dev/itb-no-such-device")
    assert "rig left running" not in lines[0]  # a read-only command changed nothing


def test_cli_loop_timeout_exit_3_one_line() -> None:
    code, _out, err = run_cli(["status", "--port", "loop://", "--timeout", "0.05", "--retries", "1"])
    assert code == EXIT_COMM
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("itb: timeout: no reply from the rig on loop://")
    assert "2 tries" in lines[0] and "rig left running" not in lines[0]
