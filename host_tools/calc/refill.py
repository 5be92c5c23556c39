"""How long a reservoir lasts (``refill``, ITB-REF-01) and the residual check at a refill (``residual``,
ITB-REF-02: a possible pocket fill), from the core's one event-time function, verified with pint."""

from __future__ import annotations

import dataclasses

from firmware_py import refill as core_refill
from firmware_py.schedule import Schedule
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.checks import dose_cautions, screening_cautions
from host_tools.calc.choice import alarm_arg, largest_reservoir, reservoir_sizes
from host_tools.calc.common import (
    Caution,
    Group,
    QLike,
    Result,
    conc_arg,
    core_errors,
    dose_arg,
    group,
    shown,
)
from host_tools.calc.flow import inputs
from host_tools.calc.verify import Check, verify
from host_tools.quantities import Arg, Quantity, bad


@dataclasses.dataclass(frozen=True)
class RefillResult(Result):
    """Time to the low-reservoir alarm and to empty, rounded down to the second (never later than true)."""

    volume: Quantity
    concentration: Quantity
    daily_dose: Quantity | None  # None when a schedule gives the dose
    alarm_volume: Quantity
    days_to_alarm: Quantity
    days_to_empty: Quantity
    days_to_refill: Quantity  # book the refill this long from now (ITB-REF-01: 3 to 5 days before the alarm)
    whole_days_to_alarm: int
    whole_days_to_empty: int
    alarm_now: bool
    refill_overdue: bool
    group: Group
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]
    _alarm_s: int
    _empty_s: int
    _refill_s: int


def refill(
    volume: QLike,
    concentration: QLike,
    dose: QLike | Schedule,
    *,
    alarm_volume: QLike | None = None,
    start_s: int = 0,
    origin: object = None,
    age: object = None,
) -> RefillResult:
    """Days until the low-reservoir alarm (default 2 mL left; at or below it, it sounds now) and until
    empty, for ``volume`` at ``concentration``; ``dose`` is a daily dose or a core Schedule (``start_s``, the
    fill time in rig seconds, then places the fill in the schedule's day or week).

    >>> r = refill("20 mL", "500 mcg/mL", "500 mcg/day")
    >>> r.whole_days_to_alarm, r.whole_days_to_empty
    (18, 20)
    """
    grp = group(origin, age)
    v = _in_a_reservoir(qt.arg("volume", volume, "volume", allow_zero=True))
    c, alarm = conc_arg("concentration", concentration), alarm_arg("alarm_volume", alarm_volume, None)
    d: Arg | None = None
    rate: int | Schedule
    if isinstance(dose, Schedule):
        rate, cautions = dose, []
    else:
        d = dose_arg("dose", dose)
        rate, cautions = d.base(), dose_cautions(d.base(), grp, a=d)
    with core_errors(
        volume_nl=v, conc_ng_per_ul=c, alarm_nl=alarm, **({} if d is None else {"dose_ng_per_day": d})
    ):
        f = core_refill.refill_forecast(v.base(), c.base(), rate, start_s=start_s, alarm_nl=alarm.base())
    checks = []
    for key, core_s, vol in (
        ("days_to_alarm", f.alarm_in_s, v.qty - alarm.qty),
        ("days_to_empty", f.empty_in_s, v.qty),
    ):
        if qt.exact(vol, "nL") > 0:
            exact_t = vol * c.qty / d.qty if d is not None else _time_for_drug(rate, vol * c.qty, start_s)  # type: ignore[arg-type]
            checks.append(verify(key, qt.q(core_s, "s"), exact_t, "duration", "floor", "1 s"))
    return RefillResult(
        volume=shown(v.qty, "mL"),
        concentration=shown(c.qty, "mcg/mL"),
        daily_dose=None if d is None else shown(d.qty, "mcg/day"),
        alarm_volume=shown(alarm.qty, "mL"),
        days_to_alarm=shown(qt.q(f.alarm_in_s, "s"), "day"),
        days_to_empty=shown(qt.q(f.empty_in_s, "s"), "day"),
        days_to_refill=shown(qt.q(f.refill_at_s - f.start_s, "s"), "day"),
        whole_days_to_alarm=f.alarm_in_days,
        whole_days_to_empty=f.empty_in_days,
        alarm_now=bool(f.alarm_now) or f.alarm_in_s == 0,  # at the alarm level, or due within the second
        refill_overdue=bool(f.refill_overdue),
        group=grp,
        warnings=cautions + screening_cautions(c),
        rule_ids=["ITB-REF-01"],
        verified=checks,
        inputs=inputs(*[a for a in (v, c, d, alarm) if a is not None]),
        _alarm_s=f.alarm_at_s,
        _empty_s=f.empty_at_s,
        _refill_s=f.refill_at_s,
    )


def _in_a_reservoir(v: Arg) -> Arg:
    if v.base() == 0:
        raise bad(v.name, v.text, "is empty; nothing to forecast")
    if v.base() > largest_reservoir():
        raise bad(v.name, v.text, "is more than a pump holds; reservoirs hold " + reservoir_sizes(),
                  ["ITB-PMP-01"])
    return v


def _time_for_drug(sched: Schedule, drug: Quantity, start_s: int) -> Quantity:
    """Independent of the core's cumulative table: step the rate with pint until ``drug`` is delivered."""
    per_period = sum((qt.q(r, "ng/day") * qt.q(e - s, "s") for s, e, r in sched.intervals()), qt.q(0, "ng"))
    whole = qt.exact(drug / per_period, "dimensionless")
    n = whole.numerator // whole.denominator
    left = drug - per_period * n
    t = qt.q(sched.period_s * n, "s")
    t_s = start_s + sched.period_s * n
    while qt.exact(left, "ng") > 0:
        rate_q = qt.q(sched.rate_at(t_s), "ng/day")
        seg_end = sched.next_change(t_s)
        seg = qt.q(seg_end - t_s, "s")
        if rate_q * seg >= left:
            out: Quantity = t + left / rate_q
            return out
        left, t, t_s = left - rate_q * seg, t + seg, seg_end
    return t


# -- residual (pocket fill) -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResidualResult(Result):
    """The residual check at a refill (ITB-REF-02): a difference above the threshold may be a pocket fill."""

    reservoir: Quantity
    expected_residual: Quantity
    measured_residual: Quantity
    difference: Quantity
    threshold: Quantity
    threshold_basis: str
    pocket_fill_suspected: bool
    warnings: list[Caution]
    rule_ids: list[str]
    inputs: dict[str, str]


def residual(reservoir: QLike, expected: QLike, measured: QLike) -> ResidualResult:
    """Compare the measured residual withdrawn at a refill with the expected one.

    >>> residual("20 mL", "3 mL", "4.5 mL").pocket_fill_suspected
    True
    """
    res = qt.arg("reservoir", reservoir, "volume")
    exp = qt.arg("expected", expected, "volume", allow_zero=True)
    got = qt.arg("measured", measured, "volume", allow_zero=True)
    for a in (exp, got):
        if a.base() > res.base():
            raise bad(a.name, a.text, f"is more than {res.name} '{res.text}' holds")
    with core_errors(reservoir_capacity_nl=res, expected_residual_nl=exp, measured_residual_nl=got):
        ch = core_refill.residual_check(res.base(), exp.base(), got.base())
    cautions = []
    if ch.flagged:
        cautions.append(
            Caution("ITB-REF-02", pocket_fill_text(ch.difference_nl, ch.threshold_nl, ch.threshold_basis))
        )
    return ResidualResult(
        reservoir=shown(res.qty, "mL"),
        expected_residual=shown(exp.qty, "mL"),
        measured_residual=shown(got.qty, "mL"),
        difference=shown(qt.q(ch.difference_nl, "nL"), "mL"),
        threshold=shown(qt.q(ch.threshold_nl, "nL"), "mL"),
        threshold_basis=ch.threshold_basis,
        pocket_fill_suspected=bool(ch.flagged),
        warnings=cautions,
        rule_ids=list(ch.rule_ids),
        inputs=inputs(res, exp, got),
    )


def pocket_fill_text(difference_nl: int, threshold_nl: int, basis: str) -> str:
    """The text of a suspected pocket fill (for `itb residual`, and for the rig's refill reply)."""
    more = "more" if difference_nl > 0 else "less"
    return (
        f"possible pocket fill: the measured residual is {display.ml(abs(difference_nl))} {more} than "
        f"expected, beyond {display.ml(threshold_nl)} ({basis}); check the needle position before filling"
    )
