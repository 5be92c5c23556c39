"""pint at the edges: one cached unit registry, parsing what people type, exact conversions, JSON quantities.

Everything here is exact: the registry is built with ``non_int_type=fractions.Fraction``, numbers typed by a
user are parsed as exact decimals, and a quantity becomes a core integer (ng, nL, s, ng/uL) only when it is a
whole number of that base unit; anything finer is refused rather than silently rounded.

"mcg" means microgram here (pint's reading). UCUM has no "mcg" (it spells microgram "ug"); a UCUM parser
would refuse it or read it otherwise, so files exchanged with UCUM tools should use "ug".

pint is imported lazily (on the first call to :func:`registry`), and the registry's parsed definitions are
cached on disk by pint (``cache_folder``; ``ITB_PINT_CACHE`` names the folder, an empty value turns the cache
off), which keeps a calculation command fast.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from host_tools.errors import InternalError, UsageError

if TYPE_CHECKING:
    from typing import TypeAlias

    import pint

    Quantity: TypeAlias = pint.Quantity[Any]
    UnitRegistry: TypeAlias = pint.UnitRegistry[Any]
else:
    Quantity = Any
    UnitRegistry = Any

__all__ = [
    "KINDS",
    "Kind",
    "Quantity",
    "check_kind",
    "exact",
    "fmt",
    "fmt_rate",
    "from_json",
    "parse",
    "q",
    "registry",
    "to_base",
    "to_json",
]

_REGISTRY: list[Any] = []
# Parsed once per registry: unit text -> pint Unit, kind name -> dimensionality (pint re-parses text on
# every use otherwise, which dominated a calculation's time).
_UNITS: dict[str, Any] = {}
_DIMS: dict[str, Any] = {}
_MAX_CACHED = 512  # unit texts come from code and from users; a runaway set of texts is not kept


def registry() -> UnitRegistry:
    """The one pint UnitRegistry of the host tools (exact Fraction arithmetic), built once and cached."""
    if _REGISTRY:
        return _REGISTRY[0]  # type: ignore[no-any-return]
    pint = _import_pint()
    folder = os.environ.get("ITB_PINT_CACHE", ":auto:")
    try:
        reg: UnitRegistry = pint.UnitRegistry(cache_folder=folder or None, non_int_type=Fraction)
    except OSError:  # an unwritable cache folder must not stop a calculation
        reg = pint.UnitRegistry(non_int_type=Fraction)
    _REGISTRY.append(reg)
    return reg


def _import_pint() -> Any:
    # pint imports numpy when it can, which is a third of pint's import time; the host tools only ever
    # give pint exact scalars, so a calculation command imports pint without it. If numpy is already
    # loaded (plots, tests) or ITB_PINT_NUMPY=1, pint gets it as usual. numpy stays importable afterwards.
    import sys  # noqa: PLC0415

    if "pint" in sys.modules or "numpy" in sys.modules or os.environ.get("ITB_PINT_NUMPY") == "1":
        import pint  # noqa: PLC0415

        return pint
    sys.modules["numpy"] = None  # type: ignore[assignment]  # makes `import numpy` raise ImportError
    try:
        import pint  # noqa: PLC0415
    finally:
        del sys.modules["numpy"]
    return pint


@dataclass(frozen=True)
class Kind:
    """A kind of quantity the tools accept: its pint dimensionality, the core base unit, an example."""

    name: str
    dimensionality: str
    base_unit: str
    example: str


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("dose rate", "[mass] / [time]", "ng/day", "500 mcg/day"),
        Kind("concentration", "[mass] / [length] ** 3", "ng/uL", "2 mg/mL"),
        Kind("volume", "[length] ** 3", "nL", "40 mL"),
        Kind("flow", "[length] ** 3 / [time]", "nL/day", "10 uL/h"),
        Kind("mass", "[mass]", "ng", "50 mcg"),
        Kind("duration", "[time]", "s", "2 h"),
        Kind("length", "[length]", "cm", "50 cm"),
    )
}

# Units that parse but whose reading is ambiguous to a person: refused, with the reason.
_AMBIGUOUS_WORDS = {
    "gr": "'gr' is grain in pint but gram to many readers; write g, mg or mcg",
    "m": "'m' may be metre or minute; write min for minutes",
    "M": "'M' is molar or mega; write m for milli",
}
_AMBIGUOUS_UNITS = {
    "month": "a month has no fixed length; write days",
    "year": "a year has no fixed length here; write days",
    "grain": "'grain' is easily confused with gram; write g, mg or mcg",
}
_BIG_PREFIXES = ("mega", "giga", "tera", "peta", "exa")

_NUMBER = r"[+-]?(?:\d{1,15}(?:\.\d{0,12})?|\.\d{1,12})(?:[eE][+-]?\d{1,2})?"
_WORD = r"[A-Za-zµμ]+"
_UNIT = rf"{_WORD}(?:\s*[/*·]\s*{_WORD}|\s+per\s+{_WORD})*"
_QUANTITY_RE = re.compile(rf"\s*({_NUMBER})\s*({_UNIT})?\s*")
_MAX_TEXT = 80
_MAX_BASE = 10**15  # in the core's base unit: 1 kg/day, 1000 L, ... nothing plausible is larger


def _word_list(unit_text: str) -> list[str]:
    return re.findall(_WORD, unit_text)


def parse(field: str, text: str, kind: str, *, allow_zero: bool = False) -> Quantity:
    """Parse a quantity as people write it ("500 mcg/day", "0.5 mg/day", "10 µL/h") and check its kind.

    ``kind`` is a key of :data:`KINDS`. A bare number, a wrong dimension, an ambiguous unit ("gr", "month",
    a mega- prefix that is probably a mistyped milli-), a malformed number, and a value that is negative (or
    zero unless ``allow_zero``) raise :class:`UsageError`, whose message names ``field`` and says which.
    """
    spec = KINDS[kind]
    if not isinstance(text, str):
        raise UsageError(f"{field}: expected a quantity as text such as '{spec.example}', got {text!r}")
    if len(text) > _MAX_TEXT:
        raise UsageError(f"{field}: quantity text longer than {_MAX_TEXT} characters")
    m = _QUANTITY_RE.fullmatch(text)
    if m is None:
        hint = " (use a decimal point, not a comma)" if "," in text else ""
        raise UsageError(
            f"{field}: cannot read {text!r} as a {spec.name}{hint}; write it as a number and a unit, "
            f"e.g. '{spec.example}'"
        )
    number, unit_text = m.group(1), m.group(2)
    if not unit_text:
        raise UsageError(
            f"{field}: {text!r} is a bare number; a {spec.name} needs a unit, e.g. '{spec.example}'"
        )
    for word in _word_list(unit_text):
        reason = _AMBIGUOUS_WORDS.get(word)
        if reason:
            raise UsageError(f"{field}: ambiguous unit in {text!r}: {reason}")
    reg = registry()
    pint_text = re.sub(r"\s+per\s+", " / ", unit_text).replace("·", "*")
    try:
        units = reg.parse_units(pint_text)
    except Exception as exc:  # pint raises UndefinedUnitError, DefinitionSyntaxError, AttributeError, ...
        bad = getattr(exc, "unit_names", None) or [unit_text]
        name = bad[0] if isinstance(bad, (list, tuple)) and bad else unit_text
        raise UsageError(f"{field}: unknown unit {name!r} in {text!r}; e.g. '{spec.example}'") from None
    for unit_name in units._units:
        reason = _AMBIGUOUS_UNITS.get(unit_name)
        if reason is None and unit_name.startswith(_BIG_PREFIXES):
            reason = f"'{unit_name}' is almost certainly a mistyped milli- unit; write m, not M"
        if reason:
            raise UsageError(f"{field}: ambiguous unit in {text!r}: {reason}")
    value = Fraction(number)
    qty = reg.Quantity(value, units)
    check_kind(field, qty, kind, text=text)
    if value < 0 or (value == 0 and not allow_zero):
        need = "must not be negative" if allow_zero else "must be greater than zero"
        raise UsageError(f"{field}: {need} (got {text.strip()!r})")
    if abs(exact(qty, spec.base_unit)) > _MAX_BASE:
        raise UsageError(f"{field}: {text.strip()!r} is out of any plausible range for a {spec.name}")
    return qty


def _kind_of(qty: Quantity) -> str | None:
    for spec in KINDS.values():
        if qty.dimensionality == _dimensionality(spec.name):
            return spec.name
    return None


def _unit(text: str) -> Any:
    """The pint Unit for ``text``, parsed once and cached (the same Unit ``parse_units`` gives)."""
    u = _UNITS.get(text)
    if u is None:
        u = registry().parse_units(text)
        if len(_UNITS) >= _MAX_CACHED:
            _UNITS.clear()
        _UNITS[text] = u
    return u


def _dimensionality(kind: str) -> Any:
    dim = _DIMS.get(kind)
    if dim is None:
        dim = _DIMS[kind] = registry().get_dimensionality(KINDS[kind].dimensionality)
    return dim


def check_kind(
    field: str, qty: Quantity, kind: str, *, text: str | None = None, internal: bool = False
) -> None:
    """Raise unless ``qty`` has the dimensionality of ``kind``: UsageError, or InternalError if internal."""
    spec = KINDS[kind]
    if qty.dimensionality == _dimensionality(kind):
        return
    shown = text.strip() if text is not None else str(qty)
    found = _kind_of(qty)
    what = f"a {found}" if found else ("dimensionless" if qty.dimensionless else "of another dimension")
    if internal:
        raise InternalError(f"{field}: internal dimension error: {shown!r} is {what}, expected a {spec.name}")
    raise UsageError(f"{field}: {shown!r} is {what}, expected a {spec.name} such as '{spec.example}'")


def q(value: int | Fraction, unit: str) -> Quantity:
    """An exact pint quantity ``value unit`` (value an int or a Fraction)."""
    return registry().Quantity(Fraction(value), _unit(unit))


def exact(qty: Quantity, unit: str) -> Fraction:
    """The exact magnitude of ``qty`` in ``unit`` as a Fraction."""
    return Fraction(qty.to(_unit(unit)).magnitude)


def to_base(field: str, qty: Quantity, kind: str) -> int:
    """``qty`` as an int in the core's base unit for ``kind`` (ng/day, ng/uL, nL, ...); exact or refused."""
    spec = KINDS[kind]
    check_kind(field, qty, kind)
    value = exact(qty, spec.base_unit)
    if value.denominator != 1:
        raise UsageError(
            f"{field}: {fmt(qty, str(qty.units))} is finer than the core's resolution of 1 {spec.base_unit}"
        )
    if abs(value.numerator) > _MAX_BASE:
        raise UsageError(f"{field}: {fmt(qty, str(qty.units))} is out of any plausible range")
    return value.numerator


def _number(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else float(value)


def to_json(qty: Quantity, unit: str) -> dict[str, Any]:
    """``{"value": <number>, "unit": unit}``: the value is exact when integral, else the nearest double."""
    return {"value": _number(exact(qty, unit)), "unit": unit}


def from_json(field: str, obj: object, kind: str) -> Quantity:
    """Inverse of :func:`to_json` (used by tests and by the rig tools to read a written program)."""
    if not isinstance(obj, dict) or set(obj) != {"value", "unit"}:
        raise UsageError(f"{field}: expected {{'value': number, 'unit': text}}, got {obj!r}")
    value, unit = obj["value"], obj["unit"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(unit, str):
        raise UsageError(f"{field}: expected {{'value': number, 'unit': text}}, got {obj!r}")
    qty = registry().Quantity(Fraction(value), registry().parse_units(unit))
    check_kind(field, qty, kind)
    return qty


def fmt(qty: Quantity, unit: str, digits: int = 3) -> str:
    """Human text of ``qty`` in ``unit``, truncated toward zero to ``digits`` decimals (never rounded up).

    Trailing zeros are dropped; a non-zero value too small to show gets three significant digits.
    """
    value = exact(qty, unit)
    if value.denominator == 1:
        return f"{value.numerator} {unit}"
    scale = 10**digits
    scaled = abs(value) * scale
    whole = scaled.numerator // scaled.denominator
    if whole == 0:
        return f"{float(value):.3g} {unit}"
    sign = "-" if value < 0 else ""
    text = f"{whole // scale}.{whole % scale:0{digits}d}".rstrip("0").rstrip(".")
    return f"{sign}{text} {unit}"


def fmt_rate(qty: Quantity) -> str:
    """A rate as both per-day and per-hour text, e.g. "500 mcg/day (20.833 mcg/h)" or a flow in mL and uL."""
    kind = _kind_of(qty)
    if kind == "dose rate":
        return f"{fmt(qty, 'mcg/day')} ({fmt(qty, 'mcg/h')})"
    if kind == "flow":
        return f"{fmt(qty, 'mL/day', 4)} ({fmt(qty, 'uL/h')})"
    raise InternalError(f"fmt_rate: {qty!r} is not a rate")


def short_unit(qty: Quantity) -> str:
    """pint's compact abbreviation of ``qty``'s unit ("nl/d"), which pint parses back."""
    return format(qty.units, "~C")
