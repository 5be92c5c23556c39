"""A new user's findings on what quantities say about typed numbers: a fraction, a number too large or too
fine (not "not a dose rate"), the unknown unit word named, "pct" for %, and digits other than ASCII 0-9
refused (they were read as 500 while "0,5" is refused)."""

from __future__ import annotations

import pytest

from host_tools import calc
from host_tools.errors import UsageError
from tests.host.conftest import Itb

RATE = ("rate", "--concentration", "500 mcg/mL", "--dose")
SCHEDULE = ("schedule", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL", "--window")


@pytest.mark.parametrize(
    ("dose", "reason"),
    [
        ("1/2 mg/day", "is a fraction; write it as a decimal, '0.5 mg/day'"),
        ("1/3 mg/day", "is a fraction; write the dose rate as a decimal number and a unit"),
        ("500 mcg/wk", "has an unknown unit 'wk' in 'mcg/wk'; write a dose rate such as '500 mcg/day'"),
        ("99999999999999999999999 mcg/day", "is too large: out of any plausible range for a dose rate"),
        ("1e999 mcg/day", "is too large: out of any plausible range for a dose rate"),
        ("0.0000000000001 mg/day", "has more than 12 decimals, finer than any pump program"),
        ("+20pct", "has an ambiguous unit: 'pct' is pico-carat (a mass) in pint; write % for a percent"),
    ],
)
def test_a_number_that_does_not_read_says_why(itb: Itb, dose: str, reason: str) -> None:
    """'1/2 mg/day' was 'a bare number', 23 nines 'not a dose rate', '+20pct' 'a mass'."""
    itb(*RATE, dose).one_line_error(2, f"itb: --dose: '{dose}' {reason}")


@pytest.mark.parametrize(
    ("dose", "digit"),
    [("５００ mcg/day", "５"), ("٥٠٠ mcg/day", "٥"), ("𝟓𝟎𝟎 mcg/day", "𝟓"), ("5０0 mcg/day", "０")],
)
def test_non_ascii_digits_are_refused(itb: Itb, dose: str, digit: str) -> None:
    """They were accepted as 500 while '0,5' is refused."""
    itb(*RATE, dose).one_line_error(2, f"itb: --dose: '{dose}' has the non-ASCII digit '{digit}'", "0-9")
    with pytest.raises(UsageError, match="non-ASCII digit"):
        calc.rate(dose, "500 mcg/mL")


@pytest.mark.parametrize(
    "window", ["２２:00-06:00=+20%", "22:00-06:00=+２0%", "22:00-06:00=６00 mcg/day"]
)
def test_non_ascii_digits_in_a_window_are_refused(itb: Itb, window: str) -> None:
    itb(*SCHEDULE, window).one_line_error(2, f"itb: --window: '{window}' has the non-ASCII digit")


def test_pct_in_a_window_is_not_a_mass(itb: Itb) -> None:
    """'22:00-06:00=+20pct' said '+20pct' is a mass."""
    itb(*SCHEDULE, "22:00-06:00=+20pct").one_line_error(
        2, "itb: --window: '+20pct' is not a percentage; write '+20%'"
    )
    itb(*SCHEDULE, "22:00-06:00=20 percent").one_line_error(2, "write '+20%' or '-20%'")
    itb("taper", "--dose", "500 mcg/day", "--floor", "300 mcg/day", "--max-step", "20pct").one_line_error(
        2, "itb: --max-step: '20pct' is not a percentage; write '20%'"
    )


def test_ascii_forms_still_read() -> None:
    assert calc.rate("0.5 mg/day", "500 mcg/mL").daily_dose.magnitude == 500
    assert calc.rate("500 mcg/24h", "40 mg/20 mL").flow_per_day.magnitude == 0.25
