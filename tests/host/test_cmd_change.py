"""`itb titrate` (the envelope's decision, as the rig makes it) and `itb taper` (geometric, the whole
duration):
messages in the user's words, one 'refused:' prefix, overrides, the dose checks."""

from __future__ import annotations

import itertools

import pytest

from firmware_py.decision import Decision
from host_tools import calc
from host_tools.calc.change import _decision
from host_tools.calc.common import group
from tests.host.conftest import Itb

TIT = ("titrate", "--current", "500 mcg/day", "--since-change", "26 h", "--proposed")


def test_allowed_step(itb: Itb) -> None:
    """REQ: ITB-TIT-01. +20 % after 26 h, adult spinal: allowed."""
    r = itb(*TIT, "600 mcg/day", "--json")
    assert r.rc == 0
    doc = r.json()
    assert doc["allowed"] is True and "ITB-TIT-01" in doc["rules_applied"]
    assert doc["change"] == {"value": 20, "unit": "percent"}
    assert doc["verified"][0]["key"] == "allowed.range"


def test_refused_step_one_prefix(itb: Itb) -> None:
    """REQ: ITB-TIT-01. Issue 12: 'refused: refused:' was doubled."""
    r = itb(*TIT, "700 mcg/day")
    assert r.rc == 1
    err = r.err.strip().splitlines()
    assert err == [
        "itb: refused: titration 500 -> 700 mcg/day: 500 -> 700 mcg/day (+40 %) is above the +30 % "
        "titration limit for adult spinal (at most 650 mcg/day) [ITB-TIT-01]"
    ]
    assert "refused: refused:" not in r.err
    doc = itb(*TIT, "700 mcg/day", "--json")
    assert doc.rc == 1 and doc.json()["refusals"][0]["rule_id"] == "ITB-TIT-01"


def test_too_soon_is_said_in_hours(itb: Itb) -> None:
    """REQ: ITB-TIT-04. Issue 12: 's_since_change 82800 < 86400'."""
    line = itb(
        "titrate", "--current", "500 mcg/day", "--proposed", "550 mcg/day", "--since-change", "23 h"
    ).one_line_error(1, "needs 24 h since the last change", "the last was 23 h 0 min ago", "[ITB-TIT-04]")
    assert "82800" not in line and "_s" not in line


def test_soft_rule_needs_an_override(itb: Itb) -> None:
    """REQ: ITB-RNG-04. Above 1000 mcg/day needs --override with a reason; with one it is allowed."""
    args = (
        "titrate",
        "--current",
        "1000 mcg/day",
        "--proposed",
        "1100 mcg/day",
        "--since-change",
        "30 days",
        "--phase",
        "refill",
    )
    itb(*args).one_line_error(1, "needs override (ITB-RNG-04)", "give --override RULE=REASON")
    r = itb(*args, "--override", "ITB-RNG-04=stable on 1000 mcg/day for 6 months")
    assert r.rc == 0 and "overridden ITB-RNG-04: stable on 1000 mcg/day for 6 months" in r.out
    itb(*args, "--override", "ITB-RNG-01=because").one_line_error(
        2, "--override: 'ITB-RNG-01=because' names a hard rule; only soft rules can be overridden"
    )
    itb(*args, "--override", "ITB-RNG-04").one_line_error(2, "--override: 'ITB-RNG-04' is not RULE-ID=reason")


def test_the_same_decision_as_the_envelope() -> None:
    """titrate asks envelope.decide; the message is the decision's message, word for word."""
    d = _decision(
        group(),
        "programmable",
        "titration",
        old=500_000,
        new=700_000,
        since_change_s=26 * 3600,
        since_start_s=None,
        ov={},
    )
    assert isinstance(d, Decision)
    assert calc.titrate("500 mcg/day", "700 mcg/day", "26 h").message == d.message()


def test_bare_numbers_are_refused_not_attribute_errors() -> None:
    """Issue 12: calc.titrate(..., 30) raised AttributeError."""
    with pytest.raises(ValueError, match="since_change: '30' is a bare number"):
        calc.titrate("500 mcg/day", "600 mcg/day", 30)


def test_since_start_before_change(itb: Itb) -> None:
    itb(*TIT, "600 mcg/day", "--since-start", "2 h").one_line_error(
        2, "--since-start: '2 h' is less than --since-change '26 h'"
    )


# -- taper --------------------------------------------------------------------------------------------------


def test_taper_spans_the_whole_duration(itb: Itb) -> None:
    """REQ: ITB-HOL-01, ITB-DIS-01. 14 days: 14 daily doses, geometric, the last the floor."""
    doc = itb("taper", "--dose", "500 mcg/day", "--floor", "300 mcg/day", "--json").json()
    steps = doc["steps"]
    assert [s["day"] for s in steps] == list(range(14))
    assert steps[-1]["dose_per_day"] == {"value": 300, "unit": "mcg/day"}
    doses = [s["dose_per_day"]["value"] for s in steps]
    assert all(a > b for a, b in itertools.pairwise(doses))
    assert doc["verified"] == [
        {
            "key": "steps",
            "rounding": "exact",
            "bound": "one geometric step a day, rounded up, each within max_step, the last the floor",
        }
    ]


@pytest.mark.parametrize(
    ("args", "rc", "needle"),
    [
        (
            ("--over", "7 day"),
            2,
            "--over: '7 day' is not 14 days to 28 days, the time a drug holiday's "
            "reduction takes [ITB-HOL-01]",
        ),
        (("--over", "14.5 days"), 2, "--over: '14.5 days' is not a whole number of days"),
        (("--max-step", "25%"), 2, "--max-step: '25%' is above the 20 % a day"),
        (("--max-step", "-5%"), 2, "--max-step: '-5%' is a size, without a sign"),
        (("--floor", "600 mcg/day"), 2, "--floor: '600 mcg/day' is not below --dose '500 mcg/day'"),
        (("--floor", "20 mcg/day"), 1, "--floor: '20 mcg/day' cannot be reached in 14 daily steps"),
    ],
)
def test_taper_refusals_in_the_users_units(itb: Itb, args: tuple[str, ...], rc: int, needle: str) -> None:
    """Issue 12: 'duration_s: must be between 1209600 and 2419200 (got 604800)'."""
    base = {"--dose": "500 mcg/day", "--floor": "300 mcg/day"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    line = itb("taper", *[f"{k}={v}" for k, v in base.items()]).one_line_error(rc, needle)
    assert "duration_s" not in line and "1209600" not in line


@pytest.mark.parametrize(
    ("over", "ok"), [("13 days", False), ("14 days", True), ("4 weeks", True), ("29 days", False)]
)
def test_taper_duration_bounds_are_inclusive(itb: Itb, over: str, ok: bool) -> None:
    """REQ: ITB-HOL-01. 2 to 4 weeks, both ends included."""
    r = itb("taper", "--dose", "500 mcg/day", "--floor", "300 mcg/day", "--over", over)
    assert (r.rc == 0) is ok, r.err
    if not ok:
        r.one_line_error(2, f"--over: '{over}' is not 14 days to 28 days", "[ITB-HOL-01]")


def test_taper_checks_the_floor_against_the_range(itb: Itb) -> None:
    r = itb("taper", "--dose", "14 mcg/day", "--floor", "10 mcg/day")
    assert "--floor '10 mcg/day': 10 mcg/day is outside the adult spinal range 12 to 2003 mcg/day" in r.err
