"""host_tools.parsing: weekdays (whole names, three-letter forms, ranges, lists), signed percent changes,
windows.
Issue 12: "Mon-Fri" changed Monday only, "Sat Sun" Saturday only, "Monkey" read as Mon, "80%" as +80 %."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.errors import UsageError
from host_tools.parsing import (
    FULL_DAY_NAMES,
    change_text,
    days_text,
    parse_days,
    parse_window,
    percent_permille,
)

SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _expand(a: int, b: int) -> set[int]:
    # Independent of the parser: walk forward from a to b round the week.
    out, d = {a}, a
    while d != b:
        d = (d + 1) % 7
        out.add(d)
    return out


@st.composite
def day_texts(draw: st.DrawFn) -> tuple[str, set[int]]:
    """A list of day tokens (names in any case and form, ranges), none overlapping, and the days it names."""
    covered: set[int] = set()
    tokens = []
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.integers(0, 6))
        b = draw(st.integers(0, 6))
        days = {a} if draw(st.booleans()) or a == b else _expand(a, b)
        if days & covered:
            continue
        covered |= days

        def name(i: int) -> str:
            word = draw(st.sampled_from([SHORT[i], FULL_DAY_NAMES[i]]))
            return draw(st.sampled_from([word, word.lower(), word.upper()]))

        tokens.append(
            name(a) if len(days) == 1 else f"{name(a)}{draw(st.sampled_from(['-', ' - ']))}{name(b)}"
        )
    sep = draw(st.sampled_from([",", ", ", " ", "  "]))
    return sep.join(tokens), covered


@settings(max_examples=200, deadline=None)
@given(day_texts())
def test_day_lists_and_ranges_cover_every_day_they_name(case: tuple[str, set[int]]) -> None:
    """REQ: ITB-SCH-02. Every day of every range and list, checked against an independent expansion."""
    text, covered = case
    assert set(parse_days("--window", text)) == covered
    assert set(parse_days("--window", days_text(parse_days("--window", text)))) == covered  # round trip


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri", (0, 1, 2, 3, 4)),
        ("Sat Sun", (5, 6)),
        ("Sat,Sun", (5, 6)),
        ("saturday, SUNDAY", (5, 6)),
        ("Fri-Mon", (0, 4, 5, 6)),
        ("Mon,Wed-Fri", (0, 2, 3, 4)),
        ("Monday - Wednesday", (0, 1, 2)),
    ],
)
def test_day_forms(text: str, days: tuple[int, ...]) -> None:
    assert parse_days("--window", text) == days


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("Monkey", "Monkey"),
        ("Tuesdayyy", "Tuesdayyy"),
        ("Tues", "Tues"),
        ("Mo", "Mo"),
        ("Mon-Mon", "Mon-Mon"),
        ("Mon-Fri,Wed", "Wed"),
        ("Sat,,Sun", "Sat,,Sun"),
        ("Mon-Tue-Wed", "Mon-Tue-Wed"),
    ],
)
def test_other_day_names_are_refused_naming_the_token(text: str, token: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_days("--window", text)
    assert str(exc.value).startswith(f"--window: '{token}'")


def test_days_text_is_shortest() -> None:
    assert days_text((0, 1, 2, 3, 4)) == "Mon-Fri"
    assert days_text((5, 6)) == "Sat,Sun"
    assert days_text((0, 2, 3, 4)) == "Mon,Wed-Fri"
    assert days_text(None) == ""


@pytest.mark.parametrize(
    ("text", "permille"), [("+20%", 200), ("-10%", -100), ("+12.5%", 125), ("- 5 %", -50)]
)
def test_signed_percent(text: str, permille: int) -> None:
    assert percent_permille("--window", text, signed=True) == permille
    assert percent_permille("--window", change_text(permille), signed=True) == permille


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("80%", "has no sign; write '+80%' for more or '-80%' for less"),
        ("+0%", "is zero"),
        ("+12.55%", "finer than 0.1 %"),
        ("+x%", "is not a percentage"),
    ],
)
def test_percent_refusals(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        percent_permille("--window", text, signed=True)


def test_size_percent_has_no_sign() -> None:
    assert percent_permille("--max-step", "15%", signed=False) == 150
    with pytest.raises(UsageError, match="is a size"):
        percent_permille("--max-step", "-15%", signed=False)


def test_window_text() -> None:
    w = parse_window("--window", "Mon-Fri 08:00-10:00=+10%").window
    assert (w.start_s, w.end_s, w.change_permille, w.days) == (8 * 3600, 10 * 3600, 100, (0, 1, 2, 3, 4))
    w = parse_window("--window", "22:00 - 06:00 = 600 mcg/day").window
    assert (w.dose_ng_per_day, w.days) == (600_000, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("08:00-10:00", "is not a window"),
        ("8am-10am=+10%", "has no time span"),
        ("25:00-10:00=+10%", "is not a time of day"),
        ("24:00-10:00=+10%", "starts at 24:00"),
        ("10:00-10:00=+10%", "is empty or a whole day long"),
        ("08:00-10:00=-100%", "would stop therapy"),
        ("08:00-10:00=80%", "has no sign"),
        ("Monkey 08:00-10:00=+10%", "'Monkey' is not a weekday"),
        ("08:00-10:00=600", "is a bare number"),
    ],
)
def test_window_refusals(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        parse_window("--window", text)
