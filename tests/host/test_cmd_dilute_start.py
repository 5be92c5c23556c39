"""`itb dilute` (a whole-mcg/mL achieved strength within ITB-DIL-01's tolerance, --tolerance), `itb screening`
and `itb initial-dose` (issue 12: calc.initial_dose("50 mcg", 6) raised AttributeError)."""

from __future__ import annotations

import pytest

from host_tools import calc
from host_tools.errors import UsageError
from tests.host.conftest import Itb

DIL = ("dilute", "--stock", "2000 mcg/mL", "--volume", "20 mL", "--target")


def test_exact_dilution(itb: Itb) -> None:
    """REQ: ITB-CON-02. 750 mcg/mL from 2000 in 20 mL: 7.5 mL stock + 12.5 mL saline, exactly 750."""
    doc = itb(*DIL, "750 mcg/mL", "--json").json()
    assert doc["stock_volume"] == {"value": 7.5, "unit": "mL"}
    assert doc["diluent_volume"] == {"value": 12.5, "unit": "mL"}
    assert doc["achieved_concentration"] == {"value": 750, "unit": "mcg/mL"}
    assert doc["shortfall"] == {"value": 0, "unit": "percent"}


def test_achieved_is_a_whole_strength_below_the_target(itb: Itb) -> None:
    """REQ: ITB-DIL-01. 745 mcg/mL: 0.1 mL steps of 2000 mcg/mL in 20 mL make 10 mcg/mL steps: 740, 0.67 %
    short, within 1 %: the program states 740."""
    r = itb(*DIL, "745 mcg/mL")
    assert (
        r.rc == 0 and "achieved       740 mcg/mL (target 745 mcg/mL, 0.6712 % below; tolerance 1 %)" in r.out
    )


def test_shortfall_beyond_tolerance_is_refused(itb: Itb) -> None:
    """REQ: ITB-DIL-01."""
    itb(*DIL, "745 mcg/mL", "--tolerance", "0.5%").one_line_error(
        1,
        "--target: '745 mcg/mL' cannot be made within 0.5 %",
        "the nearest below is 740 mcg/mL",
        "[ITB-DIL-01]",
    )
    itb(*DIL, "745 mcg/mL", "--tolerance", "0%").one_line_error(1, "[ITB-DIL-01]")
    assert itb(*DIL, "745 mcg/mL", "--tolerance", "1%").rc == 0


@pytest.mark.parametrize(
    ("args", "rc", "needle"),
    [
        (("--stock", "50 mcg/mL"), 1, "--stock: '50 mcg/mL' is the screening-only strength [ITB-SCR-05]"),
        (("--stock", "750 mcg/mL"), 1, "is not a labeled maintenance strength [ITB-CON-01]"),
        (("--target", "3000 mcg/mL"), 2, "--target: '3000 mcg/mL' is above the 2000 mcg/mL a pump may hold"),
        (
            ("--stock", "1000 mcg/mL", "--target", "1500 mcg/mL"),
            1,
            "--target: '1500 mcg/mL' is above --stock",
        ),
        (
            ("--volume", "20.05 mL"),
            2,
            "--volume: '20.05 mL' is not a whole number of --resolution '0.1 mL' steps",
        ),
        (("--tolerance", "+1%"), 2, "--tolerance: '+1%' is a size, without a sign"),
        (("--tolerance", "100%"), 2, "--tolerance: '100%' is not below 100 %"),
    ],
)
def test_dilution_refusals(itb: Itb, args: tuple[str, ...], rc: int, needle: str) -> None:
    base = {"--stock": "2000 mcg/mL", "--volume": "20 mL", "--target": "750 mcg/mL"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    itb("dilute", *[f"{k}={v}" for k, v in base.items()]).one_line_error(rc, needle)


def test_screening_plan(itb: Itb) -> None:
    """REQ: ITB-SCR-01, ITB-SCR-03. 50, 75, 100 mcg = 1, 1.5, 2 mL of 50 mcg/mL, 24 h apart."""
    doc = itb("screening", "--json").json()
    assert [(d["day"], d["dose"]["value"], d["volume"]["value"]) for d in doc["doses"]] == [
        (0, 50, 1),
        (1, 75, 1.5),
        (2, 100, 2),
    ]
    small = itb("screening", "--small-child", "--json").json()
    assert small["doses"][0]["dose"] == {"value": 25, "unit": "mcg"} and "ITB-SCR-02" in small["rule_ids"]


def test_initial_dose(itb: Itb) -> None:
    """REQ: ITB-INI-01, ITB-INI-02. 50 mcg effective 6 h: 100 mcg/day; 9 h: 50 mcg/day."""
    assert itb("initial-dose", "--screening", "50 mcg", "--effect", "6 h", "--json").json()["daily_dose"] == {
        "value": 100,
        "unit": "mcg/day",
    }
    r = itb("initial-dose", "--screening", "50 mcg", "--effect", "9 h")
    assert "initial dose   50 mcg/day (2.083 mcg/h) [ITB-INI-02]" in r.out


@pytest.mark.parametrize(
    ("screening", "effect", "needle"),
    [
        (
            "60 mcg",
            "6 h",
            "--screening: '60 mcg' is not a screening test dose; the test doses are 25 mcg, 50 mcg, "
            "75 mcg, 100 mcg",
        ),
        ("50 mcg", "30 h", "--effect: '30 h' is longer than the 1 day between test doses"),
        ("50 mcg", "6", "--effect: '6' is a bare number"),
    ],
)
def test_initial_dose_refusals(itb: Itb, screening: str, effect: str, needle: str) -> None:
    itb("initial-dose", "--screening", screening, "--effect", effect).one_line_error(2, needle)


def test_api_bare_number_is_a_usage_error() -> None:
    """Issue 12: calc.initial_dose("50 mcg", 6) raised AttributeError."""
    with pytest.raises(UsageError, match=r"^effect: '6' is a bare number.*\(6, 'h'\)"):
        calc.initial_dose("50 mcg", 6)
    assert calc.initial_dose("50 mcg", (6, "h")).to_json()["daily_dose"]["value"] == 100
