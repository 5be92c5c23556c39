"""The board footprint scenario, driven only through the host tools (RigClient, host_tools.bench).

On one emulated board, in order: a 13-step load with its first fill; `days` of hourly readings with refills
(`host_tools.bench.run_bench`, every reading compared with the exact integral); a concentration change (a
new program with its refill in one COM); a bridge bolus; a stop; a restart (COM after STP); a power cut and a
boot from the flash (the rig resumes the same program). Any refusal, reply error or bench deviation is a
failure, named by its step. Heap readings come from the board's diagnostics channel (one per rig day).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from firmware_py import bridge
from firmware_py import program as pg
from firmware_py.schedule import Schedule
from host_tools.bench import run_bench
from host_tools.board import EmulatedBoard, HeapReading
from host_tools.client import Refill, RigClient
from host_tools.keys import RigKey

KEY = RigKey(bytes(range(32)))
CONC = 500  # ng/uL (20 mL last ~18 days: a year has refills)
CONC2 = 1_000
RES_NL = 20_000_000
DAY = 86_400


class ScenarioError(Exception):
    """A step of the scenario did not do what it should (the message says what)."""


def program13(base: int, conc: int, phase: str, label: str) -> pg.Program:
    # 13 steps: a base rate with six +10 % windows of 1 h 50 min, on whole minutes. A transfer (the first
    # program, and the restart after the stop) states the other pump's dose, the base.
    steps = [(0, base)]
    for i in range(6):
        start = (2 + i * 4) * 3600
        steps += [(start, base * 11 // 10), (start + 6600, base)]
    stated: dict[str, object] = {}
    if phase == "transfer":
        stated = {"previous_ng_per_day": base, "reason": "bench transfer"}
    return pg.Program(
        conc_ng_per_ul=conc, origin="spinal", age_years=34, pump_kind="programmable", reservoir_nl=RES_NL,
        alarm_nl=2_000_000, min_step_s=1800, internal_nl=200_000, catheter_mm=500, phase=phase,
        base_dose_ng_per_day=base, schedule=Schedule(DAY, steps), label=label, **stated,
    )  # fmt: skip


class Outcome:
    """What a run did: `ok`, the failing `step` and its `error`, steps done, seconds each, heap readings."""

    def __init__(self) -> None:
        self.ok = False
        self.step = ""
        self.error = ""
        self.done: list[tuple[str, float]] = []
        self.heap: list[HeapReading] = []
        self.output: list[str] = []

    @property
    def max_alloc(self) -> int:
        return max((h.alloc for h in self.heap), default=-1)

    def __repr__(self) -> str:
        return f"Outcome(ok={self.ok}, step={self.step!r}, error={self.error[:80]!r})"


def run_scenario(
    board: EmulatedBoard, days: int, out_dir: Path | None = None, batch_hours: int = 24
) -> Outcome:
    """The scenario on a provisioned, stopped board (it is started here and stopped at the end)."""
    res = Outcome()
    p1 = program13(500_000, CONC, "transfer", "fp-transfer")
    d1 = pg.encode(p1)
    p2 = program13(500_000, CONC2, "refill", "fp-conc-change")
    d2 = pg.encode(p2)
    d3 = pg.encode(program13(500_000, CONC2, "transfer", "fp-restart"))
    tmp = tempfile.TemporaryDirectory(prefix="itb-board-fp-")
    out = out_dir or Path(tmp.name)

    def step(name: str) -> float:
        res.step = name
        return time.monotonic()

    def did(name: str, t0: float) -> None:
        res.done.append((name, round(time.monotonic() - t0, 2)))

    try:
        t0 = step("boot")
        board.start()
        did("boot", t0)
        with RigClient.connect(board.url, KEY, timeout_s=5.0) as c:
            t0 = step(f"load + {days} days of hourly readings with refills")
            bench = run_bench(c, d1, days=days, out_dir=out, batch_hours=batch_hours, progress=False)
            if not bench.passed:
                raise ScenarioError(f"bench deviation: {bench.report.get('verdict', bench.report)}")
            did("load13+bench", t0)
            st = c.status()
            t0 = step("concentration change")
            c.load(d2, Refill(RES_NL, CONC2, st.reservoir_nl))
            did("conc-change", t0)
            t0 = step("bolus")
            br = bridge.bridge(p2.internal_nl, p2.catheter_mm, CONC, CONC2, p2.base_dose_ng_per_day)
            vol = br.bridge_volume_nl // 2
            dur = max(3600, -(-vol * DAY // br.bridge_flow_nl_per_day))
            c.bolus(vol, dur)
            c.advance(dur + 60)
            did("bolus", t0)
            t0 = step("stop")
            prog = c.status().prog
            assert prog is not None
            c.stop(prog)
            did("stop", t0)
            t0 = step("restart")
            c.load(d3)
            did("restart", t0)
            before = c.status()
        t0 = step("power cut and boot from flash")
        board.power_cut()
        board.start()
        with RigClient.connect(board.url, KEY, timeout_s=5.0) as c:
            after = c.status()
            if (after.prog, after.state, after.t_s, after.reservoir_nl) != (
                before.prog, before.state, before.t_s, before.reservoir_nl,
            ):  # fmt: skip
                raise ScenarioError(f"after the power cut the rig is not where it was: {before} -> {after}")
            if c.readback() != d3:
                raise ScenarioError("after the power cut the program reads back differently")
        did("power-cut", t0)
        res.ok = True
        res.step = ""
    except (ScenarioError, AssertionError, OSError) as exc:
        res.error = f"{type(exc).__name__}: {exc}"
    finally:
        board.stop()
        res.heap = list(board.heap_readings)
        res.output = list(board.output[-20:])
        tmp.cleanup()
    return res
