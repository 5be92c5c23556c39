"""The precision policy (docs/cli.md, "Precision"): exact per-day text, per-hour never rounded up, durations
truncated to the minute, plurals; the rows the rig's side-by-side view shows (every step's dose and flow)."""

from __future__ import annotations

import re
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_py import program as core_program
from host_tools import display, rx
from tests.host.conftest import EXAMPLES

PROPS = settings(max_examples=300, deadline=None)


def _number(text: str) -> Fraction:
    m = re.match(r"(< )?(\d+(?:\.\d+)?) ", text)
    assert m is not None, text
    return Fraction(m.group(2))


@PROPS
@given(st.integers(min_value=1, max_value=10**10))
def test_per_day_is_exact_and_per_hour_never_rounds_up(ng_per_day: int) -> None:
    day, hour = display.mcg_per_day(ng_per_day), display.mcg_per_hour(ng_per_day)
    assert _number(day) == Fraction(ng_per_day, 1000)
    exact_hour = Fraction(ng_per_day, 24 * 1000)  # mcg/h
    shown = _number(hour)
    if hour.startswith("< "):
        assert 0 < exact_hour < Fraction(1, 1000) and shown == Fraction(1, 1000)
    else:
        assert shown <= exact_hour < shown + Fraction(1, 1000)  # rounded down, to 1 ng/h
    assert "e-" not in day + hour


@PROPS
@given(st.integers(min_value=1, max_value=10**10))
def test_flows_the_same(nl_per_day: int) -> None:
    assert _number(display.ml_per_day(nl_per_day)) == Fraction(nl_per_day, 10**6)
    hour = display.ul_per_hour(nl_per_day)
    exact = Fraction(nl_per_day, 24 * 1000)  # uL/h
    if not hour.startswith("< "):
        assert _number(hour) <= exact < _number(hour) + Fraction(1, 1000)


@PROPS
@given(st.integers(min_value=0, max_value=400 * 86_400))
def test_durations_truncate_to_the_minute(seconds: int) -> None:
    text = display.duration(seconds)
    if text == "< 1 min":
        assert 0 < seconds < 60
        return
    total = 0
    for n, unit in re.findall(r"(\d+) (days?|h|min)", text):
        total += int(n) * {"day": 86_400, "days": 86_400, "h": 3_600, "min": 60}[unit]
        if unit.startswith("day"):
            assert unit == ("day" if n == "1" else "days")
    assert total <= seconds < total + 60


def test_plurals() -> None:
    assert [display.plural(n, "day") for n in (0, 1, 2, 18)] == ["0 days", "1 day", "2 days", "18 days"]
    assert display.duration(86_400) == "1 day" and display.duration(18 * 86_400) == "18 days"
    assert display.duration(0) == "0 min"
    assert display.duration(1) == display.duration(59) == "< 1 min" and display.duration(60) == "1 min"


def test_program_rows_show_dose_and_flow_per_day_and_per_hour() -> None:
    """The side-by-side view (issue 12: it showed no flows, so a halved flow was invisible)."""
    b = rx.build_program(rx.load_prescription(EXAMPLES / "night-boost.toml"))
    rows = dict(display.program_rows(b.program, b.encoding))
    assert rows["step 1"] == "04:00-20:00 500 mcg/day (20.833 mcg/h), 1 mL/day (41.666 uL/h)"
    assert rows["step 2"] == "20:00-04:00 600 mcg/day (25 mcg/h), 1.2 mL/day (50 uL/h)"
    assert rows["start"] == "transfer from 500 mcg/day: pump replaced at the end of its battery life"
    assert rows["checksum"] == b.checksum
    doubled = b.program.replace(conc_ng_per_ul=1000)  # same dose, twice the strength: half the flow
    view = display.side_by_side(display.program_rows(b.program), display.program_rows(doubled))
    line = next(x for x in view.splitlines() if "step 1" in x)
    assert line.startswith("* ") and "1 mL/day (41.666 uL/h)" in line and "0.5 mL/day (20.833 uL/h)" in line
    assert core_program.encode(doubled) != b.encoding
