"""pint at the edges: one cached unit registry, reading what people type, exact conversions, JSON quantities.

Everything is exact: the registry works in ``fractions.Fraction``, typed numbers are exact decimals, and a
quantity becomes a core integer (ng, nL, s, mm, ng/uL) only when it is a whole number of that base unit;
anything finer is refused, with the value quoted as it was typed.

What is accepted (:func:`arg`): text ("500 mcg/day", "0.5 mg/day", "40 mg/20 mL", "500 mcg/24h"), a
``(number, "unit")`` pair, or a quantity of *any* pint registry (converted through its units). A bare number
is refused: it has no unit. :class:`Named` carries the name the user knows a value by (a CLI flag, a TOML
field) so every message names it.

"mcg" means microgram here (pint's reading). UCUM has no "mcg" (it spells microgram "ug"); files exchanged
with UCUM tools should use "ug".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from host_tools import qtext
from host_tools.errors import UsageError
from host_tools.pint_setup import registry

if TYPE_CHECKING:
    from typing import TypeAlias

    import pint

    Quantity: TypeAlias = pint.Quantity[Any]
else:
    Quantity = Any

__all__ = [
    "KINDS",
    "Arg",
    "Kind",
    "Named",
    "Quantity",
    "arg",
    "bad",
    "decimal_text",
    "exact",
    "from_json",
    "parse",
    "q",
    "registry",
    "to_base",
    "to_json",
]

_UNITS: dict[str, Any] = {}
_DIMS: dict[str, Any] = {}
_MAX_CACHED = 512  # unit texts come from code and from users; a runaway set of texts is not kept


@dataclass(frozen=True)
class Kind:
    """A kind of quantity: its dimensionality, the core's base unit, the display unit and its decimals."""

    name: str
    dimensionality: str
    base_unit: str
    unit: str  # display unit (docs/cli.md, "Precision")
    decimals: int  # decimals of the display unit that hold one base unit exactly
    example: str


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("dose rate", "[mass] / [time]", "ng/day", "mcg/day", 3, "500 mcg/day"),
        Kind("concentration", "[mass] / [length] ** 3", "ng/uL", "mcg/mL", 3, "1.5 mg/mL"),
        Kind("volume", "[length] ** 3", "nL", "mL", 6, "18 mL"),
        Kind("flow", "[length] ** 3 / [time]", "nL/day", "mL/day", 6, "10 uL/h"),
        Kind("mass", "[mass]", "ng", "mcg", 3, "60 mcg"),
        Kind("duration", "[time]", "s", "h", 4, "90 min"),
        Kind("length", "[length]", "mm", "cm", 1, "50 cm"),
    )
}

# Unit words whose reading is ambiguous to a person: refused with the reason ("m" is fine for a length).
_AMBIGUOUS_WORDS = {
    "gr": "'gr' is grain in pint but gram to many readers; write g, mg or mcg",
    "m": "'m' may be metre or minute; write min for minutes",
    "M": "'M' is molar or mega; write m for milli",
    "pct": "'pct' is pico-carat (a mass) in pint; write % for a percent",
}
_AMBIGUOUS_UNITS = {
    "month": "a month has no fixed length; write days",
    "year": "a year has no fixed length here; write days",
    "grain": "'grain' is easily confused with gram; write g, mg or mcg",
}
_BIG_PREFIXES = ("mega", "giga", "tera", "peta", "exa")

_NUMBER = r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,12})?|\.[0-9]{1,12})(?:[eE][+-]?[0-9]{1,2})?"  # qtext.MAX_*
_WORD = r"[A-Za-zµμ]+"
_UNIT = rf"{_WORD}(?:\s*[/*·]\s*{_WORD}|\s+per\s+{_WORD})*"
# NUMBER UNIT, optionally "/ NUMBER UNIT": a vial label ("40 mg/20 mL") or a per-period dose ("500 mcg/24h").
_QUANTITY_RE = re.compile(rf"\s*({_NUMBER})\s*({_UNIT})?(?:\s*(?:/|\s+per\s+)\s*({_NUMBER})\s*({_UNIT}))?\s*")
_MAX_TEXT = 80
_MAX_BASE = 10**15  # in the core's base unit: 1 kg/day, 1000 L, ... nothing plausible is larger


@dataclass(frozen=True)
class Named:
    """A value with the name the user knows it by (``--dose``, ``dose.base``); messages use that name."""

    name: str
    value: object


@dataclass(frozen=True)
class Arg:
    """One quantity as the user gave it: its name, its text as typed, the exact quantity, its kind."""

    name: str
    text: str
    qty: Quantity
    kind: str
    derived: bool = False  # typed with a number below the line ("40 mg/20 mL"): show the parsed value

    def base(self) -> int:
        """The value as an int in the core's base unit, exact, or a UsageError quoting the typed text."""
        return _to_base(self.name, self.text, self.qty, self.kind)

    def per(self, unit: str) -> Fraction:
        """The exact magnitude in ``unit``."""
        return exact(self.qty, unit)

    @property
    def per_hour(self) -> bool:
        """True when typed per hour ("500 mcg/h"), not per 24 h or per day."""
        if self.derived:
            return False
        hour = _unit("h")
        return any(_negative(power) and _unit(name) == hour for name, power in self.qty.units._units.items())

    @property
    def in_mg(self) -> bool:
        """True when typed in milligrams ("500 mg/day"), not mcg."""
        if self.derived:
            return False
        mg = _unit("mg")
        units = self.qty.units._units.items()
        return any(not _negative(power) and _unit(name) == mg for name, power in units)


def _negative(power: object) -> bool:
    return isinstance(power, (int, Fraction, float)) and power < 0


def bad(name: str, text: object, reason: str, rule_ids: list[str] | None = None) -> UsageError:
    """The one form of an input error: ``name: 'text' reason`` (the reason reads on from the value);
    ``name: reason`` when there is no value (a missing field)."""
    message = f"{name}: {reason}" if text == "" else f"{name}: '{text}' {reason}"
    return UsageError(message, field=name, value=text, rule_ids=rule_ids)


def _word_list(unit_text: str) -> list[str]:
    return re.findall(_WORD, unit_text)


def _parse_units(name: str, text: str, unit_text: str, spec: Kind) -> Any:
    for word in _word_list(unit_text):
        reason = _AMBIGUOUS_WORDS.get(word)
        if reason and not (word == "m" and spec.name == "length"):
            raise bad(name, text, f"has an ambiguous unit: {reason}")
    pint_text = re.sub(r"\s+per\s+", " / ", unit_text).replace("·", "*")
    try:
        units = _unit(pint_text)
    except Exception:  # pint raises UndefinedUnitError, DefinitionSyntaxError, AttributeError, ...
        word = next((w for w in _word_list(unit_text) if w != "per" and not _known(w)), unit_text)
        where = "" if word == unit_text else f" in '{unit_text}'"
        raise bad(
            name, text, f"has an unknown unit '{word}'{where}; write a {spec.name} such as '{spec.example}'"
        ) from None
    for unit_name in units._units:
        reason = _AMBIGUOUS_UNITS.get(unit_name)
        if reason is None and unit_name.startswith(_BIG_PREFIXES):
            reason = f"'{unit_name}' is almost certainly a mistyped milli- unit; write m, not M"
        if reason:
            raise bad(name, text, f"has an ambiguous unit: {reason}")
    return units


def _known(word: str) -> bool:
    try:
        _unit(word)
    except Exception:  # as in _parse_units
        return False
    return True


def _read(name: str, text: str, spec: Kind) -> tuple[Quantity, bool]:
    if len(text) > _MAX_TEXT:
        raise bad(name, text[:_MAX_TEXT] + "...", f"is longer than {_MAX_TEXT} characters")
    reason = qtext.non_ascii_digit(text)
    m = _QUANTITY_RE.fullmatch(text) if reason is None else None
    if m is None:
        reason = reason or qtext.number_reason(text, spec.name)
        if reason is not None:
            raise bad(name, text, reason)
        hint = " (use a decimal point, not a comma)" if "," in text else ""
        raise bad(name, text, f"is not a {spec.name}{hint}; write a number and a unit, e.g. '{spec.example}'")
    number, unit_text, below, below_unit = m.groups()
    if not unit_text and below is not None:
        raise bad(name, text, qtext.fraction_reason(number, below, below_unit or "", spec.name, spec.example))
    if not unit_text:
        raise bad(name, text, f"is a bare number; a {spec.name} needs a unit, e.g. '{spec.example}'")
    reg = registry()
    qty = reg.Quantity(Fraction(number), _parse_units(name, text, unit_text, spec))
    if below is not None:
        den = Fraction(below)
        if den <= 0:
            raise bad(name, text, "has zero or a negative number below the line")
        qty = qty / reg.Quantity(den, _parse_units(name, text, below_unit, spec))
    return qty, below is not None


def arg(name: str, value: object, kind: str, *, allow_zero: bool = False) -> Arg:
    """Read ``value`` (text, ``(number, unit)``, a pint quantity of any registry, :class:`Named`, an Arg)."""
    if isinstance(value, Named):
        return arg(value.name, value.value, kind, allow_zero=allow_zero)
    if isinstance(value, Arg):
        if value.kind != kind:
            raise bad(value.name, value.text, f"is a {value.kind}, expected a {kind}")
        return value
    spec = KINDS[kind]
    derived = False
    if isinstance(value, str):
        text = value.strip()
        qty, derived = _read(name, value, spec)
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        number = _number(name, value[0], f"{value[0]!s} {value[1]}")
        text = f"{value[0]} {value[1]}"
        qty = registry().Quantity(number, _parse_units(name, text, value[1], spec))
    elif hasattr(value, "magnitude") and hasattr(value, "units") and hasattr(value, "dimensionality"):
        text, qty = _foreign(name, value, spec)
    elif isinstance(value, (int, float, Fraction, Decimal)):
        raise bad(
            name,
            value,
            f"is a bare number; give a {spec.name} with its unit, e.g. '{spec.example}' "
            f"or ({value}, '{spec.unit}')",
        )
    else:
        raise bad(name, value, f"is not a {spec.name}; give text such as '{spec.example}'")
    return _checked(Arg(name, text, qty, kind, derived), allow_zero)


def _number(name: str, value: object, text: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction, Decimal)):
        raise bad(name, text, "is not a number with a unit")
    if isinstance(value, float):
        # The shortest decimal that reads back as this float: 0.1 meant 0.1, not 0.1000000000000000055.
        try:
            return Fraction(repr(value))
        except ValueError:
            raise bad(name, text, "is not a finite number") from None
    return Fraction(value)


def _foreign(name: str, value: Any, spec: Kind) -> tuple[str, Quantity]:
    # A quantity of another pint registry (or of ours): through its units' text, never its magnitude alone.
    unit_text = str(value.units)
    try:
        short = format(value.units, "~")
    except Exception:  # a registry without short forms
        short = unit_text
    text = f"{value.magnitude} {short}"
    number = _number(name, value.magnitude, text)
    try:
        units = _unit(unit_text)
    except Exception:
        raise bad(name, text, f"has a unit this registry does not know ('{unit_text}')") from None
    return text, registry().Quantity(number, units)


def _checked(a: Arg, allow_zero: bool) -> Arg:
    spec = KINDS[a.kind]
    if a.qty.dimensionality != _dimensionality(a.kind):
        found = _kind_of(a.qty)
        what = f"a {found}" if found else ("dimensionless" if a.qty.dimensionless else "of another dimension")
        raise bad(a.name, a.text, f"is {what}, expected a {spec.name} such as '{spec.example}'")
    value = exact(a.qty, spec.base_unit)
    if value < 0 or (value == 0 and not allow_zero):
        raise bad(a.name, a.text, "must not be negative" if allow_zero else "must be greater than zero")
    if abs(value) > _MAX_BASE:
        raise bad(a.name, a.text, f"is out of any plausible range for a {spec.name}")
    return a


def parse(field: str, text: str, kind: str, *, allow_zero: bool = False) -> Quantity:
    """Parse text as people write it and check its kind; the exact pint quantity (see :func:`arg`)."""
    if not isinstance(text, str):
        raise bad(field, text, f"is not text such as '{KINDS[kind].example}'")
    return arg(field, text, kind, allow_zero=allow_zero).qty


def _kind_of(qty: Quantity) -> str | None:
    for spec in KINDS.values():
        if qty.dimensionality == _dimensionality(spec.name):
            return spec.name
    return None


def _unit(text: str) -> Any:
    """The pint Unit for ``text``, parsed once and cached."""
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


def is_kind(qty: Quantity, kind: str) -> bool:
    """True when ``qty`` has the dimensionality of ``kind`` (a key of KINDS, or "dimensionless")."""
    if kind == "dimensionless":
        return bool(qty.dimensionless)
    return bool(qty.dimensionality == _dimensionality(kind))


def q(value: int | Fraction, unit: str) -> Quantity:
    """An exact pint quantity ``value unit`` (value an int or a Fraction)."""
    return registry().Quantity(Fraction(value), _unit(unit))


def exact(qty: Quantity, unit: str) -> Fraction:
    """The exact magnitude of ``qty`` in ``unit`` as a Fraction."""
    return Fraction(qty.to(_unit(unit)).magnitude)


def decimal_text(value: Fraction, decimals: int) -> str:
    """``value`` truncated toward zero to ``decimals`` decimals, trailing zeros dropped ("-0.5", "41.666")."""
    scale = 10**decimals
    whole = abs(value.numerator) * scale // value.denominator
    sign = "-" if value < 0 and whole else ""
    text = (
        f"{whole // scale}.{whole % scale:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(whole)
    )
    return sign + text


def _to_base(name: str, text: str, qty: Quantity, kind: str) -> int:
    spec = KINDS[kind]
    value = exact(qty, spec.base_unit)
    if value.denominator == 1:
        return value.numerator
    in_unit = exact(qty, spec.unit)
    digits = spec.decimals + 6
    cut = "" if (in_unit * 10**digits).denominator == 1 else "..."
    res = decimal_text(exact(q(1, spec.base_unit), spec.unit), spec.decimals)
    raise bad(
        name,
        text,
        f"is {decimal_text(in_unit, digits)}{cut} {spec.unit}, not a whole number of "
        f"{spec.base_unit} ({res} {spec.unit}), the resolution of a pump program; give it to "
        f"{spec.decimals} decimals in {spec.unit}",
    )


def to_base(field: str, qty: Quantity, kind: str) -> int:
    """``qty`` as an int in the core's base unit for ``kind``; exact or refused (UsageError naming field)."""
    return arg(field, qty, kind, allow_zero=True).base()


def to_json(qty: Quantity, unit: str) -> dict[str, Any]:
    """``{"value": <number>, "unit": unit}``: the value is exact when integral, else the nearest double."""
    value = exact(qty, unit)
    return {"value": value.numerator if value.denominator == 1 else float(value), "unit": unit}


def from_json(field: str, obj: object, kind: str) -> Quantity:
    """Inverse of :func:`to_json` (reads a written program's quantities)."""
    if not isinstance(obj, dict) or set(obj) != {"value", "unit"}:
        raise bad(field, obj, "is not {'value': number, 'unit': text}")
    value, unit = obj["value"], obj["unit"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(unit, str):
        raise bad(field, obj, "is not {'value': number, 'unit': text}")
    return arg(field, (value, unit), kind, allow_zero=True).qty
