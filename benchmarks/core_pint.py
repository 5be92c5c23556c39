"""Core against fair references: one calculation in firmware_py's integers vs the same arithmetic elsewhere.

Three calculations, each from plain numbers to the same floored integer result:
- flow: daily dose and concentration -> flow in nL/day (core: `firmware_py.flow.flow`);
- dilution: stock, target strength and final volume -> stock and diluent volumes on a 0.1 mL grid
  (core: `firmware_py.dilution.dilute`);
- schedule total: the 13 steps of a day -> ng delivered in the day (core: `Schedule(...)` built from the
  steps, then `day_total()`; building is timed).
References, each doing the same arithmetic from the same plain numbers:
- exact pint, exactly as host_tools uses it: `host_tools.quantities.q` / `exact` on the host tools' one
  registry (Fraction magnitudes, on-disk definition cache, numpy not imported), every unit text parsed once
  and cached (`quantities._unit`), so no call re-parses a unit string;
- float pint: a registry set up the same way but with float magnitudes, its units parsed once before timing;
- Fraction and float: the formula in plain Python numbers, no units;
- the floor: a bare int expression (`dose * 1000 // conc`, ...), the least any implementation must do.
Timing is interleaved: in each round every side is timed once (a loop sized to the budget), in an order
rotated round by round; each ratio is the median over rounds of the two sides' times in the same round.
Every side's result is compared with the core's before timing: a disagreement fails the benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from benchmarks.common import Figure, Result, Size, interleaved, paired_ratio, spread
from benchmarks.fixtures import steps_13
from firmware_py import dilution, flow
from firmware_py.concentration import labeled_strengths
from firmware_py.schedule import Schedule
from firmware_py.units import NG_PER_MCG, NL_PER_ML, NL_PER_UL, S_PER_DAY
from host_tools import pint_setup
from host_tools import quantities as qt

NAME = "core_pint"
TITLE = "Core against fair references (pint parsed once, Fraction, float, bare int), time per calculation"
TARGET_VS_PINT = 100.0  # core at least this many times faster than exact pint
TARGET_VS_INT = 5.0  # core at most this many times slower than the bare int floor

BUDGET_S = {"full": 0.05, "quick": 0.02, "smoke": 0.001}
REPEATS = {"full": 15, "quick": 5, "smoke": 2}

DOSE_MCG = 437  # mcg/day
CONC = 2_000  # mcg/mL
STOCK = 2_000
TARGET_CONC = 750
FINAL_ML = 20
RES_NL = 100_000  # 0.1 mL
LABELS = {"flow": "flow", "dilution": "dilution", "schedule_total": "schedule day total (13 steps)"}
SIDES = ("core", "pint_exact", "pint_float", "fraction", "float", "int_floor")

Calc = dict[str, Callable[[], Any]]


def _float_registry() -> Any:
    # The host tools' set-up (pint without numpy, the same on-disk cache), with float magnitudes.
    return pint_setup.new_registry()


def _flow() -> Calc:
    dose_ng, dose, conc = DOSE_MCG * NG_PER_MCG, Fraction(DOSE_MCG), Fraction(CONC)
    freg = _float_registry()
    fq, u_day, u_ml, u_nl = freg.Quantity, *(freg.parse_units(u) for u in ("mcg/day", "mcg/mL", "nL/day"))
    return {
        "core": lambda: flow.flow(dose_ng, CONC).flow_nl_per_day,
        "pint_exact": lambda: math.floor(qt.exact(qt.q(dose, "mcg/day") / qt.q(conc, "mcg/mL"), "nL/day")),
        "pint_float": lambda: math.floor((fq(float(DOSE_MCG), u_day) / fq(float(CONC), u_ml)).to(u_nl).m),
        "fraction": lambda: math.floor(dose / conc * NL_PER_ML),
        "float": lambda: math.floor(DOSE_MCG / CONC * NL_PER_ML),
        "int_floor": lambda: dose_ng * NL_PER_UL // CONC,
    }


def _dilution() -> Calc:
    final_nl = FINAL_ML * NL_PER_ML
    res_ml = Fraction(RES_NL, NL_PER_ML)
    freg = _float_registry()
    fq, u_conc, u_ml, u_nl = freg.Quantity, *(freg.parse_units(u) for u in ("mcg/mL", "mL", "nL"))

    def core() -> Any:
        d = dilution.dilute(STOCK, TARGET_CONC, final_nl, RES_NL)
        return d.stock_nl, d.diluent_nl

    def pint_exact() -> Any:
        final, res = qt.q(FINAL_ML, "mL"), qt.q(res_ml, "mL")
        stock_v = qt.q(TARGET_CONC, "mcg/mL") * final / qt.q(STOCK, "mcg/mL")
        n = math.floor(qt.exact(stock_v / res, "dimensionless"))
        return math.floor(qt.exact(n * res, "nL")), math.floor(qt.exact(final - n * res, "nL"))

    def pint_float() -> Any:
        final, res = fq(float(FINAL_ML), u_ml), fq(float(res_ml), u_ml)
        n = math.floor((fq(float(TARGET_CONC), u_conc) * final / fq(float(STOCK), u_conc) / res).m_as(""))
        return math.floor((n * res).to(u_nl).m), math.floor((final - n * res).to(u_nl).m)

    def fraction() -> Any:
        n = math.floor(Fraction(TARGET_CONC) * FINAL_ML / STOCK / res_ml)
        return math.floor(n * res_ml * NL_PER_ML), math.floor((FINAL_ML - n * res_ml) * NL_PER_ML)

    def floaty() -> Any:
        res = RES_NL / NL_PER_ML
        n = math.floor(TARGET_CONC * FINAL_ML / STOCK / res)
        return math.floor(n * res * NL_PER_ML), math.floor((FINAL_ML - n * res) * NL_PER_ML)

    def int_floor() -> Any:
        k = TARGET_CONC * (final_nl // RES_NL) // STOCK
        return k * RES_NL, final_nl - k * RES_NL

    return {
        "core": core,
        "pint_exact": pint_exact,
        "pint_float": pint_float,
        "fraction": fraction,
        "float": floaty,
        "int_floor": int_floor,
    }


def _spans() -> list[tuple[int, int, int]]:
    steps = steps_13()
    ends = [s for s, _ in steps[1:]] + [S_PER_DAY]
    return [(start, end, rate) for (start, rate), end in zip(steps, ends, strict=True)]


def _schedule_total() -> Calc:
    steps, spans = steps_13(), _spans()
    freg = _float_registry()
    fq, u_rate, u_s, u_ng = freg.Quantity, *(freg.parse_units(u) for u in ("ng/day", "s", "ng"))

    def pint_exact() -> Any:
        acc = qt.q(0, "ng")
        for start, end, rate in spans:
            acc = acc + qt.q(rate, "ng/day") * qt.q(end - start, "s")
        return math.floor(qt.exact(acc, "ng"))

    def pint_float() -> Any:
        acc = fq(0.0, u_ng)
        for start, end, rate in spans:
            acc = acc + fq(float(rate), u_rate) * fq(float(end - start), u_s)
        return math.floor(acc.to(u_ng).m)

    return {
        "core": lambda: Schedule(S_PER_DAY, steps).day_total(0)[0],
        "pint_exact": pint_exact,
        "pint_float": pint_float,
        "fraction": lambda: math.floor(sum(Fraction(r * (e - s), S_PER_DAY) for s, e, r in spans)),
        "float": lambda: math.floor(sum(r * (e - s) / S_PER_DAY for s, e, r in spans)),
        "int_floor": lambda: sum(r * (e - s) for s, e, r in spans) // S_PER_DAY,
    }


CALCS: dict[str, Callable[[], Calc]] = {
    "flow": _flow,
    "dilution": _dilution,
    "schedule_total": _schedule_total,
}


def _parts() -> dict[str, Calc]:
    """Where the core's time goes: the formula alone, the library look-up, the result record, the build."""
    from firmware_py import library  # noqa: PLC0415

    dose_ng, built = DOSE_MCG * NG_PER_MCG, Schedule(S_PER_DAY, steps_13())
    return {
        "flow": {
            "formula (flow_nl_per_day)": lambda: flow.flow_nl_per_day(dose_ng, CONC),
            "Flow record": lambda: flow.Flow(dose_ng, CONC),
            "library.param look-up": lambda: library.param("ITB-CON-04", "max_conc_ng_per_ul"),
        },
        "dilution": {
            "plan (_plan)": lambda: dilution._plan(STOCK, TARGET_CONC, FINAL_ML * NL_PER_ML, RES_NL),
            "labeled_strengths look-up": labeled_strengths,
        },
        "schedule_total": {
            "Schedule build": lambda: Schedule(S_PER_DAY, steps_13()),
            "day_total on a built Schedule": lambda: built.day_total(0),
        },
    }


def _check(key: str, calc: Calc) -> dict[str, Any]:
    got = {side: fn() for side, fn in calc.items()}
    for side in ("pint_exact", "fraction", "int_floor"):
        if got[side] != got["core"]:
            raise RuntimeError(f"{key}: {side} gives {got[side]!r}, the core {got['core']!r}")
    return {side: list(v) if isinstance(v, tuple) else v for side, v in got.items()}


def _figures(res: Result, key: str, samples: dict[str, list[float]]) -> None:
    core_us = min(samples["core"]) * 1e6
    med = {side: sorted(xs)[len(xs) // 2] * 1e6 for side, xs in samples.items()}
    label = LABELS[key]
    res.add(
        Figure(
            key,
            f"{label}: core vs exact pint (units parsed once)",
            round(med["core"], 3),
            "µs",
            reference=round(med["pint_exact"], 1),
            reference_label="µs (exact pint)",
            ratio=paired_ratio(samples["pint_exact"], samples["core"]),
            ratio_label="pint / core",
            op=">=",
            target=TARGET_VS_PINT,
            target_on="ratio",
            note=f"spread core {spread(samples['core']):.0%}, pint {spread(samples['pint_exact']):.0%}",
        )
    )
    res.add(
        Figure(
            key + "_int",
            f"{label}: core vs the bare int floor",
            round(med["core"], 3),
            "µs",
            reference=round(med["int_floor"], 3),
            reference_label="µs (bare int)",
            ratio=paired_ratio(samples["core"], samples["int_floor"]),
            ratio_label="core / int",
            op="<=",
            target=TARGET_VS_INT,
            target_on="ratio",
            note=f"fastest core round {core_us:.3f} µs",
        )
    )
    for side, what in (("pint_float", "float pint"), ("fraction", "Fraction"), ("float", "float")):
        res.add(
            Figure(
                f"{key}_{side}",
                f"{label}: core vs {what}",
                round(med["core"], 3),
                "µs",
                reference=round(med[side], 3),
                reference_label=f"µs ({what})",
                ratio=paired_ratio(samples[side], samples["core"]),
                ratio_label=f"{what} / core",
                note="info",
            )
        )


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    qt.registry()  # built before timing (the CLI's start-up is its own benchmark)
    checks: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    for key, make in CALCS.items():
        calc = make()
        checks[key] = _check(key, calc)
        samples = interleaved(calc, BUDGET_S[size], REPEATS[size])
        timings[key] = {side: [round(x * 1e6, 4) for x in xs] for side, xs in samples.items()}
        _figures(res, key, samples)
    parts = {
        key: {
            name: round(sorted(xs)[len(xs) // 2] * 1e6, 3)
            for name, xs in interleaved(calc, BUDGET_S[size], REPEATS[size]).items()
        }
        for key, calc in _parts().items()
    }
    res.details = {
        "core_parts_median_us": parts,
        "inputs": {
            "dose_mcg_per_day": DOSE_MCG,
            "conc_mcg_per_ml": CONC,
            "stock": STOCK,
            "target_conc": TARGET_CONC,
            "final_ml": FINAL_ML,
            "resolution_nl": RES_NL,
        },
        "results": checks,
        "samples_us_per_call": timings,
    }
    res.method = (
        f"{REPEATS[size]} interleaved rounds; in each round every side runs a loop sized to about "
        f"{BUDGET_S[size] * 1000:.0f} ms, in an order rotated round by round. Figures: median time per "
        "call; ratios: median over rounds of the two sides' times in the same round; spread: (max − min) / "
        "median over the rounds. " + (__doc__ or "").split("\n\n", 1)[1].split("Timing is")[0].strip()
    )
    _limits(res, parts)
    return res


def _limits(res: Result, parts: dict[str, dict[str, float]]) -> None:
    missed = [f for f in res.figures if f.met is False]
    for f in missed:
        if f.key.endswith("_int"):
            res.limits.append(
                f"{f.label}: {f.ratio:.1f}x the bare int expression, over the {TARGET_VS_INT:.0f}x target. "
                "The bare expression is one or two int operations; the core validates every argument "
                "(type and range checks, the drug library's bound for a concentration), records which "
                "rules it applied, and builds a result record with the display fields (per-hour flow and "
                "dose, what rounding dropped; for a schedule: the canonical merge, segment bounds and "
                "cumulative integrals). That work is in firmware_py, which this benchmark does not change. "
                "Measured parts (µs): " + "; ".join(f"{k} {v}" for k, v in parts[f.key[:-4]].items()) + "."
            )
        else:
            res.limits.append(
                f"{f.label}: {f.ratio:.0f}x, short of {TARGET_VS_PINT:.0f}x: with its units parsed once "
                f"pint takes {f.reference} µs, and the core's {f.value} µs is mostly not arithmetic "
                "(parts above). "
                "Each call looks its bounds up in the drug library (`library.param` scans the rule table for "
                "the rule ID: firmware_py/library.py `_row`); an index by ID built once would be the first "
                "firmware change to make (not made here: firmware_py is not changed by the benchmarks)."
            )
    met = [f for f in res.figures if f.met]
    if met:
        res.limits.append(
            "Met: " + ", ".join(f"{f.label} {f.ratio:.1f}x" for f in met) + ". With units parsed once, "
            "pint's time is dimensional analysis and conversion factors on every operation, in Fraction "
            "arithmetic in the exact registry."
        )
