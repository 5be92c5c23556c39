"""Flex dosing (``schedule``, ITB-SCH-01..03): desired-effect windows -> programmed steps, each ``lead``
early, and the verification of any built schedule (``verify_schedule``), which prescriptions use too."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from firmware_py import library, units
from firmware_py.flow import flow_nl_per_day
from firmware_py.schedule import WEEK_OFFSET_S, Schedule, rows
from firmware_py.units import S_PER_DAY, S_PER_MIN, S_PER_WEEK
from host_tools import display, flex
from host_tools import quantities as qt
from host_tools.calc.checks import dose_cautions, flow_cautions, screening_cautions, slip_cautions
from host_tools.calc.common import Caution, Group, QLike, Result, conc_arg, dose_arg, group, shown
from host_tools.calc.defaults import default
from host_tools.calc.flow import per_hour
from host_tools.calc.verify import Check, verify
from host_tools.parsing import WindowSpec, parse_window
from host_tools.quantities import Arg, Named, Quantity


@dataclasses.dataclass(frozen=True)
class Step:
    """One programmed step: start and end ("HH:MM", weekly "Fri HH:MM"), dose and flow per day and hour."""

    start: str
    end: str
    dose_per_day: Quantity
    dose_per_hour: Quantity
    flow_per_day: Quantity
    flow_per_hour: Quantity

    def to_json(self) -> dict[str, object]:
        return Result.to_json(self)  # type: ignore[arg-type]


def steps_of(sched: Schedule, conc_ng_per_ul: int) -> list[Step]:
    out = []
    for a, b, rate in rows(sched):
        nl = flow_nl_per_day(rate, conc_ng_per_ul)[0]
        out.append(
            Step(
                a,
                display.END_OF_DAY if a == b else b,
                shown(qt.q(rate, "ng/day"), "mcg/day"),
                per_hour(rate, "mcg/h", "ng/h"),
                shown(qt.q(nl, "nL/day"), "mL/day"),
                per_hour(nl, "uL/h", "nL/h"),
            )
        )
    return out


@dataclasses.dataclass(frozen=True)
class ScheduleResult(Result):
    """A flex-dosing schedule built from desired-effect windows, each step moved ``lead`` earlier."""

    base_dose: Quantity
    base_dose_per_hour: Quantity
    concentration: Quantity
    lead: Quantity
    min_step: Quantity
    period: str  # "daily" or "weekly"
    windows: list[WindowSpec]
    steps: list[Step]
    daily_total: Quantity  # mcg over a day (weekly: the mean over the week), rounded down to 1 ng
    daily_totals: list[Quantity]  # one per day of the period (weekly: Monday first)
    group: Group
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]
    _schedule: Schedule

    @property
    def core_schedule(self) -> Schedule:
        return self._schedule


def _spec(value: object) -> WindowSpec:
    if isinstance(value, WindowSpec):
        return value
    if isinstance(value, Named):
        return parse_window(value.name, str(value.value))
    return parse_window("windows", str(value))


def schedule(
    dose: QLike,
    concentration: QLike,
    windows: list[object] | tuple[object, ...] = (),
    *,
    lead: QLike | None = None,
    min_step: QLike | None = None,
    origin: object = None,
    age: object = None,
) -> ScheduleResult:
    """Program steps for desired-effect ``windows`` ("22:00-06:00=+20%", "Sat,Sun 08:00-12:00=600 mcg/day")
    around the base daily ``dose``; each step starts ``lead`` (default 2 h, ITB-SCH-01) before its window.

    >>> r = schedule("500 mcg/day", "500 mcg/mL", ["22:00-06:00=+20%"]).to_json()
    >>> [(s["start"], s["end"], s["dose_per_day"]["value"]) for s in r["steps"]]
    [('04:00', '20:00', 500), ('20:00', '04:00', 600)]
    >>> r["daily_total"]
    {'value': 533.333, 'unit': 'mcg'}
    """
    grp = group(origin, age)
    d, c = dose_arg("dose", dose), conc_arg("concentration", concentration)
    lead_a = qt.arg(
        "lead",
        default("lead") if lead is None else lead,
        "duration",
        allow_zero=True,
    )
    step_a = qt.arg(
        "min_step",
        default("min_step") if min_step is None else min_step,
        "duration",
    )
    specs = [_spec(w) for w in windows]
    sched = flex.build(d.base(), specs, lead_a, step_a)
    cautions = _cautions(d, c, specs, sched, grp)
    n_days = sched.period_s // S_PER_DAY
    mean = units.floor_div(sched.integral_ng_s_per_day(), S_PER_DAY * n_days)[0]
    ids = ["ITB-SCH-01", "ITB-SCH-02", "ITB-PMP-04"] if specs else []
    if any(s.window.change_permille == library.param("ITB-SCH-03", "night_increase_permille") for s in specs):
        ids.append("ITB-SCH-03")
    return ScheduleResult(
        base_dose=shown(d.qty, "mcg/day"),
        base_dose_per_hour=per_hour(d.base(), "mcg/h", "ng/h"),
        concentration=shown(c.qty, "mcg/mL"),
        lead=shown(lead_a.qty, "h"),
        min_step=shown(step_a.qty, "min"),
        period="weekly" if sched.period_s == S_PER_WEEK else "daily",
        windows=specs,
        steps=steps_of(sched, c.base()),
        daily_total=shown(qt.q(mean, "ng"), "mcg"),
        daily_totals=[shown(qt.q(sched.day_total(i)[0], "ng"), "mcg") for i in range(n_days)],
        group=grp,
        warnings=cautions,
        rule_ids=ids,
        verified=verify_schedule(d.qty, c.qty, lead_a.base(), specs, sched),
        inputs={d.name: d.text, c.name: c.text, lead_a.name: lead_a.text, step_a.name: step_a.text}
        | {f"{s.field}[{i}]": s.text for i, s in enumerate(specs)},
        _schedule=sched,
    )


def _cautions(d: Arg, c: Arg, specs: list[WindowSpec], sched: Schedule, grp: Group) -> list[Caution]:
    # The base dose, the strength, each window's dose as typed (per hour or in mg: its step's rate gets the
    # other checks), and every step's rate and flow.
    out = dose_cautions(d.base(), grp, a=d) + screening_cautions(c)
    for s in specs:
        if s.dose is not None:
            out += slip_cautions(s.dose.base(), grp, s.dose, decimal=False)
    for a, b, rate in rows(sched):
        if rate != d.base():
            out += dose_cautions(rate, grp, where=f"step {a}-{b}")
        out += flow_cautions(flow_nl_per_day(rate, c.base())[0], f"flow at step {a}-{b}")
    return out


def _phase_time(sched: Schedule, phase_s: int) -> int:
    # An absolute time whose phase in the schedule's period is phase_s.
    return phase_s - WEEK_OFFSET_S if sched.period_s == S_PER_WEEK else phase_s


def verify_schedule(
    base: Quantity, conc: Quantity, lead_s: int, specs: list[WindowSpec], sched: Schedule
) -> list[Check]:
    """Independently with pint: each window's rate holds over the window moved ``lead_s`` earlier (both
    ends); the mean daily total is the base plus each window's extra (within 1 ng per relative window and
    the 1 ng floor of the total); every step's flow is the dose over the concentration, rounded down."""
    # Reckoned over a week whatever the core's period: a window without days, or one naming all seven,
    # adds its extra on 7 days; the core's mean day must be the week's total over 7.
    n_days = sched.period_s // S_PER_DAY
    week_days = S_PER_WEEK // S_PER_DAY
    total = base * qt.q(week_days, "day")
    relative = 0
    for spec in specs:
        w = spec.window
        if w.dose_ng_per_day is not None:
            rate_q = qt.q(w.dose_ng_per_day, "ng/day")
        else:
            rate_q = base * (1 + Fraction(w.change_permille or 0, units.PERMILLE))
            relative += 1
        days = sorted(set(w.days)) if w.days is not None else list(range(week_days))
        total = total + (rate_q - base) * qt.q(w.length_s(), "s") * len(days)
        begins = {(dd * S_PER_DAY + w.start_s - lead_s) % sched.period_s for dd in days}
        for begin in sorted(begins):
            for t in (begin, begin + w.length_s() - S_PER_MIN):
                got = qt.q(sched.rate_at(_phase_time(sched, t % sched.period_s)), "ng/day")
                verify(f"lead shift of '{spec.text}'", got, rate_q, "dose rate", "floor", "1 ng/day")
    mean = qt.q(units.floor_div(sched.integral_ng_s_per_day(), S_PER_DAY * n_days)[0], "ng")
    checks = [
        verify("daily_total", mean, total / week_days, "mass", "floor", qt.q(relative + 1, "ng")),
        Check("steps.start", "exact", "each window's start minus the lead"),
    ]
    conc_ng = qt.exact(conc, "ng/uL")
    for _a, _b, rate in sched.intervals():
        core = qt.q(flow_nl_per_day(rate, int(conc_ng))[0], "nL/day")
        verify("steps.flow_per_day", core, qt.q(rate, "ng/day") / conc, "flow", "floor", "1 nL/day")
    checks.append(Check("steps.flow_per_day", "floor", "1 nL/day"))
    return checks
