"""Every error message for bad input names the flag or field the user wrote and quotes the value as typed,
in the
user's unit; it holds no internal identifier (ending in _s, _ng, _nl, _permille, ...) and no repr, with one
'itb:' prefix (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.host.conftest import BRIDGE, EXAMPLES, Itb

INTERNAL = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*_(?:s|ng|nl|permille|ppm|mm|per_ul|per_day|per_cm)\b")
REPR = re.compile(r"Window\(|Fraction\(|<Quantity|Decimal\(|\bnanogram\b|\bnanoliter\b|milliliter|microgram")

R = ("rate", "--concentration", "500 mcg/mL", "--dose")
S = ("schedule", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL")
F = ("refill", "--concentration", "500 mcg/mL", "--dose", "500 mcg/day", "--volume")
B = BRIDGE
T = ("taper", "--dose", "500 mcg/day", "--floor", "300 mcg/day")
D = ("dilute", "--stock", "2000 mcg/mL", "--volume", "20 mL", "--target")

CASES: list[tuple[tuple[str, ...], str, str]] = [
    ((*R, "500"), "--dose", "500"),
    ((*R, "500 blorp/day"), "--dose", "500 blorp/day"),
    ((*R, "2 mg/mL"), "--dose", "2 mg/mL"),
    ((*R, "500 mcg/week"), "--dose", "500 mcg/week"),
    ((*R, "0,5 mg/day"), "--dose", "0,5 mg/day"),
    ((*R, "1 gr/day"), "--dose", "1 gr/day"),
    (("rate", "--dose", "500 mcg/day", "--concentration", "3 mg/mL"), "--concentration", "3 mg/mL"),
    ((*S, "--window", "Monkey 08:00-10:00=+10%"), "--window", "Monkey"),
    ((*S, "--window", "Tuesdayyy 08:00-10:00=+10%"), "--window", "Tuesdayyy"),
    ((*S, "--window", "08:00-10:00=80%"), "--window", "80%"),
    ((*S, "--window", "08:00-10:10=+10%", "--window", "10:20-12:00=+10%"), "--window", "08:00-10:10=+10%"),
    ((*S, "--window", "22:00-06:00=+20%", "--window", "05:00-07:00=+10%"), "--window", "05:00-07:00=+10%"),
    ((*S, "--window", "10:00-10:10=+20%"), "--window", "10:00-10:10=+20%"),
    ((*S, "--window", "22:00-06:00=+20%", "--lead", "30 h"), "--lead", "30 h"),
    ((*S, "--window", "22:00-06:00=+20%", "--min-step", "10 min"), "--min-step", "10 min"),
    ((*F, "20.0000001 mL"), "--volume", "20.0000001 mL"),
    ((*F, "20 mL", "--alarm-volume", "0 mL"), "--alarm-volume", "0 mL"),
    ((*F, "50 mL"), "--volume", "50 mL"),
    ((*B, "100 m"), "--catheter-length", "100 m"),
    ((*B, "50 min"), "--catheter-length", "50 min"),
    ((*T, "--over", "7 day"), "--over", "7 day"),
    ((*T, "--max-step", "25%"), "--max-step", "25%"),
    ((*D, "745 mcg/mL", "--tolerance", "0.5%"), "--target", "745 mcg/mL"),
    ((*D, "750 mcg/mL", "--resolution", "0.3 mL"), "--volume", "20 mL"),
    (("initial-dose", "--screening", "60 mcg", "--effect", "6 h"), "--screening", "60 mcg"),
    (("initial-dose", "--screening", "50 mcg", "--effect", "6"), "--effect", "6"),
    (
        ("concentration", "--dose", "500 mcg/day", "--refill-interval", "400 day"),
        "--refill-interval",
        "400 day",
    ),
    (("concentration", "--dose", "500 mcg/day", "--fixed-flow", "1 mL/day"), "--fixed-flow", "1 mL/day"),
    (("concentration", "--dose", "500 mcg/day", "--reservoir", "30 mL"), "--reservoir", "30 mL"),
    (
        ("residual", "--reservoir", "20 mL", "--expected", "3 mL", "--measured", "25 mL"),
        "--measured",
        "25 mL",
    ),
    (
        ("titrate", "--current", "500 mcg/day", "--proposed", "600 mcg/day", "--since-change", "26"),
        "--since-change",
        "26",
    ),
    (
        (
            "titrate",
            "--current",
            "500 mcg/day",
            "--proposed",
            "600 mcg/day",
            "--since-change",
            "26 h",
            "--override",
            "ITB-RNG-01=x",
        ),
        "--override",
        "ITB-RNG-01=x",
    ),
    ((*R, "500 mcg/day", "--dose", "600 mcg/day"), "--dose", "600 mcg/day"),
]

NIGHT = (EXAMPLES / "night-boost.toml").read_text()
RX_CASES = [
    ('base = "500 mcg/day"', 'base = "500 mcg/dya"', "dose.base", "500 mcg/dya"),
    ('reservoir = "20 mL"', 'reservoir = "30 mL"', "pump.reservoir", "30 mL"),
    ('catheter_length = "50 cm"', 'catheter_length = "2 m"', "pump.catheter_length", "2 m"),
    ('change = "+20%"', 'change = "20%"', "window[0].change", "20%"),
    ('change = "+20%"', 'change = "+20%"\ndays = ["Mon-Fry"]', "window[0].days", "Fry"),
    ('lead = "2 h"', 'lead = "25 h"', "dose.lead", "25 h"),
    ('previous = "500 mcg/day"', 'previous = "500 mcg"', "start.previous", "500 mcg"),
]


def _clean(line: str) -> None:
    assert not INTERNAL.search(line), line
    assert not REPR.search(line), line
    assert (
        line.startswith("itb")
        and "refused: refused" not in line
        and line.count(" [ITB-") <= line.count("ITB-")
    )


@pytest.mark.parametrize(
    ("argv", "flag", "typed"), CASES, ids=[" ".join(c[0][:1] + c[0][-2:]) for c in CASES]
)
def test_cli_messages_name_the_flag_and_the_typed_value(
    itb: Itb, argv: tuple[str, ...], flag: str, typed: str
) -> None:
    r = itb(*argv)
    assert r.rc in (1, 2), (r.rc, r.out)
    line = r.err.strip().splitlines()[-1]
    assert flag in line and f"'{typed}'" in line, line
    _clean(line)


@pytest.mark.parametrize("case", RX_CASES, ids=[c[2] for c in RX_CASES])
def test_prescription_messages_name_the_field_and_the_typed_value(
    itb: Itb, tmp_path: Path, case: tuple[str, str, str, str]
) -> None:
    old, new, field, typed = case
    f = tmp_path / "rx.toml"
    assert old in NIGHT
    f.write_text(NIGHT.replace(old, new))
    line = itb("program", "build", str(f)).one_line_error(2, field, f"'{typed}'")
    _clean(line)


def test_refusal_messages_are_in_the_users_words(itb: Itb) -> None:
    """Refusals by a rule (exit 1): one prefix, rule IDs, doses in mcg/day and times in h."""
    for argv in (
        ("titrate", "--current", "500 mcg/day", "--proposed", "550 mcg/day", "--since-change", "23 h"),
        ("titrate", "--current", "500 mcg/day", "--proposed", "700 mcg/day", "--since-change", "2 days"),
        ("program", "build", str(EXAMPLES / "refused-titration.toml")),
    ):
        line = itb(*argv).one_line_error(1, "refused: ", "[ITB-")
        _clean(line)
