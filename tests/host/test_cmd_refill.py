"""`itb refill` and `itb residual`: alarm and empty times, the booking date, the pocket-fill flag shown in
text
and JSON (issue 12: it appeared only in --json), exit codes and units of the refusals."""

from __future__ import annotations

from fractions import Fraction

import pytest

from host_tools import calc
from tests.host.conftest import Itb

REFILL = ("refill", "--concentration", "500 mcg/mL")


def test_refill_days(itb: Itb) -> None:
    """REQ: ITB-REF-01. 18 mL usable at 500 mcg/mL and 500 mcg/day: alarm in 18 days, empty in 20, book 4
    days before the alarm."""
    r = itb(*REFILL, "--volume", "20 mL", "--dose", "500 mcg/day")
    assert r.rc == 0
    assert "low-reservoir alarm (2 mL left) in 18 days\n" in r.out
    assert "empty          in 20 days\n" in r.out and "within 14 days" in r.out
    doc = itb(*REFILL, "--volume", "20 mL", "--dose", "500 mcg/day", "--json").json()
    assert doc["days_to_alarm"] == {"value": 18, "unit": "day"} and doc["whole_days_to_alarm"] == 18
    assert doc["days_to_refill"] == {"value": 14, "unit": "day"}


def test_plurals_and_truncation(itb: Itb) -> None:
    """Issue 12: '18 day', '1 days'. Times are truncated to the minute (an alarm is never shown late)."""
    r = itb(*REFILL, "--volume", "2.5 mL", "--dose", "500 mcg/day")
    assert "in 12 h\n" in r.out and "in 2 days 12 h\n" in r.out and "now (overdue)" in r.out
    r = itb(*REFILL, "--volume", "3 mL", "--dose", "500 mcg/day")
    assert "in 1 day\n" in r.out and "in 3 days\n" in r.out
    f = calc.refill("20 mL", "500 mcg/mL", "533.333 mcg/day")
    exact_s = Fraction(9_000_000 * 86_400, 533_333)  # 18 mL x 500 mcg/mL over 533.333 mcg/day, in s
    assert f.days_to_alarm.magnitude * 86_400 == exact_s.numerator // exact_s.denominator


def test_refusals_exit_2_in_the_users_units(itb: Itb) -> None:
    """Issue 12: the alarm-volume refusal exited 1 instead of 2."""
    itb(*REFILL, "--volume", "20 mL", "--dose", "500 mcg/day", "--alarm-volume", "0 mL").one_line_error(
        2, "--alarm-volume: '0 mL' is not above 0 mL"
    )
    itb(*REFILL, "--volume", "20.0000001 mL", "--dose", "500 mcg/day").one_line_error(
        2, "--volume: '20.0000001 mL' is 20.0000001 mL, not a whole number of nL"
    )
    itb(*REFILL, "--volume", "0 mL", "--dose", "500 mcg/day").one_line_error(2, "--volume: '0 mL' is empty")


def test_the_alarm_sounds_at_the_alarm_level_exactly(itb: Itb) -> None:
    """REQ: ITB-REF-01. A volume at the alarm level is the alarm sounding now (the rig's low alarm fires at
    reservoir <= alarm volume); 1 nL above it, the alarm is due within the second."""
    r = itb(*REFILL, "--volume", "2 mL", "--dose", "500 mcg/day", "--json")
    assert r.rc == 0 and r.json()["alarm_now"] and r.json()["days_to_alarm"] == {"value": 0, "unit": "day"}
    r = itb(*REFILL, "--volume", "2.000001 mL", "--dose", "500 mcg/day", "--json")
    assert r.rc == 0 and r.json()["days_to_alarm"] == {"value": 0, "unit": "day"} and r.json()["alarm_now"]


def test_the_dose_is_checked(itb: Itb) -> None:
    r = itb(*REFILL, "--volume", "20 mL", "--dose", "500 mcg/h")
    assert "a per-hour dose typed for a per-day one?" in r.err


def test_pocket_fill_is_shown(itb: Itb) -> None:
    """REQ: ITB-REF-02. 1.5 mL more than expected in a 20 mL pump: flagged in text (stdout and a warning)."""
    r = itb("residual", "--reservoir", "20 mL", "--expected", "3 mL", "--measured", "4.5 mL")
    assert r.rc == 0 and "POSSIBLE POCKET FILL [ITB-REF-02]" in r.out
    assert r.err.startswith(
        "warning: possible pocket fill: the measured residual is 1.5 mL more than expected, "
        "beyond 1 mL (published threshold for a 20 mL pump)"
    )
    doc = itb(
        "residual", "--reservoir", "20 mL", "--expected", "3 mL", "--measured", "4.5 mL", "--json"
    ).json()
    assert doc["pocket_fill_suspected"] is True and doc["warnings"][0]["rule_id"] == "ITB-REF-02"
    assert (
        itb("residual", "--reservoir", "20 mL", "--expected", "3 mL", "--measured", "4.5 mL", "--strict").rc
        == 1
    )


@pytest.mark.parametrize(
    ("reservoir", "measured", "flagged"),
    [
        ("20 mL", "4 mL", False),
        ("20 mL", "4.000001 mL", True),
        ("40 mL", "5 mL", False),
        ("40 mL", "1 mL", False),
        ("40 mL", "0.999 mL", True),
    ],
)
def test_pocket_fill_threshold_is_exclusive(reservoir: str, measured: str, flagged: bool) -> None:
    """REQ: ITB-REF-02. 'Differs by more than' 1 mL (20 mL) / 2 mL (40 mL)."""
    assert calc.residual(reservoir, "3 mL", measured).pocket_fill_suspected is flagged


def test_residual_above_capacity(itb: Itb) -> None:
    itb("residual", "--reservoir", "20 mL", "--expected", "3 mL", "--measured", "25 mL").one_line_error(
        2, "--measured: '25 mL' is more than --reservoir '20 mL' holds"
    )
