"""Delivery engine, time-stepped: hourly readings of a 13-step program with monthly refills, for a day, a year
and 10 years, on CPython, and a year on MicroPython.

`benchmarks/delivery_sim.py` (the same file on both interpreters) opens a session on a `Rig` with a bench
clock, loads the program through signed SES/STG/COM frames (with the first fill), then sends one
`ADV 86400 3600` per day: the rig advances its clock through the day and returns 24 hourly readings (ng and nL
delivered in each hour), as `itb bench --batch 24` asks for them. Every 30 days it refills through a signed
RF frame.
Each hourly reading is compared with an independent exact integral: the 13 steps walked directly (not
through `Schedule`), in Python ints (ng·s/day), floored to whole ng and whole nL since the fill as the
rig floors (so an hour's reading is floor(cum(t1)) - floor(cum(t0)) within its fill). The fills' totals from
the rig's status are compared the same way.
What the counts mean: a "reading" is one hour's (ng, nL) pair from an ADV reply; a "mismatch" is a reading
whose ng or nL differs from the integral's by any amount. Times are the rig's work only (frames fed to
`Rig.feed` in-process, no transport): the whole ADV/RF loop after the load.
The heap over the same year and decade on a board is in the board-footprint section.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks import delivery_sim
from benchmarks.common import BENCH_DIR, Figure, Result, Size, growth, run_micropython
from benchmarks.fixtures import program_13, steps_13
from benchmarks.footprint import mpy_files
from firmware_py import program as pg
from firmware_py.units import NL_PER_UL, S_PER_DAY, S_PER_H

NAME = "delivery"
TITLE = "Delivery engine: hourly readings over 1 day, 1 year and 10 years vs an independent integral"
KEY = bytes(range(32))
T0_S = 1_780_000_000 + 10 * 3600 + 17 * 60  # a commit at 10:17 UTC: the run starts mid-step
FILL_NL = 20_000_000
REFILL_DAYS = 30
DAYS = {"full": (1, 365, 3650), "quick": (1, 365), "smoke": (1, 20)}
REPEATS = {"full": 5, "quick": 2, "smoke": 1}
MP_DAYS = {"full": 365, "quick": 365, "smoke": 20}
MP_REPEATS = {"full": 3, "quick": 1, "smoke": 1}


def _cum(steps: list[tuple[int, int]], t: int) -> int:
    """The daily step schedule's integral from t = 0 to t, in ng·s/day (steps walked one by one)."""
    days, phase = divmod(t, S_PER_DAY)
    ends = [s for s, _ in steps[1:]] + [S_PER_DAY]
    day = sum(rate * (end - start) for (start, rate), end in zip(steps, ends, strict=True))
    part = sum(
        rate * (min(end, phase) - start)
        for (start, rate), end in zip(steps, ends, strict=True)
        if start < phase
    )
    return days * day + part


def expected(
    steps: list[tuple[int, int]], conc: int, fills: list[tuple[int, int, int, int]]
) -> dict[str, Any]:
    """The hourly (ng, nL) each fill should give, and each fill's total, from the integral alone."""
    hourly: list[tuple[int, int]] = []
    totals = []
    for t_a, t_b, _, _ in fills:
        base = _cum(steps, t_a)
        prev = (0, 0)
        for t in range(t_a + S_PER_H, t_b + 1, S_PER_H):
            q = _cum(steps, t) - base
            now = (q // S_PER_DAY, q * NL_PER_UL // (S_PER_DAY * conc))
            hourly.append((now[0] - prev[0], now[1] - prev[1]))
            prev = now
        totals.append(prev)
    return {"hourly": hourly, "totals": totals}


def _mp_script(days: int) -> str:
    return (
        "import json\n"
        "import delivery_sim\n"
        "f = open('/bench/prog.bin', 'rb')\nprog_b = f.read()\nf.close()\n"
        f"r = delivery_sim.simulate(prog_b, bytes(range(32)), {T0_S}, days={days}, "
        f"refill_days={REFILL_DAYS}, fill_nl={FILL_NL})\n"
        "r['hourly'] = [list(h) for h in r['hourly']]\nr['fills'] = [list(s) for s in r['fills']]\n"
        "print('RESULT', json.dumps(r))\n"
    )


def _mismatches(r: dict[str, Any], conc: int) -> tuple[int, int]:
    """(hourly readings that differ from the integral, fills whose total differs)."""
    fills = [tuple(f) for f in r["fills"]]
    want = expected(steps_13(), conc, fills)
    got = [tuple(h) for h in r["hourly"]]
    if len(got) != len(want["hourly"]):
        raise RuntimeError(f"{len(got)} readings, the integral has {len(want['hourly'])} hours")
    bad_h = sum(g != w for g, w in zip(got, want["hourly"], strict=True))
    bad_f = sum((f[2], f[3]) != w for f, w in zip(fills, want["totals"], strict=True))
    return bad_h, bad_f


def _cpython(prog_b: bytes, days: int, repeats: int) -> dict[str, Any]:
    runs = [
        delivery_sim.simulate(prog_b, KEY, T0_S, days=days, refill_days=REFILL_DAYS, fill_nl=FILL_NL)
        for _ in range(repeats)
    ]
    r = runs[0]
    if r["state"] != "running" or r["alarm"] != "none":
        raise RuntimeError(f"the rig stopped or alarmed over {days} days: {r['state']} {r['alarm']}")
    r["times_s"] = [int(x["run_us"]) / 1e6 for x in runs]
    return r


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    prog = program_13()
    prog_b = pg.encode(prog)
    if steps_13()[0][0] != 0:
        raise RuntimeError("the integral walks a day that starts with a step at 00:00")
    rows = {}
    for days in DAYS[size]:
        r = _cpython(prog_b, days, REPEATS[size] if days <= 365 else 1)
        bad_h, bad_f = _mismatches(r, prog.conc_ng_per_ul)
        t = statistics.median(r["times_s"])
        rows[days] = {
            "readings": len(r["hourly"]),
            "fills": len(r["fills"]),
            "frames": r["frames"],
            "bad_hours": bad_h,
            "bad_fills": bad_f,
            "time_s": t,
            "times_s": r["times_s"],
        }
        what = f"{days} day{'s' if days > 1 else ''}"
        res.add(
            Figure(
                f"mismatch_{days}d",
                f"CPython, {what}: hourly readings ≠ integral",
                bad_h,
                "readings",
                op="==",
                target=0,
                note=f"of {len(r['hourly'])} readings; fills ≠ integral: {bad_f} of {len(r['fills'])}",
            )
        )
        res.add(
            Figure(
                f"time_{days}d",
                f"CPython, {what}: rig time",
                round(t, 4),
                "s",
                note=f"{len(r['hourly']) / t:.0f} simulated hours/s; {days} ADV + "
                f"{len(r['fills']) - 1} RF frames",
            )
        )
    sizes = sorted(rows)
    res.details["scaling_days"] = {d: {k: v for k, v in rows[d].items() if k != "times_s"} for d in sizes}
    res.details["growth_exponent_days"] = round(growth(sizes, [rows[d]["time_s"] for d in sizes]), 3)
    mp = _micropython(prog_b, MP_DAYS[size], MP_REPEATS[size], prog.conc_ng_per_ul)
    year = rows.get(365) or rows[sizes[-1]]
    res.add(
        Figure(
            "mp_mismatch",
            f"MicroPython (WebAssembly, .mpy), {MP_DAYS[size]} days: readings ≠ integral",
            mp["bad_hours"],
            "readings",
            op="==",
            target=0,
            note=f"of {mp['readings']}; fills ≠ integral: {mp['bad_fills']}",
        )
    )
    res.add(
        Figure(
            "mp_time",
            f"MicroPython (WebAssembly, .mpy), {MP_DAYS[size]} days: rig time",
            round(mp["time_s"], 4),
            "s",
            reference=round(year["time_s"], 4) if MP_DAYS[size] in rows else None,
            reference_label="s (CPython)",
            ratio_label="MicroPython / CPython",
            note=f"median of {MP_REPEATS[size]} runs (node processes); time.ticks_us",
        )
    )
    res.details["micropython"] = mp
    res.method = (
        f"CPython: median of {REPEATS[size]} runs per length up to a year (one run for 10 years) of "
        "`delivery_sim.simulate`, timing the ADV/RF loop after the load. MicroPython 1.27 WebAssembly port "
        "in "
        "node, firmware_py imported from .mpy (tools/mpy_build.py), the same file. "
        + (__doc__ or "").split("\n\n", 1)[1].split("The heap")[0].strip()
        + " The heap over the same year and decade on the frozen Cortex-M3 image is the board-footprint "
        "section's (`./dev board-footprint`), not measured here."
    )
    per_h_us = year["time_s"] / year["readings"] * 1e6
    res.limits.append(
        f"{per_h_us:.0f} µs of rig time per hourly reading on CPython ({year['readings']} readings): "
        "for each hour of an ADV the rig advances its state (alarm and empty times by "
        "`Schedule.time_to_integral`) and reads the delivered total (a closed-form integral since the fill), "
        "then formats the reading; each ADV frame adds its CRC and HMAC. The cost per simulated hour "
        "does not "
        f"grow with the time elapsed: growth exponent over {sizes[0]}..{sizes[-1]} days "
        f"{res.details['growth_exponent_days']} (1 = linear in days). MicroPython (WebAssembly port) takes "
        f"{mp['time_s'] / year['time_s']:.1f}x CPython's time for the same {MP_DAYS[size]} days."
        if MP_DAYS[size] in rows
        else f"{per_h_us:.0f} µs of rig time per hourly reading on CPython."
    )
    return res


def _micropython(prog_b: bytes, days: int, repeats: int, conc: int) -> dict[str, Any]:
    files = mpy_files()
    files["delivery_sim.py"] = (BENCH_DIR / "delivery_sim.py").read_bytes()
    files["prog.bin"] = prog_b
    runs = [run_micropython(files, _mp_script(days), heap_kib=4096) for _ in range(repeats)]
    bad_h, bad_f = _mismatches(runs[0], conc)
    return {
        "days": days,
        "readings": len(runs[0]["hourly"]),
        "bad_hours": bad_h,
        "bad_fills": bad_f,
        "time_s": statistics.median(int(m["run_us"]) for m in runs) / 1e6,
        "load_ms": int(runs[0]["load_us"]) / 1000,
    }
