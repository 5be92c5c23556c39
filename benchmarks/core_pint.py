"""Core against pint: one calculation in firmware_py's integers vs the same calculation with pint quantities.

Three calculations, each from plain numbers to the same rounded result:
- flow: daily dose and concentration -> flow in nL/day, floored (core: `dosing.flow`);
- dilution: stock, target concentration and final volume -> stock and diluent volumes on a 0.1 mL grid,
  stock floored (core: `dosing.dilute`);
- schedule total: the 13 steps of a day -> ng delivered in the day, floored (core: `Schedule(...)` built
  from the steps, then `day_total()`; building is timed, so the cached integral is not a free lunch).
The reference is the host tools' own pint registry (`host_tools.quantities.registry()`: exact `Fraction`
arithmetic, the registry every result of the CLI is checked with), so both sides compute the same exact
floor. pint's default float registry is timed too and shown for information: it is faster than the exact
registry but cannot give the floors reliably (a float quotient such as 0.9999999 floors wrongly).
Each side's result is compared with the other's before timing: a disagreement fails the benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pint

from benchmarks.common import Figure, Result, Size, calibrate, time_per_call
from benchmarks.fixtures import steps_13
from firmware_py import dosing
from firmware_py.schedule import Schedule
from host_tools import quantities

NAME = "core_pint"
TITLE = "Core against pint, time per calculation"
TARGET_SPEEDUP = 300.0

BUDGET_S = {"full": 0.25, "quick": 0.05, "smoke": 0.002}
REPEATS = {"full": 7, "quick": 3, "smoke": 1}

DOSE_MCG = 437  # mcg/day
CONC = 2_000  # mcg/mL
STOCK = 2_000
TARGET_CONC = 750
FINAL_ML = 20
RES_ML = Fraction(1, 10)
LABELS = {"flow": "flow", "dilution": "dilution", "schedule_total": "schedule day total (13 steps)"}


def _core_calcs() -> dict[str, Callable[[], Any]]:
    steps = steps_13()

    def flow() -> Any:
        return dosing.flow(DOSE_MCG * 1000, CONC).flow_nl_per_day

    def dilution() -> Any:
        d = dosing.dilute(STOCK, TARGET_CONC, FINAL_ML * 1_000_000, 100_000)
        return d.stock_nl, d.diluent_nl

    def total() -> Any:
        return Schedule(86_400, steps).day_total(0)[0]

    return {"flow": flow, "dilution": dilution, "schedule_total": total}


def _pint_calcs(ureg: Any, exact: bool) -> dict[str, Callable[[], Any]]:
    quantity = ureg.Quantity
    steps = steps_13()
    num = Fraction if exact else float

    def floor(x: Any) -> int:
        return math.floor(x)  # type: ignore[no-any-return]

    def flow() -> Any:
        f = quantity(num(DOSE_MCG), "mcg/day") / quantity(num(CONC), "mcg/mL")
        return floor(f.to("nL/day").magnitude)

    def dilution() -> Any:
        final = quantity(num(FINAL_ML), "mL")
        res = quantity(num(RES_ML) if exact else float(RES_ML), "mL")
        stock_v = quantity(num(TARGET_CONC), "mcg/mL") * final / quantity(num(STOCK), "mcg/mL")
        n = floor((stock_v / res).to("dimensionless").magnitude)
        stock_nl = floor((n * res).to("nL").magnitude)
        diluent_nl = floor((final - n * res).to("nL").magnitude)
        return stock_nl, diluent_nl

    def total() -> Any:
        ends = [s for s, _ in steps[1:]] + [86_400]
        acc = quantity(num(0), "ng")
        for (start, rate), end in zip(steps, ends, strict=True):
            acc = acc + quantity(num(rate), "ng/day") * quantity(num(end - start), "s")
        return floor(acc.to("ng").magnitude)

    return {"flow": flow, "dilution": dilution, "schedule_total": total}


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    core = _core_calcs()
    exact = _pint_calcs(quantities.registry(), exact=True)
    floaty = _pint_calcs(pint.UnitRegistry(), exact=False)
    checks: dict[str, Any] = {}
    for key in core:
        c, e, f = core[key](), exact[key](), floaty[key]()
        checks[key] = {"core": c, "pint_exact": e, "pint_float": f, "float_agrees": c == f}
        if c != e:
            raise RuntimeError(f"{key}: core {c!r} disagrees with exact pint {e!r}")
    timings: dict[str, Any] = {}
    budget, repeats = BUDGET_S[size], REPEATS[size]
    for key in core:
        row: dict[str, float] = {}
        for side, fn in (("core", core[key]), ("pint_exact", exact[key]), ("pint_float", floaty[key])):
            n = calibrate(fn, budget)
            med, _ = time_per_call(fn, n, repeats)
            row[side + "_us"] = med * 1e6
            row[side + "_calls_per_repeat"] = n
        timings[key] = row
        label = LABELS[key]
        res.add(
            Figure(
                key,
                f"{label}: core time per calculation",
                round(row["core_us"], 2),
                "µs",
                reference=round(row["pint_exact_us"], 1),
                reference_label="µs (exact pint)",
                ratio=row["pint_exact_us"] / row["core_us"],
                ratio_label="pint / core",
                op=">=",
                target=TARGET_SPEEDUP,
                target_on="ratio",
            )
        )
        res.add(
            Figure(
                key + "_float",
                f"{label}: vs pint float registry",
                round(row["core_us"], 2),
                "µs",
                reference=round(row["pint_float_us"], 1),
                reference_label="µs (float pint)",
                ratio=row["pint_float_us"] / row["core_us"],
                ratio_label="pint / core",
                note="info: float pint cannot give exact floors"
                + ("" if checks[key]["float_agrees"] else "; it disagreed here"),
            )
        )
    # Where the core's schedule time goes: building the Schedule (validation, sort, merge, cumulative
    # integrals) against the day total on a built one.
    steps = steps_13()
    built = Schedule(86_400, steps)
    n = calibrate(lambda: Schedule(86_400, steps), budget)
    t_build, _ = time_per_call(lambda: Schedule(86_400, steps), n, repeats)
    n = calibrate(lambda: built.day_total(0), budget)
    t_total, _ = time_per_call(lambda: built.day_total(0), n, repeats)
    timings["schedule_parts_us"] = {"build": t_build * 1e6, "day_total_on_built": t_total * 1e6}
    res.add(
        Figure(
            "schedule_total_built",
            "schedule day total on an already built Schedule",
            round(t_total * 1e6, 2),
            "µs",
            reference=round(timings["schedule_total"]["pint_exact_us"], 1),
            reference_label="µs (exact pint, from steps)",
            ratio=timings["schedule_total"]["pint_exact_us"] / (t_total * 1e6),
            ratio_label="pint / core",
            note=f"info: building the Schedule takes {t_build * 1e6:.1f} µs",
        )
    )
    res.details = {
        "inputs": {
            "dose_mcg_per_day": DOSE_MCG,
            "conc_mcg_per_ml": CONC,
            "stock": STOCK,
            "target_conc": TARGET_CONC,
            "final_ml": FINAL_ML,
            "resolution_ml": str(RES_ML),
        },
        "results": checks,
        "timings_us": timings,
    }
    res.method = (
        "Each calculation is timed as a loop of calls sized to about "
        f"{budget * 1000:.0f} ms, repeated {repeats} times; the figure is the median time per call. "
        "Both sides start from plain numbers and end at the same floored integer result, checked equal "
        "before timing. Reference: the host tools' exact (Fraction) pint registry; pint's default float "
        "registry is shown for information."
    )
    build_share = t_build / (timings["schedule_total"]["core_us"] * 1e-6)
    for f in res.figures:
        if f.met is not False:
            continue
        res.limits.append(
            f"{f.label.split(':')[0]}: {f.ratio:.0f}x, short of {TARGET_SPEEDUP:.0f}x."
            + (
                f" Building the Schedule from the 13 steps (type and minute checks per step, sort, merge of "
                f"equal neighbours, cumulative integrals) is {t_build * 1e6:.1f} µs, {build_share:.0%} of "
                f"the core's {f.value} µs; the total itself on a built Schedule is {t_total * 1e6:.2f} µs "
                f"({timings['schedule_total']['pint_exact_us'] / (t_total * 1e6):.0f}x faster than pint). "
                "The ratio is bounded by those per-step checks, which the core runs on every schedule it is "
                "given (the rig receives them from the wire); pint's side only multiplies and adds."
                if f.key == "schedule_total"
                else ""
            )
        )
    met = [f for f in res.figures if f.met]
    if met:
        res.limits.append(
            "Met: " + ", ".join(f"{f.label.split(':')[0]} {f.ratio:.0f}x" for f in met) + ". The core's time "
            "is a few Python-level calls with argument checks and integer divisions; pint's is unit parsing, "
            "dimensional analysis and conversion factors on every operation, with Fraction arithmetic in the "
            "exact registry."
        )
    return res
