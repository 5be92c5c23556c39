"""Hypothesis properties of the core's dosing modules (flow, dilution, taper, refill, concentration, the
range decision), each checked against an independent Fraction computation from the library's rows."""

import math
from fractions import Fraction

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from firmware_py import envelope, library
from firmware_py.concentration import choose_concentration
from firmware_py.config import Config
from firmware_py.dilution import dilute
from firmware_py.envelope import Commit, decide, dose_range, stated_history
from firmware_py.errors import InputError, RefusedError
from firmware_py.flow import flow
from firmware_py.program import Program
from firmware_py.refill import refill_forecast
from firmware_py.schedule import Schedule
from firmware_py.taper import taper_plan

DAY = 86_400
ML = 1_000_000
PROPS = settings(max_examples=80, deadline=None)
STRENGTHS = library.param_tuple("ITB-CON-01", "strengths_ng_per_ul")
ALARM = library.param("ITB-REF-01", "low_alarm_nl")

concs = st.integers(min_value=1, max_value=2_000)
doses = st.integers(min_value=1_000, max_value=2_100_000)  # 1 mcg/day .. 2100 mcg/day


@PROPS
@given(doses, concs)
def test_flow_never_exceeds_the_dose(dose: int, conc: int) -> None:
    """REQ: ITB-CON-03. flow * conc <= dose, and one more nL/day would exceed it; per hour never more."""
    f = flow(dose, conc)
    exact = Fraction(dose * 1_000, conc)  # nL/day
    assert f.flow_nl_per_day == math.floor(exact)
    assert Fraction(f.flow_dropped_pg_per_day, 1_000) == dose - Fraction(f.flow_nl_per_day * conc, 1_000)
    assert f.flow_nl_per_h * 24 <= f.flow_nl_per_day < (f.flow_nl_per_h + 1) * 24
    assert f.dose_ng_per_h * 24 <= dose < (f.dose_ng_per_h + 1) * 24


@PROPS
@given(
    st.sampled_from(STRENGTHS),
    st.integers(min_value=1, max_value=2_000),
    st.sampled_from([10_000, 100_000]),
    st.integers(min_value=1, max_value=300),
    st.sampled_from([0, 1_000, 10_000, 50_000]),
)
def test_dilution_whole_strength_within_tolerance(
    stock: int, target: int, res: int, steps: int, tol: int
) -> None:
    """REQ: ITB-CON-02, ITB-CON-04, ITB-DIL-01. A whole mcg/mL at or below the target, mass conserved
    exactly, the largest such stock volume; refused exactly when that is short by more than the tolerance."""
    assume(target <= stock)
    final = res * steps
    # Independent: every stock volume in whole steps whose strength is a whole mcg/mL at or below target.
    ok = [k for k in range(steps + 1) if (stock * k) % steps == 0 and stock * k // steps <= target]
    best = max(ok)
    achieved = stock * best // steps
    short = Fraction(target - achieved, target)
    try:
        d = dilute(stock, target, final, res, tol)
    except RefusedError as exc:
        assert exc.rule_ids == ["ITB-DIL-01"]
        assert best == 0 or short > Fraction(tol, 1_000_000)
        return
    assert best > 0 and short <= Fraction(tol, 1_000_000)
    assert d.stock_nl == best * res and d.stock_nl + d.diluent_nl == final
    assert d.achieved_conc_ng_per_ul == achieved
    assert d.stock_nl * stock == d.achieved_conc_ng_per_ul * final  # mass conserved, exactly
    assert d.shortfall_ppm == math.ceil(short * 1_000_000)


def _lowest_after(dose: int, steps: int, keep: int) -> int:
    """The lowest dose reachable from `dose` in `steps` cuts of at most (1000 - keep) permille, each
    rounded up to the ng/day, computed with Fractions."""
    for _ in range(steps):
        dose = math.ceil(Fraction(dose * keep, 1_000))
    return dose


@PROPS
@given(
    st.integers(min_value=12_000, max_value=2_003_000),
    st.integers(min_value=1, max_value=2_003_000),
    st.integers(min_value=14, max_value=28),
    st.integers(min_value=50, max_value=200),
)
@example(current=12_000, floor_dose=1_831, days=22, limit=82)  # the geometric path is just too steep
def test_taper_spans_the_duration_geometric_never_too_fast(
    current: int, floor_dose: int, days: int, limit: int
) -> None:
    """REQ: ITB-HOL-01, ITB-DIS-01. One dose a day for every day of the duration, the last the floor, each
    at most `limit` below the one before; refused only when the geometric ratio itself is too steep. Each
    dose is the geometric one rounded up, except where that would not still reach the floor in the days
    left (then the most that does) or would cut by more than `limit` (then the cut of exactly `limit`)."""
    assume(floor_dose < current)
    p = Fraction(limit, 1_000)
    keep = 1_000 - limit
    try:
        plan = taper_plan(current, floor_dose, days * DAY, limit)
    except RefusedError as exc:
        assert exc.field == "floor_dose_ng_per_day"
        # Doses round up, so a step can only fail when the exact ratio is within 1/floor of the limit.
        assert Fraction(floor_dose, current) < ((1 - p) * (1 + Fraction(1, floor_dose))) ** days
        return
    assert [t for t, _d in plan] == [k * DAY for k in range(days)]
    prev = current
    for k, (_t, dose) in enumerate(plan, start=1):
        geometric = current ** (days - k) * floor_dose**k  # the k-th dose to the power `days`, exactly
        assert floor_dose <= dose <= prev
        assert dose * 1_000 >= prev * keep
        assert _lowest_after(dose, days - k, keep) <= floor_dose  # the floor is still reachable
        if dose**days < geometric:  # below the geometric dose: only as far as reaching the floor needs
            assert _lowest_after(dose + 1, days - k, keep) > floor_dose
        elif (dose - 1) ** days >= geometric:  # above it: only as far as the limit needs
            assert (dose - 1) * 1_000 < prev * keep
        prev = dose
    assert plan[-1][1] == floor_dose


@PROPS
@given(
    st.integers(min_value=0, max_value=40 * ML),
    st.sampled_from([500, 1_000, 2_000, 333]),
    st.integers(min_value=10_000, max_value=2_000_000),
    st.integers(min_value=0, max_value=30 * DAY),
)
def test_refill_constant_dose_matches_fraction(volume: int, conc: int, dose: int, start: int) -> None:
    """REQ: ITB-REF-01. Alarm and empty times are the exact times rounded down (earlier is safer)."""
    f = refill_forecast(volume, conc, dose, start_s=start)
    for vol, got in ((volume - ALARM, f.alarm_in_s), (volume, f.empty_in_s)):
        exact = Fraction(max(vol, 0) * conc, 1_000) / dose * DAY
        assert got == math.floor(exact)
    margin = (library.param("ITB-REF-01", "book_min_s") + library.param("ITB-REF-01", "book_max_s")) // 2
    assert f.alarm_now == (volume <= ALARM)
    assert f.refill_at_s == max(start, f.alarm_at_s - margin)


@PROPS
@given(
    st.integers(min_value=12_000, max_value=2_003_000),
    st.sampled_from(library.param_tuple("ITB-PMP-01", "reservoirs_nl")),
    st.integers(min_value=1_000, max_value=100_000),
    st.integers(min_value=1 * ML, max_value=30 * ML),
    st.integers(min_value=DAY, max_value=180 * DAY),
)
def test_choose_concentration_fits_and_is_lowest(
    dose: int, res: int, fmin: int, fmax: int, interval: int
) -> None:
    """REQ: ITB-CON-01..04. The choice meets every constraint; nothing preferred before it does."""
    usable = res - ALARM

    def fits(c: int) -> bool:
        fl = math.floor(Fraction(dose * 1_000, c))
        return fmin <= fl <= fmax and Fraction(usable * c, 1_000) / dose * DAY >= interval

    try:
        c = choose_concentration(dose, res, fmin, fmax, interval)
    except (InputError, RefusedError):
        assert not any(fits(x) for x in range(1, 2_001))
        return
    assert fits(c.conc_ng_per_ul)
    labeled = [x for x in STRENGTHS if fits(x)]
    if labeled:
        assert c.labeled and c.conc_ng_per_ul == labeled[0]
    else:
        assert c.dilution_needed and c.conc_ng_per_ul == min(x for x in range(1, 2_001) if fits(x))


@PROPS
@given(
    st.sampled_from(library.ORIGINS),
    st.integers(min_value=0, max_value=90),
    st.integers(min_value=1, max_value=5_000_000),
)
@example("spinal", 34, 12_000)
@example("spinal", 34, 11_999)
@example("spinal", 34, 2_003_000)
@example("spinal", 34, 2_003_001)
@example("cerebral", 11, 1_199_001)
@example("spinal", 3, 1_000_001)
def test_dose_range_is_the_range_a_constant_program_gets(origin: str, age: int, dose: int) -> None:
    """REQ: ITB-RNG-01, ITB-RNG-02, ITB-RNG-03, ITB-RNG-04, ITB-RNG-05. envelope.dose_range (the
    calculators' check) refuses exactly outside the group's row, and says what a program commit says."""
    d = dose_range(origin, age, dose)
    rid = library.range_rule(origin, age)
    inside = library.param(rid, "low_ng_per_day") <= dose <= library.param(rid, "high_ng_per_day")
    assert [r for r, _t in d.refusals] == ([] if inside else [rid])
    soft = []
    if dose > library.param("ITB-RNG-04", "above_ng_per_day"):
        soft.append("ITB-RNG-04")
    if age < library.param("ITB-RNG-05", "below_age_years"):
        soft.append("ITB-RNG-05")
    assert [r for r, _t in d.warnings] == soft
    # The same texts as a program commit (a transfer from the same dose: no other rule refuses).
    sched = Schedule(DAY, [(0, dose)])
    cfg = Config(
        library.PROGRAMMABLE,
        library.param_tuple("ITB-PMP-01", "reservoirs_nl")[0],
        0,
        library.param("ITB-PMP-02", "min_catheter_mm"),
        library.param("ITB-PMP-04", "min_step_s"),
    )
    p = Program(
        conc_ng_per_ul=STRENGTHS[0],
        origin=origin,
        age_years=age,
        pump_kind=cfg.pump_kind,
        reservoir_nl=cfg.reservoir_nl,
        alarm_nl=ALARM,
        min_step_s=cfg.min_step_s,
        internal_nl=0,
        catheter_mm=cfg.catheter_mm,
        phase=library.TRANSFER,
        previous_ng_per_day=dose,
        reason="x",
        base_dose_ng_per_day=dose,
        schedule=sched,
    )
    full = decide(stated_history(0, None, 0, None), None, Commit(p), cfg, 0)
    assert [r for r in full.refusals if r[0].startswith("ITB-RNG")] == d.refusals
    assert [w for w in full.warnings if w[0].startswith("ITB-RNG")] == d.warnings
    assert envelope.dose_range is dose_range


def test_windows_build_with_the_library_defaults() -> None:
    """REQ: ITB-SCH-01, ITB-SCH-03. The labeling's night +20 % with every default from the library (the
    minimum step was checked against an unimported S_PER_MIN: a NameError)."""
    from firmware_py.windows import Window, build  # noqa: PLC0415

    sched = build(500_000, [Window(22 * 3_600, 6 * 3_600, 200)])
    assert sched.steps == [(4 * 3_600, 500_000), (20 * 3_600, 600_000)]


def test_decision_texts_follow_the_precision_policy() -> None:
    """REQ: ITB-RNG-01. A decision quotes mcg/day exactly, without trailing zeros (as the host shows it)."""
    d = dose_range("spinal", 34, 12_000_000)
    assert d.refusals[0][1] == (
        "12000 mcg/day is outside the adult spinal range 12 to 2003 mcg/day [ITB-RNG-01]"
    )
    assert dose_range("spinal", 34, 11_833).refusals[0][1].startswith("11.833 mcg/day is outside")


def test_a_constant_change_is_not_quoted_at_midnight() -> None:
    """REQ: ITB-TIT-01, ITB-DIS-01. A change of a constant rate names no time span, and percents drop
    trailing zeros ("+40 %"); a change of part of the day names its span."""
    from host_tools.calc.change import _decision  # noqa: PLC0415
    from host_tools.calc.common import group  # noqa: PLC0415

    d = _decision(
        group(),
        library.PROGRAMMABLE,
        library.TITRATION_PHASE,
        old=500_000,
        new=700_000,
        since_change_s=DAY,
        since_start_s=None,
        ov={},
    )
    assert d.refusals[0][1] == (
        "500 -> 700 mcg/day (+40 %) is above the +30 % titration limit for adult spinal "
        "(at most 650 mcg/day) [ITB-TIT-01]"
    )
    cut = _decision(
        group(),
        library.PROGRAMMABLE,
        library.TAPER,
        old=500_000,
        new=300_000,
        since_change_s=DAY,
        since_start_s=None,
        ov={},
    )
    assert "500 -> 300 mcg/day (-40 %) cuts more than 20 %" in cut.refusals[0][1]
