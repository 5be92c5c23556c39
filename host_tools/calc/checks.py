"""The dose checks every calculation makes (docs/cli.md, "Warnings"): the patient group's range at every
dose it takes (ITB-RNG-01..05, decided by the core's ``envelope.dose_range``), and two slips people make:
a per-hour dose that is a plausible per-day dose, and a dose ten times (or a tenth of) a usual one.

The slips cite the group's range rule, whose parameters they read: the usual range ``usual_low_ng_per_day``
to ``usual_high_ng_per_day`` (ITB-RNG-03 has none: its hard range stands in).
"""

from __future__ import annotations

from fractions import Fraction

from firmware_py import envelope, library
from firmware_py.units import H_PER_DAY
from host_tools import display
from host_tools.calc.common import Caution, Group
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
    rid = grp.range_rule
    low, high = library.param(rid, "low_ng_per_day"), library.param(rid, "high_ng_per_day")
    ulow, uhigh = _usual(rid)
    usual = f"usual {display.mcg_range(ulow, uhigh)} for {grp.text}"
    if a is not None and a.per_hour:
        read_per_day = Fraction(ng_per_day, H_PER_DAY)
        if ng_per_day > uhigh and low <= read_per_day <= high:
            out.append(
                Caution(
                    rid,
                    f"{who} is {display.mcg_per_day(ng_per_day)}; as a daily dose the same "
                    f"number is {display.mcg_per_day(int(read_per_day))}: a per-hour dose "
                    "typed for a per-day one?",
                )
            )
            return out
    if ng_per_day > uhigh and ulow * DECIMAL_SLIP <= ng_per_day <= uhigh * DECIMAL_SLIP:
        out.append(
            Caution(
                rid,
                f"{who}: {display.mcg_per_day(ng_per_day)} is ten times a usual dose "
                f"({usual}): a decimal slip?",
            )
        )
    elif ng_per_day < ulow <= ng_per_day * DECIMAL_SLIP <= uhigh:
        out.append(
            Caution(
                rid,
                f"{who}: {display.mcg_per_day(ng_per_day)} is a tenth of a usual dose "
                f"({usual}): a decimal slip?",
            )
        )
    return out


def group_note(grp: Group) -> str:
    """The line that says which group the doses were checked against."""
    if grp.default:
        return f"doses checked against the {grp.text} range (the default; give the origin and age)"
    return f"doses checked against the {grp.text} range"
