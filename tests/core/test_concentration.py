# Core tests of firmware_py.concentration. MicroPython subset: plain test_* functions and asserts,
# helpers from tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt,
# cited by file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import concentration
from firmware_py.errors import InputError, RefusedError
from tests.core.support import DAY, MCG, ML
from tests.core.support import refused_naming as _bad

_RES = 20 * ML
_FMIN = 48_000
_FMAX = 24 * ML


def test_choose_lowest_labeled_strength_that_lasts() -> None:
    # REQ: ITB-CON-01, ITB-CON-03. 500 mcg/day: 500 mcg/mL -> 1 mL/day -> 18 days of 18 mL;
    # 1000 -> 36 days; 2000 -> 72 days.
    c = concentration.choose_concentration(500 * MCG, _RES, _FMIN, _FMAX, 18 * DAY)
    assert c.conc_ng_per_ul == 500 and c.labeled and not c.dilution_needed
    assert c.flow_nl_per_day == 1 * ML
    assert c.supply_s == 18 * DAY and c.supply_days == 18
    assert c.usable_nl == 18 * ML
    assert "ITB-CON-01" in c.rule_ids
    # One second more than 500 mcg/mL lasts -> the next strength.
    c = concentration.choose_concentration(500 * MCG, _RES, _FMIN, _FMAX, 18 * DAY + 1)
    assert c.conc_ng_per_ul == 1_000 and c.supply_days == 36 and c.flow_nl_per_day == 500_000
    c = concentration.choose_concentration(500 * MCG, _RES, _FMIN, _FMAX, 72 * DAY)
    assert c.conc_ng_per_ul == 2_000 and c.flow_nl_per_day == 250_000


def test_choose_beyond_2000_is_refused() -> None:
    # REQ: ITB-CON-04, ITB-REF-01. 72 days + 1 s would need more than 2000 mcg/mL.
    _bad(
        RefusedError,
        "refill_interval_s",
        72 * DAY + 1,
        concentration.choose_concentration,
        500 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        72 * DAY + 1,
    )


def test_choose_custom_dilution_when_the_flow_would_be_too_low() -> None:
    # REQ: ITB-CON-02, ITB-SCR-05. 20 mcg/day at 500 mcg/mL is 40 uL/day, under the 48 uL/day minimum, so
    # no labeled strength fits. For 90 days, 18 mL must hold 90 * 20 = 1800 mcg: 100 mcg/mL exactly.
    c = concentration.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 90 * DAY)
    assert c.conc_ng_per_ul == 100 and not c.labeled and c.dilution_needed
    assert c.flow_nl_per_day == 200_000 and c.supply_s == 90 * DAY
    assert "ITB-CON-02" in c.rule_ids
    # One second more needs 100.0000129 mcg/mL -> 101.
    c = concentration.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 90 * DAY + 1)
    assert c.conc_ng_per_ul == 101
    # 45 days needs exactly 50 mcg/mL: still a dilution of stock, never the screening ampule.
    c = concentration.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 45 * DAY)
    assert c.conc_ng_per_ul == 50 and c.dilution_needed and not c.labeled


def test_choose_min_flow_conflict() -> None:
    # 20 mcg/day keeps the flow >= 48 uL/day only up to 416 mcg/mL (20000/48 = 416.7).
    # 374 days needs 374 * 20 / 18 = 415.6 -> 416 mcg/mL, flow 48_076 nL/day: fits.
    c = concentration.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 374 * DAY)
    assert c.conc_ng_per_ul == 416 and c.flow_nl_per_day == 48_076
    # 375 days needs 416.7 -> 417 mcg/mL, flow 47_961 nL/day: under the minimum.
    _bad(
        InputError,
        "min_flow_nl_per_day",
        _FMIN,
        concentration.choose_concentration,
        20 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        375 * DAY,
    )


def test_choose_max_flow_conflict() -> None:
    # REQ: ITB-CON-04. 2000 mcg/day at 2000 mcg/mL is exactly 1 mL/day: fits a 1 mL/day maximum, and
    # 1 nL/day less is refused (it would need more than 2000 mcg/mL).
    c = concentration.choose_concentration(2_000 * MCG, _RES, _FMIN, 1 * ML, 14 * DAY)
    assert c.conc_ng_per_ul == 2_000 and c.flow_nl_per_day == 1 * ML
    _bad(
        RefusedError,
        "max_flow_nl_per_day",
        ML - 1,
        concentration.choose_concentration,
        2_000 * MCG,
        _RES,
        _FMIN,
        ML - 1,
        14 * DAY,
    )


def test_choose_constant_flow_pump_rounds_concentration_down() -> None:
    # REQ: ITB-CON-03. Fixed 1.5 mL/day, 500 mcg/day: 333.3 mcg/mL -> 333 (a higher concentration at a
    # fixed flow would be more drug). Delivered 1.5 mL * 333 = 499.5 mcg/day: 0.5 mcg = 500_000 pg less.
    c = concentration.choose_concentration(
        500 * MCG, _RES, _FMIN, _FMAX, 10 * DAY, pump_kind="constant-flow", fixed_flow_nl_per_day=1_500_000
    )
    assert c.conc_ng_per_ul == 333 and c.dilution_needed and c.pump_kind == "constant-flow"
    assert c.flow_nl_per_day == 1_500_000 and c.flow_dropped_pg_per_day == 500_000
    assert c.supply_s == 12 * DAY  # 18 mL / 1.5 mL/day
    c = concentration.choose_concentration(
        500 * MCG, _RES, _FMIN, _FMAX, 18 * DAY, pump_kind="constant-flow", fixed_flow_nl_per_day=ML
    )
    assert c.conc_ng_per_ul == 500 and c.labeled
    _bad(
        InputError,
        "refill_interval_s",
        18 * DAY + 1,
        concentration.choose_concentration,
        500 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        18 * DAY + 1,
        pump_kind="constant-flow",
        fixed_flow_nl_per_day=ML,
    )


def test_choose_bad_inputs() -> None:
    cc = concentration.choose_concentration
    _bad(InputError, "dose_ng_per_day", 0, cc, 0, _RES, _FMIN, _FMAX, DAY)
    _bad(InputError, "reservoir_nl", -1, cc, 500 * MCG, -1, _FMIN, _FMAX, DAY)
    _bad(InputError, "min_flow_nl_per_day", 0, cc, 500 * MCG, _RES, 0, _FMAX, DAY)
    _bad(InputError, "max_flow_nl_per_day", _FMIN - 1, cc, 500 * MCG, _RES, _FMIN, _FMIN - 1, DAY)
    _bad(InputError, "refill_interval_s", 0, cc, 500 * MCG, _RES, _FMIN, _FMAX, 0)
    # The alarm volume must leave something usable.
    _bad(InputError, "alarm_nl", _RES, cc, 500 * MCG, _RES, _FMIN, _FMAX, DAY, alarm_nl=_RES)
    assert cc(500 * MCG, _RES, _FMIN, _FMAX, DAY, alarm_nl=_RES - 1 * ML).usable_nl == 1 * ML
    _bad(InputError, "alarm_nl", -1, cc, 500 * MCG, _RES, _FMIN, _FMAX, DAY, alarm_nl=-1)
    _bad(InputError, "pump_kind", "constant", cc, 500 * MCG, _RES, _FMIN, _FMAX, DAY, pump_kind="constant")
    _bad(
        InputError,
        "fixed_flow_nl_per_day",
        None,
        cc,
        500 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        DAY,
        pump_kind="constant-flow",
    )
    _bad(
        InputError,
        "fixed_flow_nl_per_day",
        ML,
        cc,
        500 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        DAY,
        fixed_flow_nl_per_day=ML,
    )
    _bad(
        InputError,
        "fixed_flow_nl_per_day",
        _FMIN - 1,
        cc,
        500 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        DAY,
        pump_kind="constant-flow",
        fixed_flow_nl_per_day=_FMIN - 1,
    )
    # 4001 mcg/day at a fixed 2 mL/day would need 2000.5 -> 2000 mcg/mL (rounded down, fits);
    # 4002 mcg/day needs 2001.
    c = cc(4_001 * MCG, _RES, _FMIN, _FMAX, DAY, pump_kind="constant-flow", fixed_flow_nl_per_day=2 * ML)
    assert c.conc_ng_per_ul == 2_000
    _bad(
        RefusedError,
        "dose_ng_per_day",
        4_002 * MCG,
        cc,
        4_002 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        DAY,
        pump_kind="constant-flow",
        fixed_flow_nl_per_day=2 * ML,
    )
