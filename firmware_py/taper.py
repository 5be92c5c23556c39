# Taper for a drug holiday (ITB-HOL-01): a gradual reduction over 2 to 4 weeks, one change a day, never to
# zero and never faster than the discontinuation limit (ITB-DIS-01, 20 % within 24 h).
#
# The plan is geometric: the same ratio every day, dose_k = current * (floor / current) ** (k / n), rounded
# UP to the ng/day (in a taper the hazard is withdrawal), kept within the cuts that still reach the floor.
# It makes one change a day for the whole duration, the first at its start, and reaches the floor on its
# last day, never earlier. Exact integer n-th roots, no floats.

from firmware_py import library, units
from firmware_py.decision import applied
from firmware_py.errors import InputError, RefusedError
from firmware_py.units import PERMILLE, S_PER_DAY, ceil_div


def _iroot_ceil(value: int, n: int) -> int:
    # Smallest integer r >= 0 with r ** n >= value (Newton's method from an upper bound).
    if value <= 1:
        return value
    x: int = 10 ** ((len(str(value)) + n - 1) // n)  # 10**ceil(digits/n) >= value ** (1/n)
    while True:
        y = ((n - 1) * x + value // x ** (n - 1)) // n
        if y >= x:
            break
        x = y
    while x**n < value:
        x += 1
    while x > 0 and (x - 1) ** n >= value:
        x -= 1
    return x


def _lowest_reachable(current: int, steps: int, limit: int) -> int:
    dose = current
    for _ in range(steps):
        dose = ceil_div(dose * (PERMILLE - limit), PERMILLE)[0]
    return dose


def taper_plan(
    current_dose_ng_per_day: int,
    floor_dose_ng_per_day: int,
    duration_s: int,
    max_step_permille: int | None = None,
) -> list[tuple[int, int]]:
    # [(offset_s, dose_ng_per_day)], one per day: offsets 0, 86400, ..., the last one the floor.
    current = units.require_positive("current_dose_ng_per_day", current_dose_ng_per_day)
    floor_dose = units.require_positive("floor_dose_ng_per_day", floor_dose_ng_per_day)
    if floor_dose >= current:
        raise InputError("floor_dose_ng_per_day", floor_dose_ng_per_day, "must be below the current dose")
    lo = library.param("ITB-HOL-01", "min_s")
    hi = library.param("ITB-HOL-01", "max_s")
    duration = units.require_range("duration_s", duration_s, lo, hi)
    most = library.param("ITB-DIS-01", "max_step_reduction_permille")
    limit = units.require_range("max_step_permille", most if max_step_permille is None else max_step_permille,
                                1, most)
    n = duration // S_PER_DAY
    keep = PERMILLE - limit
    # The most each step may still be so that cuts of at most `limit` reach the floor by the last step.
    top = [floor_dose]
    for _ in range(n):
        top.append(top[-1] * PERMILLE // keep)
    top.reverse()  # top[k]: the most the dose may be after k steps
    if current > top[0]:
        raise RefusedError(
            "floor_dose_ng_per_day", floor_dose_ng_per_day,
            "cannot be reached in " + str(n) + " daily steps of at most " + units.fmt_scaled(limit, 10, 1)
            + " %; the lowest reachable is " + units.fmt_scaled(_lowest_reachable(current, n, limit),
                                                                 units.NG_PER_MCG, 3) + " mcg/day",
            ["ITB-HOL-01", "ITB-DIS-01"])
    applied("ITB-HOL-01", "ITB-DIS-01")
    doses = []
    prev = current
    for k in range(1, n + 1):
        geo = _iroot_ceil(current ** (n - k) * floor_dose**k, n)
        dose = min(top[k], max(geo, ceil_div(prev * keep, PERMILLE)[0]))
        doses.append(dose)
        prev = dose
    return [(i * S_PER_DAY, doses[i]) for i in range(n)]
