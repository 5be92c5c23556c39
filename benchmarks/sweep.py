"""Full clinical-grid sweep: every integer daily dose × labeled strength × origin, through the user's path.

Grid: every integer dose 12..2003 mcg/day × 500, 1000, 2000 mcg/mL × spinal and cerebral (adults). Each
case goes the way a user's request goes: the drug library checks the dose range for the patient group
(`library.check_dose_range`, ITB-RNG-01/02); a dose it refuses is counted as a refusal, not computed (the
cerebral range is 22–1400 mcg/day). An allowed dose goes through `host_tools.calc.rate`, which computes the
flow in the core and re-computes it with pint, raising `InternalError` on any disagreement; those are the
disagreements. Independently of both, every computed flow is then checked against an exact `Fraction`
(outside the timed loop), so a bug shared by the core and the pint check would still be caught.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from fractions import Fraction
from typing import Any

from benchmarks.common import Figure, Result, Size
from firmware_py import dosing, library
from host_tools import calc
from host_tools import quantities as qt
from host_tools.errors import InternalError

NAME = "sweep"
TITLE = "Clinical-grid sweep: core computes, pint cross-checks, every case"
TARGET_S = 15.0
AGE_YEARS = 40

GRIDS: dict[str, tuple[range, tuple[int, ...]]] = {
    "full": (range(12, 2004), (500, 1000, 2000)),
    "quick": (range(12, 2004, 7), (500, 1000, 2000)),
    # the smoke slice keeps the range edges of both groups (11/12, 21/22, 1400/1401, 2003)
    "smoke": (range(0, 0), (500, 2000)),
}
SMOKE_DOSES = (12, 13, 21, 22, 500, 1000, 1001, 1400, 1401, 2003)
# Expected number of refusals for the full grid: cerebral doses 12..21 and 1401..2003, per strength.
FULL_REFUSALS_PER_CONC = (22 - 12) + (2003 - 1400)


def doses_for(size: Size) -> list[int]:
    if size == "smoke":
        return list(SMOKE_DOSES)
    return list(GRIDS[size][0])


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    doses = doses_for(size)
    concs = GRIDS[size][1]
    origins = (library.SPINAL, library.CEREBRAL)
    cases = [(o, d, c) for o in origins for c in concs for d in doses]
    qt.registry()  # build the registry outside the timed loop (the CLI's start-up is its own benchmark)
    computed: list[tuple[int, int, Any]] = []
    refused: dict[str, int] = {}
    needs_override = 0
    disagreements: list[str] = []
    t_library = 0.0
    t0 = time.perf_counter()
    for origin, dose_mcg, conc in cases:
        ta = time.perf_counter()
        decision = library.check_dose_range(origin, AGE_YEARS, dose_mcg * 1000)
        t_library += time.perf_counter() - ta
        if decision.refusals:
            refused[origin] = refused.get(origin, 0) + 1
            continue
        if decision.needs_override:
            needs_override += 1  # ITB-RNG-04 (> 1000 mcg/day) is soft: computed, flagged
        try:
            r = calc.rate(qt.q(dose_mcg, "mcg/day"), qt.q(conc, "mcg/mL"))
        except InternalError as exc:
            disagreements.append(f"{origin} {dose_mcg} mcg/day @ {conc} mcg/mL: {exc}")
            continue
        computed.append((dose_mcg, conc, r))
    elapsed = time.perf_counter() - t0
    # Independent check, untimed: flow nL/day = floor(dose mcg/day / conc mcg/mL × 10^6 nL/mL).
    independent_bad: list[str] = []
    for dose_mcg, conc, r in computed:
        exact = Fraction(dose_mcg, conc) * 1_000_000
        got = qt.exact(r.flow_per_day, "nL/day")
        if not (got.denominator == 1 and got <= exact < got + 1):
            independent_bad.append(f"{dose_mcg} mcg/day @ {conc}: flow {got} nL/day, exact {exact}")
    n = len(cases)
    n_refused = sum(refused.values())
    expected_refusals = FULL_REFUSALS_PER_CONC * len(concs) if size == "full" else None
    if expected_refusals is not None and n_refused != expected_refusals:
        raise RuntimeError(f"refusals: {n_refused}, expected {expected_refusals} (cerebral 12..21, 1401..)")
    if refused.get(library.SPINAL, 0):
        raise RuntimeError(f"the library refused {refused[library.SPINAL]} spinal doses in 12..2003 mcg/day")
    res.add(
        Figure(
            "disagreements",
            "disagreements (core vs pint check)",
            len(disagreements),
            "cases",
            op="==",
            target=0,
            note=f"of {len(computed) + len(disagreements)} computed",
        )
    )
    res.add(
        Figure(
            "independent_disagreements",
            "disagreements with an exact Fraction (untimed)",
            len(independent_bad),
            "cases",
            op="==",
            target=0,
        )
    )
    res.add(
        Figure(
            "sweep_time",
            "whole sweep wall time",
            round(elapsed, 3),
            "s",
            reference=TARGET_S,
            reference_label="s (budget)",
            ratio_label="time / budget",
            op="<=",
            target=TARGET_S,
            note="" if size == "full" else f"reduced grid ({n} cases)",
        )
    )
    lean_s, lean_bad = _lean_sweep(cases)
    res.add(
        Figure(
            "lean_sweep_time",
            "same grid, lean pint check (info)",
            round(lean_s, 3),
            "s",
            reference=round(elapsed, 3),
            reference_label="s (calc.rate path)",
            ratio_label="lean / calc.rate",
            note=f"not what users run: core flow + one exact pint quotient per case, units parsed once; "
            f"{lean_bad} disagreements",
        )
    )
    if lean_bad:
        raise RuntimeError(f"the lean pint check disagreed with the core on {lean_bad} cases")
    res.add(Figure("cases_per_s", "cases per second", round(n / elapsed), "cases/s", note=f"{n} cases"))
    res.add(
        Figure(
            "refusals",
            "refused by the library (not disagreements)",
            n_refused,
            "cases",
            reference=expected_refusals,
            reference_label="expected" if expected_refusals is not None else "",
            ratio_label="refused / expected",
            note="cerebral doses outside 22–1400 mcg/day (ITB-RNG-02)",
        )
    )
    res.details = {
        "cases": n,
        "computed": len(computed),
        "refused_by_origin": refused,
        "computed_needing_override_ITB_RNG_04": needs_override,
        "doses_mcg_per_day": [doses[0], doses[-1], len(doses)] if doses else [],
        "concentrations_mcg_per_ml": list(concs),
        "age_years": AGE_YEARS,
        "library_check_s": round(t_library, 4),
        "disagreement_examples": disagreements[:5],
        "independent_examples": independent_bad[:5],
    }
    res.method = (
        f"{n} cases ({len(doses)} doses × {len(concs)} strengths × 2 origins) in one timed loop: "
        "`library.check_dose_range` then, if allowed, `host_tools.calc.rate` (core flow + pint "
        "re-computation and bound check, exactly what `itb rate` runs). The pint registry is built "
        "before the loop. Refusals are counted apart from disagreements."
    )
    per_case_us = elapsed / max(1, len(computed)) * 1e6
    shares = _profile_shares(computed[:: max(1, len(computed) // 60)][:60])
    res.details["profile_shares_of_calc_rate"] = shares
    res.limits.append(
        f"{per_case_us:.0f} µs per computed case, of which the library check is "
        f"{t_library / max(1, n) * 1e6:.0f} µs. A profile of `calc.rate` on {shares['calls']} of the cases "
        f"puts {shares['pint_parse_units']:.0%} of its time in pint parsing unit strings "
        f"(`_parse_units_as_container`; host_tools caches each parsed unit text), "
        f"{shares['verify']:.0%} in `calc.verify` (of which {shares['fmt']:.0%} is formatting "
        "text with `quantities.fmt`"
        + (", done even when the check passes" if shares["fmt"] > 0.01 else "")
        + f") and {shares['core_flow']:.1%} in "
        "the core's `dosing.flow`. The sweep's speed is the pint check's, not the core's: the same grid "
        f"with one exact pint quotient per case and its units parsed once takes {lean_s:.2f} s "
        f"({elapsed / lean_s:.0f}x less)."
    )
    return res


def _profile_shares(sample: list[tuple[int, int, Any]]) -> dict[str, Any]:
    """Shares of `calc.rate`'s time spent in pint unit parsing, `verify`, `fmt` and the core (cProfile)."""
    prof = cProfile.Profile()
    prof.enable()
    for dose_mcg, conc, _ in sample:
        calc.rate(qt.q(dose_mcg, "mcg/day"), qt.q(conc, "mcg/mL"))
    prof.disable()
    stats: Any = getattr(pstats.Stats(prof), "stats")  # noqa: B009 (undocumented attribute, untyped)  # {(file, line, name): (cc, nc, tt, ct, callers)}

    def cum(file_part: str, name: str) -> float:
        return float(sum(v[3] for k, v in stats.items() if k[2] == name and file_part in k[0]))

    total = cum("calc.py", "rate") or 1e-9
    return {
        "calls": len(sample),
        "total_s": total,
        "pint_parse_units": cum("registry.py", "_parse_units_as_container") / total,
        "verify": cum("calc.py", "verify") / total,
        "fmt": cum("quantities.py", "fmt") / total,
        "core_flow": cum("dosing.py", "flow") / total,
    }


def _lean_sweep(cases: list[tuple[str, int, int]]) -> tuple[float, int]:
    """The same grid with the smallest pint check that still verifies the flow: units parsed once."""
    ureg = qt.registry()
    mcg_day, mcg_ml, nl_day = ureg.Unit("mcg/day"), ureg.Unit("mcg/mL"), ureg.Unit("nL/day")
    quantity = ureg.Quantity
    bad = 0
    t0 = time.perf_counter()
    for origin, dose_mcg, conc in cases:
        if library.check_dose_range(origin, AGE_YEARS, dose_mcg * 1000).refusals:
            continue
        got = dosing.flow(dose_mcg * 1000, conc).flow_nl_per_day
        exact = (
            (quantity(Fraction(dose_mcg), mcg_day) / quantity(Fraction(conc), mcg_ml)).to(nl_day).magnitude
        )
        if not got <= exact < got + 1:
            bad += 1
    return time.perf_counter() - t0, bad
