"""The pump a concentration is chosen for (reservoir, alarm, refill interval, flow limits, kind) and the
core's choice (``firmware_py.concentration``) with its refusals in the user's words: a value left at its
default says so, a refill interval the volume cannot last is refused alike on both pump kinds (ITB-REF-01)
with how long it lasts and the reservoir that lasts it, and any refusal carries the dose's slip warnings."""

from __future__ import annotations

import dataclasses

from firmware_py import concentration as core_conc
from firmware_py import library, units
from firmware_py.errors import EXIT_REFUSED, ItbError
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.common import Caution, QLike, humanize, unwrap
from host_tools.calc.defaults import default
from host_tools.errors import RefusedError, UsageError
from host_tools.quantities import Arg, bad


def reservoir_sizes() -> str:
    """ITB-PMP-01's reservoir sizes as people read them ("20 mL or 40 mL")."""
    return " or ".join(display.ml(s) for s in library.param_tuple("ITB-PMP-01", "reservoirs_nl"))


def reservoir_arg(name: str, value: QLike) -> Arg:
    """A reservoir volume: one of the pump sizes of ITB-PMP-01."""
    a = qt.arg(name, value, "volume")
    if a.base() not in library.param_tuple("ITB-PMP-01", "reservoirs_nl"):
        raise bad(a.name, a.text, "is not a reservoir size; pumps hold " + reservoir_sizes(), ["ITB-PMP-01"])
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


@dataclasses.dataclass(frozen=True)
class Pump:
    res: Arg
    alarm: Arg
    interval: Arg
    fmin: Arg
    fmax: Arg
    pump: str
    fixed: Arg | None


def pump_inputs(
    *,
    reservoir: QLike | None,
    alarm_volume: QLike | None,
    refill_interval: QLike,
    min_flow: QLike,
    max_flow: QLike,
    pump: object,
    fixed_flow: QLike | None,
) -> Pump:
    res = reservoir_arg("reservoir", default("reservoir") if reservoir is None else reservoir)
    alarm = alarm_arg("alarm_volume", alarm_volume, res)
    interval = qt.arg("refill_interval", refill_interval, "duration")
    fmin, fmax = qt.arg("min_flow", min_flow, "flow"), qt.arg("max_flow", max_flow, "flow")
    if fmax.base() < fmin.base():
        raise bad(fmax.name, fmax.text, f"is below {fmin.name} '{fmin.text}'")
    pump_name, kind = unwrap("pump", pump)
    if not isinstance(kind, str) or kind not in library.PUMP_KINDS:
        raise bad(pump_name, kind, "is not a pump kind; give " + " or ".join(library.PUMP_KINDS))
    return Pump(res, alarm, interval, fmin, fmax, kind, _fixed_flow(kind, fixed_flow, fmin, fmax))


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


def choose(d: Arg, pm: Pump, slips: list[Caution]) -> core_conc.ConcentrationChoice:
    """The core's choice; a refusal names the argument as given (and whether it is the default), says what
    would work for a refill interval, and carries ``slips`` (a dose typed per hour or in mg explains it)."""
    try:
        return _core_choice(d, pm, pm.res.base())
    except ItbError as exc:
        args = {
            "dose_ng_per_day": (d, ""),
            "max_flow_nl_per_day": (pm.fmax, "max_flow"),
            "min_flow_nl_per_day": (pm.fmin, "min_flow"),
            "refill_interval_s": (pm.interval, "refill_interval"),
            "fixed_flow_nl_per_day": (pm.fixed, ""),
        }
        a, key = args.get(exc.field, (None, ""))
        if a is None:
            raise
        note = " (the default)" if key and a.text == default(key) else ""
        text = f"{a.name}: '{a.text}'{note} {humanize(exc.reason, {})}"
        ids, refused = list(exc.rule_ids), exc.exit_code == EXIT_REFUSED
        if exc.field == "refill_interval_s":  # a refusal on either pump kind, with what would work
            text += _interval_hint(d, pm)
            ids, refused = list(dict.fromkeys([*ids, "ITB-REF-01"])), True
        text += (f" [{', '.join(ids)}]" if ids else "") + "".join(f"; warning: {c}" for c in slips)
        if refused:
            raise RefusedError("", None, text, ids) from None
        raise UsageError(text, field=a.name, value=a.text, rule_ids=ids) from None


def _core_choice(d: Arg, pm: Pump, res_nl: int) -> core_conc.ConcentrationChoice:
    return core_conc.choose_concentration(
        d.base(),
        res_nl,
        pm.fmin.base(),
        pm.fmax.base(),
        pm.interval.base(),
        alarm_nl=pm.alarm.base(),
        pump_kind=pm.pump,
        fixed_flow_nl_per_day=None if pm.fixed is None else pm.fixed.base(),
    )


def _interval_hint(d: Arg, pm: Pump) -> str:
    # How long the usable volume lasts at the strongest strength (or the fixed flow), rounded down to 1 s,
    # and each larger reservoir of ITB-PMP-01 that lasts the interval.
    usable = pm.res.base() - pm.alarm.base()
    if pm.fixed is not None:
        lasts = usable * units.S_PER_DAY // pm.fixed.base()
    else:
        top = library.param("ITB-CON-04", "max_conc_ng_per_ul")
        lasts = usable * top * units.S_PER_DAY // (d.base() * units.PG_PER_NG)
    fits = []
    for size in library.param_tuple("ITB-PMP-01", "reservoirs_nl"):
        if size > pm.res.base() and pm.alarm.base() < size:
            try:
                _core_choice(d, pm, size)
            except ItbError:
                continue
            fits.append(f"{pm.res.name} '{display.ml(size)}'")
    hint = f"; it lasts {display.duration(lasts)}: give a shorter {pm.interval.name}"
    return hint + "".join(f" or {f}" for f in fits)
