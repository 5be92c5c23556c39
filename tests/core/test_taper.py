# Core tests of firmware_py.taper. MicroPython subset: plain test_* functions and asserts, helpers from
# tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt, cited by
# file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import taper
from firmware_py.errors import InputError, RefusedError
from tests.core.support import DAY, MCG, names_field, raises
from tests.core.support import refused_naming as _bad


def _check_taper(
    plan: list[tuple[int, int]], current: int, floor_dose: int, duration: int, limit: int
) -> None:
    # REQ: ITB-HOL-01, ITB-DIS-01, ITB-TIT-04. One change a day for the whole duration, the first at its
    # start; a decrease each day (never to 0, never more than the limit); the floor on the last day only.
    assert len(plan) == duration // DAY, plan
    prev_dose = current
    for i in range(len(plan)):
        t, dose = plan[i]
        assert t == i * DAY, plan
        assert 0 < dose <= prev_dose, plan
        assert (prev_dose - dose) * 1_000 <= limit * prev_dose, plan  # no cut over the limit
        prev_dose = dose
    assert plan[-1][1] == floor_dose
    assert plan[-2][1] > floor_dose  # no earlier end


def test_taper_spans_the_whole_duration() -> None:
    # 100 -> 95 mcg/day over 14 days reaches 95 on the 14th day, not earlier.
    plan = taper.taper_plan(100 * MCG, 95 * MCG, 14 * DAY)
    _check_taper(plan, 100 * MCG, 95 * MCG, 14 * DAY, 200)
    assert plan[-1] == (13 * DAY, 95 * MCG)


def test_taper_500_to_100_mcg_over_two_weeks_is_geometric() -> None:
    plan = taper.taper_plan(500 * MCG, 100 * MCG, 14 * DAY)
    _check_taper(plan, 500 * MCG, 100 * MCG, 14 * DAY, 200)
    # The same ratio every day: (100/500) ** (1/14) = 0.8913, so the first cut is about 10.9 %: day 1 is
    # ceil(500 * 0.2 ** (1/14)) mcg/day; r ** 14 * 500 = 100.
    first = plan[0][1]
    assert first ** 14 >= 500_000 ** 13 * 100_000 > (first - 1) ** 14
    cuts = [(plan[i - 1][1] - plan[i][1]) * 1000 // plan[i - 1][1] for i in range(1, len(plan))]
    assert max(cuts) - min(cuts) <= 1, cuts


def test_taper_step_limit_and_reach() -> None:
    # 2000 mcg/day cut by 20 % once a day for 14 days cannot go below 87_962 ng/day
    # (hand-checked chain 1_600_000, 1_280_000, 1_024_000, 819_200, ..., 109_952, 87_962).
    plan = taper.taper_plan(2_000 * MCG, 87_962, 14 * DAY)
    _check_taper(plan, 2_000 * MCG, 87_962, 14 * DAY, 200)
    exc = raises(RefusedError, taper.taper_plan, 2_000 * MCG, 87_961, 14 * DAY)
    assert names_field(exc, "floor_dose_ng_per_day", 87_961) and "87.962" in str(exc)
    # 28 days reaches 12 mcg/day (the spinal minimum).
    _check_taper(taper.taper_plan(2_000 * MCG, 12 * MCG, 28 * DAY), 2_000 * MCG, 12 * MCG, 28 * DAY, 200)
    # A 10 % limit is honoured.
    _check_taper(taper.taper_plan(500 * MCG, 300 * MCG, 21 * DAY, 100), 500 * MCG, 300 * MCG, 21 * DAY, 100)


def test_taper_bad_inputs() -> None:
    tp = taper.taper_plan
    _bad(InputError, "duration_s", 14 * DAY - 1, tp, 500 * MCG, 100 * MCG, 14 * DAY - 1)
    _bad(InputError, "duration_s", 28 * DAY + 1, tp, 500 * MCG, 100 * MCG, 28 * DAY + 1)
    _check_taper(tp(500 * MCG, 100 * MCG, 28 * DAY), 500 * MCG, 100 * MCG, 28 * DAY, 200)
    # ITB-DIS-01: a taper to 0 is an abrupt stop and is refused.
    _bad(InputError, "floor_dose_ng_per_day", 0, tp, 500 * MCG, 0, 14 * DAY)
    _bad(InputError, "floor_dose_ng_per_day", 500 * MCG, tp, 500 * MCG, 500 * MCG, 14 * DAY)
    _bad(InputError, "current_dose_ng_per_day", 0, tp, 0, 100 * MCG, 14 * DAY)
    _bad(InputError, "max_step_permille", 201, tp, 500 * MCG, 100 * MCG, 14 * DAY, 201)
    _bad(InputError, "max_step_permille", 0, tp, 500 * MCG, 100 * MCG, 14 * DAY, 0)
