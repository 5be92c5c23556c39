"""The dose checks every calculation makes (docs/cli.md, "Warnings"): the patient group's range at every
dose it takes (ITB-RNG-01..05, decided by the core's ``envelope.dose_range``), and the slips people make:
a per-hour dose that is a plausible per-day dose, a dose in mg that is a plausible dose in mcg, and a dose
ten times (or a tenth of) a usual one. Also a flow no pump delivers, and the screening strength where a
pump's concentration is meant (ITB-SCR-05).

The slips cite the group's range rule, whose parameters they read: the usual range ``usual_low_ng_per_day``
to ``usual_high_ng_per_day`` (ITB-RNG-03 has none: its hard range stands in).
"""

from __future__ import annotations

from fractions import Fraction

from firmware_py import envelope, library
from firmware_py.units import H_PER_DAY
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.common import Caution, Group
from host_tools.calc.defaults import DEFAULT_MAX_FLOW, DEFAULT_MIN_FLOW
from host_tools.quantities import Arg

DECIMAL_SLIP = 10  # a misplaced decimal point: a project choice (DESIGN.md lists 10x slips as a hazard)


def _usual(rid: str) -> tuple[int, int]:
    row = library.rule(rid).params
    if "usual_low_ng_per_day" in row:
        return library.param(rid, "usual_low_ng_per_day"), library.param(rid, "usual_high_ng_per_day")
    return library.param(rid, "low_ng_per_day"), library.param(rid, "high_ng_per_day")


def _strip(text: str, rid: str) -> str:
    tail = f" [{rid}]"
    return text[: -len(tail)] if text.endswith(tail) else text


def label(a: Arg) -> str:
    return f"{a.name} '{a.text}'"


def _unit_slip(ng_per_day: int, grp: Group, a: Arg) -> Caution | None:
    # A dose typed per hour (or in mg) whose number, read per day (or in mcg), lies within the group's range,
    # while the dose as typed is above the usual range: the unit is the likelier mistake.
    rid = grp.range_rule
    low, high = library.param(rid, "low_ng_per_day"), library.param(rid, "high_ng_per_day")
    uhigh = _usual(rid)[1]
    if ng_per_day <= uhigh:
        return None
    if a.per_hour:
        factor, as_read, what = H_PER_DAY, "as a daily dose", "a per-hour dose typed for a per-day one?"
    elif a.in_mg:
        factor, as_read, what = int(qt.exact(qt.q(1, "mg"), "mcg")), "in mcg/day", "mg typed for mcg?"
    else:
        return None
    read = Fraction(ng_per_day, factor)
    if not low <= read <= high:
        return None
    return Caution(
        rid,
        f"{label(a)} is {display.mcg_per_day(ng_per_day)}; {as_read} the same number is "
        f"{display.mcg_per_day(int(read))}: {what}",
    )


def _decimal_slip(ng_per_day: int, grp: Group, who: str) -> Caution | None:
    rid = grp.range_rule
    ulow, uhigh = _usual(rid)
    usual = f"usual {display.mcg_range(ulow, uhigh)} for {grp.text}"
    if ng_per_day > uhigh and ulow * DECIMAL_SLIP <= ng_per_day <= uhigh * DECIMAL_SLIP:
        how = "ten times"
    elif ng_per_day < ulow <= ng_per_day * DECIMAL_SLIP <= uhigh:
        how = "a tenth of"
    else:
        return None
    return Caution(
        rid, f"{who}: {display.mcg_per_day(ng_per_day)} is {how} a usual dose ({usual}): a decimal slip?"
    )


def slip_cautions(ng_per_day: int, grp: Group, a: Arg, *, decimal: bool = True) -> list[Caution]:
    """The slips of one typed dose: its unit (per hour, mg) or, failing that, a decimal point."""
    unit = _unit_slip(ng_per_day, grp, a)
    if unit is not None:
        return [unit]
    dec = _decimal_slip(ng_per_day, grp, label(a)) if decimal else None
    return [] if dec is None else [dec]


def dose_cautions(
    ng_per_day: int, grp: Group, *, a: Arg | None = None, where: str = "", ranges: bool = True
) -> list[Caution]:
    """Cautions for one daily dose: ``a`` is the input it was typed as (None for a computed rate), ``where``
    names a computed rate ("step 20:00-04:00"); ``ranges`` False: the slips only (the caller's decision
    applies the ranges already)."""
    who = label(a) if a is not None else where
    d = envelope.dose_range(grp.origin, grp.age, ng_per_day)
    pairs = d.refusals + d.warnings if ranges else []
    out = [Caution(rid, f"{who}: {_strip(text, rid)}") for rid, text in pairs]
    if a is not None:
        return out + slip_cautions(ng_per_day, grp, a)
    dec = _decimal_slip(ng_per_day, grp, who)
    return out + ([] if dec is None else [dec])


def flow_cautions(nl_per_day: int, where: str) -> list[Caution]:
    """A flow outside what a pump delivers (the default --min-flow to --max-flow of `itb concentration`; the
    drug library has no pump flow limits): check the dose and the concentration (ITB-CON-03)."""
    lo, hi = qt.arg("min_flow", DEFAULT_MIN_FLOW, "flow"), qt.arg("max_flow", DEFAULT_MAX_FLOW, "flow")
    if lo.base() <= nl_per_day <= hi.base():
        return []
    side = (
        f"above the {display.ml_per_day(hi.base())} a pump delivers at most"
        if nl_per_day > hi.base()
        else (f"below the {display.ml_per_day(lo.base())} a pump delivers at least")
    )
    return [
        Caution(
            "ITB-CON-03",
            f"{where}: {display.ml_per_day(nl_per_day)} is {side} (a SynchroMed II's range): check the dose "
            "and its unit, and the concentration",
        )
    ]


def screening_cautions(c: Arg) -> list[Caution]:
    """ITB-SCR-05: the 50 mcg/mL strength is for bolus screening only, never a pump fill."""
    if c.base() != library.param("ITB-SCR-03", "conc_ng_per_ul"):
        return []
    return [
        Caution(
            "ITB-SCR-05",
            f"{label(c)} is the screening strength, for bolus test doses only, never a pump fill: a program "
            "at it is refused",
        )
    ]


def group_note(grp: Group) -> str:
    """The line that says which group the doses were checked against."""
    if grp.default:
        return f"doses checked against the {grp.text} range (the default; give the origin and age)"
    return f"doses checked against the {grp.text} range"
