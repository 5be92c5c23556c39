# Core tests of firmware_py.windows (run by pytest and under MicroPython).
# Numbers come from 002_2ca3bb212e8effd8.txt: "patients who have increased spasms at night may require a 20%
# increase in hourly infusion rate" and "Changes in flow rate should be programmed to start 2 hrs before
# time of desired clinical effect".

from firmware_py.errors import ScheduleError
from firmware_py.schedule import Schedule, rows, steps_per_day
from firmware_py.windows import Window, build
from tests.core.support import names_field, raises

H = 3600
DAY = 86400
WEEK = 7 * DAY
MCG = 1000
BASE = 500 * MCG  # 500 mcg/day
FRI = 4
SAT = 5


def night() -> Schedule:
    # Desired effect 22:00-06:00, +20 % (200 permille) over 500 mcg/day.
    return build(BASE, [Window(22 * H, 6 * H, change_permille=200)])


def test_sch03_night_boost_steps_and_rates() -> None:
    # REQ: ITB-SCH-03, ITB-SCH-01 -- the step runs 20:00-04:00 at 600 mcg/day, base the rest of the day.
    s = night()
    assert s.period_s == DAY
    assert s.steps == [(4 * H, 500 * MCG), (20 * H, 600 * MCG)]
    assert rows(s) == [("04:00", "20:00", 500 * MCG), ("20:00", "04:00", 600 * MCG)]
    assert s.rate_at(20 * H - 1) == 500 * MCG
    assert s.rate_at(20 * H) == 600 * MCG
    assert s.rate_at(22 * H) == 600 * MCG  # desired effect starts 2 h after the change
    assert s.rate_at(DAY) == 600 * MCG  # midnight, next day
    assert s.rate_at(4 * H - 1) == 600 * MCG
    assert s.rate_at(4 * H) == 500 * MCG
    assert s.rate_at(6 * H) == 500 * MCG


def test_sch03_night_boost_daily_total_exact() -> None:
    # REQ: ITB-SCH-03 -- daily total = 500*16/24 + 600*8/24 mcg = 1600/3 mcg exactly, floored to ng.
    s = night()
    assert s.integral_ng_s_per_day() * 3 == 1600 * MCG * DAY
    ng, dropped = s.day_total()
    assert ng == 533333  # 533 333.33... ng, rounded down (never more drug)
    assert 3 * (ng * DAY + dropped) == 1600 * MCG * DAY
    assert 0 <= dropped < DAY
    assert s.integral_between(0, DAY) == s.integral_ng_s_per_day()
    assert s.integral_between(5 * DAY + 17, 6 * DAY + 17) == s.integral_ng_s_per_day()


def test_sch01_lead_is_a_parameter() -> None:
    # REQ: ITB-SCH-01 -- lead 0 programs the window itself, lead 1 h moves it 1 h earlier.
    w = [Window(22 * H, 6 * H, change_permille=200)]
    assert build(BASE, w, lead_s=0).steps == [(6 * H, BASE), (22 * H, 600 * MCG)]
    assert build(BASE, w, lead_s=H).steps == [(5 * H, BASE), (21 * H, 600 * MCG)]
    e = raises(ScheduleError, build, BASE, w, lead_s=90)
    assert names_field(e, "lead_s", 90)
    e = raises(ScheduleError, build, BASE, w, lead_s=-60)
    assert names_field(e, "lead_s", -60)


def test_sch01_shift_wraps_backwards_over_midnight() -> None:
    # REQ: ITB-SCH-01 -- effect wanted 01:00-03:00: the pump changes at 23:00 the evening before.
    s = build(BASE, [Window(1 * H, 3 * H, dose_ng_per_day=700 * MCG)])
    assert s.steps == [(1 * H, BASE), (23 * H, 700 * MCG)]
    assert s.rate_at(23 * H - 60) == BASE
    assert s.rate_at(23 * H) == 700 * MCG
    assert s.rate_at(DAY + 30 * 60) == 700 * MCG
    assert steps_per_day(s) == [3]


def test_relative_change_rounds_down() -> None:
    # +20 % of 333 333 ng/day is 399 999.6: the pump gets 399 999 (never more drug).
    s = build(333333, [Window(10 * H, 14 * H, change_permille=200)])
    assert s.rate_at(9 * H) == 399999
    # -15 % of 333 333 is 283 333.05 -> 283 333
    s = build(333333, [Window(10 * H, 14 * H, change_permille=-150)])
    assert s.rate_at(9 * H) == 283333
    # an absolute rate is taken as given
    s = build(333333, [Window(10 * H, 14 * H, dose_ng_per_day=123457)])
    assert s.rate_at(9 * H) == 123457


def test_weekly_window_belongs_to_the_day_it_starts() -> None:
    # REQ: ITB-SCH-01 -- Friday 22:00-06:00 runs Friday 20:00 to Saturday 04:00.
    s = build(BASE, [Window(22 * H, 6 * H, change_permille=200, days=[FRI])])
    assert s.period_s == WEEK
    assert s.steps == [(FRI * DAY + 20 * H, 600 * MCG), (SAT * DAY + 4 * H, BASE)]
    assert rows(s) == [("Fri 20:00", "Sat 04:00", 600 * MCG), ("Sat 04:00", "Fri 20:00", BASE)]
    # Friday 1970-01-02, 20:00 UTC is absolute time 1 day + 20 h
    assert s.rate_at(DAY + 20 * H) == 600 * MCG
    assert s.rate_at(DAY + 20 * H - 1) == BASE
    assert s.rate_at(2 * DAY + 4 * H - 1) == 600 * MCG
    assert s.rate_at(2 * DAY + 4 * H) == BASE
    assert s.rate_at(2 * DAY + 20 * H) == BASE  # Saturday evening: no boost
    # Friday: 20 h at 500 + 4 h at 600 mcg/day = 516.666... mcg; Saturday the same split the other way
    assert s.day_total(FRI) == (516666, 16 * H)
    assert s.day_total(SAT) == (516666, 16 * H)
    assert 24 * (516666 * DAY + 16 * H) == (20 * BASE + 4 * 600 * MCG) * DAY
    assert s.day_total(0) == (BASE, 0)
    e = raises(ScheduleError, s.day_total, 7)
    assert names_field(e, "day_index", 7)
    assert steps_per_day(s) == [1, 1, 1, 1, 2, 2, 1]


def test_weekly_monday_early_window_wraps_to_sunday() -> None:
    s = build(BASE, [Window(H, 3 * H, dose_ng_per_day=700 * MCG, days=[0])])
    assert s.steps == [(H, BASE), (WEEK - H, 700 * MCG)]


def test_weekly_every_day_is_the_daily_schedule() -> None:
    w = build(BASE, [Window(22 * H, 6 * H, change_permille=200, days=[6, 5, 4, 3, 2, 1, 0])])
    assert w == night()
    assert w.period_s == DAY


def test_weekly_mixed_windows() -> None:
    # an everyday morning window plus a Saturday afternoon one
    morning = Window(8 * H, 10 * H, change_permille=100)
    s = build(BASE, [morning, Window(15 * H, 17 * H, change_permille=-100, days=[SAT])])
    assert s.period_s == WEEK
    assert steps_per_day(s) == [3, 3, 3, 3, 3, 5, 3]
    assert s.rate_at(2 * DAY + 13 * H) == 450 * MCG  # Saturday 13:00
    assert s.rate_at(3 * DAY + 13 * H) == BASE  # Sunday 13:00
    assert s.rate_at(3 * DAY + 6 * H) == 550 * MCG  # Sunday 06:00


def test_overlapping_windows_name_both() -> None:
    a = Window(22 * H, 6 * H, change_permille=200)
    b = Window(5 * H, 7 * H, change_permille=100)
    e = raises(ScheduleError, build, BASE, [a, b])
    assert "windows" in str(e) and repr(a) in str(e) and repr(b) in str(e)
    same = Window(22 * H, 23 * H, change_permille=100)
    e = raises(ScheduleError, build, BASE, [a, same])
    assert repr(a) in str(e) and repr(same) in str(e)
    # weekly: Friday night runs into Saturday morning
    fa = Window(22 * H, 6 * H, change_permille=200, days=[FRI])
    sb = Window(5 * H, 7 * H, change_permille=100, days=[SAT])
    e = raises(ScheduleError, build, BASE, [fa, sb])
    assert repr(fa) in str(e) and repr(sb) in str(e)
    # ... but not into Sunday morning
    sc = Window(5 * H, 7 * H, change_permille=100, days=[6])
    assert steps_per_day(build(BASE, [fa, sc])) == [1, 1, 1, 1, 2, 2, 3]


def test_adjacent_windows_are_allowed() -> None:
    s = build(BASE, [Window(8 * H, 10 * H, change_permille=100), Window(10 * H, 12 * H, change_permille=200)])
    assert s.steps == [(6 * H, 550 * MCG), (8 * H, 600 * MCG), (10 * H, BASE)]
    # equal rates merge into one step
    s = build(BASE, [Window(8 * H, 10 * H, change_permille=100), Window(10 * H, 12 * H, change_permille=100)])
    assert s.steps == [(6 * H, 550 * MCG), (10 * H, BASE)]


def test_min_step_boundary_window() -> None:
    # a window of exactly min_step_s is fine; one minute shorter is refused
    ok = build(BASE, [Window(10 * H, 10 * H + 1800, change_permille=200)], min_step_s=1800)
    assert ok.intervals() == [(8 * H, 8 * H + 1800, 600 * MCG), (8 * H + 1800, DAY + 8 * H, BASE)]
    short = Window(10 * H, 10 * H + 1740, change_permille=200)
    e = raises(ScheduleError, build, BASE, [short], min_step_s=1800)
    assert names_field(e, "windows", short)


def test_min_step_boundary_base_gap() -> None:
    a = Window(8 * H, 10 * H, change_permille=200)
    b = Window(10 * H + 1800, 12 * H, change_permille=200)
    s = build(BASE, [a, b])
    assert (8 * H, 8 * H + 1800, BASE) in s.intervals()
    c = Window(10 * H + 1740, 12 * H, change_permille=200)
    e = raises(ScheduleError, build, BASE, [a, c])
    assert "windows" in str(e) and repr(a) in str(e) and repr(c) in str(e) and "1740" in str(e)
    # the gap that wraps round midnight is checked too
    d = Window(2 * H + 1740, 22 * H, change_permille=200)  # programmed 00:29 - 20:00, gap 20:00 - 00:29 ok
    e2 = Window(22 * H + 1740, 2 * H, change_permille=100)  # programmed 20:29 - 00:00
    e = raises(ScheduleError, build, BASE, [d, e2])
    assert repr(d) in str(e) and repr(e2) in str(e)


def _windows(n: int) -> list[Window]:
    # n one-hour windows, desired at 03:00, 06:00, ... -> programmed at 01:00, 04:00, ...
    return [Window((3 + 3 * i) * H, (4 + 3 * i) * H, change_permille=100) for i in range(n)]


def test_thirteen_steps_ok_fourteen_refused() -> None:
    # 6 windows: 12 rate changes plus the base step carried across midnight = 13 programmed steps a day
    s = build(BASE, _windows(6))
    assert steps_per_day(s) == [13]
    # one more window right after the first, at another rate: 14 steps
    extra = Window(4 * H, 5 * H, change_permille=150)
    seven = _windows(6)
    seven.append(extra)  # (no [*a, b]: MicroPython has no starred list displays)
    e = raises(ScheduleError, build, BASE, seven)
    assert names_field(e, "steps_per_day", 14)
    assert steps_per_day(build(BASE, seven, max_steps=14)) == [14]


def test_window_rejects_bad_input() -> None:
    cases: list[tuple[tuple[object, ...], dict[str, object], str, object]] = [
        ((6 * H, 6 * H), {"change_permille": 200}, "end_s", 6 * H),
        ((0, DAY), {"change_permille": 200}, "end_s", DAY),
        ((DAY, H), {"change_permille": 200}, "start_s", DAY),
        ((-60, H), {"change_permille": 200}, "start_s", -60),
        ((30, H), {"change_permille": 200}, "start_s", 30),
        ((0, H + 1), {"change_permille": 200}, "end_s", H + 1),
        ((0, 1.0 * H), {"change_permille": 200}, "end_s", 1.0 * H),
        ((0, H), {}, "change_permille", None),
        ((0, H), {"change_permille": 200, "dose_ng_per_day": 5}, "change_permille", 200),
        ((0, H), {"change_permille": -1000}, "change_permille", -1000),
        ((0, H), {"change_permille": 20.0}, "change_permille", 20.0),
        ((0, H), {"dose_ng_per_day": 0}, "dose_ng_per_day", 0),
        ((0, H), {"dose_ng_per_day": -5}, "dose_ng_per_day", -5),
        ((0, H), {"change_permille": 200, "days": []}, "days", []),
        ((0, H), {"change_permille": 200, "days": [7]}, "days", [7]),
        ((0, H), {"change_permille": 200, "days": [-1]}, "days", [-1]),
        ((0, H), {"change_permille": 200, "days": [1, 1]}, "days", [1, 1]),
        ((0, H), {"change_permille": 200, "days": "Mon"}, "days", "Mon"),
    ]
    for args, kw, field, value in cases:
        e = raises(ScheduleError, Window, *args, **kw)
        assert names_field(e, field, value), (field, str(e))
    # 24:00 as an end is midnight
    assert Window(22 * H, DAY, change_permille=200).length_s() == 2 * H


def test_build_rejects_bad_arguments() -> None:
    w = [Window(22 * H, 6 * H, change_permille=200)]
    e = raises(ScheduleError, build, 0, w)
    assert names_field(e, "base_dose_ng_per_day", 0)
    e = raises(ScheduleError, build, 500.0, w)
    assert names_field(e, "base_dose_ng_per_day", 500.0)
    e = raises(ScheduleError, build, BASE, "22:00-06:00")
    assert names_field(e, "windows", "22:00-06:00")
    e = raises(ScheduleError, build, BASE, [(22 * H, 6 * H)])
    assert names_field(e, "windows[0]", (22 * H, 6 * H))
    e = raises(ScheduleError, build, BASE, w, min_step_s=0)
    assert names_field(e, "min_step_s", 0)
    e = raises(ScheduleError, build, BASE, w, max_steps=0)
    assert names_field(e, "max_steps", 0)
    # a relative change that rounds to zero would stop therapy (ITB-DIS-01)
    e = raises(ScheduleError, build, 1, [Window(H, 3 * H, change_permille=-999)])
    assert names_field(e, "change_permille", -999)


def test_no_windows_is_constant() -> None:
    s = build(BASE, [])
    assert s.steps == [(0, BASE)]
    assert s.day_total() == (BASE, 0)
    assert steps_per_day(s) == [1]
