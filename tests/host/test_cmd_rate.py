"""`itb rate` and calc.rate: the labeling's numbers, the range and slip warnings every dose gets, the forms
people type, and the precision policy (issue 12)."""

from __future__ import annotations

import pytest

from host_tools import calc
from tests.host.conftest import Itb

RATE = ("rate", "--concentration", "500 mcg/mL", "--dose")


def test_labeling_numbers(itb: Itb) -> None:
    """REQ: ITB-CON-03. 500 mcg/day at 500 mcg/mL: 1 mL/day, 41.666 uL/h, 20.833 mcg/h (rounded down)."""
    r = itb(*RATE, "500 mcg/day", "--json")
    assert r.rc == 0, r.err
    doc = r.json()
    assert doc["flow_per_day"] == {"value": 1, "unit": "mL/day"}
    assert doc["flow_per_hour"] == {"value": 41.666, "unit": "uL/h"}
    assert doc["dose_per_hour"] == {"value": 20.833, "unit": "mcg/h"}
    assert doc["warnings"] == [] and doc["group"]["text"] == "adult spinal" and doc["group"]["default"]
    text = itb(*RATE, "500 mcg/day")
    assert "flow           1 mL/day (41.666 uL/h)" in text.out
    assert "adult spinal range (the default; give --origin and --age)" in text.out
    assert text.err == ""


def test_a_per_hour_dose_typed_for_a_per_day_one_is_called_out(itb: Itb) -> None:
    """REQ: ITB-RNG-01. Issue 12: '500 mcg/h' gave 12 000 mcg/day and 24 mL/day, rc 0, silently."""
    r = itb(*RATE, "500 mcg/h")
    assert r.rc == 0
    assert "daily dose     12000 mcg/day (500 mcg/h) (from '500 mcg/h')" in r.out
    lines = r.err.splitlines()
    assert (
        "warning: --dose '500 mcg/h': 12000 mcg/day is outside the adult spinal range 12 to 2003 mcg/day "
        "[ITB-RNG-01]" in lines
    )
    assert any(
        "a per-hour dose typed for a per-day one?" in w
        and "as a daily dose the same number is 500 mcg/day" in w
        for w in lines
    )
    doc = itb(*RATE, "500 mcg/h", "--json").json()
    assert {w["rule_id"] for w in doc["warnings"]} == {"ITB-RNG-01", "ITB-RNG-04"}
    strict = itb(*RATE, "500 mcg/h", "--strict")
    assert (
        strict.rc == 1 and strict.err.splitlines()[-1] == "itb: --strict: 3 warnings [ITB-RNG-01, ITB-RNG-04]"
    )


def test_a_plausible_per_hour_dose_is_not_called_out() -> None:
    """20 mcg/h is 480 mcg/day: usual, no warning."""
    assert calc.rate("20 mcg/h", "500 mcg/mL").warnings == []


@pytest.mark.parametrize(
    ("dose", "needle"),
    [
        ("500 mg/day", "500000 mcg/day is outside the adult spinal range"),
        ("500 kg/day", "500000000000 mcg/day is outside the adult spinal range"),
        (
            "5000 mcg/day",
            "5000 mcg/day is ten times a usual dose (usual 300 to 800 mcg/day for adult spinal)",
        ),
        ("40 mcg/day", "40 mcg/day is a tenth of a usual dose"),
        ("11 mcg/day", "11 mcg/day is outside the adult spinal range 12 to 2003"),
        ("1100 mcg/day", "1100 mcg/day is above 1000 mcg/day: limited experience [ITB-RNG-04]"),
    ],
)
def test_slips_and_ranges_are_warnings_with_rule_ids(itb: Itb, dose: str, needle: str) -> None:
    """REQ: ITB-RNG-01, ITB-RNG-04. Issue 12: '500 mg/day' gave 1 000 mL/day, '500 kg/day' 10^9 mL/day."""
    r = itb(*RATE, dose)
    assert r.rc == 0 and needle in r.err, r.err
    assert itb(*RATE, dose, "--strict").rc == 1


def test_in_range_doses_are_quiet_at_the_bounds() -> None:
    """REQ: ITB-RNG-01. 12 and 2003 mcg/day are inside; 12 mcg/day is a tenth of nothing usual."""
    for dose in ("300 mcg/day", "800 mcg/day", "2003 mcg/day", "2 mg/day"):
        assert not [w for w in calc.rate(dose, "2000 mcg/mL").warnings if w.rule_id == "ITB-RNG-01"], dose
    assert calc.rate("2003.001 mcg/day", "2000 mcg/mL").warnings[0].rule_id == "ITB-RNG-01"


def test_the_group_decides_the_range(itb: Itb) -> None:
    """REQ: ITB-RNG-02, ITB-RNG-03. Cerebral adults 22-1400 mcg/day; under 12 y 24-1199 mcg/day."""
    r = itb(*RATE, "1500 mcg/day", "--origin", "cerebral", "--age", "40")
    assert "outside the adult cerebral range 22 to 1400 mcg/day [ITB-RNG-02]" in r.err
    assert "doses checked against the adult cerebral range\n" in r.out
    r = itb(*RATE, "1200 mcg/day", "--age", "8", "--json")
    assert "ITB-RNG-03" in {w["rule_id"] for w in r.json()["warnings"]}
    assert r.json()["group"] == {
        "origin": "spinal",
        "age_years": 8,
        "text": "pediatric spinal (8 y)",
        "default": False,
    }


@pytest.mark.parametrize(
    ("conc", "shown"),
    [
        ("10 mg/20 mL", "500 mcg/mL (from '10 mg/20 mL')"),
        ("40mg/20mL", "2000 mcg/mL (from '40mg/20mL')"),
        ("0.5 mg/mL", "500 mcg/mL (from '0.5 mg/mL')"),
        ("500 mcg/mL", "500 mcg/mL\n"),
    ],
)
def test_vial_label_strengths_show_the_parsed_value(itb: Itb, conc: str, shown: str) -> None:
    r = itb("rate", "--dose", "500 mcg/24h", "--concentration", conc)
    assert r.rc == 0 and f"concentration  {shown}" in r.out + "\n"
    assert "daily dose     500 mcg/day (20.833 mcg/h) (from '500 mcg/24h')" in r.out


def test_a_repeated_flag_is_refused(itb: Itb) -> None:
    """Issue 12: a repeated flag silently took the last value."""
    r = itb("rate", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL", "--dose", "600 mcg/day")
    r.one_line_error(2, "--dose", "given twice ('500 mcg/day', then '600 mcg/day')")
    itb(*RATE, "500 mcg/day", "--origin", "spinal", "--origin", "cerebral").one_line_error(2, "--origin")


def test_a_concentration_above_the_maximum_is_refused(itb: Itb) -> None:
    """REQ: ITB-CON-04."""
    itb("rate", "--dose", "500 mcg/day", "--concentration", "3 mg/mL").one_line_error(
        2, "--concentration: '3 mg/mL' is above the 2000 mcg/mL a pump may hold [ITB-CON-04]"
    )


def test_display_never_rounds_a_dose_up(itb: Itb) -> None:
    """Issue 12: '4.17e-05 mcg/h' was rounded up. 1 ng/day is below 0.001 mcg/h: shown as '< 0.001'."""
    r = itb(*RATE, "1 ng/day")
    assert "0.001 mcg/day (< 0.001 mcg/h)" in r.out and "e-0" not in r.out
    assert itb(*RATE, "1 ng/day", "--json").json()["dose_per_hour"] == {"value": 0, "unit": "mcg/h"}
    r = itb(*RATE, "0.047 mcg/day")  # 1.958 ng/h: 0.001 mcg/h, not 0.002
    assert "(0.001 mcg/h)" in r.out
