"""`itb schedule` and calc.schedule: windows on the days they name, signed changes, every step's rate checked
against the range, refusals in the user's words, one flow precision (issue 12)."""

from __future__ import annotations

import re

import pytest

from host_tools import calc
from tests.host.conftest import Itb

SCHED = ("schedule", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL")


def _totals(itb: Itb, *windows: str) -> list[float]:
    r = itb(*SCHED, *[f"--window={w}" for w in windows], "--json")
    assert r.rc == 0, r.err
    return [t["value"] for t in r.json()["daily_totals"]]


def test_night_boost_starts_two_hours_early(itb: Itb) -> None:
    """REQ: ITB-SCH-01, ITB-SCH-03. 22:00-06:00 +20 %: steps 20:00 up, 04:00 down; 533.333 mcg a day."""
    doc = itb(*SCHED, "--window", "22:00-06:00=+20%", "--json").json()
    assert [(s["start"], s["end"]) for s in doc["steps"]] == [("04:00", "20:00"), ("20:00", "04:00")]
    assert doc["daily_total"] == {"value": 533.333, "unit": "mcg"}
    assert doc["windows"] == [{"effect": "22:00-06:00", "change": "+20%"}]
    assert "ITB-SCH-03" in doc["rule_ids"]


@pytest.mark.parametrize(
    ("window", "changed"),
    [
        ("Mon-Fri 08:00-10:00=+10%", [0, 1, 2, 3, 4]),
        ("Sat Sun 08:00-10:00=+10%", [5, 6]),
        ("Sat,Sun 08:00-10:00=+10%", [5, 6]),
        ("Saturday, Sunday 08:00-10:00=+10%", [5, 6]),
        ("Fri-Mon 08:00-10:00=+10%", [0, 4, 5, 6]),
    ],
)
def test_ranges_and_lists_change_every_day_they_name(itb: Itb, window: str, changed: list[int]) -> None:
    """Issue 12: 'Mon-Fri' changed Monday only ([504.166, 500, 500, ...]); 'Sat Sun' Saturday only."""
    totals = _totals(itb, window)
    assert [d for d, t in enumerate(totals) if t != 500] == changed
    assert {t for d, t in enumerate(totals) if d in changed} == {504.166}


@pytest.mark.parametrize(
    "windows",
    [
        ("Mon-Sun 08:00-09:00=+10%",),
        ("Mon,Tue,Wed,Thu,Fri,Sat,Sun 08:00-09:00=+10%",),
        ("Tue-Mon 08:00-09:00=+10%",),
        ("Mon-Fri 08:00-09:00=+10%", "Sat,Sun 08:00-09:00=+10%"),
    ],
)
def test_windows_on_all_seven_days_verify(itb: Itb, windows: tuple[str, ...]) -> None:
    """A new user's finding: every day named (the `Mon-Mon` refusal suggests 'Mon-Sun') gave a daily schedule
    whose pint check counted the window's extra seven times (514.583 against 502.083 mcg), exit 1."""
    r = itb(*SCHED, *[f"--window={w}" for w in windows], "--json")
    assert r.rc == 0, r.err
    doc = r.json()
    assert doc["period"] == "daily" and doc["daily_total"] == {"value": 502.083, "unit": "mcg"}
    assert _totals(itb, *windows) == [502.083]


@pytest.mark.parametrize(
    ("window", "needle"),
    [
        ("Monkey 08:00-10:00=+10%", "--window: 'Monkey' is not a weekday"),
        ("Tuesdayyy 08:00-10:00=+10%", "--window: 'Tuesdayyy' is not a weekday"),
        ("08:00-10:00=80%", "--window: '80%' has no sign; write '+80%' for more or '-80%' for less"),
        ("22:00-06:00=+20%", "and '05:00-07:00=+10%' overlap once each step starts --lead '2 h' early"),
        ("10:00-10:10=+20%", "lasts 10 min, shorter than the minimum step --min-step '30 min' [ITB-PMP-04]"),
        ("08:00-10:00=-100%", "would stop therapy"),
    ],
)
def test_bad_windows_exit_2_in_the_users_words(itb: Itb, window: str, needle: str) -> None:
    extra = ["--window", "05:00-07:00=+10%"] if "overlap" in needle else []
    line = itb(*SCHED, "--window", window, *extra).one_line_error(2, needle)
    assert "Window(" not in line and "permille" not in line


def test_a_base_rate_gap_shorter_than_the_step_is_refused(itb: Itb) -> None:
    line = itb(*SCHED, "--window=08:00-10:00=+10%", "--window=10:10-12:00=+10%").one_line_error(
        2, "leave a base-rate gap of 10 min, shorter than the minimum step --min-step '30 min' [ITB-PMP-04]"
    )
    assert " s," not in line


def test_more_than_13_steps_a_day(itb: Itb) -> None:
    """REQ: ITB-SCH-02."""
    wins = [f"--window={h:02d}:00-{h + 1:02d}:00=+{5 + h % 2 * 5}%" for h in range(14)]
    itb(*SCHED, *wins).one_line_error(2, "more than the 13 a pump takes in a day [ITB-SCH-02]")


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--lead", "30 h", "--lead: '30 h' is not less than 24 h"),
        ("--lead", "90 s", "--lead: '90 s' is not a whole number of minutes"),
        (
            "--min-step",
            "10 min",
            "--min-step: '10 min' is shorter than the 30 min a step may last [ITB-PMP-04]",
        ),
    ],
)
def test_lead_and_step_refusals_in_the_users_units(itb: Itb, flag: str, value: str, needle: str) -> None:
    """Issue 12: 'lead_s: must be in [0, 86400) (got 108000)'."""
    line = itb(*SCHED, "--window", "22:00-06:00=+20%", flag, value).one_line_error(2, needle)
    assert "_s" not in line and "86400" not in line


def test_every_steps_rate_is_checked(itb: Itb) -> None:
    """REQ: ITB-RNG-01. Issue 12: '=+10000%' and steps of 28.8 mL/day passed silently."""
    r = itb(*SCHED, "--window", "08:00-10:00=+10000%")
    assert r.rc == 0
    assert (
        "warning: step 06:00-08:00: 50500 mcg/day is outside the adult spinal range 12 to 2003 mcg/day "
        "[ITB-RNG-01]" in r.err.splitlines()
    )
    assert itb(*SCHED, "--window", "08:00-10:00=+10000%", "--strict").rc == 1
    r = itb(
        "schedule",
        "--dose",
        "500 mcg/day",
        "--concentration",
        "500 mcg/mL",
        "--window",
        "08:00-10:00=+30%",
        "--json",
    )
    assert r.json()["warnings"] == []


def test_the_same_flow_shows_the_same_everywhere(itb: Itb) -> None:
    """Issue 12: one flow shown as '0.44289 mL/day' in rate and '0.4428' in schedule."""
    rate = itb("rate", "--dose", "221.445 mcg/day", "--concentration", "500 mcg/mL")
    sched = itb(
        "schedule",
        "--dose",
        "221.445 mcg/day",
        "--concentration",
        "500 mcg/mL",
        "--window",
        "08:00-10:00=+10%",
    )
    assert "0.44289 mL/day (18.453 uL/h)" in rate.out
    assert "0.44289 mL/day (18.453 uL/h)" in sched.out
    assert not re.search(r"0\.4428\b", rate.out + sched.out)


def test_api_steps_are_in_display_units() -> None:
    r = calc.schedule("500 mcg/day", "500 mcg/mL", ["22:00-06:00=+20%"])
    step = r.steps[1].to_json()
    assert step == {
        "start": "20:00",
        "end": "04:00",
        "dose_per_day": {"value": 600, "unit": "mcg/day"},
        "dose_per_hour": {"value": 25, "unit": "mcg/h"},
        "flow_per_day": {"value": 1.2, "unit": "mL/day"},
        "flow_per_hour": {"value": 50, "unit": "uL/h"},
    }
    assert str(r.daily_total.units) == "microgram"


def test_a_constant_rate_runs_all_day(itb: Itb) -> None:
    doc = itb(*SCHED, "--json").json()
    assert [(s["start"], s["end"]) for s in doc["steps"]] == [("00:00", "24:00")]
