"""The bridge bolus after a concentration change (ITB-BRG-01): the pump tubing and the catheter still hold
old drug; running at the old strength's flow until that dead volume is delivered keeps the dose continuous."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from firmware_py import bridge as core_bridge
from firmware_py import library
from firmware_py.program import Program
from firmware_py.units import MM_PER_CM
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.checks import dose_cautions, screening_cautions
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
from host_tools.calc.flow import inputs, per_hour
from host_tools.calc.verify import Check, verify
from host_tools.quantities import Arg, Quantity, bad


@dataclasses.dataclass(frozen=True)
class BridgeResult(Result):
    """Whether a bridge bolus is needed, its volume, flow and duration, and what happens without it."""

    needed: bool
    catheter_volume: Quantity  # rounded up to 1 nL (never understated)
    dead_volume: Quantity
    bridge_volume: Quantity
    bridge_flow_per_day: Quantity
    bridge_flow_per_hour: Quantity
    bridge_duration: Quantity  # rounded down to 1 s
    clear_at_new_flow: Quantity  # how long old drug arrives if the new program simply starts; rounded up
    old_concentration: Quantity
    new_concentration: Quantity
    daily_dose: Quantity
    summary: str
    group: Group
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]


def internal_arg(name: str, value: QLike) -> Arg:
    a = qt.arg(name, value, "volume", allow_zero=True)
    top = library.param("ITB-PMP-03", "max_internal_nl")
    if a.base() > top:
        raise bad(
            a.name,
            a.text,
            f"is more than the {display.ml(top)} a pump's internal volume may be",
            ["ITB-PMP-03"],
        )
    return a


def catheter_mm(a: Arg) -> int:
    """A catheter length in any length unit, a whole mm within ITB-PMP-02's bounds."""
    mm = a.base()
    lo, hi = library.param("ITB-PMP-02", "min_catheter_mm"), library.param("ITB-PMP-02", "max_catheter_mm")
    if not lo <= mm <= hi:
        raise bad(
            a.name,
            a.text,
            f"is not {display.cm(lo)} to {display.cm(hi)}, the catheter lengths a program may state",
            ["ITB-PMP-02"],
        )
    return mm


def summary(b: core_bridge.Bridge, old_conc: int, new_conc: int) -> str:
    """One line for people: the bolus needed (volume, flow, duration) or why none is."""
    if not b.needed:
        return f"no bridge bolus: the concentration stays {display.conc(new_conc)}"
    return (
        f"bridge bolus needed: {display.ml(b.bridge_volume_nl)} of {display.conc(old_conc)} at "
        f"{display.flow(b.bridge_flow_nl_per_day)} for {display.duration(b.bridge_duration_s)}, then "
        f"{display.conc(new_conc)}; without it old drug arrives for "
        f"{display.duration(b.clear_at_new_flow_s)} at the new flow"
    )


def bridge(
    internal_volume: QLike,
    catheter_length: QLike,
    old_concentration: QLike,
    new_concentration: QLike,
    dose: QLike,
    *,
    origin: object = None,
    age: object = None,
) -> BridgeResult:
    """The bridge bolus for a change ``old_concentration`` -> ``new_concentration`` at a daily ``dose``;
    the dead volume is the pump's internal volume plus ITB-BRG-01's volume per cm of catheter.

    >>> r = bridge("0.2 mL", "50 cm", "500 mcg/mL", "1000 mcg/mL", "500 mcg/day")
    >>> r.needed, r.to_json()["bridge_volume"], r.to_json()["bridge_duration"]["unit"]
    (True, {'value': 0.33, 'unit': 'mL'}, 'h')
    """
    grp = group(origin, age)
    internal = internal_arg("internal_volume", internal_volume)
    length = qt.arg("catheter_length", catheter_length, "length")
    mm = catheter_mm(length)
    old, new = (
        conc_arg("old_concentration", old_concentration),
        conc_arg("new_concentration", new_concentration),
    )
    d = dose_arg("dose", dose)
    with core_errors(
        internal_volume_nl=internal,
        catheter_length_mm=length,
        old_conc_ng_per_ul=old,
        new_conc_ng_per_ul=new,
        dose_ng_per_day=d,
    ):
        b = core_bridge.bridge(internal.base(), mm, old.base(), new.base(), d.base())
    cath, dead = qt.q(b.catheter_nl, "nL"), qt.q(b.dead_volume_nl, "nL")
    flow = qt.q(b.bridge_flow_nl_per_day, "nL/day")
    checks = _verify(b, internal, length, old, d)
    return BridgeResult(
        needed=bool(b.needed),
        catheter_volume=shown(cath, "mL"),
        dead_volume=shown(dead, "mL"),
        bridge_volume=shown(qt.q(b.bridge_volume_nl, "nL"), "mL"),
        bridge_flow_per_day=shown(flow, "mL/day"),
        bridge_flow_per_hour=per_hour(b.bridge_flow_nl_per_day, "uL/h", "nL/h"),
        bridge_duration=shown(qt.q(b.bridge_duration_s, "s"), "h"),
        clear_at_new_flow=shown(qt.q(b.clear_at_new_flow_s, "s"), "h"),
        old_concentration=shown(old.qty, "mcg/mL"),
        new_concentration=shown(new.qty, "mcg/mL"),
        daily_dose=shown(d.qty, "mcg/day"),
        summary=summary(b, old.base(), new.base()),
        group=grp,
        warnings=dose_cautions(d.base(), grp, a=d) + screening_cautions(old) + screening_cautions(new),
        rule_ids=["ITB-BRG-01", "ITB-PMP-02", "ITB-PMP-03"],
        verified=checks,
        inputs=inputs(internal, length, old, new, d),
    )


def _verify(b: core_bridge.Bridge, internal: Arg, length: Arg, old: Arg, d: Arg) -> list[Check]:
    # Independently with pint from ITB-BRG-01's volume per cm: the catheter volume rounded up, the dead volume
    # exact, the old strength's flow rounded down, the durations at the two flows.
    per_cm = qt.q(Fraction(library.param("ITB-BRG-01", "catheter_nl_per_cm")), "nL") / qt.q(MM_PER_CM, "mm")
    cath, dead = qt.q(b.catheter_nl, "nL"), qt.q(b.dead_volume_nl, "nL")
    flow = qt.q(b.bridge_flow_nl_per_day, "nL/day")
    return [
        verify("catheter_volume", cath, length.qty * per_cm, "volume", "ceil", "1 nL"),
        verify("dead_volume", dead, internal.qty + cath, "volume", "exact", "1 nL"),
        verify("bridge_flow_per_day", flow, d.qty / old.qty, "flow", "floor", "1 nL/day"),
        verify("bridge_duration", qt.q(b.bridge_duration_s, "s"), dead / flow, "duration", "floor", "1 s"),
        verify(
            "clear_at_new_flow",
            qt.q(b.clear_at_new_flow_s, "s"),
            dead / qt.q(b.new_flow_nl_per_day, "nL/day"),
            "duration",
            "ceil",
            "1 s",
        ),
    ]


def between(old: Program | None, new: Program) -> BridgeResult | None:
    """The bridge bolus a program change needs (for the rig's load view): None when nothing runs or the
    concentration stays; else the bolus for the new base dose through the new program's tubing and catheter.

    >>> from host_tools import rx
    >>> p = rx.load_source("host_tools/examples/night-boost.toml").program
    >>> between(p, p) is None, between(p, p.replace(conc_ng_per_ul=1000)).to_json()["bridge_volume"]
    (True, {'value': 0.33, 'unit': 'mL'})
    """
    if old is None or old.conc_ng_per_ul == new.conc_ng_per_ul:
        return None
    return bridge(
        qt.Named("program internal volume", display.ml(new.internal_nl)),
        qt.Named("program catheter length", display.cm(new.catheter_mm)),
        qt.Named("running concentration", display.conc(old.conc_ng_per_ul)),
        qt.Named("new concentration", display.conc(new.conc_ng_per_ul)),
        qt.Named("new base dose", display.mcg_per_day(new.base_dose_ng_per_day)),
        origin=new.origin,
        age=new.age_years,
    )
