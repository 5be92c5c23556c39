"""Flow for a daily dose (``rate``, ITB-CON-03) and the concentration to fill (``concentration``,
ITB-CON-01..04), each from the core, checked against the patient group's range, verified with pint."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from firmware_py import concentration as core_conc
from firmware_py import flow as core_flow
from firmware_py import library, units
from firmware_py.errors import ItbError
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.checks import dose_cautions, flow_cautions, screening_cautions
from host_tools.calc.common import (
    Caution,
    Group,
    QLike,
    Result,
    conc_arg,
    core_errors,
    dose_arg,
    group,
    humanize,
    shown,
    unwrap,
)
from host_tools.calc.defaults import DEFAULT_MAX_FLOW, DEFAULT_MIN_FLOW, DEFAULT_REFILL_INTERVAL, default
from host_tools.calc.verify import Check, claim, verify
from host_tools.errors import RefusedError
from host_tools.quantities import Arg, Quantity, bad


def per_hour(per_day_base: int, unit: str, base_unit: str) -> Quantity:
    """The one per-day -> per-hour conversion (``units.per_hour``, rounded down), shown in ``unit``."""
    return shown(qt.q(units.per_hour(per_day_base)[0], base_unit), unit)


@dataclasses.dataclass(frozen=True)
class RateResult(Result):
    """Flow for a daily dose at a concentration (ITB-CON-03). Per-hour figures are rounded down."""

    daily_dose: Quantity
    dose_per_hour: Quantity
    concentration: Quantity
    flow_per_day: Quantity  # rounded down to 1 nL/day (less drug)
    flow_per_hour: Quantity  # rounded down to 1 nL/h
    dropped_per_day: Quantity  # prescribed but not delivered because the flow is rounded down
    group: Group
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]


def inputs(*args: Arg) -> dict[str, str]:
    return {a.name: a.text for a in args}


def rate(dose: QLike, concentration: QLike, *, origin: object = None, age: object = None) -> RateResult:
    """Pump flow for a daily ``dose`` at ``concentration``, verified with pint.

    >>> r = rate("500 mcg/day", "500 mcg/mL")
    >>> r.to_json()["flow_per_day"], r.to_json()["dose_per_hour"]
    ({'value': 1, 'unit': 'mL/day'}, {'value': 20.833, 'unit': 'mcg/h'})
    """
    grp = group(origin, age)
    d, c = dose_arg("dose", dose), conc_arg("concentration", concentration)
    dose_ng, conc = d.base(), c.base()
    with core_errors(dose_ng_per_day=d, conc_ng_per_ul=c):
        f = core_flow.flow(dose_ng, conc)
    flow_day = qt.q(f.flow_nl_per_day, "nL/day")
    dropped = qt.q(Fraction(f.flow_dropped_pg_per_day, units.PG_PER_NG), "ng/day")
    exact_flow = d.qty / c.qty
    checks = [
        verify("flow_per_day", flow_day, exact_flow, "flow", "floor", "1 nL/day"),
        verify(
            "flow_per_hour",
            qt.q(f.flow_nl_per_h, "nL/h"),
            exact_flow,
            "flow",
            "floor",
            qt.q(Fraction(25, 24), "nL/h"),
        ),
        verify("dose_per_hour", qt.q(f.dose_ng_per_h, "ng/h"), d.qty, "dose rate", "floor", "1 ng/h"),
        verify("dropped_per_day", flow_day * c.qty + dropped, d.qty, "dose rate", "exact", "1 ng/day"),
    ]
    return RateResult(
        daily_dose=shown(d.qty, "mcg/day"),
        dose_per_hour=per_hour(dose_ng, "mcg/h", "ng/h"),
        concentration=shown(c.qty, "mcg/mL"),
        flow_per_day=shown(flow_day, "mL/day"),
        flow_per_hour=per_hour(f.flow_nl_per_day, "uL/h", "nL/h"),
        dropped_per_day=shown(dropped, "ng/day"),
        group=grp,
        warnings=dose_cautions(dose_ng, grp, a=d)
        + flow_cautions(f.flow_nl_per_day, "flow")
        + screening_cautions(c),
        rule_ids=["ITB-CON-03"],
        verified=checks,
        inputs=inputs(d, c),
    )


# -- concentration choice --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConcentrationResult(Result):
    """The concentration for a daily dose and a pump's delivery limits (ITB-CON-01..04)."""

    daily_dose: Quantity
    dose_per_hour: Quantity
    concentration: Quantity
    labeled: bool
    dilution_needed: bool
    pump: str
    flow_per_day: Quantity
    flow_per_hour: Quantity
    supply: Quantity  # how long the usable volume lasts, rounded down to 1 s
    reason: str
    group: Group
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]


def reservoir_arg(name: str, value: QLike) -> Arg:
    """A reservoir volume: one of the pump sizes of ITB-PMP-01."""
    a = qt.arg(name, value, "volume")
    sizes = library.param_tuple("ITB-PMP-01", "reservoirs_nl")
    if a.base() not in sizes:
        raise bad(
            a.name,
            a.text,
            "is not a reservoir size; pumps hold " + " or ".join(display.ml(s) for s in sizes),
            ["ITB-PMP-01"],
        )
    return a


def alarm_arg(name: str, value: QLike | None, below: Arg | None) -> Arg:
    """The low-reservoir alarm volume (default ITB-REF-01's): above zero and below the reservoir ``below``
    (None: a reservoir of unstated size, so below ITB-PMP-01's largest): it sounds before empty."""
    a = qt.arg(name, default("alarm_volume") if value is None else value, "volume", allow_zero=True)
    top = below.base() if below is not None else largest_reservoir()
    if not 0 < a.base() < top:
        limit = f"{below.name} '{below.text}'" if below else f"the largest reservoir, {display.ml(top)}"
        raise bad(
            a.name,
            a.text,
            f"is not above 0 mL and below {limit}: the low-reservoir alarm sounds before the reservoir is "
            "empty",
            ["ITB-REF-01"],
        )
    return a


def largest_reservoir() -> int:
    """ITB-PMP-01's largest reservoir, nL: no reservoir holds more."""
    return max(library.param_tuple("ITB-PMP-01", "reservoirs_nl"))


def concentration(
    dose: QLike,
    *,
    reservoir: QLike | None = None,
    alarm_volume: QLike | None = None,
    refill_interval: QLike = DEFAULT_REFILL_INTERVAL,
    min_flow: QLike = DEFAULT_MIN_FLOW,
    max_flow: QLike = DEFAULT_MAX_FLOW,
    pump: object = library.PROGRAMMABLE,
    fixed_flow: QLike | None = None,
    origin: object = None,
    age: object = None,
) -> ConcentrationResult:
    """The lowest labeled strength whose flow is within [min_flow, max_flow] and whose usable volume
    (reservoir - alarm) lasts the refill interval, else the weakest custom dilution; a constant-flow pump
    takes ``fixed_flow`` and the strength is dose / flow rounded down.

    >>> concentration("500 mcg/day").to_json()["concentration"]  # 500 mcg/mL would last 18 of the 30 days
    {'value': 1000, 'unit': 'mcg/mL'}
    """
    grp = group(origin, age)
    d = dose_arg("dose", dose)
    pm = _pump_inputs(
        reservoir=reservoir,
        alarm_volume=alarm_volume,
        refill_interval=refill_interval,
        min_flow=min_flow,
        max_flow=max_flow,
        pump=pump,
        fixed_flow=fixed_flow,
    )
    ch = _choose(d, pm)
    conc_q, flow_q = qt.q(ch.conc_ng_per_ul, "ng/uL"), qt.q(ch.flow_nl_per_day, "nL/day")
    supply_q = qt.q(ch.supply_s, "s")
    return ConcentrationResult(
        daily_dose=shown(d.qty, "mcg/day"),
        dose_per_hour=per_hour(d.base(), "mcg/h", "ng/h"),
        concentration=shown(conc_q, "mcg/mL"),
        labeled=bool(ch.labeled),
        dilution_needed=bool(ch.dilution_needed),
        pump=pm.pump,
        flow_per_day=shown(flow_q, "mL/day"),
        flow_per_hour=per_hour(ch.flow_nl_per_day, "uL/h", "nL/h"),
        supply=shown(supply_q, "day"),
        reason=ch.reason,
        group=grp,
        warnings=dose_cautions(d.base(), grp, a=d),
        rule_ids=list(ch.rule_ids),
        verified=_verify_choice(d, pm, conc_q, flow_q, supply_q),
        inputs=inputs(d, pm.res, pm.alarm, pm.interval, pm.fmin, pm.fmax),
    )


def _choose(d: Arg, pm: _Pump) -> core_conc.ConcentrationChoice:
    # The core's choice, its errors named by the arguments the caller gave; a refill interval the usable
    # volume cannot last is a refusal (ITB-REF-01) on either pump kind, with what would work.
    try:
        return _core_choice(d, pm)
    except ItbError as exc:
        if exc.field != "refill_interval_s":
            raise
        lasts = _lasts(d, pm)
        ids = list(dict.fromkeys([*exc.rule_ids, "ITB-REF-01"]))
        raise RefusedError("", None, _interval_text(d, pm, exc.reason, lasts), ids) from None


def _core_choice(d: Arg, pm: _Pump, res: int | None = None) -> core_conc.ConcentrationChoice:
    fixed = {} if pm.fixed is None else {"fixed_flow_nl_per_day": pm.fixed}
    with core_errors(
        dose_ng_per_day=d,
        max_flow_nl_per_day=pm.fmax,
        min_flow_nl_per_day=pm.fmin,
        **fixed,
    ):
        return core_conc.choose_concentration(
            d.base(),
            pm.res.base() if res is None else res,
            pm.fmin.base(),
            pm.fmax.base(),
            pm.interval.base(),
            alarm_nl=pm.alarm.base(),
            pump_kind=pm.pump,
            fixed_flow_nl_per_day=None if pm.fixed is None else pm.fixed.base(),
        )


def _lasts(d: Arg, pm: _Pump) -> int:
    # How long the usable volume lasts at the strongest strength (or the fixed flow), rounded down to 1 s.
    usable = pm.res.base() - pm.alarm.base()
    if pm.fixed is not None:
        return usable * units.S_PER_DAY // pm.fixed.base()
    top = library.param("ITB-CON-04", "max_conc_ng_per_ul")
    return usable * top * units.S_PER_DAY // (d.base() * units.PG_PER_NG)


def _interval_text(d: Arg, pm: _Pump, reason: str, lasts_s: int) -> str:
    """The refusal of a refill interval, in the user's words: the interval (said to be the default when it
    is), what the usable volume lasts, and a reservoir of ITB-PMP-01 that lasts it, if one does."""
    given = pm.interval
    default_note = " (the default)" if given.text == default("refill_interval") else ""
    reason = humanize(reason, {})
    fits = []
    for size in library.param_tuple("ITB-PMP-01", "reservoirs_nl"):
        if size > pm.res.base() and pm.alarm.base() < size:
            try:
                _core_choice(d, pm, size)
            except ItbError:
                continue
            fits.append(f"{pm.res.name} '{display.ml(size)}'")
    hint = f"; it lasts {display.duration(lasts_s)}: give a shorter {given.name}"
    if fits:
        hint += " or " + " or ".join(fits)
    return f"{given.name}: '{given.text}'{default_note} {reason}{hint}"


@dataclasses.dataclass(frozen=True)
class _Pump:
    res: Arg
    alarm: Arg
    interval: Arg
    fmin: Arg
    fmax: Arg
    pump: str
    fixed: Arg | None


def _pump_inputs(
    *,
    reservoir: QLike | None,
    alarm_volume: QLike | None,
    refill_interval: QLike,
    min_flow: QLike,
    max_flow: QLike,
    pump: object,
    fixed_flow: QLike | None,
) -> _Pump:
    res = reservoir_arg("reservoir", default("reservoir") if reservoir is None else reservoir)
    alarm = alarm_arg("alarm_volume", alarm_volume, res)
    interval = qt.arg("refill_interval", refill_interval, "duration")
    fmin, fmax = qt.arg("min_flow", min_flow, "flow"), qt.arg("max_flow", max_flow, "flow")
    if fmax.base() < fmin.base():
        raise bad(fmax.name, fmax.text, f"is below {fmin.name} '{fmin.text}'")
    pump_name, kind = unwrap("pump", pump)
    if not isinstance(kind, str) or kind not in library.PUMP_KINDS:
        raise bad(pump_name, kind, "is not a pump kind; give " + " or ".join(library.PUMP_KINDS))
    return _Pump(res, alarm, interval, fmin, fmax, kind, _fixed_flow(kind, fixed_flow, fmin, fmax))


def _fixed_flow(pump: str, fixed_flow: QLike | None, fmin: Arg, fmax: Arg) -> Arg | None:
    name, value = unwrap("fixed_flow", fixed_flow)
    if pump != library.CONSTANT_FLOW:
        if value is not None:
            fx = qt.arg(name, value, "flow")
            raise bad(
                fx.name, fx.text, f"needs pump {library.CONSTANT_FLOW}; a {pump} pump's flow follows the dose"
            )
        return None
    if value is None:
        raise bad(name, "", f"is needed: a {library.CONSTANT_FLOW} pump runs at one fixed flow")
    fx = qt.arg(name, value, "flow")
    if not fmin.base() <= fx.base() <= fmax.base():
        raise bad(fx.name, fx.text, f"is outside {fmin.name} '{fmin.text}' to {fmax.name} '{fmax.text}'")
    return fx


def _verify_choice(d: Arg, pm: _Pump, conc_q: Quantity, flow_q: Quantity, supply_q: Quantity) -> list[Check]:
    res, alarm, interval, fmin, fmax, fixed = pm.res, pm.alarm, pm.interval, pm.fmin, pm.fmax, pm.fixed
    usable = res.qty - alarm.qty
    top = qt.q(library.param("ITB-CON-04", "max_conc_ng_per_ul"), "ng/uL")
    checks = [
        claim("concentration", conc_q <= top, "at most ITB-CON-04's maximum", "above ITB-CON-04's maximum")
    ]
    if fixed is None:
        checks += [
            verify("flow_per_day", flow_q, d.qty / conc_q, "flow", "floor", "1 nL/day"),
            verify("supply", supply_q, usable * conc_q / d.qty, "duration", "floor", "1 s"),
            claim(
                "limits",
                fmin.qty <= flow_q <= fmax.qty and supply_q >= interval.qty,
                "flow within the pump's limits, supply at least the refill interval",
                "the chosen strength breaks a flow or supply limit",
            ),
        ]
    else:
        checks += [
            verify("concentration", conc_q, d.qty / fixed.qty, "concentration", "floor", "1 ng/uL"),
            verify("supply", supply_q, usable / fixed.qty, "duration", "floor", "1 s"),
        ]
    return checks
