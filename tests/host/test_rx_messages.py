"""A new user's findings on prescription messages: a window's time span is named as its own field
(``window[0].effect``), and a TOML syntax error names the field (table.key) and the line, not tomllib's bare
"Cannot overwrite a value (at line 31, column 13)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from host_tools import rx
from host_tools.errors import UsageError
from tests.host.conftest import EXAMPLES, Itb

NIGHT = (EXAMPLES / "night-boost.toml").read_text()


def _refusal(itb: Itb, tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad-dup.toml"
    path.write_text(text)
    return itb("program", "build", str(path)).one_line_error(2).replace(f"{tmp_path}/", "")


@pytest.mark.parametrize(
    ("effect", "needle"),
    [
        ("22:00-06:60", "itb: window[0].effect: '06:60' is not a time of day HH:MM"),
        ("24:00-06:00", "itb: window[0].effect: '24:00-06:00' starts at 24:00"),
        ("22:00-22:00", "itb: window[0].effect: '22:00-22:00' is empty or a whole day long"),
    ],
)
def test_a_window_span_error_names_the_effect_field(
    itb: Itb, tmp_path: Path, effect: str, needle: str
) -> None:
    """window effect "22:00-06:60" gave 'window[0].change: ...'."""
    line = _refusal(itb, tmp_path, NIGHT.replace('effect = "22:00-06:00"', f'effect = "{effect}"'))
    assert line.startswith(needle), line


def test_a_window_dose_span_error_names_the_effect_field() -> None:
    text = NIGHT.replace(
        'effect = "22:00-06:00"\nchange = "+20%"', 'effect = "22:00-06:60"\ndose = "600 mcg/day"'
    )
    with pytest.raises(UsageError, match=r"^window\[0\]\.effect: '06:60'"):
        rx.parse_prescription(text, "rx.toml")


def test_a_duplicate_key_names_the_field_and_the_line(itb: Itb, tmp_path: Path) -> None:
    """`lead` twice in [dose]: tomllib's 'Cannot overwrite a value (at line 31, column 13)' named no field."""
    text = NIGHT.replace('lead = "2 h"\n', 'lead = "2 h"\nlead = "3 h"\n')
    lead = text.splitlines().index('lead = "3 h"') + 1
    line = _refusal(itb, tmp_path, text)
    assert line == (
        f"itb: dose.lead: '3 h' is a second value for the same key (bad-dup.toml line {lead}; first at line "
        f"{lead - 1}); a field is given once"
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            '\n[[window]]\neffect = "10:00-11:00"\nchange = "+10%"\nchange = "+12%"\n',
            "itb: window[1].change: '+12%'",
        ),
        ('\n[dose]\nbase = "1 mcg/day"\n', "itb: dose: '[dose]' is declared twice (bad-dup.toml line"),
        ("\n[patient]\n", "itb: patient: '[patient]' is declared twice"),
    ],
)
def test_duplicates_in_tables_and_arrays_of_tables(itb: Itb, tmp_path: Path, extra: str, needle: str) -> None:
    line = _refusal(itb, tmp_path, NIGHT + extra)
    assert line.startswith(needle) and "line" in line, line


def test_an_unquoted_quantity_names_the_field_and_says_to_quote_it(itb: Itb, tmp_path: Path) -> None:
    line = _refusal(itb, tmp_path, NIGHT.replace('base = "500 mcg/day"', "base = 500 mcg/day"))
    assert line.startswith("itb: dose.base: '500 mcg/day' is malformed TOML (bad-dup.toml line "), line
    assert 'quote text: base = "500 mcg/day"' in line
