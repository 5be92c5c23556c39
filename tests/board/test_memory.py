"""Out of memory on the unix-port rig image: a command that runs out of heap is answered ``NAK MEMORY`` and
changes nothing (docs/board.md, "What the rig does for the board"; firmware_py/rig.py).

The board's main.py is the rig as ``firmware_py.main.run(bench=True)`` runs it, plus a ballast: a block of
``BALLAST`` bytes allocated at boot that a BEL byte (0x07) on the line frees (a byte outside a frame, which
the rig's parser drops anyway). The heap (``-X heapsize``) is found by a scan: the lowest size at which a
13-step load, two days and the staging of a +10 % titration all succeed and that titration's COM runs out of
memory. Then:

- the COM is answered ``NAK MEMORY`` with its SEQ;
- once the ballast is freed, the rig's status, program read-back, audit log and history are exactly those of
  a rig (firmware_py on CPython, the same frames, the same bench start) that never received that COM, and
  a day later both still agree: the rig kept delivering exactly;
- the identical COM frame (same SEQ, same MAC), sent again once memory is available, is carried out: the
  counter was not consumed (docs/board.md: "the host retries the identical frame after a moment");
- a STG that runs out of memory (a smaller heap) changes nothing either, answered NAK MEMORY or, when it is
  the save that runs out, NAK STORE.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmarks.board_scenario import CONC, KEY, RES_NL, program13
from firmware_py import config as fw_config
from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth, Session
from firmware_py.config import bench_config
from host_tools.board import EmulatedBoard
from host_tools.errors import CommError
from host_tools.link import Link
from tests.core import support

pytestmark = pytest.mark.board

BALLAST = 32 * 1024
HEAPS = tuple(range(30_000, 40_001, 500))  # usable heap (heapsize - BALLAST) tried by the scan, in order
D1 = pg.encode(program13(500_000, CONC, "transfer", "memory-first"))
D2 = pg.encode(program13(550_000, CONC, "titration", "memory-second"))  # +10 % two days later: allowed
BEL = b"\x07"
REPLY_S = 4.0
CHUNK = 200

BALLAST_MAIN = """\
# itb test board (tests/board/test_memory.py): the rig as firmware_py.main.run(bench=True) runs it, plus a
# ballast of {ballast} bytes that a BEL byte (0x07) on the line frees.
import gc, sys
import firmware_py.main as m
ballast = [bytearray({ballast})]
gc.threshold(m.GC_THRESHOLD)
rig = m.make_rig(bench=True)
read, write, avail = m.repl_stream()
def read_bel(n):
    b = read(n)
    if b and ballast and 7 in b:
        ballast.clear()
        gc.collect()
        sys.stderr.write("itb-test ballast freed\\n")
    return b
m.loop_stream(rig, read_bel, write, avail, lambda t: sys.stderr.write(t + "\\n"))
"""


class Wire:
    """Frames to a rig (the board over its pty, or a CPython Rig), signed in one session; replies parsed."""

    def __init__(self, exchange: Callable[[bytes], wire.Reply]) -> None:
        self.exchange = exchange  # a frame -> the rig's reply
        self.auth = Auth(KEY.secret())
        self.session: Session | None = None
        self.seq = 0
        self.read_seq = 1000

    def frame(self, cmd: str, args: list[str]) -> bytes:
        if not wire.COMMANDS[cmd][0]:
            self.read_seq += 1
            return wire.request(self.read_seq, cmd, args)
        self.seq += 1
        return wire.request(self.seq, cmd, args, self.session)

    def send_frame(self, f: bytes) -> wire.Reply:
        r = self.exchange(f)
        if r.ok and r.name == "SES":
            self.session = Session(self.auth, r.fields["sid"])
            self.seq = 0
        return r

    def send(self, cmd: str, args: list[str]) -> wire.Reply:
        return self.send_frame(self.frame(cmd, args))

    def ok(self, cmd: str, args: list[str]) -> wire.Reply:
        r = self.send(cmd, args)
        if not r.ok:
            raise AssertionError(f"{cmd} {' '.join(a[:20] for a in args)}: NAK {r.name} {r.fields}")
        return r

    def readout(self) -> dict[str, object]:
        """Everything the rig tells about itself: status, program, audit log, history (all pages)."""
        got: dict[str, object] = {"st": self.ok("ST", []).fields}
        for cmd in ("RB", "HIS"):
            text, off = "", 0
            while True:
                r = self.send(cmd, [str(off)])
                if not r.ok:
                    got[cmd] = ("NAK", r.name)
                    break
                text += r.fields["data"]
                off = len(text)
                if off >= int(r.fields["total"]):
                    got[cmd] = text
                    break
        entries, start = [], 0
        while True:
            r = self.ok("LG", [str(start)])
            if not r.fields["e"]:
                break
            entries.append(r.fields["e"])
            start = int(r.fields["next"])
        got["LG"] = entries
        return got


def _com_args(data: bytes, rf: tuple[int, int, int] | None = None) -> list[str]:
    args = [str(len(data)), pg.checksum(data)[: wire.SHA_LEN]]
    if rf is not None:
        args.append("rf=" + ",".join(str(x) for x in rf))
    return args


def _stage(name: str, data: bytes) -> list[tuple[str, str, list[str]]]:
    return [(name, "STG", [str(off), data[off : off + CHUNK].decode()]) for off in range(0, len(data), CHUNK)]


# The steps: a session, D1 loaded with a full fill, two days, D2 staged and committed (name, command, args).
PLAN: list[tuple[str, str, list[str]]] = (
    [("SES", "SES", [])] + _stage("STG D1", D1) + [("COM D1", "COM", _com_args(D1, (RES_NL, CONC, 0)))]
    + [("ADV", "ADV", [str(2 * 86_400)])] + _stage("STG D2", D2) + [("COM D2", "COM", _com_args(D2))]
)  # fmt: skip


class BoardLink:
    """The board's pty: one frame out, one reply back."""

    def __init__(self, url: str) -> None:
        self.link = Link.open(url)

    def __call__(self, f: bytes) -> wire.Reply:
        self.link.send(f)
        return self.link.receive(REPLY_S)

    def send_raw(self, data: bytes) -> None:
        self.link.send(data)

    def close(self) -> None:
        self.link.close()


class Setup:
    """A board at one heap with the ballast held, and the CPython reference rig (same frames, same start)."""

    def __init__(self, root: Path, usable: int) -> None:
        self.usable = usable
        self.board = EmulatedBoard("unix", root / f"board-{usable}", heap=usable + BALLAST)
        self.board.provision(KEY, main=BALLAST_MAIN.format(ballast=BALLAST))
        try:
            self.board.start()
        except BaseException:
            self.board.stop()  # a board that did not come up is still running
            raise
        self.t0 = self.board.heap_readings[0].t_s  # the bench clock's start: the rig's time at boot
        self.link = BoardLink(self.board.url)
        self.host = Wire(self.link)
        cfg = fw_config.parse(bench_config("unix").text())  # what provision() writes, read back
        self.ref_rig, _clock, _fs = support.make_rig(start_s=self.t0, key=KEY.secret(), config=cfg)
        self.ref = Wire(self._ref_exchange)
        self.refused = b""  # the frame the board refused, and its answer
        self.answer: wire.Reply | None = None

    def _ref_exchange(self, f: bytes) -> wire.Reply:
        replies = support.replies(self.ref_rig.feed(f))
        assert len(replies) == 1, replies
        return replies[0]

    def run(self) -> tuple[str, wire.Reply]:
        """PLAN on the board until its first NAK, every step before that on the reference too: the name of
        the refused step and the board's answer ("" and the last ACK when nothing was refused)."""
        r: wire.Reply | None = None
        for name, cmd, args in PLAN:
            f = self.host.frame(cmd, args)
            r = self.host.send_frame(f)
            if not r.ok:
                self.refused, self.answer = f, r
                return name, r
            self.ref.ok(cmd, args)
        assert r is not None
        return "", r

    def free_ballast(self) -> None:
        n = len(self.board.output)
        self.link.send_raw(BEL)
        end = time.monotonic() + REPLY_S
        while not any("ballast freed" in x for x in self.board.output[n:]):
            if time.monotonic() > end:
                raise AssertionError(f"the ballast was not freed: {self.board.output[-5:]}")
            time.sleep(0.02)

    def close(self) -> None:
        self.link.close()
        self.board.stop()


def _candidates(hint: int) -> list[int]:
    # The scan's heaps, nearest the hint first (the hint twice: memory at the edge varies a little from
    # boot to boot, since the collector is conservative and the session challenge is random).
    near = sorted(HEAPS, key=lambda h: (abs(h - hint), h))
    return [hint, *near]


# Where each search starts (what the searches found when this was written); then the last one's heap.
_HINTS: dict[tuple[str, str], int] = {("COM D2", wire.MEMORY): 34_000, ("STG D2", wire.MEMORY): 32_000}


def find(root: Path, step: str, *reasons: str) -> tuple[Setup, list[str]]:
    """A running Setup whose board refused `step` with one of `reasons` (every step before it succeeded),
    and what the heaps tried answered. The first heap tried is where the last search found it."""
    seen = []
    key = (step, reasons[0])
    for i, usable in enumerate(_candidates(_HINTS.get(key, HEAPS[len(HEAPS) // 2]))):
        try:
            s = Setup(root / str(i), usable)
        except CommError as exc:
            seen.append(f"{usable}: no boot ({str(exc)[:60]})")
            continue
        try:
            name, r = s.run()
        except CommError as exc:
            name, r = "(no reply)", wire.Reply(0, False, str(exc)[:60], {})
        except BaseException:
            s.close()
            raise
        seen.append(f"{usable}: {name or 'all'} {'ACK' if r.ok else 'NAK'} {r.name}")
        if name == step and not r.ok and r.name in reasons:
            _HINTS[key] = usable
            return s, seen
        s.close()
    raise AssertionError(f"no heap in the scan has {step} refused with {reasons}: " + "; ".join(seen))


@pytest.fixture
def com_oom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Setup]:
    s, seen = find(tmp_path, "COM D2", wire.MEMORY)
    with capsys.disabled():
        print(f"\n[memory] COM D2 ran out of memory at -X heapsize={s.usable + BALLAST} ({s.usable} + the "
              f"{BALLAST}-byte ballast); tried: " + "; ".join(seen))
    try:
        yield s
    finally:
        s.close()


def _same_as_the_reference_and_delivering(s: Setup) -> None:
    board, ref = s.host.readout(), s.ref.readout()
    assert board == ref  # the rig is exactly as one that never received the refused frame
    s.host.ok("ADV", ["86400"])
    s.ref.ok("ADV", ["86400"])
    assert s.host.readout() == s.ref.readout()  # and it went on delivering exactly
    assert not [h for h in s.board.heap_readings if h.errors], s.board.heap_readings


def test_out_of_memory_is_a_clean_nak(com_oom: Setup) -> None:
    s = com_oom
    assert s.answer is not None and s.answer.seq == int(s.refused[1:].split(b" ")[0])  # NAK MEMORY, its SEQ
    s.free_ballast()
    assert s.host.readout()["RB"] == D1.decode()
    _same_as_the_reference_and_delivering(s)


def test_out_of_memory_does_not_consume_the_counter(com_oom: Setup) -> None:
    s = com_oom
    s.free_ballast()
    again = s.host.send_frame(s.refused)  # the identical frame: same SEQ, same MAC
    assert (again.ok, again.name) == (True, "COM"), (again.name, again.fields)
    assert s.host.readout()["RB"] == D2.decode()


def test_a_stage_that_runs_out_of_memory_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A STG at a heap a little smaller runs out of memory in its handler (NAK MEMORY) or while the new state
    # is written (Store.save): a failed save for the rig, NAK STORE (docs/protocol.md: "persisting the new
    # state failed; nothing changed"). Which of the two varies from boot to boot; either way nothing changes.
    s, seen = find(tmp_path, "STG D2", wire.MEMORY, wire.STORE)
    try:
        assert s.answer is not None
        with capsys.disabled():
            print(f"\n[memory] STG D2 answered {s.answer.name} at -X heapsize={s.usable + BALLAST}; tried: "
                  + "; ".join(seen))
        s.free_ballast()
        _same_as_the_reference_and_delivering(s)
    finally:
        s.close()
