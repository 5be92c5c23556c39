# Core tests of firmware_py.dosing. MicroPython subset: plain test_* functions and asserts, helpers from
# tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt, cited by
# file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import dosing
from firmware_py.errors import InputError, ItbError, LimitError
from firmware_py.schedule import Schedule
from tests.core.support import names_field, raises

DAY = 86_400
H = 3_600
ML = 1_000_000  # nL
MCG = 1_000  # ng


def _bad(
    exc_type: type[BaseException], field: str, value: object, fn: object, *args: object, **kw: object
) -> None:
    # The call must raise exc_type (an ItbError) whose message names field and value.
    exc = raises(exc_type, fn, *args, **kw)
    assert isinstance(exc, ItbError), exc
    assert exc.field == field, (exc.field, field)
    assert names_field(exc, field, value), str(exc)


# --- 1. flow -------------------------------------------------------------------------------------


def test_flow_labeling_500_mcg_per_day_at_500_mcg_per_ml_is_1_ml_per_day() -> None:
    # REQ: ITB-CON-03. 500 mcg/day of 500 mcg/mL is 1 mL/day = 1_000_000 nL/day.
    f = dosing.flow(500 * MCG, 500)
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
    f = dosing.flow(100_001, 2_000)
    assert f.flow_nl_per_day == 50_000
    assert f.flow_dropped_pg_per_day == 1_000


def test_flow_concentration_limits() -> None:
    # REQ: ITB-CON-04. 2000 mcg/mL is the highest strength; 2001 is refused.
    assert dosing.flow(12 * MCG, 2_000).flow_nl_per_day == 6_000  # 12 mcg/day (spinal minimum)
    _bad(InputError, "conc_ng_per_ul", 2_001, dosing.flow, 12 * MCG, 2_001)
    assert dosing.flow(12 * MCG, 1).flow_nl_per_day == 12 * ML
    _bad(InputError, "conc_ng_per_ul", 0, dosing.flow, 12 * MCG, 0)


def test_flow_below_one_nl_per_day_is_refused() -> None:
    # 2 ng/day at 2000 ng/uL is exactly 1 nL/day; 1 ng/day would round to a zero flow.
    assert dosing.flow(2, 2_000).flow_nl_per_day == 1
    _bad(InputError, "dose_ng_per_day", 1, dosing.flow, 1, 2_000)


def test_flow_bad_inputs() -> None:
    _bad(InputError, "dose_ng_per_day", 0, dosing.flow, 0, 500)
    _bad(InputError, "dose_ng_per_day", -5, dosing.flow, -5, 500)
    _bad(InputError, "dose_ng_per_day", True, dosing.flow, True, 500)
    _bad(InputError, "dose_ng_per_day", 500.0, dosing.flow, 500.0, 500)
    _bad(InputError, "conc_ng_per_ul", "500", dosing.flow, 500_000, "500")
    _bad(InputError, "conc_ng_per_ul", -500, dosing.flow, 500_000, -500)


# --- 2. concentration choice ---------------------------------------------------------------------

# A 20 mL pump with a 2 mL alarm (18 mL usable), flows 0.048 to 24 mL/day.
_RES = 20 * ML
_FMIN = 48_000
_FMAX = 24 * ML


def test_choose_lowest_labeled_strength_that_lasts() -> None:
    # REQ: ITB-CON-01, ITB-CON-03. 500 mcg/day: 500 mcg/mL -> 1 mL/day -> 18 days of 18 mL;
    # 1000 -> 36 days; 2000 -> 72 days.
    c = dosing.choose_concentration(500 * MCG, _RES, _FMIN, _FMAX, 18 * DAY)
    assert c.conc_ng_per_ul == 500 and c.labeled and not c.dilution_needed
    assert c.flow_nl_per_day == 1 * ML
    assert c.supply_s == 18 * DAY and c.supply_days == 18
    assert c.usable_nl == 18 * ML
    assert "ITB-CON-01" in c.rule_ids
    # One second more than 500 mcg/mL lasts -> the next strength.
    c = dosing.choose_concentration(500 * MCG, _RES, _FMIN, _FMAX, 18 * DAY + 1)
    assert c.conc_ng_per_ul == 1_000 and c.supply_days == 36 and c.flow_nl_per_day == 500_000
    c = dosing.choose_concentration(500 * MCG, _RES, _FMIN, _FMAX, 72 * DAY)
    assert c.conc_ng_per_ul == 2_000 and c.flow_nl_per_day == 250_000


def test_choose_beyond_2000_is_refused() -> None:
    # REQ: ITB-CON-04, ITB-REF-01. 72 days + 1 s would need more than 2000 mcg/mL.
    _bad(
        LimitError,
        "refill_interval_s",
        72 * DAY + 1,
        dosing.choose_concentration,
        500 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        72 * DAY + 1,
    )


def test_choose_custom_dilution_when_the_flow_would_be_too_low() -> None:
    # REQ: ITB-CON-02, ITB-SCR-05. 20 mcg/day at 500 mcg/mL is 40 uL/day, under the 48 uL/day minimum, so
    # no labeled strength fits. For 90 days, 18 mL must hold 90 * 20 = 1800 mcg: 100 mcg/mL exactly.
    c = dosing.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 90 * DAY)
    assert c.conc_ng_per_ul == 100 and not c.labeled and c.dilution_needed
    assert c.flow_nl_per_day == 200_000 and c.supply_s == 90 * DAY
    assert "ITB-CON-02" in c.rule_ids
    # One second more needs 100.0000129 mcg/mL -> 101.
    c = dosing.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 90 * DAY + 1)
    assert c.conc_ng_per_ul == 101
    # 45 days needs exactly 50 mcg/mL: still a dilution of stock, never the screening ampule.
    c = dosing.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 45 * DAY)
    assert c.conc_ng_per_ul == 50 and c.dilution_needed and not c.labeled


def test_choose_min_flow_conflict() -> None:
    # 20 mcg/day keeps the flow >= 48 uL/day only up to 416 mcg/mL (20000/48 = 416.7).
    # 374 days needs 374 * 20 / 18 = 415.6 -> 416 mcg/mL, flow 48_076 nL/day: fits.
    c = dosing.choose_concentration(20 * MCG, _RES, _FMIN, _FMAX, 374 * DAY)
    assert c.conc_ng_per_ul == 416 and c.flow_nl_per_day == 48_076
    # 375 days needs 416.7 -> 417 mcg/mL, flow 47_961 nL/day: under the minimum.
    _bad(
        InputError,
        "min_flow_nl_per_day",
        _FMIN,
        dosing.choose_concentration,
        20 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        375 * DAY,
    )


def test_choose_max_flow_conflict() -> None:
    # REQ: ITB-CON-04. 2000 mcg/day at 2000 mcg/mL is exactly 1 mL/day: fits a 1 mL/day maximum, and
    # 1 nL/day less is refused (it would need more than 2000 mcg/mL).
    c = dosing.choose_concentration(2_000 * MCG, _RES, _FMIN, 1 * ML, 14 * DAY)
    assert c.conc_ng_per_ul == 2_000 and c.flow_nl_per_day == 1 * ML
    _bad(
        LimitError,
        "max_flow_nl_per_day",
        ML - 1,
        dosing.choose_concentration,
        2_000 * MCG,
        _RES,
        _FMIN,
        ML - 1,
        14 * DAY,
    )


def test_choose_constant_flow_pump_rounds_concentration_down() -> None:
    # REQ: ITB-CON-03. Fixed 1.5 mL/day, 500 mcg/day: 333.3 mcg/mL -> 333 (a higher concentration at a
    # fixed flow would be more drug). Delivered 1.5 mL * 333 = 499.5 mcg/day: 0.5 mcg = 500_000 pg less.
    c = dosing.choose_concentration(
        500 * MCG, _RES, _FMIN, _FMAX, 10 * DAY, pump_kind="constant-flow", fixed_flow_nl_per_day=1_500_000
    )
    assert c.conc_ng_per_ul == 333 and c.dilution_needed and c.pump_kind == "constant-flow"
    assert c.flow_nl_per_day == 1_500_000 and c.flow_dropped_pg_per_day == 500_000
    assert c.supply_s == 12 * DAY  # 18 mL / 1.5 mL/day
    c = dosing.choose_concentration(
        500 * MCG, _RES, _FMIN, _FMAX, 18 * DAY, pump_kind="constant-flow", fixed_flow_nl_per_day=ML
    )
    assert c.conc_ng_per_ul == 500 and c.labeled
    _bad(
        InputError,
        "refill_interval_s",
        18 * DAY + 1,
        dosing.choose_concentration,
        500 * MCG,
        _RES,
        _FMIN,
        _FMAX,
        18 * DAY + 1,
        pump_kind="constant-flow",
        fixed_flow_nl_per_day=ML,
    )


def test_choose_bad_inputs() -> None:
    cc = dosing.choose_concentration
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
        LimitError,
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


# --- 3. dilution ---------------------------------------------------------------------------------


def test_dilute_exact_case() -> None:
    # REQ: ITB-CON-02. 20 mL of 500 mcg/mL from 2000 mcg/mL stock: 5 mL stock + 15 mL saline.
    d = dosing.dilute(2_000, 500, 20 * ML)
    assert d.stock_nl == 5 * ML and d.diluent_nl == 15 * ML
    assert (d.achieved_conc_num, d.achieved_conc_den) == (500, 1)
    assert d.achieved_ng_per_ml == 500_000 and d.program_conc_ng_per_ul == 500 and d.error_ppm == 0
    assert "preservative-free" in d.diluent


def test_dilute_rounds_stock_down_to_the_measuring_resolution() -> None:
    # REQ: ITB-CON-02, ITB-CON-04. 7 mL of 333 mcg/mL from 2000: exact stock 1.1655 mL -> 1.1 mL.
    # Achieved 2000 * 1.1 / 7 = 2200/7 = 314.2857 mcg/mL; the pump is told 315 (rounded up, lower flow);
    # error (2200/7 - 333) / 333 = -131/2331 = -56_199.06 ppm -> -56_200 (magnitude rounded up).
    d = dosing.dilute(2_000, 333, 7 * ML)
    assert d.stock_nl == 1_100_000 and d.diluent_nl == 5_900_000
    assert (d.achieved_conc_num, d.achieved_conc_den) == (2_200, 7)
    assert d.achieved_ng_per_ml == 314_285
    assert d.program_conc_ng_per_ul == 315
    assert d.error_ppm == -56_200
    # 20 mL of 333 from 2000: 3.33 mL -> 3.3 mL, achieved 330 exactly, error -3/333 = -9009.009 ppm.
    d = dosing.dilute(2_000, 333, 20 * ML)
    assert d.stock_nl == 3_300_000 and d.program_conc_ng_per_ul == 330 and d.error_ppm == -9_010


def test_dilute_target_equal_to_stock_and_above_it() -> None:
    # REQ: ITB-CON-04: never above the stock.
    d = dosing.dilute(500, 500, 20 * ML)
    assert d.stock_nl == 20 * ML and d.diluent_nl == 0
    _bad(LimitError, "target_conc_ng_per_ul", 501, dosing.dilute, 500, 501, 20 * ML)
    _bad(InputError, "stock_conc_ng_per_ul", 2_001, dosing.dilute, 2_001, 500, 20 * ML)
    # REQ: ITB-SCR-05: the 50 mcg/mL screening ampule is never diluted for a pump; 51 is just a number.
    _bad(LimitError, "stock_conc_ng_per_ul", 50, dosing.dilute, 50, 25, 20 * ML)
    assert dosing.dilute(51, 25, 20 * ML).stock_nl == 9_800_000  # 25 * 20 / 51 = 9.8039 mL -> 9.8


def test_dilute_resolution_limits() -> None:
    # 1 mL of 200 mcg/mL from 2000 needs exactly 0.1 mL of stock: one resolution step.
    assert dosing.dilute(2_000, 200, ML).stock_nl == 100_000
    # 199 mcg/mL needs 0.0995 mL: rounds to no stock at all.
    _bad(InputError, "resolution_nl", 100_000, dosing.dilute, 2_000, 199, ML)
    # The final volume must be a whole number of resolution steps.
    _bad(InputError, "final_volume_nl", ML + 1, dosing.dilute, 2_000, 500, ML + 1)
    assert dosing.dilute(2_000, 500, ML + 1, resolution_nl=1).stock_nl == 250_000  # 1_000_001/4 -> down


def test_dilute_bad_inputs() -> None:
    _bad(InputError, "target_conc_ng_per_ul", 0, dosing.dilute, 2_000, 0, ML)
    _bad(InputError, "stock_conc_ng_per_ul", -2_000, dosing.dilute, -2_000, 500, ML)
    _bad(InputError, "final_volume_nl", 0, dosing.dilute, 2_000, 500, 0)
    _bad(InputError, "final_volume_nl", -ML, dosing.dilute, 2_000, 500, -ML)
    _bad(InputError, "resolution_nl", 0, dosing.dilute, 2_000, 500, ML, resolution_nl=0)


# --- 4. screening --------------------------------------------------------------------------------


def test_screening_plan_labeling_numbers() -> None:
    # REQ: ITB-SCR-01, ITB-SCR-03 (002: 1 mL = 50 mcg, 1.5 mL = 75 mcg, 2 mL = 100 mcg, 24 h apart,
    # observe 4-8 h).
    plan = dosing.screening_plan()
    assert [p.dose_ng for p in plan] == [50 * MCG, 75 * MCG, 100 * MCG]
    assert [p.volume_nl for p in plan] == [1 * ML, 1_500_000, 2 * ML]
    assert [p.start_offset_s for p in plan] == [0, 86_400, 172_800]
    for p in plan:
        assert p.observe_min_s == 4 * H and p.observe_max_s == 8 * H


def test_screening_plan_very_small_child() -> None:
    # REQ: ITB-SCR-02, ITB-SCR-03. 25 mcg first (0.5 mL of the 50 mcg/mL ampule), then 75 and 100.
    plan = dosing.screening_plan(very_small_child=True)
    assert [p.dose_ng for p in plan] == [25 * MCG, 75 * MCG, 100 * MCG]
    assert [p.volume_nl for p in plan] == [500_000, 1_500_000, 2 * ML]
    _bad(InputError, "very_small_child", 1, dosing.screening_plan, 1)


def test_screening_next_sequence() -> None:
    # REQ: ITB-SCR-01, ITB-SCR-04.
    step = dosing.screening_next(False, [])
    assert step.kind == "dose" and step.dose is not None and step.dose.dose_ng == 50 * MCG
    step = dosing.screening_next(False, [False])
    assert step.dose is not None and step.dose.dose_ng == 75 * MCG and step.dose.start_offset_s == DAY
    step = dosing.screening_next(False, [False, False])
    assert step.dose is not None and step.dose.dose_ng == 100 * MCG
    step = dosing.screening_next(False, [False, False, False])
    assert step.kind == "not_candidate" and step.dose is None and "ITB-SCR-04" in step.rule_ids
    step = dosing.screening_next(False, [True])
    assert step.kind == "positive" and step.positive_dose_ng == 50 * MCG and "50" in step.message
    step = dosing.screening_next(False, [False, True])
    assert step.positive_dose_ng == 75 * MCG
    step = dosing.screening_next(False, [False, False, True])
    assert step.kind == "positive" and step.positive_dose_ng == 100 * MCG


def test_screening_next_with_a_plan_and_a_small_child() -> None:
    # REQ: ITB-SCR-02.
    assert dosing.screening_next(True, [True]).positive_dose_ng == 25 * MCG
    plan = dosing.screening_plan(True)
    step = dosing.screening_next(plan, [])
    assert step.dose is not None and step.dose.volume_nl == 500_000


def test_screening_next_bad_inputs() -> None:
    _bad(InputError, "responses", [True, False], dosing.screening_next, False, [True, False])
    _bad(InputError, "responses", [False] * 4, dosing.screening_next, False, [False] * 4)
    _bad(InputError, "responses", 1, dosing.screening_next, False, [1])
    _bad(InputError, "plan_or_child_flag", "yes", dosing.screening_next, "yes", [])
    _bad(InputError, "plan_or_child_flag", [], dosing.screening_next, [], [])


# --- 5. initial dose -----------------------------------------------------------------------------


def test_initial_dose_labeling_numbers() -> None:
    # REQ: ITB-INI-01, ITB-INI-02 (001, 002): 2 x 50 mcg = 100 mcg/day; 75 mcg lasting 9 h -> 75 mcg/day;
    # "more than 8 hours": exactly 8 h still doubles -> 150 mcg/day; 8 h + 1 s -> 75.
    assert dosing.initial_daily_dose(50 * MCG, 4 * H) == 100 * MCG
    assert dosing.initial_daily_dose(75 * MCG, 9 * H) == 75 * MCG
    assert dosing.initial_daily_dose(75 * MCG, 8 * H) == 150 * MCG
    assert dosing.initial_daily_dose(75 * MCG, 8 * H + 1) == 75 * MCG
    assert dosing.initial_daily_dose(100 * MCG, 1) == 200 * MCG
    assert dosing.initial_daily_dose(25 * MCG, 5 * H) == 50 * MCG  # ITB-SCR-02 dose


def test_initial_dose_bad_inputs() -> None:
    _bad(InputError, "screening_dose_ng", 60 * MCG, dosing.initial_daily_dose, 60 * MCG, 4 * H)
    _bad(InputError, "screening_dose_ng", 50, dosing.initial_daily_dose, 50, 4 * H)  # mcg, not ng
    _bad(InputError, "effect_duration_s", 0, dosing.initial_daily_dose, 50 * MCG, 0)
    assert dosing.initial_daily_dose(50 * MCG, DAY) == 50 * MCG
    _bad(InputError, "effect_duration_s", DAY + 1, dosing.initial_daily_dose, 50 * MCG, DAY + 1)


# --- 6. refill forecast --------------------------------------------------------------------------


def test_refill_20_ml_at_1_ml_per_day() -> None:
    # REQ: ITB-REF-01. 20 mL of 500 mcg/mL at 500 mcg/day (1 mL/day), alarm at 2 mL: alarm in 18 days,
    # empty in 20, refill booked 4 days before the alarm.
    f = dosing.refill_forecast(20 * ML, 500, 500 * MCG, start_s=1_000)
    assert f.alarm_in_s == 18 * DAY and f.alarm_in_days == 18
    assert f.empty_in_s == 20 * DAY and f.empty_in_days == 20
    assert f.alarm_at_s == 1_000 + 18 * DAY and f.empty_at_s == 1_000 + 20 * DAY
    assert f.refill_at_s == 1_000 + 14 * DAY
    assert not f.alarm_now and not f.refill_overdue


def test_refill_rounds_down() -> None:
    # 700 mcg/day = 1.4 mL/day: 18 mL lasts 12.857142 days = 1_110_857.14 s -> 1_110_857 s, 12 days.
    f = dosing.refill_forecast(20 * ML, 500, 700 * MCG)
    assert f.alarm_in_s == 1_110_857 and f.alarm_in_days == 12
    # Empty: 20 / 1.4 days = 1_234_285.7 s -> 1_234_285.
    assert f.empty_in_s == 1_234_285 and f.empty_in_days == 14


def test_refill_at_and_just_over_the_alarm_volume() -> None:
    # REQ: ITB-REF-01. 2 mL left with a 2 mL alarm: alarm now, refill now, empty in 2 days.
    f = dosing.refill_forecast(2 * ML, 500, 500 * MCG, start_s=50)
    assert f.alarm_now and f.alarm_in_s == 0 and f.alarm_at_s == 50
    assert f.refill_overdue and f.refill_at_s == 50 and f.empty_in_s == 2 * DAY
    # 1 nL over the alarm: 0.0864 s -> 0 s, but the alarm has not sounded yet.
    f = dosing.refill_forecast(2 * ML + 1, 500, 500 * MCG)
    assert not f.alarm_now and f.alarm_in_s == 0
    f = dosing.refill_forecast(0, 500, 500 * MCG)
    assert f.alarm_now and f.empty_in_s == 0
    # A 4 mL alarm (some centres).
    f = dosing.refill_forecast(20 * ML, 500, 500 * MCG, alarm_nl=4 * ML)
    assert f.alarm_in_s == 16 * DAY


def test_refill_margin_limits() -> None:
    # Refills booked 3-5 days before the alarm (DESIGN.md).
    f = dosing.refill_forecast(20 * ML, 500, 500 * MCG, margin_s=3 * DAY)
    assert f.refill_at_s == 15 * DAY
    f = dosing.refill_forecast(20 * ML, 500, 500 * MCG, margin_s=5 * DAY)
    assert f.refill_at_s == 13 * DAY
    _bad(
        InputError,
        "margin_s",
        3 * DAY - 1,
        dosing.refill_forecast,
        20 * ML,
        500,
        500 * MCG,
        margin_s=3 * DAY - 1,
    )
    _bad(
        InputError,
        "margin_s",
        5 * DAY + 1,
        dosing.refill_forecast,
        20 * ML,
        500,
        500 * MCG,
        margin_s=5 * DAY + 1,
    )
    # Alarm in exactly 4 days: refill today, not overdue; 1 nL less: overdue.
    f = dosing.refill_forecast(6 * ML, 500, 500 * MCG)
    assert f.refill_at_s == 0 and not f.refill_overdue
    f = dosing.refill_forecast(6 * ML - 1, 500, 500 * MCG)
    assert f.refill_at_s == 0 and f.refill_overdue


def test_refill_with_a_schedule() -> None:
    # REQ: ITB-REF-01, ITB-SCH-03. 400 mcg/day 00:00-12:00, 800 mcg/day 12:00-24:00 (600 mcg per day).
    # 12 mL of 500 mcg/mL with a 2 mL alarm: 10 mL = 5000 mcg before the alarm. From midnight:
    # 8 days give 4800 mcg, the next 200 mcg take 12 h at 400/day -> 8.5 days.
    sched = Schedule(DAY, [(0, 400 * MCG), (12 * H, 800 * MCG)])
    f = dosing.refill_forecast(12 * ML, 500, sched)
    assert f.alarm_in_s == 8 * DAY + 12 * H
    # From noon: 8 days, then 200 mcg at 800/day = 6 h.
    f = dosing.refill_forecast(12 * ML, 500, sched, start_s=12 * H)
    assert f.alarm_in_s == 8 * DAY + 6 * H and f.alarm_at_s == 12 * H + 8 * DAY + 6 * H
    # From midnight, 1 mL (1000 nL) more holds 1 mcg more: 108 s at 800 mcg/day, exactly.
    assert dosing.refill_forecast(12 * ML + 2_000, 500, sched).alarm_in_s == 8 * DAY + 12 * H + 108
    # 1 nL more again (0.5 ng, 0.054 s) rounds down to the same second.
    assert dosing.refill_forecast(12 * ML + 2_001, 500, sched).alarm_in_s == 8 * DAY + 12 * H + 108
    # Empty: 12 mL = 6000 mcg = 10 whole days from any start.
    assert f.empty_in_s == 10 * DAY
    assert dosing.refill_forecast(12 * ML, 500, sched).empty_in_s == 10 * DAY
    # A constant schedule agrees with the plain dose.
    const = Schedule(DAY, [(0, 700 * MCG)])
    assert dosing.refill_forecast(20 * ML, 500, const).alarm_in_s == 1_110_857


def test_refill_bad_inputs() -> None:
    rf = dosing.refill_forecast
    _bad(InputError, "volume_nl", -1, rf, -1, 500, 500 * MCG)
    _bad(InputError, "conc_ng_per_ul", 0, rf, ML, 0, 500 * MCG)
    _bad(InputError, "dose_ng_per_day", 0, rf, ML, 500, 0)
    _bad(InputError, "dose_ng_per_day", "500", rf, ML, 500, "500")
    _bad(InputError, "start_s", -1, rf, ML, 500, 500 * MCG, start_s=-1)
    _bad(InputError, "alarm_nl", -1, rf, ML, 500, 500 * MCG, alarm_nl=-1)


# --- 7. residual (pocket-fill) check -------------------------------------------------------------


def test_residual_20_ml_pump_threshold_1_ml() -> None:
    # REQ: ITB-REF-02 (DESIGN.md): more than 1 mL off on a 20 mL pump is flagged; exactly 1 mL is not.
    c = dosing.residual_check(20 * ML, 5 * ML, 6 * ML)
    assert c.difference_nl == ML and c.threshold_nl == ML and not c.flagged
    assert dosing.residual_check(20 * ML, 5 * ML, 6 * ML + 1).flagged
    assert not dosing.residual_check(20 * ML, 5 * ML, 4 * ML).flagged
    c = dosing.residual_check(20 * ML, 5 * ML, 4 * ML - 1)
    assert c.flagged and c.difference_nl == -ML - 1


def test_residual_40_ml_pump_threshold_2_ml() -> None:
    # REQ: ITB-REF-02.
    assert not dosing.residual_check(40 * ML, 10 * ML, 12 * ML).flagged
    assert dosing.residual_check(40 * ML, 10 * ML, 12 * ML + 1).flagged
    assert not dosing.residual_check(40 * ML, 10 * ML, 8 * ML).flagged
    assert dosing.residual_check(40 * ML, 10 * ML, 8 * ML - 1).flagged


def test_residual_other_sizes_use_5_percent() -> None:
    # Project choice: 5 % of capacity, rounded down. 10 mL -> 0.5 mL; 30 mL + 1 nL -> 1_500_000 nL.
    c = dosing.residual_check(10 * ML, 5 * ML, 5 * ML + 500_000)
    assert c.threshold_nl == 500_000 and not c.flagged
    assert dosing.residual_check(10 * ML, 5 * ML, 5 * ML + 500_001).flagged
    assert dosing.residual_check(30 * ML + 1, 0, 0).threshold_nl == 1_500_000


def test_residual_bad_inputs() -> None:
    rc = dosing.residual_check
    _bad(InputError, "reservoir_capacity_nl", 0, rc, 0, 0, 0)
    _bad(InputError, "expected_residual_nl", 20 * ML + 1, rc, 20 * ML, 20 * ML + 1, 0)
    _bad(InputError, "measured_residual_nl", -1, rc, 20 * ML, 0, -1)
    _bad(InputError, "measured_residual_nl", 20 * ML + 1, rc, 20 * ML, 0, 20 * ML + 1)


# --- 8. bridge bolus -----------------------------------------------------------------------------


def test_bridge_500_to_2000() -> None:
    # REQ: ITB-BRG-01. 0.2 mL pump tubing + 50 cm catheter at 0.0026 mL/cm (0.13 mL) = 0.33 mL of old
    # 500 mcg/mL drug. 500 mcg/day: old flow 1 mL/day, new (2000) 0.25 mL/day.
    b = dosing.bridge(200_000, 500, 500, 2_000, 500 * MCG)
    assert b.needed and b.catheter_nl == 130_000 and b.dead_volume_nl == 330_000
    assert b.old_flow_nl_per_day == ML and b.new_flow_nl_per_day == 250_000
    # 0.33 mL at the old 1 mL/day takes 0.33 day = 28_512 s; at the new flow 1.32 days = 114_048 s.
    assert b.bridge_flow_nl_per_day == ML and b.bridge_volume_nl == 330_000
    assert b.bridge_duration_s == 28_512
    assert b.clear_at_new_flow_s == 114_048
    # The bridge delivers 0.33 mL * 500 mcg/mL = 165 mcg in 0.33 day: 500 mcg/day, continuous.
    assert b.bridge_volume_nl * 500 * DAY == 500 * MCG * 1_000 * b.bridge_duration_s


def test_bridge_rounding() -> None:
    # Catheter volume rounds up: 1 mm at 2601 nL/cm = 260.1 nL -> 261.
    b = dosing.bridge(0, 1, 500, 1_000, 500 * MCG, catheter_nl_per_cm=2_601)
    assert b.catheter_nl == 261
    # Duration rounds down: 100_001 nL at 1 mL/day = 8640.0864 s -> 8640.
    b = dosing.bridge(100_001, 0, 500, 1_000, 500 * MCG)
    assert b.bridge_duration_s == 8_640
    # ... while the time old drug keeps arriving at the new flow rounds up: 100_001 nL at 0.5 mL/day
    # = 17_280.17 s -> 17_281.
    assert b.clear_at_new_flow_s == 17_281


def test_bridge_same_concentration_and_bad_inputs() -> None:
    assert not dosing.bridge(200_000, 500, 500, 500, 500 * MCG).needed
    br = dosing.bridge
    _bad(InputError, "catheter_length_mm", 0, br, 0, 0, 500, 2_000, 500 * MCG)
    _bad(InputError, "internal_volume_nl", -1, br, -1, 500, 500, 2_000, 500 * MCG)
    _bad(InputError, "catheter_length_mm", -1, br, 0, -1, 500, 2_000, 500 * MCG)
    _bad(InputError, "old_conc_ng_per_ul", 2_001, br, 0, 500, 2_001, 2_000, 500 * MCG)
    _bad(InputError, "new_conc_ng_per_ul", 0, br, 0, 500, 500, 0, 500 * MCG)
    _bad(InputError, "dose_ng_per_day", 0, br, 0, 500, 500, 2_000, 0)
    _bad(InputError, "catheter_nl_per_cm", 0, br, 0, 500, 500, 2_000, 500 * MCG, catheter_nl_per_cm=0)


# --- 9. taper and restart ------------------------------------------------------------------------


def _check_taper(
    plan: list[tuple[int, int]], current: int, floor_dose: int, duration: int, limit: int
) -> None:
    # REQ: ITB-HOL-01, ITB-MNT-03, ITB-DIS-01, ITB-TIT-04.
    assert plan, plan
    prev_dose = current
    prev_t = -DAY
    for t, dose in plan:
        assert t - prev_t >= DAY, plan  # at least 24 h apart
        assert 0 <= t < duration, plan
        assert 0 < dose < prev_dose, plan  # a decrease, never to 0
        assert (prev_dose - dose) * 1_000 <= limit * prev_dose, plan  # no cut over the limit
        prev_dose, prev_t = dose, t
    assert plan[-1][1] == floor_dose


def test_taper_500_to_100_mcg_over_two_weeks() -> None:
    plan = dosing.taper_plan(500 * MCG, 100 * MCG, 14 * DAY)
    _check_taper(plan, 500 * MCG, 100 * MCG, 14 * DAY, 200)
    # Greedy 20 % cuts would reach 100 mcg in 8 days (0.8^7 = 0.21, 0.8^8 = 0.17); the plan spreads
    # the reduction over the whole two weeks instead.
    assert len(plan) > 8
    assert plan[0][1] > 400 * MCG  # the first cut is smaller than 20 %


def test_taper_step_limit_and_reach() -> None:
    # 2000 mcg/day cut by 20 % once a day for 14 days cannot go below 87_962 ng/day
    # (hand-checked chain 1_600_000, 1_280_000, 1_024_000, 819_200, ..., 109_952, 87_962).
    plan = dosing.taper_plan(2_000 * MCG, 87_962, 14 * DAY)
    _check_taper(plan, 2_000 * MCG, 87_962, 14 * DAY, 200)
    assert [d for _, d in plan][:4] == [1_600_000, 1_280_000, 1_024_000, 819_200]
    exc = raises(LimitError, dosing.taper_plan, 2_000 * MCG, 87_961, 14 * DAY)
    assert names_field(exc, "floor_dose_ng_per_day", 87_961) and "87962" in str(exc)
    # 28 days reaches 12 mcg/day (the spinal minimum).
    _check_taper(dosing.taper_plan(2_000 * MCG, 12 * MCG, 28 * DAY), 2_000 * MCG, 12 * MCG, 28 * DAY, 200)
    # A 10 % limit is honoured.
    _check_taper(dosing.taper_plan(500 * MCG, 300 * MCG, 21 * DAY, 100), 500 * MCG, 300 * MCG, 21 * DAY, 100)


def test_taper_bad_inputs() -> None:
    tp = dosing.taper_plan
    _bad(InputError, "duration_s", 14 * DAY - 1, tp, 500 * MCG, 100 * MCG, 14 * DAY - 1)
    _bad(InputError, "duration_s", 28 * DAY + 1, tp, 500 * MCG, 100 * MCG, 28 * DAY + 1)
    _check_taper(tp(500 * MCG, 100 * MCG, 28 * DAY), 500 * MCG, 100 * MCG, 28 * DAY, 200)
    # ITB-DIS-01: a taper to 0 is an abrupt stop and is refused.
    _bad(InputError, "floor_dose_ng_per_day", 0, tp, 500 * MCG, 0, 14 * DAY)
    _bad(InputError, "floor_dose_ng_per_day", 500 * MCG, tp, 500 * MCG, 500 * MCG, 14 * DAY)
    _bad(InputError, "current_dose_ng_per_day", 0, tp, 0, 100 * MCG, 14 * DAY)
    _bad(InputError, "max_step_permille", 201, tp, 500 * MCG, 100 * MCG, 14 * DAY, 201)
    _bad(InputError, "max_step_permille", 0, tp, 500 * MCG, 100 * MCG, 14 * DAY, 0)


def test_restart_dose() -> None:
    # REQ: ITB-HOL-02: restart at the initial continuous-infusion dose.
    assert dosing.restart_dose(100 * MCG) == 100 * MCG
    _bad(InputError, "initial_dose_ng_per_day", 0, dosing.restart_dose, 0)
    _bad(InputError, "initial_dose_ng_per_day", None, dosing.restart_dose, None)
