# Core tests of firmware_py.refill. MicroPython subset: plain test_* functions and asserts, helpers from
# tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt, cited by
# file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import refill
from firmware_py.errors import InputError
from firmware_py.schedule import Schedule
from tests.core.support import DAY, MCG, ML, H
from tests.core.support import refused_naming as _bad


def test_refill_20_ml_at_1_ml_per_day() -> None:
    # REQ: ITB-REF-01. 20 mL of 500 mcg/mL at 500 mcg/day (1 mL/day), alarm at 2 mL: alarm in 18 days,
    # empty in 20, refill booked 4 days before the alarm.
    f = refill.refill_forecast(20 * ML, 500, 500 * MCG, start_s=1_000)
    assert f.alarm_in_s == 18 * DAY and f.alarm_in_days == 18
    assert f.empty_in_s == 20 * DAY and f.empty_in_days == 20
    assert f.alarm_at_s == 1_000 + 18 * DAY and f.empty_at_s == 1_000 + 20 * DAY
    assert f.refill_at_s == 1_000 + 14 * DAY
    assert not f.alarm_now and not f.refill_overdue


def test_refill_rounds_down() -> None:
    # 700 mcg/day = 1.4 mL/day: 18 mL lasts 12.857142 days = 1_110_857.14 s -> 1_110_857 s, 12 days.
    f = refill.refill_forecast(20 * ML, 500, 700 * MCG)
    assert f.alarm_in_s == 1_110_857 and f.alarm_in_days == 12
    # Empty: 20 / 1.4 days = 1_234_285.7 s -> 1_234_285.
    assert f.empty_in_s == 1_234_285 and f.empty_in_days == 14


def test_refill_at_and_just_over_the_alarm_volume() -> None:
    # REQ: ITB-REF-01. 2 mL left with a 2 mL alarm: alarm now, refill now, empty in 2 days.
    f = refill.refill_forecast(2 * ML, 500, 500 * MCG, start_s=50)
    assert f.alarm_now and f.alarm_in_s == 0 and f.alarm_at_s == 50
    assert f.refill_overdue and f.refill_at_s == 50 and f.empty_in_s == 2 * DAY
    # 1 nL over the alarm: 0.0864 s -> 0 s, but the alarm has not sounded yet.
    f = refill.refill_forecast(2 * ML + 1, 500, 500 * MCG)
    assert not f.alarm_now and f.alarm_in_s == 0
    f = refill.refill_forecast(0, 500, 500 * MCG)
    assert f.alarm_now and f.empty_in_s == 0
    # A 4 mL alarm (some centres).
    f = refill.refill_forecast(20 * ML, 500, 500 * MCG, alarm_nl=4 * ML)
    assert f.alarm_in_s == 16 * DAY


def test_refill_margin_limits() -> None:
    # Refills booked 3-5 days before the alarm (DESIGN.md).
    f = refill.refill_forecast(20 * ML, 500, 500 * MCG, margin_s=3 * DAY)
    assert f.refill_at_s == 15 * DAY
    f = refill.refill_forecast(20 * ML, 500, 500 * MCG, margin_s=5 * DAY)
    assert f.refill_at_s == 13 * DAY
    _bad(
        InputError,
        "margin_s",
        3 * DAY - 1,
        refill.refill_forecast,
        20 * ML,
        500,
        500 * MCG,
        margin_s=3 * DAY - 1,
    )
    _bad(
        InputError,
        "margin_s",
        5 * DAY + 1,
        refill.refill_forecast,
        20 * ML,
        500,
        500 * MCG,
        margin_s=5 * DAY + 1,
    )
    # Alarm in exactly 4 days: refill today, not overdue; 1 nL less: overdue.
    f = refill.refill_forecast(6 * ML, 500, 500 * MCG)
    assert f.refill_at_s == 0 and not f.refill_overdue
    f = refill.refill_forecast(6 * ML - 1, 500, 500 * MCG)
    assert f.refill_at_s == 0 and f.refill_overdue


def test_refill_with_a_schedule() -> None:
    # REQ: ITB-REF-01, ITB-SCH-03. 400 mcg/day 00:00-12:00, 800 mcg/day 12:00-24:00 (600 mcg per day).
    # 12 mL of 500 mcg/mL with a 2 mL alarm: 10 mL = 5000 mcg before the alarm. From midnight:
    # 8 days give 4800 mcg, the next 200 mcg take 12 h at 400/day -> 8.5 days.
    sched = Schedule(DAY, [(0, 400 * MCG), (12 * H, 800 * MCG)])
    f = refill.refill_forecast(12 * ML, 500, sched)
    assert f.alarm_in_s == 8 * DAY + 12 * H
    # From noon: 8 days, then 200 mcg at 800/day = 6 h.
    f = refill.refill_forecast(12 * ML, 500, sched, start_s=12 * H)
    assert f.alarm_in_s == 8 * DAY + 6 * H and f.alarm_at_s == 12 * H + 8 * DAY + 6 * H
    # From midnight, 1 mL (1000 nL) more holds 1 mcg more: 108 s at 800 mcg/day, exactly.
    assert refill.refill_forecast(12 * ML + 2_000, 500, sched).alarm_in_s == 8 * DAY + 12 * H + 108
    # 1 nL more again (0.5 ng, 0.054 s) rounds down to the same second.
    assert refill.refill_forecast(12 * ML + 2_001, 500, sched).alarm_in_s == 8 * DAY + 12 * H + 108
    # Empty: 12 mL = 6000 mcg = 10 whole days from any start.
    assert f.empty_in_s == 10 * DAY
    assert refill.refill_forecast(12 * ML, 500, sched).empty_in_s == 10 * DAY
    # A constant schedule agrees with the plain dose.
    const = Schedule(DAY, [(0, 700 * MCG)])
    assert refill.refill_forecast(20 * ML, 500, const).alarm_in_s == 1_110_857


def test_refill_bad_inputs() -> None:
    rf = refill.refill_forecast
    _bad(InputError, "volume_nl", -1, rf, -1, 500, 500 * MCG)
    _bad(InputError, "conc_ng_per_ul", 0, rf, ML, 0, 500 * MCG)
    _bad(InputError, "dose_ng_per_day", 0, rf, ML, 500, 0)
    _bad(InputError, "dose_ng_per_day", "500", rf, ML, 500, "500")
    _bad(InputError, "start_s", -1, rf, ML, 500, 500 * MCG, start_s=-1)
    _bad(InputError, "alarm_nl", -1, rf, ML, 500, 500 * MCG, alarm_nl=-1)


def test_residual_20_ml_pump_threshold_1_ml() -> None:
    # REQ: ITB-REF-02 (DESIGN.md): more than 1 mL off on a 20 mL pump is flagged; exactly 1 mL is not.
    c = refill.residual_check(20 * ML, 5 * ML, 6 * ML)
    assert c.difference_nl == ML and c.threshold_nl == ML and not c.flagged
    assert refill.residual_check(20 * ML, 5 * ML, 6 * ML + 1).flagged
    assert not refill.residual_check(20 * ML, 5 * ML, 4 * ML).flagged
    c = refill.residual_check(20 * ML, 5 * ML, 4 * ML - 1)
    assert c.flagged and c.difference_nl == -ML - 1


def test_residual_40_ml_pump_threshold_2_ml() -> None:
    # REQ: ITB-REF-02.
    assert not refill.residual_check(40 * ML, 10 * ML, 12 * ML).flagged
    assert refill.residual_check(40 * ML, 10 * ML, 12 * ML + 1).flagged
    assert not refill.residual_check(40 * ML, 10 * ML, 8 * ML).flagged
    assert refill.residual_check(40 * ML, 10 * ML, 8 * ML - 1).flagged


def test_residual_other_sizes_use_5_percent() -> None:
    # Project choice: 5 % of capacity, rounded down. 10 mL -> 0.5 mL; 30 mL + 1 nL -> 1_500_000 nL.
    c = refill.residual_check(10 * ML, 5 * ML, 5 * ML + 500_000)
    assert c.threshold_nl == 500_000 and not c.flagged
    assert refill.residual_check(10 * ML, 5 * ML, 5 * ML + 500_001).flagged
    assert refill.residual_check(30 * ML + 1, 0, 0).threshold_nl == 1_500_000


def test_residual_bad_inputs() -> None:
    rc = refill.residual_check
    _bad(InputError, "reservoir_capacity_nl", 0, rc, 0, 0, 0)
    _bad(InputError, "expected_residual_nl", 20 * ML + 1, rc, 20 * ML, 20 * ML + 1, 0)
    _bad(InputError, "measured_residual_nl", -1, rc, 20 * ML, 0, -1)
    _bad(InputError, "measured_residual_nl", 20 * ML + 1, rc, 20 * ML, 0, 20 * ML + 1)
