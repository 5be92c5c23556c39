"""Hypothesis properties of firmware_py.dosing, each checked against an independent Fraction computation."""

import math
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from firmware_py import dosing
from firmware_py.errors import InputError, LimitError
from firmware_py.schedule import Schedule

DAY = 86_400
ML = 1_000_000
PROPS = settings(max_examples=80, deadline=None)

concs = st.integers(min_value=1, max_value=2_000)
doses = st.integers(min_value=1_000, max_value=2_100_000)  # 1 mcg/day .. 2100 mcg/day


@PROPS
@given(doses, concs)
def test_flow_never_exceeds_the_dose(dose: int, conc: int) -> None:
    """REQ: ITB-CON-03. flow * conc <= dose, and one more nL/day would exceed it; per hour never more."""
    f = dosing.flow(dose, conc)
    exact = Fraction(dose * 1_000, conc)  # nL/day
    assert f.flow_nl_per_day == math.floor(exact)
    delivered_ng = Fraction(f.flow_nl_per_day * conc, 1_000)
    assert delivered_ng <= dose
    assert Fraction((f.flow_nl_per_day + 1) * conc, 1_000) > dose
    assert Fraction(f.flow_dropped_pg_per_day, 1_000) == dose - delivered_ng
    assert f.flow_nl_per_h * 24 <= f.flow_nl_per_day < (f.flow_nl_per_h + 1) * 24
    assert f.dose_ng_per_h * 24 <= dose < (f.dose_ng_per_h + 1) * 24


@PROPS
@given(
    st.integers(min_value=1, max_value=2_000),
    st.integers(min_value=1, max_value=2_000),
    st.sampled_from([1, 1_000, 10_000, 100_000]),
    st.integers(min_value=1, max_value=400),
)
def test_dilution_conserves_mass_and_never_exceeds_target(
    stock: int, target: int, res: int, steps: int
) -> None:
    """REQ: ITB-CON-02, ITB-CON-04. stock_nl * stock == achieved * final exactly; achieved <= target."""
    assume(target <= stock and stock != 50)  # 50: screening ampule, refused (core test)
    final = res * steps
    try:
        d = dosing.dilute(stock, target, final, resolution_nl=res)
    except InputError as exc:
        # Only a stock volume under one resolution step may be refused.
        assert exc.field == "resolution_nl"
        assert Fraction(target * final, stock) < res
        return
    achieved = Fraction(d.achieved_conc_num, d.achieved_conc_den)
    assert d.stock_nl * stock == achieved * final  # mass conserved, exactly
    assert d.stock_nl + d.diluent_nl == final and d.diluent_nl >= 0
    assert d.stock_nl % res == 0 and d.diluent_nl % res == 0
    assert achieved <= target
    # Largest measurable stock volume: one more step would exceed the target.
    assert Fraction((d.stock_nl + res) * stock, final) > target
    assert d.program_conc_ng_per_ul == math.ceil(achieved)  # rounded up: the pump computes less flow
    err = (achieved - target) / target * 1_000_000
    assert d.error_ppm <= err < d.error_ppm + 1


@PROPS
@given(
    st.integers(min_value=12_000, max_value=2_003_000),
    st.integers(min_value=1, max_value=2_003_000),
    st.integers(min_value=14 * DAY, max_value=28 * DAY),
    st.integers(min_value=100, max_value=200),
)
def test_taper_steps_within_limit_monotone_never_zero(
    current: int, floor_dose: int, dur: int, limit: int
) -> None:
    """REQ: ITB-HOL-01, ITB-MNT-03, ITB-DIS-01. Refused exactly when even real-valued cuts cannot reach."""
    assume(floor_dose < current)
    days = dur // DAY
    p = Fraction(limit, 1_000)
    real_bottom = current * (1 - p) ** days  # lowest dose any plan under the limit could reach
    try:
        plan = dosing.taper_plan(current, floor_dose, dur, limit)
    except LimitError as exc:
        assert exc.field == "floor_dose_ng_per_day"
        # Integer cuts lose under 1 ng a step: the reachable bottom is below real_bottom + 1/p.
        assert floor_dose < real_bottom + 1 / p
        return
    assert floor_dose >= real_bottom
    prev_t, prev = -DAY, current
    for t, dose in plan:
        assert t - prev_t >= DAY and 0 <= t < dur
        assert 0 < floor_dose <= dose < prev
        assert Fraction(prev - dose, prev) <= p
        prev_t, prev = t, dose
    assert plan[-1][1] == floor_dose


def _alarm_time_exact(steps: list[tuple[int, int]], start: int, need_ng: Fraction) -> Fraction:
    # Independent: walk the step function from start, whole days at a time, then step by step.
    bounds = [s for s, _ in steps] + [steps[0][0] + DAY]
    segs = [(bounds[i], bounds[i + 1], steps[i][1]) for i in range(len(steps))]
    per_day = sum(Fraction(r * (b - a), DAY) for a, b, r in segs)  # ng per day
    full = math.floor(need_ng / per_day)
    t = start + full * DAY  # every segment boundary is a whole second
    left = need_ng - full * per_day
    while True:
        phase = t % DAY
        # the segment holding phase (the last one wraps past midnight)
        seg = next((a, b, r) for a, b, r in segs if a <= phase < b or a <= phase + DAY < b)
        end_phase = seg[1] if seg[0] <= phase < seg[1] else seg[1] - DAY
        rate = seg[2]
        got = Fraction(rate * (end_phase - phase), DAY)
        if got >= left:
            return t + left * DAY / rate
        left -= got
        t += end_phase - phase


@PROPS
@given(
    st.integers(min_value=0, max_value=40 * ML),
    st.sampled_from([500, 1_000, 2_000, 333]),
    st.integers(min_value=10_000, max_value=2_000_000),
    st.integers(min_value=0, max_value=30 * DAY),
)
def test_refill_constant_dose_matches_fraction(volume: int, conc: int, dose: int, start: int) -> None:
    """REQ: ITB-REF-01. Alarm and empty times are the exact times rounded down (earlier is safer)."""
    f = dosing.refill_forecast(volume, conc, dose, start_s=start)
    for vol, got in ((volume - 2 * ML, f.alarm_in_s), (volume, f.empty_in_s)):
        exact = Fraction(max(vol, 0) * conc, 1_000) / dose * DAY
        assert got == math.floor(exact)
    assert f.alarm_now == (volume <= 2 * ML)
    assert f.refill_at_s == max(start, f.alarm_at_s - 4 * DAY)
    assert f.alarm_in_days == f.alarm_in_s // DAY


@st.composite
def daily_schedules(draw: st.DrawFn) -> list[tuple[int, int]]:
    n = draw(st.integers(min_value=1, max_value=6))
    starts = sorted(draw(st.sets(st.integers(min_value=0, max_value=1_439), min_size=n, max_size=n)))
    rates = draw(st.lists(st.integers(min_value=10_000, max_value=1_500_000), min_size=n, max_size=n))
    return [(s * 60, r) for s, r in zip(starts, rates, strict=True)]


@PROPS
@given(
    daily_schedules(),
    st.integers(min_value=2 * ML + 1, max_value=40 * ML),
    st.sampled_from([500, 2_000, 777]),
    st.integers(min_value=0, max_value=3 * DAY),
)
def test_refill_schedule_matches_fraction(
    steps: list[tuple[int, int]], volume: int, conc: int, start: int
) -> None:
    """REQ: ITB-REF-01, ITB-SCH-03. With a time-varying rate the alarm is the exact instant, rounded down."""
    sched = Schedule(DAY, steps)
    canon = [(s, r) for s, r in sched.steps]
    f = dosing.refill_forecast(volume, conc, sched, start_s=start)
    for vol, got in ((volume - 2 * ML, f.alarm_in_s), (volume, f.empty_in_s)):
        exact = _alarm_time_exact(canon, start, Fraction(vol * conc, 1_000))
        assert got == math.floor(exact) - start


@PROPS
@given(
    st.integers(min_value=12_000, max_value=2_003_000),
    st.sampled_from([20 * ML, 40 * ML]),
    st.integers(min_value=1_000, max_value=100_000),
    st.integers(min_value=1 * ML, max_value=30 * ML),
    st.integers(min_value=DAY, max_value=180 * DAY),
)
def test_choose_concentration_fits_and_is_lowest(
    dose: int, res: int, fmin: int, fmax: int, interval: int
) -> None:
    """REQ: ITB-CON-01..04. The choice meets every constraint; nothing preferred before it does."""
    usable = res - 2 * ML

    def fits(c: int) -> bool:
        fl = math.floor(Fraction(dose * 1_000, c))
        lasts = Fraction(usable * c, 1_000) / dose * DAY >= interval
        return fmin <= fl <= fmax and lasts

    try:
        c = dosing.choose_concentration(dose, res, fmin, fmax, interval)
    except (InputError, LimitError):
        assert not any(fits(c) for c in range(1, 2_001))
        return
    conc = c.conc_ng_per_ul
    assert 1 <= conc <= 2_000
    assert c.labeled == (conc in (500, 1_000, 2_000))  # ITB-SCR-05: 50 is never a labeled pick
    assert fits(conc)
    assert c.flow_nl_per_day == math.floor(Fraction(dose * 1_000, conc))
    assert c.supply_s == math.floor(Fraction(usable * conc, 1_000) / dose * DAY)
    labeled = [x for x in (500, 1_000, 2_000) if fits(x)]
    if labeled:
        assert c.labeled and conc == labeled[0]
    else:
        assert c.dilution_needed and conc == min(x for x in range(1, 2_001) if fits(x))
