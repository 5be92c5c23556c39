"""Dilution of a labeled stock to a target strength (ITB-CON-02, ITB-CON-04, ITB-DIL-01), from the core:
the stock volume in whole steps of the syringe's resolution, rounded down, so the achieved strength is a
whole mcg/mL at or below the target; a shortfall beyond the tolerance is refused."""

from __future__ import annotations

import dataclasses
import inspect

from firmware_py import dilution as core_dilution
from firmware_py import library
from firmware_py.units import PERMILLE, PPM
from host_tools import display
from host_tools import quantities as qt
from host_tools.calc.common import Caution, QLike, Result, conc_arg, core_errors, refusal, shown, unwrap
from host_tools.calc.verify import Check, verify
from host_tools.errors import RefusedError
from host_tools.parsing import percent_permille
from host_tools.quantities import Arg, Quantity, bad

PPM_PER_PERMILLE = PPM // PERMILLE


def default_resolution() -> str:
    """The core's default measuring resolution, as text."""
    nl = inspect.signature(core_dilution.dilute).parameters["resolution_nl"].default
    return display.ml(int(nl))


def default_tolerance() -> str:
    """ITB-DIL-01's default tolerance, as text ("1%")."""
    ppm = core_dilution.default_tolerance_ppm()
    return display.percent(ppm // PPM_PER_PERMILLE).replace(" ", "")


def tolerance_ppm(name: str, text: str) -> int:
    """A tolerance such as "1%" or "0.5%" as ppm (0.1 % steps)."""
    if text.strip() in ("0%", "0 %"):
        return 0
    return percent_permille(name, text, signed=False) * PPM_PER_PERMILLE


@dataclasses.dataclass(frozen=True)
class DiluteResult(Result):
    """Stock and diluent volumes for a target concentration; the achieved strength is what to program."""

    stock_concentration: Quantity
    target_concentration: Quantity
    achieved_concentration: Quantity  # a whole mcg/mL, never above the target: the program states it
    stock_volume: Quantity
    diluent_volume: Quantity
    diluent: str
    final_volume: Quantity
    resolution: Quantity
    shortfall: Quantity  # below the target, in percent (rounded up: never understated)
    tolerance: Quantity
    strength_step: (
        Quantity  # the whole-mcg/mL strengths this volume and resolution can make are its multiples
    )
    warnings: list[Caution]
    rule_ids: list[str]
    verified: list[Check]
    inputs: dict[str, str]


def _screening_strength(achieved: int) -> list[Caution]:
    # ITB-SCR-05: a dilution to the screening strength is no pump fill (program build refuses it).
    if achieved != library.param("ITB-SCR-03", "conc_ng_per_ul"):
        return []
    text = (
        f"the achieved {display.conc(achieved)} is the screening strength, for bolus test doses only, never "
        "a pump fill: a program at it is refused"
    )
    return [Caution("ITB-SCR-05", text)]


def dilute(
    stock: QLike, target: QLike, volume: QLike, *, resolution: QLike | None = None, tolerance: object = None
) -> DiluteResult:
    """Dilute ``stock`` to ``target``, ``volume`` in all, measuring in steps of ``resolution``.

    >>> r = dilute("2000 mcg/mL", "750 mcg/mL", "20 mL").to_json()
    >>> r["stock_volume"], r["diluent_volume"], r["achieved_concentration"]
    ({'value': 7.5, 'unit': 'mL'}, {'value': 12.5, 'unit': 'mL'}, {'value': 750, 'unit': 'mcg/mL'})
    """
    s, t = conc_arg("stock", stock), conc_arg("target", target)
    v = qt.arg("volume", volume, "volume")
    res = qt.arg("resolution", default_resolution() if resolution is None else resolution, "volume")
    tol_name, given = unwrap("tolerance", tolerance)
    tol_text = default_tolerance() if given is None else str(given)
    tol = tolerance_ppm(tol_name, tol_text)
    if tol >= PPM:
        raise bad(tol_name, tol_text, "is not below 100 %")
    if v.base() % res.base():
        raise bad(v.name, v.text, f"is not a whole number of {res.name} '{res.text}' steps")
    d = _core(s, t, v, res, tol)
    stock_v, diluent_v = qt.q(d.stock_nl, "nL"), qt.q(d.diluent_nl, "nL")
    achieved = qt.q(d.achieved_conc_ng_per_ul, "ng/uL")
    checks = _verify(s, t, v, tol, d)
    return DiluteResult(
        stock_concentration=shown(s.qty, "mcg/mL"),
        target_concentration=shown(t.qty, "mcg/mL"),
        achieved_concentration=shown(achieved, "mcg/mL"),
        stock_volume=shown(stock_v, "mL"),
        diluent_volume=shown(diluent_v, "mL"),
        diluent=d.diluent,
        final_volume=shown(v.qty, "mL"),
        resolution=shown(res.qty, "mL"),
        shortfall=shown(qt.q(d.shortfall_ppm, "ppm"), "percent"),
        tolerance=shown(qt.q(tol, "ppm"), "percent"),
        strength_step=shown(qt.q(d.strength_step_ng_per_ul, "ng/uL"), "mcg/mL"),
        warnings=_screening_strength(d.achieved_conc_ng_per_ul),
        rule_ids=["ITB-CON-02", "ITB-CON-04", "ITB-DIL-01"],
        verified=checks,
        inputs={a.name: a.text for a in (s, t, v, res)} | {tol_name: tol_text},
    )


def _core(s: Arg, t: Arg, v: Arg, res: Arg, tol: int) -> core_dilution.Dilution:
    try:
        with core_errors(
            stock_conc_ng_per_ul=s, target_conc_ng_per_ul=t, final_volume_nl=v, resolution_nl=res
        ):
            return core_dilution.dilute(s.base(), t.base(), v.base(), res.base(), tol)
    except RefusedError as exc:
        if exc.rule_ids != ["ITB-CON-04"]:
            raise
        raise refusal(
            f"{t.name}: '{t.text}' is above {s.name} '{s.text}': dilution only lowers a strength "
            "[ITB-CON-04]",
            ["ITB-CON-04"],
        ) from None


def _verify(s: Arg, t: Arg, v: Arg, tol: int, d: core_dilution.Dilution) -> list[Check]:
    # Mass conserved exactly; the stock volume below the exact one by at most the tolerance; the shortfall
    # rounded up to 1 ppm.
    stock_v, diluent_v = qt.q(d.stock_nl, "nL"), qt.q(d.diluent_nl, "nL")
    achieved = qt.q(d.achieved_conc_ng_per_ul, "ng/uL")
    slack = qt.q(1, "nL") + v.qty * t.qty * tol / PPM / s.qty
    return [
        verify("final_volume", stock_v + diluent_v, v.qty, "volume", "exact", "1 nL"),
        verify(
            "achieved_concentration", achieved, s.qty * stock_v / v.qty, "concentration", "exact", "1 ng/uL"
        ),
        verify("stock_volume", stock_v, t.qty * v.qty / s.qty, "volume", "floor", slack),
        verify(
            "shortfall",
            qt.q(d.shortfall_ppm, "ppm"),
            (t.qty - achieved) / t.qty,
            "dimensionless",
            "ceil",
            qt.q(1, "ppm"),
        ),
    ]
