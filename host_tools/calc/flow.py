"""Flow for a daily dose (``rate``, ITB-CON-03) and the concentration to fill (``concentration``,
ITB-CON-01..04), each from the core, checked against the patient group's range, verified with pint."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from firmware_py import flow as core_flow
from firmware_py import library, units
from host_tools import quantities as qt
from host_tools.calc.checks import dose_cautions, flow_cautions, screening_cautions, slip_cautions
from host_tools.calc.choice import Pump, choose, pump_inputs
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
from host_tools.calc.defaults import DEFAULT_MAX_FLOW, DEFAULT_MIN_FLOW, DEFAULT_REFILL_INTERVAL
from host_tools.calc.verify import Check, claim, verify
from host_tools.quantities import Arg, Quantity


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
    pm = pump_inputs(
        reservoir=reservoir,
        alarm_volume=alarm_volume,
        refill_interval=refill_interval,
        min_flow=min_flow,
        max_flow=max_flow,
        pump=pump,
        fixed_flow=fixed_flow,
    )
    ch = choose(d, pm, slip_cautions(d.base(), grp, d))
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


def _verify_choice(d: Arg, pm: Pump, conc_q: Quantity, flow_q: Quantity, supply_q: Quantity) -> list[Check]:
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
