"""The rig as real MicroPython firmware, on the emulated Cortex-M3 board (QEMU MPS2-AN385) and the 32-bit
unix port, firmware_py frozen into both images, driven only through the host tools.

Each test runs on both boards: load and read back; a bench session of a few simulated days compared with
the exact integral; a link cut mid-load; a power cut (the emulator killed) and a boot from the same flash.
REQ: ITB-SCH-01, ITB-REF-01, ITB-DIS-01
"""

from __future__ import annotations

from pathlib import Path

import pytest
import serial

from benchmarks.board_scenario import CONC, KEY, RES_NL, program13
from firmware_py import program as pg
from host_tools.bench import run_bench
from host_tools.board import EmulatedBoard, main_py
from host_tools.client import Refill, RigClient
from host_tools.errors import CommError
from host_tools.replies import RigStatus
from tests.board.conftest import fresh_board

pytestmark = pytest.mark.board

P1 = program13(500_000, CONC, "transfer", "board-first")
D1 = pg.encode(P1)
P2 = program13(550_000, CONC, "titration", "board-second")  # +10 % two days later: allowed
D2 = pg.encode(P2)


def test_load_and_readback(board: EmulatedBoard) -> None:
    board.start()
    with RigClient.connect(board.url, KEY) as c:
        assert c.info is not None and c.info.clock == "bench" and c.info.proto == 2
        res = c.load(D1, Refill(RES_NL, CONC, 0))
        assert res.new_prog == pg.short_id(D1)
    with RigClient.connect(board.url, KEY) as c:
        assert c.readback() == D1
        st = c.status()
        assert (st.state, st.prog, st.reservoir_nl) == ("running", pg.short_id(D1), RES_NL)


def test_bench_days_exactly(board: EmulatedBoard, tmp_path: Path) -> None:
    board.start()
    with RigClient.connect(board.url, KEY) as c:
        out = run_bench(c, D1, days=3, out_dir=tmp_path / "bench", progress=False)
    assert out.passed, out.report
    assert not [h for h in board.heap_readings if h.oom or h.errors]


class CutAfter:
    """A real serial port that carries `limit` bytes host -> board, then fails like a pulled cable."""

    def __init__(self, port: object, limit: int) -> None:
        self.port = port
        self.left = limit

    def __getattr__(self, name: str) -> object:
        return getattr(self.port, name)

    def write(self, data: bytes, /) -> int | None:
        if self.left <= 0:
            raise serial.SerialException("cable cut")
        part = data[: self.left]
        self.left -= len(part)
        self.port.write(part)  # type: ignore[attr-defined]
        self.port.flush()  # type: ignore[attr-defined]
        if len(part) < len(data):
            raise serial.SerialException("cable cut")
        return len(data)


def _status(board: EmulatedBoard) -> RigStatus:
    with RigClient.connect(board.url, KEY) as c:
        return c.status()


@pytest.mark.parametrize("cut", [40, 300])  # in the ST and STG frames of the load
def test_link_cut_mid_load(board: EmulatedBoard, cut: int) -> None:
    board.start()
    with RigClient.connect(board.url, KEY) as c:
        c.load(D1, Refill(RES_NL, CONC, 0))
        c.advance(2 * 86_400)
        before = c.status()
    c = RigClient.connect(board.url, KEY, timeout_s=2.0, retries=0)
    port = c.link._port
    c.link._port = CutAfter(port, cut)  # type: ignore[assignment]  # the cable is pulled after `cut` bytes
    with pytest.raises(CommError):
        c.load(D2)
    port.close()
    after = _status(board)
    # The old program still runs, untouched; nothing staged became active.
    assert (after.prog, after.state, after.t_s, after.delivered_ng) == (
        before.prog, "running", before.t_s, before.delivered_ng,
    )  # fmt: skip
    with RigClient.connect(board.url, KEY) as c2:
        res = c2.load(D2)
        assert res.new_prog == pg.short_id(D2) and c2.readback() == D2


def check_power_cut(board: EmulatedBoard) -> list[str]:
    """Load, run two days, cut the power, boot from the flash: what differs from before the cut."""
    board.start()
    with RigClient.connect(board.url, KEY) as c:
        c.load(D1, Refill(RES_NL, CONC, 0))
        c.advance(2 * 86_400)
        c.load(D2)
        c.advance(3_600)
        before = c.status()
    board.power_cut()
    board.start()
    problems = []
    with RigClient.connect(board.url, KEY) as c:
        after = c.status()
        for f in ("prog", "state", "t_s", "reservoir_nl", "delivered_ng"):
            if getattr(after, f) != getattr(before, f):
                problems.append(f"{f}: {getattr(before, f)} -> {getattr(after, f)}")
        if after.events != before.events + 1:  # the boot logs a resume, nothing is lost
            problems.append(f"events: {before.events} -> {after.events}")
        if after.prog is not None and c.readback() != D2:
            problems.append("readback differs")
        if not problems:
            c.advance(86_400)  # and delivery goes on from there
            if c.status().t_s != before.t_s + 86_400:
                problems.append("rig time did not advance after the boot")
    return problems


def test_power_cut_resumes_from_flash(board: EmulatedBoard) -> None:
    assert check_power_cut(board) == []


BROKEN_MAIN = """\
# deliberately broken: the rig keeps its state in RAM only (store=None)
import firmware_py.main as m
from firmware_py.clock import BenchClock
from firmware_py.rig import Rig
r = Rig(m.read_key(), BenchClock(m.wall_s()), None, m.config.read())
m.loop_stream(r, *m.repl_stream(), DIAG)
"""


@pytest.mark.parametrize("kind", ["qemu"])
def test_power_cut_check_can_fail(templates: dict[str, Path], tmp_path: Path, kind: str) -> None:
    # The same check against a firmware variant that does not persist: it must report the loss.
    b = fresh_board(templates, kind, tmp_path / "broken")
    diag = main_py(kind).splitlines()[-1].split("diag=")[1].rstrip(")")
    extra = "import itbboard\n" if kind == "qemu" else "import sys\n"
    b.replace_main(extra + BROKEN_MAIN.replace("DIAG", diag))
    try:
        problems = check_power_cut(b)
    finally:
        b.stop()
    assert any(p.startswith("prog:") for p in problems), problems
