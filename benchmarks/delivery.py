"""Delivery engine: a year of a 13-step program with monthly refills, on CPython and on MicroPython.

`benchmarks/delivery_sim.py` (the same file on both interpreters) loads the program into a `Rig` with a
bench clock through signed STG/COM frames (with the first fill), then advances the clock one day at a time
for 365 days, reading the rig's status every day (which fires any due alarm at its exact second), and
refills through a signed RF frame every 30 days. The rig's delivered total is the sum, over the fills, of
the `del_ng` it reports at the end of each fill. The reference is an independent exact computation with
`fractions.Fraction`: for each fill, the integral of the 13 steps over the fill's absolute time span, walked
day by day and step by step (not through `Schedule`), floored to whole ng per fill as the rig floors. The two
must be equal to the nanogram, fill by fill.
"""

from __future__ import annotations

import statistics
from fractions import Fraction

from benchmarks import delivery_sim
from benchmarks.common import BENCH_DIR, Figure, Result, Size, run_micropython
from benchmarks.fixtures import program_13, steps_13
from benchmarks.footprint import mpy_files
from firmware_py import program as pg

NAME = "delivery"
TITLE = "Delivery engine: 365 days, 13 steps, monthly refills"
TARGET_S = 0.2
KEY = bytes(range(32))
T0_S = 1_780_000_000 + 10 * 3600 + 17 * 60  # a commit at 10:17 UTC: the year starts mid-step
FILL_NL = 20_000_000
REFILL_DAYS = 30
DAYS = {"full": 365, "quick": 365, "smoke": 45}
REPEATS = {"full": 11, "quick": 3, "smoke": 1}
MP_REPEATS = {"full": 3, "quick": 1, "smoke": 1}


def analytic_ng(steps: list[tuple[int, int]], t0: int, t1: int) -> Fraction:
    """Exact ng delivered by the daily step schedule between absolute times t0 and t1 (Fraction)."""
    bounds = [s for s, _ in steps[1:]] + [86_400]
    total = 0
    day = t0 // 86_400
    while day * 86_400 < t1:
        base = day * 86_400
        for (start, rate), end in zip(steps, bounds, strict=True):
            lo = max(t0, base + start)
            hi = min(t1, base + end)
            if hi > lo:
                total += rate * (hi - lo)
        day += 1
    # steps_13 starts at 00:00, so the day's steps cover [0, 86 400) with no wrapped step.
    return Fraction(total, 86_400)


def _mp_script(days: int) -> str:
    return (
        "import json\n"
        "import delivery_sim\n"
        "f = open('/bench/prog.bin', 'rb')\nprog_b = f.read()\nf.close()\n"
        f"r = delivery_sim.simulate(prog_b, bytes(range(32)), {T0_S}, days={days}, "
        f"refill_days={REFILL_DAYS}, fill_nl={FILL_NL})\n"
        "r['segments'] = [list(s) for s in r['segments']]\n"
        "print('RESULT', json.dumps(r))\n"
    )


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    prog_b = pg.encode(program_13())
    if steps_13()[0][0] != 0:
        raise RuntimeError("the analytic reference assumes a first step at 00:00")
    days = DAYS[size]
    runs = [
        delivery_sim.simulate(prog_b, KEY, T0_S, days=days, refill_days=REFILL_DAYS, fill_nl=FILL_NL)
        for _ in range(REPEATS[size])
    ]
    r0 = runs[0]
    cp_s = statistics.median(int(r["run_us"]) for r in runs) / 1e6
    segments: list[tuple[int, int, int]] = list(r0["segments"])
    exact_total = Fraction(0)
    analytic_floor_total = 0
    mismatched: list[str] = []
    for t_a, t_b, got in segments:
        exact = analytic_ng(steps_13(), t_a, t_b)
        exact_total += exact
        floor = exact.numerator // exact.denominator
        analytic_floor_total += floor
        if floor != got:
            mismatched.append(f"fill {t_a}..{t_b}: rig {got} ng, exact {float(exact):.3f} ng")
    if segments[0][0] != T0_S or segments[-1][1] != T0_S + days * 86_400:
        raise RuntimeError(
            f"the simulation did not span {days} days from {T0_S}: {segments[0]} .. {segments[-1]}"
        )
    delivered = int(r0["delivered_ng"])
    # MicroPython: the same simulation from the .mpy build.
    files = mpy_files()
    files["delivery_sim.py"] = (BENCH_DIR / "delivery_sim.py").read_bytes()
    files["prog.bin"] = prog_b
    mp_runs = [run_micropython(files, _mp_script(days), heap_kib=1024) for _ in range(MP_REPEATS[size])]
    mp = mp_runs[0]
    mp_s = statistics.median(int(m["run_us"]) for m in mp_runs) / 1e6
    mp_delivered = int(mp["delivered_ng"])
    mp_segments = [tuple(s) for s in mp["segments"]]
    res.add(
        Figure(
            "cpython_time",
            f"CPython: {days} days simulated",
            round(cp_s, 4),
            "s",
            reference=TARGET_S,
            reference_label="s (budget)",
            ratio_label="time / budget",
            op="<=",
            target=TARGET_S,
            note=f"{days} daily status reads, {len(segments) - 1} RF frames",
        )
    )
    res.add(
        Figure(
            "delivered_vs_analytic",
            "delivered total − analytic total (CPython)",
            delivered - analytic_floor_total,
            "ng",
            op="==",
            target=0,
            note=f"{delivered} ng over {len(segments)} fills; exact {float(exact_total):.3f} ng",
        )
    )
    res.add(
        Figure(
            "mp_delivered_vs_analytic",
            "delivered total − analytic total (MicroPython)",
            mp_delivered - analytic_floor_total,
            "ng",
            op="==",
            target=0,
            note="fill by fill identical to CPython"
            if mp_segments == [tuple(s) for s in segments]
            else "DIFFERS",
        )
    )
    res.add(
        Figure(
            "micropython_time",
            f"MicroPython (WebAssembly, .mpy): {days} days simulated",
            round(mp_s, 4),
            "s",
            reference=round(cp_s, 4),
            reference_label="s (CPython)",
            ratio_label="MicroPython / CPython",
            note=f"median of {MP_REPEATS[size]} runs (separate node processes); time.ticks_us",
        )
    )
    if mismatched or mp_segments != [tuple(s) for s in segments]:
        res.details["mismatched"] = mismatched[:10]
    res.details.update(
        {
            "days": days,
            "refill_every_days": REFILL_DAYS,
            "fills": len(segments),
            "t0_s": T0_S,
            "fill_nl": FILL_NL,
            "delivered_ng": delivered,
            "analytic_floor_total_ng": analytic_floor_total,
            "analytic_exact_total_ng": str(exact_total),
            "floor_dropped_ng": float(exact_total - analytic_floor_total),
            "cpython_run_s": [int(r["run_us"]) / 1e6 for r in runs],
            "cpython_load_ms": int(r0["load_us"]) / 1000,
            "micropython_load_ms": int(mp["load_us"]) / 1000,
            "alarm_days": r0["alarms"],
            "frames": r0["frames"],
        }
    )
    res.method = (
        f"CPython: median of {REPEATS[size]} runs of `delivery_sim.simulate` (time of the {days}-day loop, "
        "after the program load). MicroPython 1.27 WebAssembly port in node, firmware_py imported from .mpy "
        f"(tools/mpy_build.py), the same file, median of {MP_REPEATS[size]} runs. Reference: exact Fraction "
        "integral per fill, floored per fill (the rig reports whole ng per fill)."
    )
    per_day_us = cp_s / days * 1e6
    res.limits.append(
        f"{per_day_us:.0f} µs per simulated day on CPython: one `Rig.status()` (a closed-form integral since "
        "the fill, and the alarm and empty times by `Schedule.time_to_integral`), whose cost does not grow "
        "with the time elapsed: the engine never accumulates per tick, so a year costs 365 status reads, "
        "not 31 million one-second steps. MicroPython (WebAssembly port, .mpy) takes "
        f"{mp_s / cp_s:.1f}x CPython's time; not profiled further. Its ints beyond 2**30 "
        "are heap-allocated (the rig's q units reach about 10**13) and this port collects garbage only "
        "between top-level calls, so the whole year's garbage stays on a growing heap during the run."
    )
    return res
