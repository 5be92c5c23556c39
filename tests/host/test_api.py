"""The Python API (issue 12): any pint registry, numbers with units, field names equal to the JSON keys,
results
in display units, docs/api.md and every function's doctest run."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
from typing import Any

import pint
import pytest

from host_tools import calc
from tests.host.conftest import ROOT

MODULES = [
    "host_tools.calc.flow",
    "host_tools.calc.schedule",
    "host_tools.calc.refill",
    "host_tools.calc.start",
    "host_tools.calc.change",
    "host_tools.calc.bridge",
    "host_tools.calc.dilution",
]


def test_docs_api_md_doctests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(
        str(ROOT / "docs" / "api.md"), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.failed == 0 and result.attempted >= 25


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def _results() -> list[calc.Result]:
    return [
        calc.rate("500 mcg/day", "500 mcg/mL"),
        calc.schedule("500 mcg/day", "500 mcg/mL", ["22:00-06:00=+20%"]),
        calc.refill("20 mL", "500 mcg/mL", "500 mcg/day"),
        calc.residual("20 mL", "3 mL", "3.5 mL"),
        calc.concentration("500 mcg/day"),
        calc.dilute("2000 mcg/mL", "750 mcg/mL", "20 mL"),
        calc.screening(),
        calc.initial_dose("50 mcg", "6 h"),
        calc.titrate("500 mcg/day", "600 mcg/day", "26 h"),
        calc.taper("500 mcg/day", "300 mcg/day"),
        calc.bridge("0.2 mL", "50 cm", "500 mcg/mL", "1000 mcg/mL", "500 mcg/day"),
    ]


@pytest.mark.parametrize("result", _results(), ids=lambda r: type(r).__name__)
def test_field_names_are_the_json_keys(result: calc.Result) -> None:
    """Issue 12: field names differed from the JSON keys (time_to_alarm vs days_to_alarm)."""
    fields = [f.name for f in dataclasses.fields(result) if not f.name.startswith("_")]
    assert list(result.to_json()) == fields


def test_results_are_in_display_units() -> None:
    """Issue 12: results came back in base units ('533333 nanogram')."""
    r = calc.schedule("500 mcg/day", "500 mcg/mL", ["22:00-06:00=+20%"])
    assert f"{r.daily_total:~}" == "533333/1000 µg"
    f = calc.refill("20 mL", "500 mcg/mL", "500 mcg/day")
    assert str(f.days_to_alarm) == "18 day" and str(f.volume.units) == "milliliter"
    assert str(calc.rate("500 mcg/day", "500 mcg/mL").flow_per_day) == "1 milliliter / day"


def test_every_function_takes_any_registry() -> None:
    """Issue 12: quantities from the user's own pint.UnitRegistry() were refused."""
    u: pint.UnitRegistry[Any] = pint.UnitRegistry()
    day = u.day
    assert calc.rate(500 * u.microgram / day, 0.5 * u.mg / u.mL).to_json()["flow_per_day"]["value"] == 1
    assert calc.refill(20 * u.mL, 500 * u.microgram / u.mL, 500 * u.microgram / day).whole_days_to_alarm == 18
    assert (
        calc.schedule(500 * u.microgram / day, 2 * u.mg / u.mL, [], lead=2 * u.hour).steps[0].start == "00:00"
    )
    assert calc.bridge(
        0.2 * u.mL, 0.5 * u.m, 500 * u.microgram / u.mL, 1 * u.mg / u.mL, 500 * u.microgram / day
    ).needed
    assert calc.titrate(500 * u.microgram / day, 600 * u.microgram / day, 26 * u.hour).allowed
    assert calc.initial_dose(50 * u.microgram, 6 * u.hour).rule_ids == ["ITB-INI-01"]
    assert len(calc.taper(500 * u.microgram / day, 300 * u.microgram / day, over=21 * day).steps) == 21


def test_numbers_with_explicit_units() -> None:
    assert calc.rate((500, "mcg/day"), (500, "mcg/mL")).to_json()["flow_per_day"]["value"] == 1
    assert calc.titrate((500, "mcg/day"), (600, "mcg/day"), (26, "h")).allowed


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: calc.rate(500, "500 mcg/mL"), "dose"),
        (lambda: calc.refill("20 mL", "500 mcg/mL", 500), "dose"),
        (lambda: calc.titrate("500 mcg/day", "600 mcg/day", 30), "since_change"),
        (lambda: calc.initial_dose("50 mcg", 6), "effect"),
        (lambda: calc.taper("500 mcg/day", 300), "floor"),
        (lambda: calc.rate("500 mcg/day", "500 mcg/mL", origin="lumbar"), "origin"),
        (lambda: calc.rate("500 mcg/day", "500 mcg/mL", age=200), "age"),
        (lambda: calc.titrate("500 mcg/day", "600 mcg/day", "26 h", phase="initial"), "phase"),
    ],
)
def test_bad_api_input_is_a_usage_error_naming_the_argument(call: object, name: str) -> None:
    """Issue 12: calc.initial_dose("50 mcg", 6) and calc.titrate(..., 30) raised AttributeError."""
    from host_tools.errors import UsageError  # noqa: PLC0415

    with pytest.raises(UsageError) as exc:
        call()  # type: ignore[operator]
    assert str(exc.value).startswith(f"{name}: ")
