"""Hypothesis properties of firmware_py.schedule and the program codec (CPython only).

Every expected value is recomputed independently: a reference step function that walks the raw
(unsorted, unmerged) steps by brute force, and exact `fractions.Fraction` arithmetic.
REQ: ITB-SCH-01 (lead shift preserves the daily total), ITB-SCH-03, ITB-DIS-01 (no zero-rate step).
"""

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_py import library
from firmware_py.program import Program, decode, encode
from firmware_py.schedule import Schedule
from firmware_py.text import pct_encode, printable
from firmware_py.windows import Window, build

DAY = 86400
WEEK = 7 * DAY
MIN = 60
SETTINGS = settings(max_examples=60, deadline=None)

RawSteps = list[tuple[int, int]]


@st.composite
def raw_schedules(draw: st.DrawFn) -> tuple[int, RawSteps]:
    period = draw(st.sampled_from([DAY, WEEK]))
    starts = draw(st.lists(st.integers(0, period // MIN - 1), min_size=1, max_size=14, unique=True))
    rates = draw(st.lists(st.integers(1, 3_000_000), min_size=len(starts), max_size=len(starts)))
    # a few repeated rates so merging happens
    if draw(st.booleans()) and len(rates) > 1:
        rates[-1] = rates[0]
    return period, [(s * MIN, r) for s, r in zip(starts, rates, strict=True)]


def ref_rate(period: int, raw: RawSteps, t: int) -> int:
    # The rate at absolute time t, straight from the raw steps: the latest start at or before the phase.
    phase = (t + (3 * DAY if period == WEEK else 0)) % period
    before = [s for s in raw if s[0] <= phase]
    return max(before)[1] if before else max(raw)[1]


def ref_integral(period: int, raw: RawSteps, t0: int, t1: int) -> Fraction:
    # Walk absolute time from t0 to t1 one raw step boundary at a time; result in ng (Fraction).
    off = 3 * DAY if period == WEEK else 0
    starts = sorted(s for s, _ in raw)
    total = Fraction(0)
    t = t0
    while t < t1:
        phase = (t + off) % period
        later = [s for s in starts if s > phase]
        nxt = t - phase + (later[0] if later else period + starts[0])
        end = min(nxt, t1)
        total += Fraction(ref_rate(period, raw, t) * (end - t), DAY)
        t = end
    return total


def ref_period_total(period: int, raw: RawSteps) -> Fraction:
    # Sum over the raw steps of rate x duration to the next start (wrapping), in ng.
    s = sorted(raw)
    n = len(s)
    return sum(
        (Fraction(s[i][1] * (((s[(i + 1) % n][0] - s[i][0]) % period) or period), DAY) for i in range(n)),
        Fraction(0),
    )


@SETTINGS
@given(raw_schedules())
def test_total_equals_sum_of_steps(ps: tuple[int, RawSteps]) -> None:
    period, raw = ps
    s = Schedule(period, raw)
    assert Fraction(s.integral_ng_s_per_day(), DAY) == ref_period_total(period, raw)
    from_intervals = sum((Fraction(d * (b - a), DAY) for a, b, d in s.intervals()), Fraction(0))
    assert from_intervals == ref_period_total(period, raw)
    days = [s.day_total(d) for d in range(period // DAY)]
    monday = -3 * DAY if period == WEEK else 0  # absolute time of a period start (1970-01-01 was a Thursday)
    for d, (ng, dropped) in enumerate(days):
        exact = ref_integral(period, raw, monday + d * DAY, monday + (d + 1) * DAY)
        assert ng == exact.numerator // exact.denominator
        assert Fraction(ng * DAY + dropped, DAY) == exact


@SETTINGS
@given(raw_schedules(), st.integers(-(10**6), 10**6))
def test_lead_shift_preserves_total(ps: tuple[int, RawSteps], lead_min: int) -> None:
    # REQ: ITB-SCH-01
    period, raw = ps
    s = Schedule(period, raw)
    sh = s.shifted(lead_min * MIN)
    assert sh.integral_ng_s_per_day() == s.integral_ng_s_per_day()
    t = 1_700_000_000 + lead_min
    assert sh.rate_at(t) == s.rate_at(t + lead_min * MIN)


@st.composite
def window_sets(draw: st.DrawFn) -> tuple[int, list[Window], Fraction]:
    # Non-overlapping windows on a 30-minute grid (every window and gap >= 30 min), rotated so some cross
    # midnight, with the exact daily total they should give (ng, Fraction).
    base = draw(st.integers(1_000, 3_000_000))
    k = draw(st.integers(0, 5))
    pts = sorted(draw(st.lists(st.integers(0, 47), min_size=2 * k, max_size=2 * k, unique=True)))
    rot = draw(st.integers(0, 1439)) * MIN
    windows = []
    total = Fraction(base * DAY)
    for i in range(k):
        a = pts[2 * i] * 1800
        b = pts[2 * i + 1] * 1800
        if draw(st.booleans()):
            c = draw(st.integers(-999, 1000))
            w = Window((a + rot) % DAY, (b + rot) % DAY, change_permille=c)
            rate = math.floor(Fraction(base * (1000 + c), 1000))
        else:
            rate = draw(st.integers(1, 3_000_000))
            w = Window((a + rot) % DAY, (b + rot) % DAY, dose_ng_per_day=rate)
        windows.append(w)
        total += (rate - base) * (b - a)
    return base, windows, total / DAY


@SETTINGS
@given(window_sets(), st.integers(0, 1439))
def test_build_lead_preserves_daily_total(ws: tuple[int, list[Window], Fraction], lead_min: int) -> None:
    # REQ: ITB-SCH-01, ITB-SCH-03 -- whatever the lead, the day's total is the windows' exact total.
    base, windows, exact_ng = ws
    s0 = build(base, windows, lead_s=0)
    s = build(base, windows, lead_s=lead_min * MIN)
    assert Fraction(s.integral_ng_s_per_day(), DAY) == exact_ng
    assert s.integral_ng_s_per_day() == s0.integral_ng_s_per_day()
    assert s == s0.shifted(lead_min * MIN)
    for w in windows:
        # the programmed rate is in force from lead before the desired effect until lead before its end
        assert s.rate_at(w.start_s - lead_min * MIN) == w.rate(base)
        assert s.rate_at(w.start_s + w.length_s() - lead_min * MIN - 1) == w.rate(base)


@SETTINGS
@given(raw_schedules(), st.integers(-(10**9), 2 * 10**9), st.integers(0, 40 * DAY), st.integers(0, 40 * DAY))
def test_integral_between_additive_and_exact(ps: tuple[int, RawSteps], a: int, ab: int, bc: int) -> None:
    period, raw = ps
    s = Schedule(period, raw)
    b = a + ab
    c = b + bc
    assert s.integral_between(a, b) + s.integral_between(b, c) == s.integral_between(a, c)
    assert Fraction(s.integral_between(a, c), DAY) == ref_integral(period, raw, a, c)
    assert s.rate_at(b) == ref_rate(period, raw, b)
    # a long span is whole periods plus the parts
    n = 520
    assert s.integral_between(a, b + n * period) == s.integral_between(a, b) + n * s.integral_ng_s_per_day()


@SETTINGS
@given(raw_schedules(), st.integers(-(10**9), 2 * 10**9), st.integers(0, 10**18))
def test_time_to_integral_is_exact_inverse(ps: tuple[int, RawSteps], t0: int, target: int) -> None:
    period, raw = ps
    s = Schedule(period, raw)
    t = s.time_to_integral(t0, target)
    assert t >= t0
    assert s.integral_between(t0, t) >= target
    if t > t0:
        assert s.integral_between(t0, t - 1) < target
    else:
        assert target == 0


@st.composite
def programs(draw: st.DrawFn) -> Program:
    period, raw = draw(raw_schedules())
    sched = Schedule(period, raw)
    text = st.text(max_size=20).filter(lambda x: printable(x) and len(pct_encode(x)) <= 96)
    rule = st.from_regex(r"ITB-[A-Z]{3}-[0-9]{2}", fullmatch=True)
    ovr = draw(st.lists(st.tuples(rule, text.filter(bool)), max_size=4, unique_by=lambda o: o[0]))
    return Program(
        conc_ng_per_ul=draw(st.integers(1, 10**6)),
        origin=draw(st.sampled_from(library.ORIGINS)),
        age_years=draw(st.integers(0, library.MAX_AGE_YEARS)),
        pump_kind=draw(st.sampled_from(library.PUMP_KINDS)),
        reservoir_nl=draw(st.integers(1, 10**12)),
        alarm_nl=draw(st.integers(0, 10**12)),
        min_step_s=draw(st.integers(60, DAY)),
        internal_nl=draw(st.integers(0, 10**9)),
        catheter_mm=draw(st.integers(0, 10**6)),
        phase=draw(st.sampled_from(library.PHASES)),
        screening_dose_ng=draw(st.integers(0, 10**6)),
        effect_s=draw(st.integers(0, DAY)),
        previous_ng_per_day=draw(st.integers(0, 10**9)),
        reason=draw(text),
        base_dose_ng_per_day=draw(st.integers(1, 10**9)),
        schedule=sched,
        overrides=ovr,
        label=draw(text),
    )


@SETTINGS
@given(programs())
def test_codec_round_trip(p: Program) -> None:
    b = encode(p)
    assert all(0x21 <= c <= 0x7E and c not in b"*<>" for c in b)
    q = decode(b)
    assert q == p
    assert encode(q) == b
