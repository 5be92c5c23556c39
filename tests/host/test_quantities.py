"""host_tools.quantities: parsing what people type, refusing what is ambiguous, exact conversions."""

from __future__ import annotations

from fractions import Fraction

import pytest

from host_tools import quantities as qt
from host_tools.errors import InternalError, UsageError


@pytest.mark.parametrize(
    ("text", "kind", "base"),
    [
        ("500 mcg/day", "dose rate", 500_000),
        ("0.5 mg/day", "dose rate", 500_000),
        ("500mcg/day", "dose rate", 500_000),
        ("20.833 mcg/h", "dose rate", 499_992),
        ("2 mg per day", "dose rate", 2_000_000),
        ("2 mg/mL", "concentration", 2_000),
        ("500 ug/ml", "concentration", 500),
        ("40 mL", "volume", 40_000_000),
        ("10 uL/h", "flow", 240_000),
        ("10 µL/h", "flow", 240_000),  # micro sign U+00B5
        ("10 μL/h", "flow", 240_000),  # Greek mu U+03BC
        ("1e3 mcg/day", "dose rate", 1_000_000),
        ("2 h", "duration", 7_200),
        ("50 mcg", "mass", 50_000),
    ],
)
def test_parse_as_people_write_it(text: str, kind: str, base: int) -> None:
    """Quantities as people type them become exact core integers (mcg is microgram)."""
    assert qt.to_base("--x", qt.parse("--x", text, kind), kind) == base


@pytest.mark.parametrize(
    ("text", "kind", "says"),
    [
        ("500", "dose rate", "bare number"),
        ("  500  ", "dose rate", "bare number"),
        ("2 mg/mL", "dose rate", "is a concentration, expected a dose rate"),
        ("10 uL/h", "dose rate", "is a flow, expected a dose rate"),
        ("500 mcg/day", "flow", "is a dose rate, expected a flow"),
        ("5 %", "volume", "cannot read"),
        ("1 gr/day", "dose rate", "ambiguous unit"),
        ("1 mcg/month", "dose rate", "ambiguous unit"),
        ("3 m", "duration", "ambiguous unit"),
        ("1 ML", "volume", "ambiguous unit"),
        ("1 Mg/day", "dose rate", "ambiguous unit"),
        ("3 blorps/day", "dose rate", "unknown unit"),
        ("0,5 mg/day", "dose rate", "decimal point"),
        ("-5 mL", "volume", "greater than zero"),
        ("0 mL", "volume", "greater than zero"),
        ("1e99 mg/day", "dose rate", "plausible range"),
        ("2**1000 mg/day", "dose rate", "cannot read"),
        ("nan mg/day", "dose rate", "cannot read"),
        ("x" * 200, "dose rate", "longer than"),
    ],
)
def test_parse_refuses_with_a_reason(text: str, kind: str, says: str) -> None:
    """A bare number, a wrong dimension or an ambiguous unit is refused; the message names field and why."""
    with pytest.raises(UsageError) as info:
        qt.parse("--dose", text, kind)
    msg = str(info.value)
    assert msg.startswith("--dose: ")
    assert says in msg
    assert "\n" not in msg


def test_zero_allowed_when_asked() -> None:
    assert qt.to_base("--a", qt.parse("--a", "0 mL", "volume", allow_zero=True), "volume") == 0


def test_finer_than_core_resolution_is_refused() -> None:
    """0.1 ng/day cannot be a core integer: refused, never rounded silently."""
    qty = qt.parse("--dose", "0.0001 mcg/day", "dose rate")
    with pytest.raises(UsageError, match="finer than"):
        qt.to_base("--dose", qty, "dose rate")


def test_exact_arithmetic() -> None:
    """The registry is exact: 0.1 mg/mL is exactly 100 ng/uL, 1/24 of a day is exactly 1 h."""
    assert qt.exact(qt.parse("--c", "0.1 mg/mL", "concentration"), "ng/uL") == 100
    assert qt.exact(qt.q(1, "day") / 24, "h") == 1
    assert isinstance(qt.exact(qt.q(1, "mcg/day"), "mcg/h"), Fraction)


def test_json_round_trip_and_rates_show_both() -> None:
    """JSON quantities are {value, unit} with a unit pint parses; every rate shows per day and per hour."""
    qty = qt.parse("--dose", "500 mcg/day", "dose rate")
    obj = qt.to_json(qty, "mcg/h")
    assert set(obj) == {"value", "unit"}
    back = qt.from_json("x", obj, "dose rate")
    assert abs(qt.exact(back, "mcg/day") - 500) < Fraction(1, 10**9)
    assert qt.fmt_rate(qty) == "500 mcg/day (20.833 mcg/h)"
    assert qt.fmt_rate(qt.parse("--f", "10 uL/h", "flow")) == "0.24 mL/day (10 uL/h)"
    with pytest.raises(UsageError):
        qt.from_json("x", {"value": 1, "unit": "mL"}, "dose rate")
    with pytest.raises(UsageError):
        qt.from_json("x", {"value": True, "unit": "mcg/day"}, "dose rate")


def test_internal_dimension_error_is_internal() -> None:
    with pytest.raises(InternalError):
        qt.check_kind("flow", qt.q(1, "mg"), "flow", internal=True)


def test_registry_is_cached() -> None:
    assert qt.registry() is qt.registry()
