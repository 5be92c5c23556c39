"""Changing a running dose: ``titrate`` asks the core's envelope (the decision the rig makes) whether a
change is allowed now; ``taper`` plans a drug holiday's reduction (ITB-HOL-01, ITB-DIS-01)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from firmware_py import envelope, library
from firmware_py import taper as core_taper
from firmware_py.concentration import labeled_strengths
from firmware_py.config import Config
from firmware_py.decision import Decision
from firmware_py.program import Program
from firmware_py.refill import default_alarm_nl
from firmware_py.schedule import Schedule
from firmware_py.units import PERMILLE, S_PER_DAY
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.checks import dose_cautions
from host_tools.calc.common import Caution, Group, QLike, Result, core_errors, dose_arg, group, shown, unwrap
from host_tools.calc.defaults import default
from host_tools.calc.flow import inputs, per_hour
from host_tools.calc.verify import Check, claim
from host_tools.parsing import overrides as checked_overrides
from host_tools.parsing import percent_permille
from host_tools.quantities import Arg, Quantity, bad


@dataclasses.dataclass(frozen=True)
class TitrateResult(Result):
    """The envelope's decision on a change of the daily dose, as the rig would make it now."""

    allowed: bool
    message: str
    current: Quantity
    current_per_hour: Quantity
    proposed: Quantity
    proposed_per_hour: Quantity
    change: Quantity  # percent, exact
    phase: str
    pump: str
    refusals: list[Caution]
    needs_override: list[str]
    overridden: list[Caution]
    notes: list[Caution]
    rules_applied: list[str]
    group: Group
    warnings: list[Caution]
    verified: list[Check]
    inputs: dict[str, str]


def _decision(
    grp: Group,
    pump: str,
    phase: str,
    *,
    old: int,
    new: int,
    since_change_s: int,
    since_start_s: int | None,
    ov: dict[str, str],
) -> Decision:
    cfg = Config(
        pump,
        library.param_tuple("ITB-PMP-01", "reservoirs_nl")[0],
        0,
        library.param("ITB-PMP-02", "min_catheter_mm"),
        library.param("ITB-PMP-04", "min_step_s"),
    )
    prog = Program(
        conc_ng_per_ul=labeled_strengths()[0],
        origin=grp.origin,
        age_years=grp.age,
        pump_kind=pump,
        reservoir_nl=cfg.reservoir_nl,
        alarm_nl=default_alarm_nl(),
        min_step_s=cfg.min_step_s,
        internal_nl=cfg.internal_nl,
        catheter_mm=cfg.catheter_mm,
        phase=phase,
        base_dose_ng_per_day=new,
        schedule=Schedule(S_PER_DAY, [(0, new)]),
        overrides=sorted(ov.items()),
    )
    now = since_change_s if since_start_s is None else max(since_change_s, since_start_s)
    running = Schedule(S_PER_DAY, [(0, old)])
    history = envelope.stated_history(now, running, since_change_s, since_start_s)
    return envelope.decide(history, running, envelope.Commit(prog), cfg, now)


def _cautions(pairs: list[tuple[str, str]]) -> list[Caution]:
    return [Caution(rid, text.removesuffix(f" [{rid}]")) for rid, text in pairs]


def refused_message(d: Decision, warnings: list[Caution], slips: list[Caution]) -> str:
    """The decision's message; a change not allowed carries the warnings that explain it (a per-hour or
    decimal slip, an escalation), which its message leaves out: a refusal is all the text shows."""
    if d.allowed:
        return d.message()
    extra = warnings if d.refusals else slips  # without refusals the message has the decision's warnings
    return "; ".join([d.message()] + [f"warning: {c}" for c in extra])


def titrate(
    current: QLike,
    proposed: QLike,
    since_change: QLike,
    *,
    origin: object = None,
    age: object = None,
    since_start: QLike | None = None,
    pump: object = library.PROGRAMMABLE,
    phase: object = library.TITRATION_PHASE,
    overrides: object = None,
) -> TitrateResult:
    """Would the rig accept ``current`` -> ``proposed`` now, ``since_change`` after the last change (and
    ``since_start`` after the pump started; not given: the stricter reading, at the last change)?

    >>> titrate("500 mcg/day", "600 mcg/day", "26 h").allowed
    True
    >>> r = titrate("500 mcg/day", "700 mcg/day", "26 h")
    >>> r.allowed, [c.rule_id for c in r.refusals]
    (False, ['ITB-TIT-01'])
    """
    grp = group(origin, age)
    cur, new = dose_arg("current", current), dose_arg("proposed", proposed)
    since, start = _times(since_change, since_start)
    pump, phase, ov = _options(pump, phase, overrides)
    d = _decision(
        grp,
        pump,
        phase,
        old=cur.base(),
        new=new.base(),
        since_change_s=since.base(),
        since_start_s=None if start is None else start.base(),
        ov=ov,
    )
    slips = dose_cautions(new.base(), grp, a=new, ranges=False) + dose_cautions(
        cur.base(), grp, a=cur, ranges=False
    )
    change = (new.qty - cur.qty) / cur.qty
    warnings = _cautions(d.warnings) + slips
    return TitrateResult(
        allowed=bool(d.allowed),
        message=refused_message(d, warnings, slips),
        current=shown(cur.qty, "mcg/day"),
        current_per_hour=per_hour(cur.base(), "mcg/h", "ng/h"),
        proposed=shown(new.qty, "mcg/day"),
        proposed_per_hour=per_hour(new.base(), "mcg/h", "ng/h"),
        change=shown(change, "percent"),
        phase=phase,
        pump=pump,
        refusals=_cautions(d.refusals),
        needs_override=list(d.needs_override),
        overridden=[Caution(r, why) for r, why in d.overridden],
        notes=_cautions(d.notes),
        rules_applied=list(d.applied),
        group=grp,
        warnings=warnings,
        verified=_verify_allowed(grp, phase, cur, new) if d.allowed else [],
        inputs=inputs(*[a for a in (cur, new, since, start) if a is not None]),
    )


def _times(since_change: QLike, since_start: QLike | None) -> tuple[Arg, Arg | None]:
    since = qt.arg("since_change", since_change, "duration", allow_zero=True)
    start = None if since_start is None else qt.arg("since_start", since_start, "duration", allow_zero=True)
    if start is not None and start.base() < since.base():
        raise bad(
            start.name,
            start.text,
            f"is less than {since.name} '{since.text}'; the pump started before its last change",
        )
    return since, start


def _options(pump: object, phase: object, overrides: object) -> tuple[str, str, dict[str, str]]:
    pump_name, pump = unwrap("pump", pump)
    phase_name, phase = unwrap("phase", phase)
    ov_name, ov_given = unwrap("overrides", overrides)
    if not isinstance(pump, str) or pump not in library.PUMP_KINDS:
        raise bad(pump_name, pump, "is not a pump kind; give " + " or ".join(library.PUMP_KINDS))
    if not isinstance(phase, str) or phase not in library.CHANGE_PHASES:
        raise bad(
            phase_name,
            phase,
            "is not a phase that changes a running pump; give " + ", ".join(library.CHANGE_PHASES),
        )
    if ov_given is not None and not isinstance(ov_given, dict):
        raise bad(ov_name, ov_given, "is not a dict of rule ID -> reason")
    return pump, phase, checked_overrides(ov_name, sorted((ov_given or {}).items()))


def _verify_allowed(grp: Group, phase: str, cur: Arg, new: Arg) -> list[Check]:
    # Independently from the library's rows with pint: an allowed dose lies in the group's hard range, and
    # an allowed increase within the phase's band.
    rid = grp.range_rule
    lo, hi = (
        qt.q(library.param(rid, "low_ng_per_day"), "ng/day"),
        qt.q(library.param(rid, "high_ng_per_day"), "ng/day"),
    )
    checks = [claim("allowed.range", lo <= new.qty <= hi, rid, f"allowed a dose outside {rid}")]
    if new.qty > cur.qty:
        band = library.step_rule(grp.origin, grp.age, phase)
        top = cur.qty * (1 + Fraction(library.param(band, "max_step_permille"), PERMILLE))
        checks.append(claim("allowed.increase", new.qty <= top, band, f"allowed an increase above {band}"))
    return checks


# -- taper -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TaperStep:
    day: int
    dose_per_day: Quantity
    dose_per_hour: Quantity

    def to_json(self) -> dict[str, object]:
        return Result.to_json(self)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class TaperResult(Result):
    """A drug-holiday taper: one dose a day over the whole duration, geometric, never an abrupt stop."""

    current: Quantity
    floor: Quantity
    over: Quantity
    max_step: Quantity
    steps: list[TaperStep]
    group: Group
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]


def _over(a: Arg) -> int:
    lo, hi = library.param("ITB-HOL-01", "min_s"), library.param("ITB-HOL-01", "max_s")
    s = a.base()
    if not lo <= s <= hi:
        raise bad(
            a.name,
            a.text,
            f"is not {display.duration(lo)} to {display.duration(hi)}, the time a drug holiday's reduction "
            "takes",
            ["ITB-HOL-01"],
        )
    if s % S_PER_DAY:
        raise bad(a.name, a.text, "is not a whole number of days (one change a day)")
    return s


def _max_step(name: str, text: str) -> int:
    most = library.param("ITB-DIS-01", "max_step_reduction_permille")
    permille = percent_permille(name, text, signed=False)
    if permille > most:
        raise bad(
            name,
            text,
            f"is above the {display.percent(most)} a day that stops short of an abrupt discontinuation",
            ["ITB-DIS-01"],
        )
    return permille


def taper(
    current: QLike,
    floor: QLike,
    *,
    over: QLike | None = None,
    max_step: object = None,
    origin: object = None,
    age: object = None,
) -> TaperResult:
    """Reduce ``current`` to ``floor`` over ``over`` (2 to 4 weeks, default 2), one change a day, at most
    ``max_step`` a day (default and most: ITB-DIS-01's 20 %).

    >>> r = taper("500 mcg/day", "300 mcg/day")
    >>> len(r.steps), r.steps[-1].to_json()["dose_per_day"]
    (14, {'value': 300, 'unit': 'mcg/day'})
    """
    grp = group(origin, age)
    cur, flo = dose_arg("current", current), dose_arg("floor", floor)
    if flo.base() >= cur.base():
        raise bad(
            flo.name, flo.text, f"is not below {cur.name} '{cur.text}'; a taper only reduces", ["ITB-HOL-01"]
        )
    over_a = qt.arg("over", default("over") if over is None else over, "duration")
    step_name, step_given = unwrap("max_step", max_step)
    step_text = default("max_step") if step_given is None else str(step_given)
    limit = _max_step(step_name, step_text)
    with core_errors(floor_dose_ng_per_day=flo, current_dose_ng_per_day=cur, duration_s=over_a):
        plan = core_taper.taper_plan(cur.base(), flo.base(), _over(over_a), limit)
    steps = [
        TaperStep(t // S_PER_DAY, shown(qt.q(d, "ng/day"), "mcg/day"), per_hour(d, "mcg/h", "ng/h"))
        for t, d in plan
    ]
    return TaperResult(
        current=shown(cur.qty, "mcg/day"),
        floor=shown(flo.qty, "mcg/day"),
        over=shown(over_a.qty, "day"),
        max_step=shown(qt.q(limit, "permille"), "percent"),
        steps=steps,
        group=grp,
        warnings=dose_cautions(cur.base(), grp, a=cur) + dose_cautions(flo.base(), grp, a=flo),
        rule_ids=["ITB-DIS-01", "ITB-HOL-01"],
        verified=[_verify_taper(cur, flo, over_a, limit, plan)],
        inputs=inputs(cur, flo, over_a) | {step_name: step_text},
    )


def _verify_taper(cur: Arg, flo: Arg, over: Arg, limit: int, plan: list[tuple[int, int]]) -> Check:
    n = over.base() // S_PER_DAY
    prev, ok = cur.base(), [t for t, _d in plan] == [k * S_PER_DAY for k in range(n)]
    for k, (_t, dose) in enumerate(plan, start=1):
        geometric = cur.base() ** (n - k) * flo.base() ** k  # dose ** n, exactly, before rounding up
        ok = ok and dose**n >= geometric > (dose - 1) ** n and dose <= prev
        ok = ok and Fraction(prev - dose, prev) <= Fraction(limit, PERMILLE)
        prev = dose
    ok = ok and plan[-1][1] == flo.base()
    return claim(
        "steps",
        ok,
        "one geometric step a day, rounded up, each within max_step, the last the floor",
        "a taper step breaks the plan",
    )
