"""Independent references for the sweep: exact `Fraction` arithmetic written from the labeling, not the core.

Nothing here calls a firmware_py calculation: only its constants (unit factors, the drug library's
parameters: the 2 h lead of ITB-SCH-01, the ITB-DIL-01 tolerance), so a core variant that rounds a flow
up or drops the lead disagrees with these. Each function returns the result and which roundings it hit.
"""

from __future__ import annotations

import math
from fractions import Fraction

from firmware_py import library
from firmware_py.units import H_PER_DAY, NG_PER_MCG, NL_PER_ML, PERMILLE, PPM, S_PER_DAY


def lead_s() -> int:
    # "Changes in flow rate should be programmed to start 2 hrs before time of desired clinical effect."
    return library.param("ITB-SCH-01", "lead_s")


def flow(dose_ng_per_day: int, conc_mcg_per_ml: int) -> tuple[tuple[int, int, int], dict[str, bool]]:
    """(flow nL/day, flow nL/h, dose ng/h), each rounded down; the flow in mL/day is dose / strength."""
    ml_per_day = Fraction(dose_ng_per_day, NG_PER_MCG) / conc_mcg_per_ml
    nl_day = ml_per_day * NL_PER_ML
    nl_h, ng_h = nl_day / H_PER_DAY, Fraction(dose_ng_per_day, H_PER_DAY)
    hits = {
        "flow nL/day floor": nl_day.denominator != 1,
        "flow nL/h floor": nl_h.denominator != 1,
        "dose ng/h floor": ng_h.denominator != 1,
    }
    return (math.floor(nl_day), math.floor(nl_h), math.floor(ng_h)), hits


def window_rate(base_ng_per_day: int, change_permille: int) -> tuple[int, bool]:
    """A relative change of the base rate, rounded down (never more drug); True when the floor was hit."""
    exact = Fraction(base_ng_per_day * (PERMILLE + change_permille), PERMILLE)
    return math.floor(exact), exact.denominator != 1


def programmed(base: int, windows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Pieces (start_s, end_s, rate) covering one day [0, 86 400) for desired-effect windows (start, end,
    rate): each window programmed `lead_s()` earlier (a piece across midnight is split in two), the base
    rate elsewhere."""
    pieces = []
    for start, end, rate in windows:
        a = (start - lead_s()) % S_PER_DAY
        b = a + (end - start) % S_PER_DAY
        pieces += [(a, min(b, S_PER_DAY), rate)] + ([(0, b - S_PER_DAY, rate)] if b > S_PER_DAY else [])
    out, t = [], 0
    for a, b, rate in sorted(pieces):
        if a > t:
            out.append((t, a, base))
        out.append((a, b, rate))
        t = b
    if t < S_PER_DAY:
        out.append((t, S_PER_DAY, base))
    return out


def day_total(pieces: list[tuple[int, int, int]]) -> tuple[int, bool]:
    """ng delivered over the day of the pieces, rounded down."""
    exact = sum((Fraction(rate * (b - a), S_PER_DAY) for a, b, rate in pieces), Fraction(0))
    return math.floor(exact), exact.denominator != 1


def rate_at(pieces: list[tuple[int, int, int]], phase_s: int) -> int:
    """The programmed rate at a phase of the day."""
    for a, b, rate in pieces:
        if a <= phase_s < b:
            return rate
    raise ValueError(phase_s)


def dilution(
    stock: int, target: int, final_nl: int, res_nl: int
) -> tuple[tuple[int, int] | None, dict[str, bool]]:
    """(stock nL, diluent nL) or None when refused: the stock volume target x final / stock rounded down to
    whole syringe steps, then down again until the mix is a whole mcg/mL; refused when that is short of the
    target by more than the ITB-DIL-01 tolerance (shortfall rounded up)."""
    tol = library.param("ITB-DIL-01", "max_shortfall_ppm")
    exact_steps = Fraction(target * final_nl, stock * res_nl)
    k = math.floor(exact_steps)
    hits = {
        "dilution stock floor": exact_steps.denominator != 1,
        "dilution shortfall ceil": False,
        "dilution refused": False,
    }
    while k > 0:
        achieved = Fraction(stock * k * res_nl, final_nl)
        short = (target - achieved) * PPM / target
        if short > tol:
            break
        if achieved.denominator == 1:
            hits["dilution shortfall ceil"] = short.denominator != 1
            return (k * res_nl, final_nl - k * res_nl), hits
        k -= 1
    hits["dilution refused"] = True
    return None, hits
