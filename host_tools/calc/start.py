"""Starting therapy: the screening test doses (``screening``, ITB-SCR-01..05) and the initial daily dose
after implant (``initial_dose``, ITB-INI-01/02), from the core, verified with pint."""

from __future__ import annotations

import dataclasses

from firmware_py import library
from firmware_py import screening as core_screening
from firmware_py.units import S_PER_DAY
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.checks import dose_cautions
from host_tools.calc.common import Caution, Group, QLike, Result, group, shown, unwrap
from host_tools.calc.flow import inputs, per_hour
from host_tools.calc.verify import Check, verify
from host_tools.quantities import Arg, Quantity, bad


@dataclasses.dataclass(frozen=True)
class ScreeningDose:
    """One test dose: on which day, how much, what volume of the screening ampule, when to observe."""

    day: int
    dose: Quantity
    volume: Quantity
    observe_from: Quantity
    observe_to: Quantity

    def to_json(self) -> dict[str, object]:
        return Result.to_json(self)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class ScreeningResult(Result):
    """The screening plan: test doses 24 h apart as volumes of the 50 mcg/mL ampule."""

    concentration: Quantity
    doses: list[ScreeningDose]
    not_a_candidate_after: Quantity
    small_child: bool
    rule_ids: list[str]
    verified: list[Check]


def screening(small_child: object = False) -> ScreeningResult:
    """The bolus test doses, 24 h apart, with volumes of the screening ampule (exact).

    >>> [d.to_json()["dose"]["value"] for d in screening().doses]
    [50, 75, 100]
    """
    name, small_child = unwrap("small_child", small_child)
    if not isinstance(small_child, bool):
        raise bad(name, small_child, "is not True or False")
    conc = core_screening.screening_conc()
    conc_q = qt.q(conc, "ng/uL")
    rows, checks = [], []
    for sd in core_screening.screening_plan(small_child):
        dose_q, vol_q = qt.q(sd.dose_ng, "ng"), qt.q(sd.volume_nl, "nL")
        checks.append(verify(f"doses[{sd.index}].volume", vol_q, dose_q / conc_q, "volume", "exact", "1 nL"))
        rows.append(
            ScreeningDose(
                sd.start_offset_s // S_PER_DAY,
                shown(dose_q, "mcg"),
                shown(vol_q, "mL"),
                shown(qt.q(sd.observe_min_s, "s"), "h"),
                shown(qt.q(sd.observe_max_s, "s"), "h"),
            )
        )
    ids = ["ITB-SCR-01", "ITB-SCR-03", "ITB-SCR-04", "ITB-SCR-05"] + (["ITB-SCR-02"] if small_child else [])
    top = qt.q(library.param("ITB-SCR-04", "max_test_dose_ng"), "ng")
    return ScreeningResult(shown(conc_q, "mcg/mL"), rows, shown(top, "mcg"), small_child, sorted(ids), checks)


def check_screening(s: Arg, e: Arg) -> None:
    """A positive screening dose is a labeled test dose (ITB-SCR-01/04); its effect lasted at most the 24 h
    between test doses (longer: a unit slip)."""
    doses = core_screening.all_screening_doses()
    if s.base() not in doses or s.base() > library.param("ITB-SCR-04", "max_test_dose_ng"):
        raise bad(
            s.name,
            s.text,
            "is not a screening test dose; the test doses are " + ", ".join(display.mcg(x) for x in doses),
            ["ITB-SCR-01", "ITB-SCR-04"],
        )
    gap = library.param("ITB-SCR-01", "interval_s")
    if e.base() > gap:
        raise bad(
            e.name,
            e.text,
            f"is longer than the {display.duration(gap)} between test doses: hours typed "
            "as minutes, or days as hours?",
        )


@dataclasses.dataclass(frozen=True)
class InitialDoseResult(Result):
    """The initial daily dose after implant from the positive screening dose (ITB-INI-01/02)."""

    screening_dose: Quantity
    effect: Quantity
    daily_dose: Quantity
    dose_per_hour: Quantity
    group: Group
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]


def initial_dose(
    screening_dose: QLike, effect: QLike, *, origin: object = None, age: object = None
) -> InitialDoseResult:
    """Twice the positive screening dose over 24 h (ITB-INI-01), once if its effect lasted more than 8 h
    (ITB-INI-02). ``effect`` is a duration ("9 h", or (9, "h")); a bare number has no unit and is refused.

    >>> initial_dose("50 mcg", "6 h").to_json()["daily_dose"]
    {'value': 100, 'unit': 'mcg/day'}
    >>> initial_dose("50 mcg", "9 h").rule_ids
    ['ITB-INI-02']
    """
    grp = group(origin, age)
    s = qt.arg("screening_dose", screening_dose, "mass")
    e = qt.arg("effect", effect, "duration")
    check_screening(s, e)
    ng = core_screening.initial_daily_dose(s.base(), e.base())
    longer = e.base() > library.param("ITB-INI-02", "effect_longer_than_s")
    rid = core_screening.initial_rule(longer)
    expected = s.qty * library.param(rid, "factor") / qt.q(library.param("ITB-INI-01", "over_s"), "s")
    daily = qt.q(ng, "ng/day")
    check = verify("daily_dose", daily, expected, "dose rate", "exact", "1 ng/day")
    return InitialDoseResult(
        screening_dose=shown(s.qty, "mcg"),
        effect=shown(e.qty, "h"),
        daily_dose=shown(daily, "mcg/day"),
        dose_per_hour=per_hour(ng, "mcg/h", "ng/h"),
        group=grp,
        warnings=dose_cautions(ng, grp, where="initial dose"),
        rule_ids=[rid],
        verified=[check],
        inputs=inputs(s, e),
    )
