"""host_tools.quantities: what people type, quantities from any pint registry, exact conversions, refusals
that
quote the value as typed (issue 12: "20.0000001 mL" became "20 milliliter is finer...")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pint
import pytest

from host_tools import pint_setup
from host_tools import quantities as qt
from host_tools.errors import UsageError


@pytest.mark.parametrize(
    ("text", "kind", "base"),
    [
        ("500 mcg/day", "dose rate", 500_000),
        ("0.5 mg/day", "dose rate", 500_000),
        ("500mcg/day", "dose rate", 500_000),
        ("2 mg per day", "dose rate", 2_000_000),
        ("500 mcg/24h", "dose rate", 500_000),
        ("500 mcg per 24 h", "dose rate", 500_000),
        ("3.5 mg/7 days", "dose rate", 500_000),
        ("2 mg/mL", "concentration", 2_000),
        ("10 mg/20 mL", "concentration", 500),
        ("40mg/20mL", "concentration", 2_000),
        ("500 ug/ml", "concentration", 500),
        ("40 mL", "volume", 40_000_000),
        ("10 uL/h", "flow", 240_000),
        ("10 µL/h", "flow", 240_000),  # micro sign U+00B5
        ("10 μL/h", "flow", 240_000),  # Greek mu U+03BC
        ("1e3 mcg/day", "dose rate", 1_000_000),
        ("2 h", "duration", 7_200),
        ("50 mcg", "mass", 50_000),
        ("50 cm", "length", 500),
        ("0.5 m", "length", 500),
        ("500 mm", "length", 500),
        ("19.7 in", "length", 500),
    ],
)
def test_forms_people_type(text: str, kind: str, base: int) -> None:
    """Vial labels, per-24 h doses and any length unit are accepted; mcg is microgram."""
    if text == "19.7 in":
        with pytest.raises(UsageError, match="not a whole number of mm"):
            qt.arg("--x", text, kind).base()
        return
    assert qt.arg("--x", text, kind).base() == base


def test_a_number_below_the_line_is_marked_derived() -> None:
    """The parsed value of a vial label is shown (docs/cli.md): Arg.derived."""
    assert qt.arg("--c", "40 mg/20 mL", "concentration").derived
    assert not qt.arg("--c", "2 mg/mL", "concentration").derived


def test_per_hour_is_what_was_typed_per_hour() -> None:
    assert qt.arg("--d", "500 mcg/h", "dose rate").per_hour
    assert qt.arg("--d", "500 ug/hr", "dose rate").per_hour
    assert not qt.arg("--d", "500 mcg/24h", "dose rate").per_hour
    assert not qt.arg("--d", "500 mcg/day", "dose rate").per_hour


@pytest.mark.parametrize(
    ("text", "kind", "says"),
    [
        ("500", "dose rate", "'500' is a bare number"),
        ("2 mg/mL", "dose rate", "is a concentration, expected a dose rate"),
        ("10 uL/h", "dose rate", "is a flow, expected a dose rate"),
        ("5 %", "volume", "is not a volume"),
        ("0,5 mg/day", "dose rate", "use a decimal point"),
        ("500 blorp/day", "dose rate", "has an unknown unit 'blorp' in 'blorp/day'"),
        ("1 gr/day", "dose rate", "ambiguous unit"),
        ("1 mcg/month", "dose rate", "ambiguous unit"),
        ("3 m", "duration", "ambiguous unit"),
        ("1 ML", "volume", "ambiguous unit"),
        ("1 Mg/day", "dose rate", "ambiguous unit"),
        ("-5 mcg/day", "dose rate", "must be greater than zero"),
        ("0 mcg/day", "dose rate", "must be greater than zero"),
        ("10 mg/0 mL", "concentration", "zero or a negative number below the line"),
        ("1e14 g/day", "dose rate", "out of any plausible range"),
    ],
)
def test_refusals_quote_the_value_as_typed(text: str, kind: str, says: str) -> None:
    with pytest.raises(UsageError) as exc:
        qt.arg("--dose", text, kind)
    assert str(exc.value).startswith(f"--dose: '{text.strip()}'")
    assert says in str(exc.value)


def test_finer_than_the_core_quotes_the_user_unit() -> None:
    """Issue 12: '20.0000001 mL' and '500 mcg/week' were misquoted."""
    with pytest.raises(UsageError) as exc:
        qt.arg("--volume", "20.0000001 mL", "volume").base()
    assert str(exc.value) == (
        "--volume: '20.0000001 mL' is 20.0000001 mL, not a whole number of nL (0.000001 mL), the resolution "
        "of a pump program; give it to 6 decimals in mL"
    )
    with pytest.raises(UsageError) as exc:
        qt.arg("--dose", "500 mcg/week", "dose rate").base()
    assert "'500 mcg/week' is 71.428571428... mcg/day, not a whole number of ng/day" in str(exc.value)
    assert "milliliter" not in str(exc.value) and "finer than the core" not in str(exc.value)


def test_quantities_of_another_registry_are_converted_through_their_units() -> None:
    """Issue 12: a user's own pint.UnitRegistry() quantity was refused."""
    theirs: pint.UnitRegistry[Any] = pint.UnitRegistry()
    assert qt.arg("dose", theirs.Quantity(0.5, "mg/day"), "dose rate").base() == 500_000
    assert qt.arg("dose", theirs.Quantity(20.833, "microgram/hour"), "dose rate").base() == 499_992
    assert qt.arg("c", 2 * theirs.mg / theirs.mL, "concentration").base() == 2_000
    assert qt.arg("c", qt.q(2, "mg/mL"), "concentration").base() == 2_000  # ours too
    with pytest.raises(UsageError, match="is a length, expected a volume"):
        qt.arg("v", theirs.Quantity(3, "m"), "volume")


def test_numbers_with_explicit_units() -> None:
    assert qt.arg("dose", (500, "mcg/day"), "dose rate").base() == 500_000
    assert qt.arg("dose", (0.5, "mg/day"), "dose rate").base() == 500_000  # the float's shortest decimal
    assert qt.arg("dose", (Decimal("0.5"), "mg/day"), "dose rate").base() == 500_000
    assert qt.arg("dose", (Fraction(1, 2), "mg/day"), "dose rate").base() == 500_000


@pytest.mark.parametrize("value", [6, 6.0, True, None, [500, "mcg/day"]])
def test_values_without_units_are_refused_naming_the_argument(value: object) -> None:
    with pytest.raises(UsageError) as exc:
        qt.arg("effect", value, "duration")
    assert str(exc.value).startswith("effect:")


def test_named_carries_the_users_name() -> None:
    with pytest.raises(UsageError, match=r"^dose\.base: '500' is a bare number"):
        qt.arg("dose", qt.Named("dose.base", "500"), "dose rate")


def test_json_round_trip() -> None:
    q = qt.q(Fraction(1, 4), "mL")
    assert qt.exact(qt.from_json("x", qt.to_json(q, "mL"), "volume"), "nL") == 250_000
    assert qt.to_json(qt.q(1, "mL"), "mL") == {"value": 1, "unit": "mL"}
    with pytest.raises(UsageError):
        qt.from_json("lead", {"value": True, "unit": "h"}, "duration")


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (Fraction(125, 6), 3, "20.833"),
        (Fraction(-1, 2), 3, "-0.5"),
        (Fraction(1, 3000), 3, "0"),
        (Fraction(5), 0, "5"),
    ],
)
def test_decimal_text_truncates(value: Fraction, decimals: int, text: str) -> None:
    assert qt.decimal_text(value, decimals) == text


_BUILD = "from host_tools import quantities as qt; print(qt.registry()('500 mcg/day').to('ng/s').magnitude)"


def test_a_removed_environment_does_not_break_the_pint_cache(tmp_path: Path) -> None:
    # pint's disk cache records the absolute paths of the definition files it parsed (pint issue #1572):
    # a cache written by another environment that has since been removed must not stop a calculation.
    # Environment A is a copy of pint on PYTHONPATH; it builds the registry, then it is deleted.
    env_a = tmp_path / "env_a"
    shutil.copytree(Path(pint.__file__).parent, env_a / "pint")
    run_env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run_env.pop("ITB_PINT_CACHE", None)
    root = str(Path(__file__).resolve().parents[2])
    for pythonpath, remove_after in ((f"{env_a}{os.pathsep}{root}", True), (root, False)):
        r = subprocess.run([sys.executable, "-c", _BUILD], env={**run_env, "PYTHONPATH": pythonpath},
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 0 and r.stdout.strip() == "625/108", r.stderr[-800:]
        if remove_after:
            shutil.rmtree(env_a)
    # each pint installation has its own cache folder, and both were written
    assert len(list((tmp_path / "cache" / "itb" / "pint").iterdir())) == 2


def test_the_cache_folder_follows_itb_pint_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITB_PINT_CACHE", "")
    assert pint_setup.cache_folder("/x/pint") is None
    monkeypatch.setenv("ITB_PINT_CACHE", "/tmp/itb-pint")
    assert pint_setup.cache_folder("/x/pint") == "/tmp/itb-pint"
    monkeypatch.delenv("ITB_PINT_CACHE")
    assert pint_setup.cache_folder("/x/pint") != pint_setup.cache_folder("/y/pint")
