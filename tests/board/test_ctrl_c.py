"""0x03 (Ctrl-C) in the rig's stream, on the emulated boards, while the rig runs a program.

The rig's link there is the board's REPL stream: QEMU's UART0 (whose image raises KeyboardInterrupt on a
0x03 read while code runs, as rp2 and esp32 do on their USB serial REPL; tools/board_build.py QEMU_PATCHES)
and the unix port's stdin/stdout on a pty. `main.run()` turns the interrupt character off
(`micropython.kbd_intr(-1)`), so a 0x03 is a byte like any other: alone on the line it is dropped, between
frames it changes nothing, inside a frame it makes that frame invalid (a NAK) and nothing else. The check
sends all of these, then a whole load with 0x03 before and after every frame, and requires the rig to have
answered everything, to run the same program as before, and to go on delivering.

On QEMU the check fails when the rig does not call kbd_intr(-1): the first 0x03 ends main.py with
KeyboardInterrupt and the board sits at its REPL (shown once by running `check_ctrl_c` on a main.py that
turns Ctrl-C back on after `repl_stream()`; not part of the suite). On the unix port 0x03 never interrupts
(its Ctrl-C is SIGINT from a terminal, and the pty is raw), so there the check covers the byte handling.
"""

from __future__ import annotations

import time

import pytest

from benchmarks.board_scenario import CONC, KEY, RES_NL, program13
from firmware_py import program as pg
from firmware_py import protocol as wire
from host_tools.board import EmulatedBoard
from host_tools.client import Refill, RigClient
from host_tools.errors import CommError
from host_tools.link import Link

pytestmark = pytest.mark.board

ETX = b"\x03"
D1 = pg.encode(program13(500_000, CONC, "transfer", "ctrl-c-first"))
D2 = pg.encode(program13(550_000, CONC, "titration", "ctrl-c-second"))
REPLY_S = 5.0


def _frame_with(seq: int, insert: bytes, fix_crc: bool) -> bytes:
    # An ST frame with bytes inserted after its command: with the CRC over the new body, or the old CRC.
    body = f"{seq} ST".encode()
    crc = wire.crc_hex(body + insert if fix_crc else body).encode()
    return b">" + body + insert + b"*" + crc + b"\n"


class EtxAround:
    """A serial port that writes 0x03 before and after every write (every frame of a RigClient)."""

    def __init__(self, port: object) -> None:
        self.port = port

    def __getattr__(self, name: str) -> object:
        return getattr(self.port, name)

    def write(self, data: bytes, /) -> int | None:
        self.port.write(ETX + data + ETX)  # type: ignore[attr-defined]
        return len(data)


def check_ctrl_c(board: EmulatedBoard) -> list[str]:
    """Start the board, load, then send 0x03 in every position: what went wrong (nothing: [])."""
    board.start()
    with RigClient.connect(board.url, KEY) as c:
        c.load(D1, Refill(RES_NL, CONC, 0))
        c.advance(2 * 86_400)  # D2 (+10 %) is allowed two days later
        before = c.status()
    problems: list[str] = []
    link = Link.open(board.url)
    try:
        # (what, bytes sent, the replies expected: seq, ACK or NAK, command or reason). A frame that holds a
        # byte outside printable ASCII is refused before its SEQ is read (NAK FORMAT, SEQ 0).
        cases: list[tuple[str, bytes, list[tuple[int, str, str]]]] = [
            ("0x03 alone", ETX, []),
            ("0x03 alone, then a frame", ETX + wire.request(11, "ST", []), [(11, "ACK", "ST")]),
            ("0x03 between frames", wire.request(12, "ID", []) + ETX + wire.request(13, "ST", [])
             + ETX * 3 + wire.request(14, "RJ", []) + ETX, [(12, "ACK", "ID"), (13, "ACK", "ST"),
                                                           (14, "ACK", "RJ")]),
            ("0x03 inside a frame, CRC over it", _frame_with(15, ETX, True), [(0, "NAK", "FORMAT")]),
            ("0x03 inside a frame, CRC without it", _frame_with(16, ETX, False), [(0, "NAK", "FORMAT")]),
            ("0x03 after the CRC", wire.request(17, "ST", [])[:-1] + ETX + b"\n", [(0, "NAK", "FORMAT")]),
            ("64 x 0x03, then a frame", ETX * 64 + wire.request(18, "ST", []), [(18, "ACK", "ST")]),
            ("a frame after them all", wire.request(19, "ST", []), [(19, "ACK", "ST")]),
        ]  # fmt: skip
        for what, data, expected in cases:
            link.send(data)
            if not expected:
                time.sleep(0.5)  # the rig had time to read it (and, without kbd_intr(-1), to stop)
            for want in expected:
                try:
                    r = link.receive(REPLY_S)
                except CommError as exc:
                    problems.append(f"{what}: no reply ({exc})")
                    return problems
                got = (r.seq, "ACK" if r.ok else "NAK", r.name)
                if got != want:
                    problems.append(f"{what}: got {got}, wanted {want}")
            if link._lines:
                problems.append(f"{what}: unexpected replies {list(link._lines)}")
                link._lines.clear()
    finally:
        link.close()
    try:
        # A whole load (SES, STG..., COM, RB) with 0x03 before and after every frame.
        with RigClient.connect(board.url, KEY, retries=0) as c:
            c.link._port = EtxAround(c.link._port)  # type: ignore[assignment]
            mid = c.status()
            c.load(D2)
            if c.readback() != D2:
                problems.append("the load with 0x03 around every frame read back other bytes")
        with RigClient.connect(board.url, KEY) as c:
            after = c.status()
            c.advance(86_400)
            later = c.status()
    except CommError as exc:
        problems.append(f"the rig stopped answering: {exc}")
        return problems
    for f in ("state", "t_s", "reservoir_nl", "delivered_ng", "events"):
        if getattr(mid, f) != getattr(before, f):
            problems.append(f"{f} changed by the 0x03 bytes: {getattr(before, f)} -> {getattr(mid, f)}")
    if (after.prog, after.state) != (pg.short_id(D2), "running"):
        problems.append(f"after the load: {after.prog} {after.state}")
    if later.t_s != after.t_s + 86_400 or later.delivered_ng <= after.delivered_ng:
        problems.append(f"delivery did not go on: {after.t_s} {after.delivered_ng} -> {later.t_s} "
                        f"{later.delivered_ng}")  # fmt: skip
    if not board.running:
        problems.append("the board is not running")
    return problems


def test_ctrl_c_in_the_stream_does_not_stop_the_rig(board: EmulatedBoard) -> None:
    assert check_ctrl_c(board) == []
