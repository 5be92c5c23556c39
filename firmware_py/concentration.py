# Concentration choice (ITB-CON-01..04): the strength a pump is filled with, from the daily dose, the
# pump's flow limits and the refill interval. The lowest labeled strength that fits comes first; else the
# weakest custom dilution that fits (ITB-CON-02). On a constant-flow pump the concentration follows from
# the fixed flow and rounds down (a higher concentration is more drug).

from firmware_py import library, units
from firmware_py.decision import applied
from firmware_py.errors import InputError, RefusedError
from firmware_py.flow import flow_nl_per_day
from firmware_py.record import Record
from firmware_py.units import NL_PER_UL, PG_PER_NG, ceil_div, floor_div

# ITB-CON-02: other strengths by dilution with sterile preservative-free sodium chloride (002).
DILUENT = "preservative-free 0.9% NaCl"


def labeled_strengths() -> tuple[int, ...]:
    # ITB-CON-01: the labeled maintenance strengths, mcg/mL (ng/uL).
    return library.param_tuple("ITB-CON-01", "strengths_ng_per_ul")


def _max_conc() -> int:
    return library.param("ITB-CON-04", "max_conc_ng_per_ul")


class ConcentrationChoice(Record):
    __slots__ = (
        "conc_ng_per_ul",
        "dilution_needed",
        "dose_ng_per_day",
        "flow_dropped_pg_per_day",
        "flow_nl_per_day",
        "labeled",
        "pump_kind",
        "reason",
        "rule_ids",
        "supply_days",
        "supply_s",
        "usable_nl",
    )
    conc_ng_per_ul: int
    labeled: bool
    dilution_needed: bool
    pump_kind: str
    dose_ng_per_day: int
    flow_nl_per_day: int
    flow_dropped_pg_per_day: int
    usable_nl: int
    supply_s: int
    supply_days: int
    reason: str
    rule_ids: list[str]


def _choice(
    conc: int, dose: int, flow_nl_per_day: int, *, usable_nl: int, supply_s: int
) -> ConcentrationChoice:
    c = ConcentrationChoice()
    c.conc_ng_per_ul = conc
    c.labeled = conc in labeled_strengths()
    c.dilution_needed = not c.labeled  # ITB-CON-02
    c.pump_kind = library.PROGRAMMABLE
    c.dose_ng_per_day = dose
    c.flow_nl_per_day = flow_nl_per_day
    # Prescribed minus delivered, exact in pg/day (nL * ng/uL = pg).
    c.flow_dropped_pg_per_day = dose * PG_PER_NG - flow_nl_per_day * conc
    c.usable_nl = usable_nl
    c.supply_s = supply_s
    c.supply_days = floor_div(supply_s, units.S_PER_DAY)[0]
    c.reason = ""
    c.rule_ids = []
    return c


def _supply_s(usable_nl: int, conc: int, dose: int) -> int:
    # Seconds the usable volume lasts at the exact volume rate dose / conc (not the rounded-down flow,
    # which would last longer): usable * conc pg over dose * 1000 pg/day; rounded down.
    return floor_div(usable_nl * conc * units.S_PER_DAY, dose * PG_PER_NG)[0]


def choose_concentration(
    dose_ng_per_day: int,
    reservoir_nl: int,
    min_flow_nl_per_day: int,
    max_flow_nl_per_day: int,
    refill_interval_s: int,
    *,
    alarm_nl: int | None = None,
    pump_kind: str = library.PROGRAMMABLE,
    fixed_flow_nl_per_day: int | None = None,
) -> ConcentrationChoice:
    # ITB-CON-03: the concentration depends on the daily dose and the pump's delivery rate (002).
    dose = units.require_positive("dose_ng_per_day", dose_ng_per_day)
    reservoir = units.require_positive("reservoir_nl", reservoir_nl)
    fmin = units.require_positive("min_flow_nl_per_day", min_flow_nl_per_day)
    fmax = units.require_positive("max_flow_nl_per_day", max_flow_nl_per_day)
    if fmax < fmin:
        raise InputError("max_flow_nl_per_day", max_flow_nl_per_day, "must not be below min_flow_nl_per_day")
    interval = units.require_positive("refill_interval_s", refill_interval_s)
    if alarm_nl is None:
        alarm_nl = library.param("ITB-REF-01", "low_alarm_nl")
    alarm = units.require_range("alarm_nl", alarm_nl, 0, reservoir - 1)
    if pump_kind not in library.PUMP_KINDS:
        raise InputError("pump_kind", pump_kind, "must be one of " + ", ".join(library.PUMP_KINDS))
    usable = reservoir - alarm
    if pump_kind == library.CONSTANT_FLOW:
        if fixed_flow_nl_per_day is None:
            raise InputError("fixed_flow_nl_per_day", None, "is required for a constant-flow pump")
        ffix = units.require_range("fixed_flow_nl_per_day", fixed_flow_nl_per_day, fmin, fmax)
        return _choose_constant(dose, usable, interval, ffix)
    if fixed_flow_nl_per_day is not None:
        raise InputError(
            "fixed_flow_nl_per_day", fixed_flow_nl_per_day, "applies only to a constant-flow pump"
        )
    # ITB-CON-01 / ITB-SCR-05: lowest labeled maintenance strength first; 50 is never a candidate.
    for conc in labeled_strengths():
        q = flow_nl_per_day(dose, conc)[0]
        supply = _supply_s(usable, conc, dose)
        if fmin <= q <= fmax and supply >= interval:
            c = _choice(conc, dose, q, usable_nl=usable, supply_s=supply)
            c.reason = "lowest labeled strength whose flow is within limits and lasts the refill interval"
            c.rule_ids = ["ITB-CON-01", "ITB-CON-03"]
            applied(*c.rule_ids)
            return c
    return _choose_custom(dose, usable, fmin, fmax, interval)


def _choose_custom(dose: int, usable: int, fmin: int, fmax: int, interval: int) -> ConcentrationChoice:
    # ITB-CON-02: custom dilution, the smallest integer strength that satisfies every constraint.
    # floor(dose*1000/c) <= fmax  <=>  c > dose*1000/(fmax+1)
    lo_flow = floor_div(dose * NL_PER_UL, fmax + 1)[0] + 1
    # lasts  <=>  c >= interval*dose*1000 / (usable*86400)
    lo_supply = ceil_div(interval * dose * PG_PER_NG, usable * units.S_PER_DAY)[0]
    if lo_flow > _max_conc():
        raise RefusedError(
            "max_flow_nl_per_day",
            fmax,
            "is too low for this dose at any strength up to " + str(_max_conc()) + " mcg/mL",
            ["ITB-CON-04"],
        )
    if lo_supply > _max_conc():
        raise RefusedError(
            "refill_interval_s",
            interval,
            "is longer than the usable volume lasts at " + str(_max_conc()) + " mcg/mL (" + str(usable)
            + " nL usable)",
            ["ITB-CON-04", "ITB-REF-01"],
        )
    conc = max(1, lo_flow, lo_supply)
    q = flow_nl_per_day(dose, conc)[0]
    if q < fmin:
        # Any strength low enough for the minimum flow is too high-flow or too short-lived.
        raise InputError(
            "min_flow_nl_per_day",
            fmin,
            "cannot be met: the weakest strength meeting the maximum flow and the refill interval is "
            + str(conc)
            + " mcg/mL, giving "
            + str(q)
            + " nL/day",
        )
    c = _choice(conc, dose, q, usable_nl=usable, supply_s=_supply_s(usable, conc, dose))
    c.reason = "no labeled strength fits; custom dilution with " + DILUENT
    c.rule_ids = ["ITB-CON-02", "ITB-CON-03"]
    applied(*c.rule_ids)
    return c


def _choose_constant(dose: int, usable: int, interval: int, ffix: int) -> ConcentrationChoice:
    # At a fixed flow a higher concentration is more drug: the concentration rounds DOWN.
    conc = floor_div(dose * NL_PER_UL, ffix)[0]
    if conc < 1:
        raise InputError("dose_ng_per_day", dose, "is below 1 mcg/mL at the pump's fixed flow")
    if conc > _max_conc():
        raise RefusedError(
            "dose_ng_per_day", dose, "needs more than " + str(_max_conc())
            + " mcg/mL at the pump's fixed flow", ["ITB-CON-04"]
        )
    if usable * units.S_PER_DAY < interval * ffix:
        raise InputError(
            "refill_interval_s",
            interval,
            "is longer than the usable " + str(usable) + " nL lasts at the fixed flow",
        )
    # Delivered = ffix * conc pg/day <= dose * 1000 pg/day; supply at the fixed flow, rounded down.
    c = _choice(conc, dose, ffix, usable_nl=usable, supply_s=floor_div(usable * units.S_PER_DAY, ffix)[0])
    c.pump_kind = library.CONSTANT_FLOW
    if c.labeled:
        c.reason = "constant-flow pump: dose / fixed flow is a labeled strength"
        c.rule_ids = ["ITB-CON-01", "ITB-CON-03"]
    else:
        c.reason = "constant-flow pump: dose / fixed flow, rounded down; custom dilution with " + DILUENT
        c.rule_ids = ["ITB-CON-02", "ITB-CON-03"]
    applied(*c.rule_ids)
    return c
