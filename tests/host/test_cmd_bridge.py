"""`itb bridge`: the bolus after a concentration change, catheter lengths in any length unit (issue 12:
'0.5 m'
was refused), the pump-fact bounds, the dose checks."""

from __future__ import annotations

import pytest

from host_tools import calc
from tests.host.conftest import BRIDGE, Itb


def test_bridge_numbers(itb: Itb) -> None:
    """REQ: ITB-BRG-01. 0.2 mL + 50 cm x 0.0026 mL/cm = 0.33 mL at the old 1 mL/day: 7 h 55 min (7.92 h)."""
    r = itb(*BRIDGE, "50 cm")
    assert r.rc == 0
    assert "dead volume    0.33 mL (catheter 0.13 mL)" in r.out
    assert (
        "bridge bolus needed: 0.33 mL of 500 mcg/mL at 1 mL/day (41.666 uL/h) for 7 h 55 min, then 1000 "
        "mcg/mL; without it old drug arrives for 15 h 50 min at the new flow [ITB-BRG-01]" in r.out
    )
    doc = itb(*BRIDGE, "50 cm", "--json").json()
    assert doc["bridge_volume"] == {"value": 0.33, "unit": "mL"} and doc["needed"] is True
    assert doc["bridge_duration"] == {"value": 7.92, "unit": "h"}


@pytest.mark.parametrize("length", ["50 cm", "0.5 m", "500 mm", "0.0005 km"])
def test_catheter_length_in_any_length_unit(length: str) -> None:
    assert calc.bridge("0.2 mL", length, "500 mcg/mL", "1000 mcg/mL", "500 mcg/day").to_json()[
        "catheter_volume"
    ] == {"value": 0.13, "unit": "mL"}


@pytest.mark.parametrize(
    ("length", "needle"),
    [
        (
            "100 m",
            "--catheter-length: '100 m' is not 10 cm to 150 cm, the catheter lengths a program may state "
            "[ITB-PMP-02]",
        ),
        ("5 cm", "'5 cm' is not 10 cm to 150 cm"),
        ("50.05 cm", "not a whole number of mm"),
        ("50 min", "'50 min' is a duration, expected a length"),
    ],
)
def test_catheter_refusals(itb: Itb, length: str, needle: str) -> None:
    itb(*BRIDGE, length).one_line_error(2, needle)


def test_internal_volume_bound(itb: Itb) -> None:
    """REQ: ITB-PMP-03."""
    args = list(BRIDGE) + ["50 cm"]
    args[2] = "1.5 mL"
    itb(*args).one_line_error(
        2, "--internal-volume: '1.5 mL' is more than the 1 mL a pump's internal volume may be [ITB-PMP-03]"
    )


def test_no_bridge_for_the_same_concentration() -> None:
    r = calc.bridge("0.2 mL", "50 cm", "500 mcg/mL", "0.5 mg/mL", "500 mcg/day")
    assert not r.needed and r.summary == "no bridge bolus: the concentration stays 500 mcg/mL"


def test_the_dose_is_checked(itb: Itb) -> None:
    assert (
        "is outside the adult spinal range"
        in itb(*BRIDGE[:-3], "--dose", "5 mg/h", "--catheter-length", "50 cm").err
    )
