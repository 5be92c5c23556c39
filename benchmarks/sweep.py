"""A sweep that can fail: the core's roundings against an independent exact reference, every case.

Three families, on values that do not divide evenly, so every rounding path is taken:
- flow (`firmware_py.flow.flow`): odd daily doses (to the ng) x 333, 500, 750, 1000, 1500, 2000 mcg/mL:
  flow nL/day, flow nL/h and dose ng/h, each rounded down;
- windows (`firmware_py.windows.build`): odd base doses x desired-effect windows on odd minutes and of odd
  lengths x relative changes that do not divide: the programmed rate at every piece (the 2 h lead, the
  rate rounded down) and the day total (rounded down);
- dilution (`firmware_py.dilution.dilute`): the labeled stocks x odd target strengths x non-round final
  volumes at 0.1 mL: stock and diluent volumes (stock rounded down to a whole mcg/mL), or a refusal when
  the shortfall (rounded up) is beyond the ITB-DIL-01 tolerance.
The reference is `benchmarks.reference` (Fraction arithmetic from the labeling; it calls no core
calculation). Each floor and ceiling is counted where the exact value is not whole, so a sweep that never
rounds shows zeros. Two mutants of the core (a flow rounded up, windows built without the 2 h lead) must
each give disagreements: `tests/test_benchmarks_smoke.py` runs that check on a small slice.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks import reference as ref
from benchmarks.common import Figure, Result, Size, slug
from firmware_py import dilution, flow, windows
from firmware_py.concentration import labeled_strengths
from firmware_py.errors import ItbError
from firmware_py.units import NL_PER_ML, NL_PER_UL, S_PER_MIN, ceil_div

NAME = "sweep"
TITLE = "Sweep that can fail: core roundings vs an independent Fraction reference, with mutants"
TARGET_S = 15.0
CONCS = (333, 500, 750, 1000, 1500, 2000)
RES_NL = NL_PER_ML // 10
# (dose step ng/day, window start step min, dilution targets) per size; the grids keep odd values only.
STEP = {"full": 997, "quick": 9_973, "smoke": 99_991}
WINDOW_STRIDE = {"full": 1, "quick": 3, "smoke": 9}
BASES = (100_003, 437_219, 512_777, 999_999, 1_234_567)
CHANGES = (-173, -99, 73, 123, 200, 271, 300)
LENGTHS_MIN = (37, 133, 301, 487, 611)
TARGETS = (77, 333, 499, 750, 999, 1234, 1500, 1999)
FINALS_NL = (7_300_000, 18_900_000, 20_000_000, 37_100_000, 40_000_000)


def cases(size: Size) -> dict[str, list[tuple[int, ...]]]:
    """The cases of each family at `size`."""
    doses = range(12_001, 2_003_001, STEP[size])
    starts = range(7, 24 * 60, 97 * WINDOW_STRIDE[size])
    wins: list[tuple[int, ...]] = [
        (b, s * S_PER_MIN, n * S_PER_MIN, c)
        for b in BASES
        for s in starts
        for n in LENGTHS_MIN
        for c in CHANGES
    ]
    grid: dict[str, list[tuple[int, ...]]] = {
        "flow": [(d, c) for c in CONCS for d in doses],
        "windows": wins[:: WINDOW_STRIDE[size]],
        "dilution": [(s, t, f) for s in labeled_strengths() for t in TARGETS for f in FINALS_NL if t <= s],
    }
    return grid


def _flow_case(dose: int, conc: int, hits: Counter[str]) -> bool:
    want, h = ref.flow(dose, conc)
    hits.update(k for k, v in h.items() if v)
    f = flow.flow(dose, conc)
    return (f.flow_nl_per_day, f.flow_nl_per_h, f.dose_ng_per_h) == want


def _windows_case(base: int, start: int, length: int, change: int, hits: Counter[str]) -> bool:
    end = (start + length) % 86_400
    rate, floored = ref.window_rate(base, change)
    pieces = ref.programmed(base, [(start, end, rate)])
    total, total_floored = ref.day_total(pieces)
    hits.update(k for k, v in (("window rate floor", floored), ("day total floor", total_floored)) if v)
    sched = windows.build(base, [windows.Window(start, end, change_permille=change)])
    rates_ok = all(
        sched.rate_at(t) == ref.rate_at(pieces, t % 86_400) for a, b, _ in pieces for t in (a, b - 1)
    )
    return rates_ok and sched.day_total(0)[0] == total


def _dilution_case(stock: int, target: int, final: int, hits: Counter[str]) -> bool:
    want, h = ref.dilution(stock, target, final, RES_NL)
    hits.update(k for k, v in h.items() if v)
    try:
        d = dilution.dilute(stock, target, final, RES_NL)
    except ItbError:
        return want is None
    return (d.stock_nl, d.diluent_nl) == want


CHECKS: dict[str, Callable[..., bool]] = {
    "flow": _flow_case,
    "windows": _windows_case,
    "dilution": _dilution_case,
}


def sweep(grid: dict[str, list[tuple[int, ...]]]) -> dict[str, Any]:
    """Run every case; disagreements per family (a core error counts as one), floors and ceilings hit."""
    hits: Counter[str] = Counter()
    bad: dict[str, list[tuple[int, ...]]] = {k: [] for k in grid}
    t0 = time.perf_counter()
    for family, items in grid.items():
        check = CHECKS[family]
        for case in items:
            try:
                ok = check(*case, hits)
            except ItbError:
                ok = False
            if not ok:
                bad[family].append(case)
    return {
        "elapsed_s": time.perf_counter() - t0,
        "bad": bad,
        "hits": dict(hits),
        "cases": {k: len(v) for k, v in grid.items()},
    }


@contextlib.contextmanager
def flow_rounded_up() -> Iterator[None]:
    """Mutant: the core's one flow formula rounds up (more drug)."""
    saved = flow.flow_nl_per_day

    def rounded_up(dose_ng_per_day: int, conc_ng_per_ul: int) -> tuple[int, int]:
        return ceil_div(dose_ng_per_day * NL_PER_UL, conc_ng_per_ul)

    flow.flow_nl_per_day = rounded_up
    try:
        yield
    finally:
        flow.flow_nl_per_day = saved


@contextlib.contextmanager
def lead_dropped() -> Iterator[None]:
    """Mutant: windows are programmed at the desired effect's own time, without the 2 h lead."""
    saved = windows.build
    windows.build = lambda base, ws, lead_s=None, *a, **k: saved(base, ws, 0, *a, **k)
    try:
        yield
    finally:
        windows.build = saved


MUTANTS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "flow rounded up": flow_rounded_up,
    "2 h lead dropped": lead_dropped,
}


def mutant_disagreements(grid: dict[str, list[tuple[int, ...]]]) -> dict[str, int]:
    """Disagreements of each mutant of the core with the reference on `grid`."""
    out = {}
    for name, mutant in MUTANTS.items():
        with mutant():
            out[name] = sum(len(v) for v in sweep(grid)["bad"].values())
    return out


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    grid = cases(size)
    r = sweep(grid)
    n = sum(r["cases"].values())
    for family, items in r["bad"].items():
        res.add(
            Figure(
                f"disagreements_{family}",
                f"{family}: disagreements with the reference",
                len(items),
                "cases",
                op="==",
                target=0,
                note=f"of {r['cases'][family]} cases",
            )
        )
    mutants = mutant_disagreements(grid)
    for name, count in mutants.items():
        res.add(
            Figure(
                f"mutant_{slug(name).replace('-', '_')}",
                f"mutant core, {name}: disagreements",
                count,
                "cases",
                op=">=",
                target=1,
                note="the sweep must catch it",
            )
        )
    for what, count in sorted(r["hits"].items()):
        res.add(
            Figure(
                f"hits_{slug(what).replace('-', '_')}",
                f"cases: {what}",
                count,
                "cases",
                note="refused by the tolerance" if "refused" in what else "exact value not whole",
            )
        )
    res.add(
        Figure(
            "sweep_time",
            "whole sweep wall time (core + reference)",
            round(r["elapsed_s"], 3),
            "s",
            reference=TARGET_S,
            reference_label="s (budget)",
            ratio_label="time / budget",
            op="<=",
            target=TARGET_S,
            note=f"{n} cases, {n / r['elapsed_s']:.0f} cases/s",
        )
    )
    res.details = {
        "cases": r["cases"],
        "hits": r["hits"],
        "mutant_disagreements": mutants,
        "disagreement_examples": {k: v[:5] for k, v in r["bad"].items()},
        "concentrations_mcg_per_ml": list(CONCS),
        "dose_step_ng_per_day": STEP[size],
    }
    res.method = (
        f"{n} cases ({', '.join(f'{k} {v}' for k, v in r['cases'].items())}), each computed by the core and "
        "by the reference and compared exactly, in one timed loop. Then the same grid against two mutants "
        "of the core (patched in-process): " + ", ".join(MUTANTS) + ". " + (__doc__ or "").split("\n", 1)[1]
    )
    res.limits.append(
        f"{r['elapsed_s'] / n * 1e6:.0f} µs per case, core and reference together; the reference's Fraction "
        "arithmetic is most of it (the core's flow is about 2 µs, see core_pint). Every floor and ceiling "
        f"path is taken: {', '.join(f'{k} {v}' for k, v in sorted(r['hits'].items()))}."
    )
    return res
