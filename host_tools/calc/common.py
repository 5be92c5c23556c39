"""What every calculation shares: the patient group, cautions, results that are their own JSON, inputs in the
user's words, and core errors translated into them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

from firmware_py import library
from firmware_py.errors import EXIT_REFUSED, ItbError
from host_tools import display
from host_tools import quantities as qt
from host_tools.errors import RefusedError, UsageError
from host_tools.quantities import Arg, Quantity, bad

QLike = object  # text "500 mcg/day", (500, "mcg/day"), a pint quantity of any registry, or qt.Named


def adult_age() -> int:
    """The youngest adult age (ITB-TIT-03): the age used for "an adult" when no age is given."""
    return library.param("ITB-TIT-03", "pediatric_below_age_years")


@dataclasses.dataclass(frozen=True)
class Group:
    """The patient group a dose is checked against: origin and age (None: an adult of unstated age)."""

    origin: str
    age_years: int | None
    default: bool  # True when the user gave neither: the adult spinal default

    @property
    def age(self) -> int:
        return adult_age() if self.age_years is None else self.age_years

    @property
    def text(self) -> str:
        return library.group_text(self.origin, self.age)

    @property
    def range_rule(self) -> str:
        return library.range_rule(self.origin, self.age)

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "age_years": self.age_years,
            "text": self.text,
            "default": self.default,
        }


def unwrap(name: str, value: object) -> tuple[str, object]:
    """(the name the user knows, the value): a qt.Named gives its own name."""
    if isinstance(value, qt.Named):
        return value.name, value.value
    return name, value


def group(origin: object = None, age: object = None) -> Group:
    """The group from an origin (library.ORIGINS) and an age in whole years; neither: adult spinal."""
    names = (unwrap("origin", origin)[0], unwrap("age", age)[0])
    origin, age = unwrap("origin", origin)[1], unwrap("age", age)[1]
    if origin is None and age is None:
        return Group(library.SPINAL, None, True)
    origin = library.SPINAL if origin is None else origin
    if not isinstance(origin, str) or origin not in library.ORIGINS:
        raise bad(names[0], origin, "is not an origin; give " + " or ".join(library.ORIGINS))
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= library.MAX_AGE_YEARS
    ):
        raise bad(names[1], age, f"is not an age in whole years from 0 to {library.MAX_AGE_YEARS}")
    return Group(origin, age, False)


@dataclasses.dataclass(frozen=True)
class Caution:
    """A warning about an input or a result: the rule it comes from and a text for people."""

    rule_id: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"rule_id": self.rule_id, "text": self.text}

    def __str__(self) -> str:
        return f"{self.text} [{self.rule_id}]"


# -- results --------------------------------------------------------------------------------------------


_UNIT_TEXT: dict[Any, str] = {}


def shown(qty: Quantity, unit: str) -> Quantity:
    """``qty`` converted (exactly) to a display unit; its JSON carries ``unit`` as written here."""
    out = qty.to(qt.q(1, unit).units)
    _UNIT_TEXT[out.units] = unit
    return out


def _json(value: object) -> object:
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "magnitude") and hasattr(value, "units"):
        unit = _UNIT_TEXT.get(value.units)
        if unit is None:
            raise TypeError(f"a result quantity not in a display unit: {value!r}")
        return qt.to_json(value, unit)  # type: ignore[arg-type]
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, Fraction):
        raise TypeError(f"a bare Fraction in a result: {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Result:
    """A calculation's result: each field is one JSON key of the same name, quantities in display units."""

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: _json(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if not f.name.startswith("_")
        }

    @property
    def caution_list(self) -> list[Caution]:
        return list(getattr(self, "warnings", []))


# -- inputs -----------------------------------------------------------------------------------------------


def dose_arg(name: str, value: QLike) -> Arg:
    return qt.arg(name, value, "dose rate")


def conc_arg(name: str, value: QLike) -> Arg:
    """A concentration, at most ITB-CON-04's maximum (a pump never holds more), a whole mcg/mL."""
    a = qt.arg(name, value, "concentration")
    top = library.param("ITB-CON-04", "max_conc_ng_per_ul")
    if a.base() > top:
        raise bad(a.name, a.text, f"is above the {display.conc(top)} a pump may hold", ["ITB-CON-04"])
    return a


def refusal(message: str, rule_ids: list[str]) -> RefusedError:
    """A refusal whose message already names its rules (a decision's message): IDs not appended twice."""
    exc = RefusedError("", None, message)
    exc.rule_ids = list(rule_ids)
    return exc


# -- core errors in the user's words ------------------------------------------------------------------------

_BASE_FIGURES = (
    (re.compile(r"(\d+) nL/day"), display.ml_per_day),
    (re.compile(r"(\d+) nL"), display.ml),
    (re.compile(r"(\d+) s\b"), display.duration),
)


_TRAILING_ZEROS = re.compile(r"\b(\d+\.\d*?)0+\b")


def humanize(reason: str, names: dict[str, Arg]) -> str:
    """A core reason with base-unit figures in display units, no trailing zeros (the precision policy), and
    core field names as the user's."""
    reason = _TRAILING_ZEROS.sub(lambda m: m.group(1).rstrip("."), reason)
    for pattern, show in _BASE_FIGURES:
        reason = pattern.sub(lambda m, f=show: f(int(m.group(1))), reason)  # type: ignore[misc]
    for core_name, a in names.items():
        reason = reason.replace(core_name, a.name)
    return reason


@contextmanager
def core_errors(**names: Arg) -> Iterator[None]:
    """Translate an ItbError of a core call: its field becomes the user's name and typed value.

    ``names`` maps the core's argument names (``dose_ng_per_day``) to the Args they were made from. A core
    error about a field not mapped here is not the user's input: it propagates unchanged.
    """
    try:
        yield
    except UsageError:
        raise
    except ItbError as exc:
        a = names.get(exc.field)
        if a is None:
            raise
        text = f"{a.name}: '{a.text}' {humanize(exc.reason, names)}"
        if exc.exit_code == EXIT_REFUSED:
            raise RefusedError("", None, text, exc.rule_ids) from None
        raise UsageError(text, field=a.name, value=a.text, rule_ids=exc.rule_ids) from None
