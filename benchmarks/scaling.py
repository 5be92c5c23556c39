"""Scaling: the cost at three sizes each, and its growth, of the schedule, the sweep and the fuzzer.

- Schedule steps 1 / 13 / 91 (a constant day, the 13-step day, a week of 13 different steps a day):
  building the `Schedule` (validation, merge, cumulative integrals), and on a built one an integral over a
  year and the time at which a year's dose is reached (`time_to_integral`: the alarm and empty times).
- Sweep cases: `benchmarks.sweep.sweep` on its smoke, quick and full grids (core and reference per case).
- Fuzz frames: `tests.fuzz.engine.fuzz` (the rig's parser and command handler against its oracle) at
  three frame counts.
The days (1 / 365 / 3 650) are the delivery and session benchmarks' rows. Growth: the exponent k of
cost ~ size**k between the smallest and the largest size (0: flat, 1: linear).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks import sweep
from benchmarks.common import Figure, Result, Size, growth, interleaved
from benchmarks.fixtures import steps_13
from firmware_py.schedule import Schedule
from firmware_py.units import S_PER_DAY, S_PER_WEEK

NAME = "scaling"
TITLE = "Scaling: schedule steps, sweep cases, fuzz frames at three sizes, and their growth"
FUZZ_FRAMES = {"full": (300, 3_000, 30_000), "quick": (100, 1_000, 3_000), "smoke": (10, 30, 100)}
BUDGET_S = {"full": 0.05, "quick": 0.02, "smoke": 0.001}
REPEATS = {"full": 7, "quick": 3, "smoke": 1}
YEAR_S = 365 * S_PER_DAY
T0_S = 1_780_000_000


def schedules() -> dict[int, tuple[int, list[tuple[int, int]]]]:
    """(period, steps) with 1, 13 and 91 steps."""
    day = steps_13()
    week = [(d * S_PER_DAY + s, r + 37 * d + 1) for d in range(7) for s, r in day]
    return {1: (S_PER_DAY, [(0, day[0][1])]), 13: (S_PER_DAY, day), 91: (S_PER_WEEK, week)}


def _schedule_rows(size: Size) -> dict[int, dict[str, float]]:
    rows = {}
    for n, (period, steps) in schedules().items():
        built = Schedule(period, steps)
        if len(built.steps) != n:
            raise RuntimeError(f"{n} steps merged to {len(built.steps)}")
        goal = built.integral_between(T0_S, T0_S + YEAR_S)
        fns: dict[str, Callable[[], object]] = {
            "build": partial(Schedule, period, steps),
            "integral_year": partial(built.integral_between, T0_S, T0_S + YEAR_S),
            "time_to_integral": partial(built.time_to_integral, T0_S, goal),
        }
        samples = interleaved(fns, BUDGET_S[size], REPEATS[size])
        rows[n] = {k: sorted(v)[len(v) // 2] * 1e6 for k, v in samples.items()}
    return rows


def _sweep_rows() -> dict[int, float]:
    out = {}
    for s in ("smoke", "quick", "full"):
        r = sweep.sweep(sweep.cases(s))
        out[sum(r["cases"].values())] = r["elapsed_s"]
    return out


def _fuzz_rows(size: Size) -> dict[int, dict[str, Any]]:
    from tests.fuzz.engine import fuzz  # noqa: PLC0415 (the test tree, only when this runs)

    out = {}
    for n in FUZZ_FRAMES[size]:
        t0 = time.perf_counter()
        st = fuzz(n, 20_260_105)
        findings = st.exceptions + st.internal_naks + st.invalid_changes + st.bad_changes + st.bad_replies
        out[n] = {"s": time.perf_counter() - t0, "findings": findings, "bytes": st.bytes_fed}
    return out


def _add_rows(res: Result, key: str, what: str, unit: str, rows: dict[int, float], *, per: str) -> float:
    sizes = sorted(rows)
    k = growth(sizes, [rows[n] for n in sizes])
    for n in sizes:
        res.add(
            Figure(
                f"{key}_{n}",
                f"{what}: {n} {per}",
                round(rows[n], 3),
                unit,
                note=f"growth exponent {k:.2f}" if n == sizes[-1] else "",
            )
        )
    return k


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    sched = _schedule_rows(size)
    ks = {
        part: _add_rows(
            res,
            f"schedule_{part}",
            f"Schedule {part}",
            "µs",
            {n: r[part] for n, r in sched.items()},
            per="steps",
        )
        for part in ("build", "integral_year", "time_to_integral")
    }
    sw = _sweep_rows() if size != "smoke" else {sum(len(v) for v in sweep.cases("smoke").values()): 0.0}
    k_sweep = _add_rows(res, "sweep", "sweep", "s", sw, per="cases")
    fz = _fuzz_rows(size)
    k_fuzz = _add_rows(res, "fuzz", "fuzz", "s", {n: r["s"] for n, r in fz.items()}, per="frames")
    findings = sum(r["findings"] for r in fz.values())
    res.add(Figure("fuzz_findings", "fuzz findings (all sizes)", findings, "", op="==", target=0))
    res.details = {
        "schedule_us": sched,
        "sweep_s": sw,
        "fuzz": fz,
        "growth": {
            **{f"schedule_{k}": round(v, 3) for k, v in ks.items()},
            "sweep": round(k_sweep, 3),
            "fuzz": round(k_fuzz, 3),
        },
    }
    res.method = (
        f"Schedule parts: {REPEATS[size]} interleaved rounds per size, median time per call. Sweep and "
        "fuzz: one run per size, wall time. " + (__doc__ or "").split("\n\n", 1)[1]
    )
    res.limits.append(
        f"Growth exponents: Schedule build {ks['build']:.2f} (a fixed cost per call, plus validation, merge "
        f"and cumulative integrals per step), integral over a year {ks['integral_year']:.2f} "
        f"and time_to_integral "
        f"{ks['time_to_integral']:.2f} (a binary search of the segments and a walk of the cumulative table: "
        f"independent of the span, slowly growing with the steps); sweep {k_sweep:.2f} in cases and fuzz "
        f"{k_fuzz:.2f} in frames (1 would be linear: a case or a frame costs the same at any count)."
    )
    return res
