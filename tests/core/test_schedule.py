# Core tests of firmware_py.schedule (run by pytest and under MicroPython).
# Numbers come from 002_2ca3bb212e8effd8.txt: "patients who have increased spasms at night may require a 20%
# increase in hourly infusion rate" and "Changes in flow rate should be programmed to start 2 hrs before
# time of desired clinical effect".

from firmware_py.errors import ScheduleError
from firmware_py.schedule import Schedule, phase_of, segments
from tests.core.support import names_field, raises

H = 3600
DAY = 86400
WEEK = 7 * DAY
MCG = 1000
BASE = 500 * MCG  # 500 mcg/day
FRI = 4
SAT = 5


def night() -> Schedule:
    # The programmed night boost: 600 mcg/day from 20:00 to 04:00 (desired effect 22:00-06:00, 2 h lead).
    return Schedule(DAY, [(4 * H, BASE), (20 * H, 600 * MCG)])


def test_canonical_merging() -> None:
    assert Schedule(DAY, [(0, 5), (H, 5), (2 * H, 6)]).steps == [(0, 5), (2 * H, 6)]
    # last step equal to the first: the last runs on into the first
    assert Schedule(DAY, [(0, 5), (H, 6), (2 * H, 5)]).steps == [(H, 6), (2 * H, 5)]
    # a constant rate is [(0, D)] whatever its start
    assert Schedule(DAY, [(7 * H, 9)]).steps == [(0, 9)]
    assert Schedule(DAY, [(0, 9), (60, 9), (DAY - 60, 9)]).steps == [(0, 9)]
    # unsorted input, same value
    a = Schedule(DAY, [(2 * H, 6), (0, 5)])
    b = Schedule(DAY, [(0, 5), (2 * H, 6)])
    assert a == b
    assert (a != b) is False  # __ne__ is defined on its own for MicroPython
    assert a != Schedule(WEEK, [(0, 5), (2 * H, 6)])
    assert a != Schedule(DAY, [(0, 5), (2 * H, 7)])
    assert a != "Schedule"


def test_schedule_rejects_bad_input_naming_field_and_value() -> None:
    # REQ: ITB-DIS-01 -- a zero or negative rate step would stop therapy: refused.
    cases = [
        ((3600, [(0, 5)]), "period_s", 3600),
        ((DAY + 0.0, [(0, 5)]), "period_s", DAY + 0.0),
        ((DAY, []), "steps", []),
        ((DAY, "0:5"), "steps", "0:5"),
        ((DAY, [(0, 5, 1)]), "steps[0]", (0, 5, 1)),
        ((DAY, [5]), "steps[0]", 5),
        ((DAY, [(0, 5), (30, 6)]), "steps[1].start_s", 30),
        ((DAY, [(-60, 5)]), "steps[0].start_s", -60),
        ((DAY, [(DAY, 5)]), "steps[0].start_s", DAY),
        ((WEEK, [(WEEK, 5)]), "steps[0].start_s", WEEK),
        ((DAY, [(60.0, 5)]), "steps[0].start_s", 60.0),
        ((DAY, [(True, 5)]), "steps[0].start_s", True),
        ((DAY, [("60", 5)]), "steps[0].start_s", "60"),
        ((DAY, [(0, 0)]), "steps[0].dose_ng_per_day", 0),
        ((DAY, [(0, 5), (60, -5)]), "steps[1].dose_ng_per_day", -5),
        ((DAY, [(0, 5.5)]), "steps[0].dose_ng_per_day", 5.5),
        ((DAY, [(60, 5), (60, 6)]), "steps", 60),
    ]
    for args, field, value in cases:
        e = raises(ScheduleError, Schedule, *args)
        assert names_field(e, field, value), (field, str(e))


def test_boundaries_of_a_step_start() -> None:
    assert Schedule(DAY, [(0, 5), (DAY - 60, 6)]).steps == [(0, 5), (DAY - 60, 6)]
    assert Schedule(WEEK, [(0, 5), (WEEK - 60, 6)]).steps == [(0, 5), (WEEK - 60, 6)]


def test_phase_of() -> None:
    assert phase_of(0, DAY) == 0
    assert phase_of(DAY + 5, DAY) == 5
    assert phase_of(-1, DAY) == DAY - 1
    # 1970-01-01 was a Thursday; Monday 1970-01-05 00:00 starts a week
    assert phase_of(0, WEEK) == 3 * DAY
    assert phase_of(4 * DAY, WEEK) == 0
    assert phase_of(4 * DAY - 1, WEEK) == WEEK - 1
    e = raises(ScheduleError, phase_of, 0, 3600)
    assert names_field(e, "period_s", 3600)


def test_rate_at_bad_time() -> None:
    e = raises(ScheduleError, night().rate_at, 1.5)
    assert names_field(e, "t_s", 1.5)


def test_integral_between_spans() -> None:
    s = night()
    # 20:00 -> 04:00 is 8 h at 600 mcg/day
    assert s.integral_between(20 * H, DAY + 4 * H) == 600 * MCG * 8 * H
    # 23:00 -> 01:00 across midnight
    assert s.integral_between(23 * H, DAY + H) == 600 * MCG * 2 * H
    # 03:00 -> 05:00 straddles the step down
    assert s.integral_between(3 * H, 5 * H) == 600 * MCG * H + 500 * MCG * H
    # ten years (3652 days) starting mid-step: 3652 whole days
    t0 = 1700000000 + 123
    assert s.integral_between(t0, t0 + 3652 * DAY) == 3652 * s.integral_ng_s_per_day()
    # negative absolute times work the same (before the epoch)
    assert s.integral_between(-DAY, 0) == s.integral_ng_s_per_day()
    assert s.integral_between(t0, t0) == 0
    e = raises(ScheduleError, s.integral_between, 10, 9)
    assert names_field(e, "t1_s", 9)
    e = raises(ScheduleError, s.integral_between, "0", 9)
    assert names_field(e, "t0_s", "0")


def test_time_to_integral() -> None:
    s = night()
    t0 = 20 * H
    assert s.time_to_integral(t0, 0) == t0
    # 1 ng*s/day needs 1 s (ceil)
    assert s.time_to_integral(t0, 1) == t0 + 1
    assert s.time_to_integral(t0, 600 * MCG) == t0 + 1
    assert s.time_to_integral(t0, 600 * MCG + 1) == t0 + 2
    # 8 h at 600 ends at 04:00, then base
    assert s.time_to_integral(t0, 600 * MCG * 8 * H) == DAY + 4 * H
    assert s.time_to_integral(t0, 600 * MCG * 8 * H + 500 * MCG * H) == DAY + 5 * H
    # 400 days from an odd start, then the exact boundary either side
    t0 = 1700000000 + 77
    target = 400 * s.integral_ng_s_per_day() + 12345
    t = s.time_to_integral(t0, target)
    assert s.integral_between(t0, t) >= target
    assert s.integral_between(t0, t - 1) < target
    assert t - t0 > 400 * DAY
    e = raises(ScheduleError, s.time_to_integral, 0, -1)
    assert names_field(e, "target", -1)
    e = raises(ScheduleError, s.time_to_integral, None, 1)
    assert names_field(e, "t0_s", None)


def test_next_change() -> None:
    s = night()
    assert s.next_change(0) == 4 * H
    assert s.next_change(4 * H) == 20 * H
    assert s.next_change(20 * H) == DAY + 4 * H
    assert s.next_change(-1) == 4 * H  # 1969-12-31 23:59:59 -> 1970-01-01 04:00
    c = Schedule(DAY, [(0, 5)])
    assert c.next_change(123) == 123 + DAY


def test_intervals_and_shifted() -> None:
    s = night()
    assert s.intervals() == [(4 * H, 20 * H, BASE), (20 * H, DAY + 4 * H, 600 * MCG)]
    t = s.shifted(3 * H)
    assert t.steps == [(H, BASE), (17 * H, 600 * MCG)]
    assert t.integral_ng_s_per_day() == s.integral_ng_s_per_day()
    assert s.shifted(-21 * H) == t  # 21 h later is 3 h earlier
    assert s.shifted(0) == s
    e = raises(ScheduleError, s.shifted, 30)
    assert names_field(e, "lead_s", 30)


def test_day_total_index() -> None:
    s = night()
    e = raises(ScheduleError, s.day_total, 1)
    assert names_field(e, "day_index", 1)
    e = raises(ScheduleError, s.day_total, -1)
    assert names_field(e, "day_index", -1)


def test_segments_cover_every_instant_of_the_common_period() -> None:
    # A daily and a weekly schedule compared over a week: every breakpoint of either is a piece boundary,
    # each piece carries both rates, and the pieces tile [0, week) (phase 0 = Monday 00:00).
    d = night()
    w = Schedule(WEEK, [(0, BASE), (SAT * DAY + 8 * H, 575 * MCG), (SAT * DAY + 12 * H, BASE)])
    segs = segments([d, w])
    assert segs[0][0] == 0 and segs[-1][1] == WEEK
    for i in range(1, len(segs)):
        assert segs[i][0] == segs[i - 1][1]
    t_mon = 4 * DAY  # 1970-01-05 was a Monday: phase 0 of a week is that absolute second modulo a week
    for a, b, r in segs:
        assert r == [d.rate_at(t_mon + a), w.rate_at(t_mon + a)], (a, r)
        assert r == [d.rate_at(t_mon + b - 1), w.rate_at(t_mon + b - 1)], (b, r)
    assert len(segs) == 2 * 7 + 2 + 1  # 14 daily changes, 2 weekly ones, and the piece after midnight Monday
    # Two daily schedules: one day.
    assert segments([d, Schedule(DAY, [(0, BASE)])])[-1][1] == DAY
