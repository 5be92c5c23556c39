# Dilution (ITB-CON-02, ITB-CON-04, ITB-DIL-01): a labeled stock diluted with preservative-free saline to a
# final volume, measured in whole steps of a syringe's resolution.
#
# The stock volume rounds DOWN, so the dilution is never stronger than its target. The achieved
# concentration must be a whole mcg/mL, because a program states its concentration in whole mcg/mL and
# must state exactly what is in the reservoir: the stock volume is the largest whole number of steps that
# gives a whole mcg/mL at or below the target. A shortfall beyond the tolerance (ITB-DIL-01, 1 % by
# default) is refused, naming what is achievable.

from firmware_py import library, units
from firmware_py.concentration import DILUENT, labeled_strengths
from firmware_py.decision import applied
from firmware_py.errors import InputError, RefusedError
from firmware_py.flow import require_conc
from firmware_py.record import Record
from firmware_py.screening import screening_conc
from firmware_py.units import NL_PER_ML, NL_PER_UL, PERCENT, PPM, ceil_div, floor_div


def default_tolerance_ppm() -> int:
    return library.param("ITB-DIL-01", "max_shortfall_ppm")


def _gcd(a: int, b: int) -> int:
    # MicroPython's math has no gcd.
    while b:
        a, b = b, a % b
    return a


class Dilution(Record):
    __slots__ = (
        "achieved_conc_ng_per_ul",
        "diluent",
        "diluent_nl",
        "final_volume_nl",
        "resolution_nl",
        "shortfall_ppm",
        "stock_conc_ng_per_ul",
        "stock_nl",
        "strength_step_ng_per_ul",
        "target_conc_ng_per_ul",
        "tolerance_ppm",
    )
    stock_conc_ng_per_ul: int
    target_conc_ng_per_ul: int
    final_volume_nl: int
    resolution_nl: int
    stock_nl: int
    diluent_nl: int
    diluent: str
    achieved_conc_ng_per_ul: int
    strength_step_ng_per_ul: int
    shortfall_ppm: int
    tolerance_ppm: int


def _plan(stock: int, target: int, final: int, res: int) -> tuple[int, int]:
    # (stock steps, whole-mcg/mL strength step) for final volume `final` at resolution `res`.
    total = final // res  # steps in the final volume
    # stock * k / total is a whole mcg/mL exactly when k is a multiple of total / gcd(total, stock)
    unit = total // _gcd(total, stock)
    k = floor_div(target * total, stock)[0]  # the most stock steps at or below the target
    return k - k % unit, stock // _gcd(total, stock)


def _shortfall_ppm(target: int, achieved: int) -> int:
    # Shortfall below the target, rounded UP so it is never understated.
    return ceil_div((target - achieved) * PPM, target)[0]


SEARCH_PART = 4  # other final volumes are looked for within 1/4 (25 %) of the one asked for


def _suggest(stock: int, target: int, final: int, res: int, tol: int) -> int | None:
    # The final volume nearest the one asked for (within 1/SEARCH_PART of it) at which the target is met
    # within tolerance.
    best = None
    for i in range(1, final // res // SEARCH_PART + 1):
        for f in (final - i * res, final + i * res):
            if f <= 0:
                continue
            k = _plan(stock, target, f, res)[0]
            if k > 0 and _shortfall_ppm(target, stock * k * res // f) <= tol:
                best = f
                break
        if best is not None:
            return best
    return None


FINER = tuple(m * d for d in (1, 10, PERCENT) for m in (1, 2, 5))[1:-2]  # the 1-2-5 series: 2, 5, ... 100


def _finer(stock: int, target: int, final: int, res: int, tol: int) -> int | None:
    # The coarsest measuring step finer than `res` (res / 2, / 5, / 10, ..., at least 1 uL) at which the
    # final volume asked for meets the target within tolerance.
    for div in FINER:
        r = res // div
        if r < NL_PER_UL or r * div != res or final % r:
            continue
        k = _plan(stock, target, final, r)[0]
        if k > 0 and _shortfall_ppm(target, stock * k * r // final) <= tol:
            return r
    return None


def _not_within(stock: int, target: int, final: int, res: int, *, tol: int, step: int,
                achieved: int | None) -> RefusedError:
    # ITB-DIL-01: the nearest whole strength below the target is short of it by more than the tolerance.
    where = ("a whole mcg/mL in " + units.fmt_scaled(final, NL_PER_ML, 3) + " mL at "
             + units.fmt_scaled(res, NL_PER_ML, 3) + " mL steps comes in steps of " + str(step) + " mcg/mL")
    got = "nothing at or below the target" if achieved is None else str(achieved) + " mcg/mL"
    alt = _suggest(stock, target, final, res, tol)
    hint = "" if alt is None else "; a final volume of " + units.fmt_scaled(alt, NL_PER_ML, 3) + " mL works"
    finer = _finer(stock, target, final, res, tol) if alt is None else None
    if finer is not None:
        hint = ("; no final volume within " + str(PERCENT // SEARCH_PART) + " % works, but "
                + units.fmt_scaled(final, NL_PER_ML, 3)
                + " mL measured in steps of " + units.fmt_scaled(finer, NL_PER_ML, 3) + " mL does")
    return RefusedError("target_conc_ng_per_ul", target,
                        "cannot be made within " + units.fmt_scaled(tol, PPM // PERCENT, 4) + " %: " + where
                        + "; the nearest below is " + got + hint, ["ITB-DIL-01"])


def dilute(
    stock_conc_ng_per_ul: int,
    target_conc_ng_per_ul: int,
    final_volume_nl: int,
    resolution_nl: int = 100_000,
    tolerance_ppm: int | None = None,
) -> Dilution:
    stock = require_conc("stock_conc_ng_per_ul", stock_conc_ng_per_ul)
    if stock == screening_conc():
        # ITB-SCR-05: the 50 mcg/mL ampule is for bolus screening only, never the stock of a pump fill.
        raise RefusedError("stock_conc_ng_per_ul", stock_conc_ng_per_ul, "is the screening-only strength",
                           ["ITB-SCR-05"])
    if stock not in labeled_strengths():
        raise RefusedError(
            "stock_conc_ng_per_ul",
            stock_conc_ng_per_ul,
            "is not a labeled maintenance strength",
            ["ITB-CON-01"],
        )
    target = require_conc("target_conc_ng_per_ul", target_conc_ng_per_ul)
    if target > stock:
        raise RefusedError("target_conc_ng_per_ul", target_conc_ng_per_ul, "is above the stock " + str(stock),
                           ["ITB-CON-04"])
    res = units.require_positive("resolution_nl", resolution_nl)
    final = units.require_positive("final_volume_nl", final_volume_nl)
    if final % res:
        raise InputError(
            "final_volume_nl", final_volume_nl, "must be a multiple of resolution_nl " + str(res)
        )
    if tolerance_ppm is None:
        tolerance_ppm = default_tolerance_ppm()
    tol = units.require_range("tolerance_ppm", tolerance_ppm, 0, PPM - 1)
    k, step = _plan(stock, target, final, res)
    achieved = stock * k * res // final if k else 0
    short = _shortfall_ppm(target, achieved)
    if k == 0 or short > tol:
        raise _not_within(stock, target, final, res, tol=tol, step=step, achieved=achieved if k else None)
    applied("ITB-CON-01", "ITB-CON-04", "ITB-DIL-01", *(("ITB-CON-02",) if k * res < final else ()))
    d = Dilution()
    d.stock_conc_ng_per_ul = stock
    d.target_conc_ng_per_ul = target
    d.final_volume_nl = final
    d.resolution_nl = res
    d.stock_nl = k * res
    d.diluent_nl = final - d.stock_nl
    d.diluent = DILUENT
    d.achieved_conc_ng_per_ul = achieved
    d.strength_step_ng_per_ul = step
    d.shortfall_ppm = short
    d.tolerance_ppm = tol
    return d
