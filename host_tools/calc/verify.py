"""The verification engine: a core result against an independent pint re-computation, within the core's
documented rounding bound. A disagreement is a VerificationError (exit 1), never a refusal of the input.

Each calculation lists what it verified in its ``verified`` key: ``{key, rounding, bound}``.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

from host_tools import quantities as qt
from host_tools.errors import VerificationError
from host_tools.quantities import Quantity

ROUNDINGS = ("floor", "ceil", "exact")

# Bound texts recur (1 nL/day, 1 ng/h, ...): each is built once.
_BOUND_TEXT: dict[tuple[Fraction, Any], str] = {}
_MAX_CACHED = 256


@dataclasses.dataclass(frozen=True)
class Check:
    """One verified result: its key, how the core rounds it, and the bound it must lie within."""

    key: str
    rounding: str  # "floor": core <= exact < core + bound; "ceil": core - bound < exact <= core; "exact"
    bound: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "rounding": self.rounding, "bound": self.bound}


def _bound_text(bound: Quantity) -> str:
    key = (Fraction(bound.magnitude), bound._units)
    text = _BOUND_TEXT.get(key)
    if text is None:
        if len(_BOUND_TEXT) >= _MAX_CACHED:
            _BOUND_TEXT.clear()
        text = _BOUND_TEXT[key] = f"{qt.decimal_text(Fraction(bound.magnitude), 6)} {bound.units:~C}"
    return text


def _dims(key: str, kind: str, *quantities: Quantity) -> None:
    for x in quantities:
        if not qt.is_kind(x, kind):
            raise VerificationError(f"{key}: the re-computation is not a {kind} ({x.dimensionality}): a bug")


def verify(  # noqa: PLR0917  (key, core, independent, kind, rounding, bound: read as one sentence)
    key: str, core: Quantity, independent: Quantity, kind: str, rounding: str, bound: Quantity | str
) -> Check:
    """Check a core result against its pint re-computation; VerificationError when they disagree.

    ``bound`` is a quantity or its text ("1 nL/day", kept as the bound's text in ``verified``).
    """
    text = None
    if isinstance(bound, str):
        text, bound = bound, qt.arg("bound", bound, kind).qty
    _dims(key, kind, core, independent, bound)
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding {rounding!r}")
    unit = str(bound.units)
    b = qt.exact(bound, unit)
    diff = qt.exact(independent, unit) - qt.exact(core, unit)
    ok = {"floor": 0 <= diff < b, "ceil": -b < diff <= 0, "exact": diff == 0}[rounding]
    if not ok:
        got, want = qt.decimal_text(qt.exact(core, unit), 9), qt.decimal_text(qt.exact(independent, unit), 9)
        raise VerificationError(
            f"{key}: the core's {got} {bound.units:~C} disagrees with the pint re-computation {want} beyond "
            f"the rounding bound ({rounding}, {_bound_text(bound)})"
        )
    return Check(key, rounding, "0" if rounding == "exact" else text or _bound_text(bound))


def claim(key: str, holds: bool, what: str, why: str) -> Check:
    """A verified statement that is not a number (an allowed change lies in its band, ...)."""
    if not holds:
        raise VerificationError(f"{key}: {why}")
    return Check(key, "exact", what)
