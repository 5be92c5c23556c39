"""Interrupted programming: the link is cut at every byte offset of a whole `RigClient.load` of a 13-step
program (ID, ST, HIS, SES, three STG frames, COM, a sampled RB), host -> rig and rig -> host.

Hazard: a pump left stopped, or running a mixture of old and new settings, after an interrupted session
(HSA 2021, /work/shared/DESIGN.md). After every cut the rig must run exactly the old program or exactly the
new one, never stopped, and the host must say which: the CommError message names it (or both candidates
when the rig cannot be asked), and a reconnect reads it back byte for byte.

REQ: ITB-DIS-01
"""

from __future__ import annotations

import dataclasses

import pytest
import serial

from firmware_py import program as pg
from firmware_py.clock import BenchClock
from firmware_py.delivery import Status
from firmware_py.rig import Rig
from firmware_py.state import RUNNING
from host_tools.client import RigClient
from host_tools.errors import CommError
from host_tools.errors import ItbError as HostError
from host_tools.keys import RigKey
from host_tools.link import Link
from tests.core.support import counter_random
from tests.safety import kit

CHUNK = 160  # STG data bytes per frame: the 13-step program goes in three frames


class CutPort:
    """A pyserial-like port wired to a Rig in process, cut after `tx_cut` bytes host -> rig or `rx_cut` bytes
    rig -> host. Modes: "disconnect" (later reads and writes raise, like a pulled cable), "silent" (the line
    goes dead: writes vanish, reads time out), "glitch" (only the bytes past the cut in that one write or
    reply are lost, then the line works again)."""

    def __init__(self, rig: Rig, tx_cut: int | None = None, rx_cut: int | None = None,
                 mode: str = "disconnect") -> None:  # fmt: skip
        self.rig = rig
        self.tx_cut = tx_cut
        self.rx_cut = rx_cut
        self.mode = mode
        self.timeout: float | None = 0.05
        self.sent = 0
        self.recv = 0
        self.dead = False
        self._rx = bytearray()

    @property
    def is_open(self) -> bool:
        return True

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def _cut(self) -> None:
        if self.mode != "glitch":
            self.dead = True

    def write(self, data: bytes, /) -> int | None:
        if self.dead:
            if self.mode == "disconnect":
                raise serial.SerialException("cable cut")
            return len(data)
        if self.tx_cut is not None and self.sent < self.tx_cut < self.sent + len(data) + 1 \
                and self.sent + len(data) > self.tx_cut:  # fmt: skip
            part = data[: self.tx_cut - self.sent]
            self.sent += len(data)
            self._deliver(self.rig.feed(part))
            self._cut()
            if self.mode == "disconnect":
                raise serial.SerialException("cable cut")
            return len(data)
        self.sent += len(data)
        self._deliver(self.rig.feed(data))
        return len(data)

    def _deliver(self, out: bytes) -> None:
        if self.dead:
            return
        if self.rx_cut is not None and self.recv <= self.rx_cut < self.recv + len(out):
            self._rx += out[: self.rx_cut - self.recv]
            self.recv += len(out)
            self._cut()
            return
        self.recv += len(out)
        self._rx += out

    def read(self, size: int = 1) -> bytes:
        if self._rx:
            out = bytes(self._rx[:size])
            del self._rx[:size]
            return out
        if self.dead and self.mode == "disconnect":
            raise serial.SerialException("cable cut")
        return b""

    def flush(self) -> None:
        return None

    def reset_input_buffer(self) -> None:
        self._rx.clear()

    def close(self) -> None:
        return None


OLD = kit.program13(500_000, label="old-program")
NEW = kit.program13(550_000, phase="titration", label="new-program")  # +10 %, 48 h later: allowed
OLD_B, NEW_B = pg.encode(OLD), pg.encode(NEW)
OLD_ID, NEW_ID = pg.short_id(OLD_B), pg.short_id(NEW_B)


def _build_base() -> Rig:
    rig, clock, _fs = kit.make_rig(persist=False)
    kit.first_fill(rig, OLD)
    clock.advance(2 * kit.DAY)
    rig.poll()
    return rig


_BASE = _build_base()


def _rig_with_old() -> Rig:
    """A rig running OLD for 48 h (a copy of one prepared state: the same rig, faster than re-loading)."""
    rig = Rig(kit.KEY, BenchClock(_BASE.clock.now_s()), None, kit.CONFIG, counter_random())  # type: ignore[arg-type]
    rig.s = _BASE.s.copy()
    return rig


def _client(port: CutPort, timeout_s: float = 0.5, retries: int = 2) -> RigClient:
    c = RigClient(Link(port, "cut://rig"), RigKey(kit.KEY), timeout_s=timeout_s, retries=retries)
    info = c.identify()
    c.info = dataclasses.replace(info, chunk=CHUNK)
    return c


def _load_once(port: CutPort, timeout_s: float = 0.5, retries: int = 2) -> tuple[str, str]:
    """Run one load through `port`; return (outcome, what the host said)."""
    try:
        client = _client(port, timeout_s, retries)
    except CommError as exc:
        return "noconnect", str(exc)  # identification failed: no change was attempted
    try:
        res = client.load(NEW_B)
    except CommError as exc:
        return "comm", str(exc)
    except HostError as exc:  # refused / verification: still must say what runs
        return "refused", str(exc)
    return "ok", f"loaded {res.new_prog} (was {res.old_prog})"


def _check_after(rig: Rig, outcome: str, said: str, where: str, reload: bool = True) -> str:
    """The invariant after a cut; returns which program runs ("old" or "new")."""
    s = rig.s
    assert s.state == RUNNING, f"{where}: rig left {s.state}"
    assert s.prog_b in (OLD_B, NEW_B), f"{where}: rig runs a mixture {s.prog_b[:80]!r}"
    assert Status(s, s.t_s).rate_ng_per_day > 0, where
    which = "new" if s.prog_b == NEW_B else "old"
    active = NEW_ID if which == "new" else OLD_ID
    if outcome == "ok":
        assert which == "new", f"{where}: host says loaded, rig runs the old program"
    elif outcome == "noconnect":
        # a read-only step failed: the host claims nothing about what runs, and the rig runs the old program
        assert which == "old" and "rig left running" not in said, f"{where}: {said}"
    else:
        assert "rig left running: " in said, f"{where}: {said}"
        told = said.split("rig left running: ", 1)[1]
        if "unchanged: nothing was sent" in told:
            # cut before any program-changing frame was sent (during ID, ST or HIS): the rig runs the old one
            assert which == "old" and NEW_ID not in told, f"{where}: {said}"
        elif told.startswith(("new program", "old program", "program")):
            assert active in told and (OLD_ID if which == "new" else NEW_ID) not in told, f"{where}: {said}"
        else:  # the rig could not be asked after the change began: both candidates named
            assert told.startswith("unknown (old program " + OLD_ID + " or new program " + NEW_ID), said
    # reconnect: the host reads back exactly what runs, and a repeated load completes
    client = _client(CutPort(rig))
    st = client.status()
    assert st.prog == active and st.state == RUNNING, where
    assert client.readback() == (NEW_B if which == "new" else OLD_B), where
    if not reload:
        return which
    again = client.load(NEW_B)
    assert again.new_prog == NEW_ID and rig.s.prog_b == NEW_B and rig.s.state == RUNNING, where
    return which


def _totals() -> tuple[int, int]:
    port = CutPort(_rig_with_old())
    outcome, said = _load_once(port)
    assert outcome == "ok", said
    return port.sent, port.recv


def test_cut_at_every_host_to_rig_byte_offset() -> None:
    """Every byte offset of ID + ST + HIS + SES + 3 x STG + COM + RB host -> rig, cable pulled there."""
    tx, _rx = _totals()
    assert tx > len(NEW_B) + 250  # staging frames, commit and read-back requests: the whole exchange
    seen = {"old": 0, "new": 0}
    for k in range(tx + 1):
        rig = _rig_with_old()
        port = CutPort(rig, tx_cut=k)
        outcome, said = _load_once(port)
        seen[_check_after(rig, outcome, said, f"tx cut at {k}/{tx}", reload=k % 4 == 0)] += 1
    assert seen["old"] > 0 and seen["new"] > 0, seen  # the cut crossed the commit point
    print(f"host->rig cut offsets tried: {tx + 1} (old {seen['old']}, new {seen['new']})")


def test_cut_at_every_rig_to_host_byte_offset() -> None:
    """Every byte offset of the rig's replies (ID, ST, HIS, SES, STG x3, COM, RB), cable pulled there."""
    _tx, rx = _totals()
    assert rx > 500  # identification, status, history, session, acknowledgements and the sampled read-back
    seen = {"old": 0, "new": 0}
    for k in range(rx + 1):
        rig = _rig_with_old()
        port = CutPort(rig, rx_cut=k)
        outcome, said = _load_once(port)
        seen[_check_after(rig, outcome, said, f"rx cut at {k}/{rx}", reload=k % 4 == 0)] += 1
    assert seen["old"] > 0 and seen["new"] > 0, seen
    print(f"rig->host cut offsets tried: {rx + 1} (old {seen['old']}, new {seen['new']})")


@pytest.mark.parametrize("mode", ["glitch", "silent"])
@pytest.mark.parametrize("direction", ["tx", "rx"])
def test_lost_bytes_with_timeouts_and_retries(mode: str, direction: str) -> None:
    """Every 9th (glitch) or 17th (silent: real timeouts) offset with the line going quiet (silent) or
    dropping one frame's tail (glitch): the client's timeouts, SEQ resync and status-based outcome checks
    are exercised; the same invariant holds, and a glitched load never commits twice."""
    tx, rx = _totals()
    total = tx if direction == "tx" else rx
    tried = 0
    for k in range(0, total + 1, 9 if mode == "glitch" else 17):
        rig = _rig_with_old()
        port = CutPort(rig, tx_cut=k if direction == "tx" else None, rx_cut=k if direction == "rx" else None,
                       mode=mode)  # fmt: skip
        commits_before = sum(1 for e in rig.s.entries() if e[2] == "commit")
        outcome, said = _load_once(port, timeout_s=0.01, retries=2)
        commits = sum(1 for e in rig.s.entries() if e[2] == "commit") - commits_before
        assert commits <= 1, f"{mode} {direction} {k}: {commits} commits"
        _check_after(rig, outcome, said, f"{mode} {direction} cut at {k}/{total}")
        tried += 1
    assert tried > 40
