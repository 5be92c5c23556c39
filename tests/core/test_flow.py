# Core tests of firmware_py.flow. MicroPython subset: plain test_* functions and asserts, helpers from
# tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt, cited by
# file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import flow
from firmware_py.errors import InputError
from tests.core.support import MCG, ML
from tests.core.support import refused_naming as _bad


def test_flow_labeling_500_mcg_per_day_at_500_mcg_per_ml_is_1_ml_per_day() -> None:
    # REQ: ITB-CON-03. 500 mcg/day of 500 mcg/mL is 1 mL/day = 1_000_000 nL/day.
    f = flow.flow(500 * MCG, 500)
    assert f.flow_nl_per_day == 1 * ML
    assert f.flow_dropped_pg_per_day == 0
    # 1 mL/day over 24 h = 41.666 uL/h: 41_666 nL/h shown, 16 nL/day not shown (24 * 41_666 = 999_984).
    assert f.flow_nl_per_h == 41_666
    assert f.flow_per_h_dropped_nl_per_day == 16
    # 500 mcg/day = 20.833 mcg/h: 20_833 ng/h, 8 ng/day left over (24 * 20_833 = 499_992).
    assert f.dose_ng_per_h == 20_833
    assert f.dose_per_h_dropped_ng_per_day == 8
    assert f.dose_ng_per_day == 500 * MCG and f.conc_ng_per_ul == 500


def test_flow_rounds_down_and_reports_the_dropped_drug() -> None:
    # REQ: ITB-CON-03. 100.001 mcg/day at 2000 mcg/mL = 50.0005 uL/day -> 50_000 nL/day; the pump then
    # delivers 50_000 nL * 2000 ng/uL = 100_000 ng, 1 ng/day (= 1000 pg/day) less than prescribed.
    f = flow.flow(100_001, 2_000)
    assert f.flow_nl_per_day == 50_000
    assert f.flow_dropped_pg_per_day == 1_000


def test_flow_concentration_limits() -> None:
    # REQ: ITB-CON-04. 2000 mcg/mL is the highest strength; 2001 is refused.
    assert flow.flow(12 * MCG, 2_000).flow_nl_per_day == 6_000  # 12 mcg/day (spinal minimum)
    _bad(InputError, "conc_ng_per_ul", 2_001, flow.flow, 12 * MCG, 2_001)
    assert flow.flow(12 * MCG, 1).flow_nl_per_day == 12 * ML
    _bad(InputError, "conc_ng_per_ul", 0, flow.flow, 12 * MCG, 0)


def test_flow_below_one_nl_per_day_is_refused() -> None:
    # 2 ng/day at 2000 ng/uL is exactly 1 nL/day; 1 ng/day would round to a zero flow.
    assert flow.flow(2, 2_000).flow_nl_per_day == 1
    _bad(InputError, "dose_ng_per_day", 1, flow.flow, 1, 2_000)


def test_flow_bad_inputs() -> None:
    _bad(InputError, "dose_ng_per_day", 0, flow.flow, 0, 500)
    _bad(InputError, "dose_ng_per_day", -5, flow.flow, -5, 500)
    _bad(InputError, "dose_ng_per_day", True, flow.flow, True, 500)
    _bad(InputError, "dose_ng_per_day", 500.0, flow.flow, 500.0, 500)
    _bad(InputError, "conc_ng_per_ul", "500", flow.flow, 500_000, "500")
    _bad(InputError, "conc_ng_per_ul", -500, flow.flow, 500_000, -500)
