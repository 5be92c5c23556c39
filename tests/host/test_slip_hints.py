"""A new user's findings on slips (per-hour, decimal, mg for mcg), absurd flows and the screening strength:
a refusal carries the slip hints that explain it, a window's dose typed per hour is called out, a flow no
pump delivers is warned about, and the 50 mcg/mL strength is named wherever a pump's concentration is."""

from __future__ import annotations

from pathlib import Path

import pytest

from host_tools import calc
from tests.host.conftest import EXAMPLES, Itb

NIGHT = (EXAMPLES / "night-boost.toml").read_text()
TITRATE = ("titrate", "--current", "400mcg/day", "--since-change", "30 h", "--proposed")
PER_HOUR = "a per-hour dose typed for a per-day one?"


# -- 1. a refusal's text carries its slip hints --------------------------------------------------------------


@pytest.mark.parametrize(
    ("proposed", "needles"),
    [
        (
            "520mcg/h",
            [
                f"--proposed '520mcg/h' is 12480 mcg/day; as a daily dose the same number is "
                f"520 mcg/day: {PER_HOUR} [ITB-RNG-01]",
                "[ITB-ESC-01]",
            ],
        ),
        ("40mcg/day", ["--proposed '40mcg/day': 40 mcg/day is a tenth of a usual dose", "decimal slip?"]),
        (
            "4000mcg/day",
            ["--proposed '4000mcg/day': 4000 mcg/day is ten times a usual dose", "decimal slip?"],
        ),
    ],
)
def test_a_refused_titration_shows_its_slip_warnings_in_text(
    itb: Itb, proposed: str, needles: list[str]
) -> None:
    """REQ: ITB-RNG-01. Text mode printed only the refusal; --json's warnings had the hints."""
    r = itb(*TITRATE, proposed)
    line = r.one_line_error(1, "refused: titration", *needles)
    assert all(n in r.out for n in needles), r.out  # the decision's line on stdout carries them too
    for w in itb(*TITRATE, proposed, "--json").json()["warnings"]:
        assert w["text"] in line


def test_an_allowed_titration_keeps_its_message() -> None:
    r = calc.titrate("500 mcg/day", "600 mcg/day", "26 h")
    assert r.allowed and "warning:" not in r.message


def _build(itb: Itb, tmp_path: Path, old: str, new: str) -> str:
    assert old in NIGHT
    path = tmp_path / "rx.toml"
    path.write_text(NIGHT.replace(old, new))
    return itb("program", "build", str(path)).one_line_error(1, "refused: transfer")


def test_program_build_refusal_names_a_per_hour_base(itb: Itb, tmp_path: Path) -> None:
    """REQ: ITB-RNG-01. dose.base = "500 mcg/h" was refused with no per-hour hint (docs promise one)."""
    line = _build(itb, tmp_path, 'base = "500 mcg/day"', 'base = "500 mcg/h"')
    assert (
        f"warning: dose.base '500 mcg/h' is 12000 mcg/day; as a daily dose the same number is 500 mcg/day: "
        f"{PER_HOUR} [ITB-RNG-01]" in line
    )


def test_program_build_refusal_names_a_per_hour_previous_dose(itb: Itb, tmp_path: Path) -> None:
    """REQ: ITB-DIS-01. start.previous = "500 mcg/h": refused with no hint, and a note calling a step allowed
    where nothing rose."""
    line = _build(itb, tmp_path, 'previous = "500 mcg/day"', 'previous = "500 mcg/h"')
    assert "warning: start.previous '500 mcg/h' is 12000 mcg/day" in line and PER_HOUR in line
    assert "[ITB-DIS-01]" in line
    assert "below the usual" not in line and "allowed" not in line


def test_a_refused_titration_rx_carries_the_escalation_and_the_slip(itb: Itb, tmp_path: Path) -> None:
    """REQ: ITB-ESC-01. As `itb titrate`: the envelope's warnings and the slip are in the one error line."""
    text = (EXAMPLES / "refused-titration.toml").read_text()
    path = tmp_path / "rx.toml"
    path.write_text(text.replace('base = "700 mcg/day"', 'base = "650 mcg/h"'))
    line = itb("program", "build", str(path)).one_line_error(1, "refused: titration")
    assert "[ITB-ESC-01]" in line and "dose.base '650 mcg/h' is 15600 mcg/day" in line and PER_HOUR in line


def test_program_build_warns_about_a_window_dose_typed_per_hour(itb: Itb, tmp_path: Path) -> None:
    path = tmp_path / "rx.toml"
    path.write_text(NIGHT.replace('change = "+20%"', 'dose = "25 mcg/h"'))
    r = itb("program", "build", str(path))
    assert r.rc == 0, r.err  # 600 mcg/day: no slip
    path.write_text(NIGHT.replace('change = "+20%"', 'dose = "600 mcg/h"'))
    line = itb("program", "build", str(path)).one_line_error(1)
    assert "window[0].dose '600 mcg/h' is 14400 mcg/day" in line and PER_HOUR in line


# -- 2. a window's dose typed per hour -----------------------------------------------------------------------


def test_a_window_dose_typed_per_hour_is_called_out(itb: Itb) -> None:
    """REQ: ITB-RNG-01. "22:00-06:00=600 mcg/h" gave 14400 mcg/day with only range warnings."""
    args = ("schedule", "--dose", "500mcg/day", "--concentration", "500mcg/mL", "--window")
    r = itb(*args, "22:00-06:00=600 mcg/h")
    assert r.rc == 0
    assert (
        f"warning: --window '600 mcg/h' is 14400 mcg/day; as a daily dose the same number is 600 mcg/day: "
        f"{PER_HOUR} [ITB-RNG-01]" in r.err.splitlines()
    )
    assert PER_HOUR not in itb(*args, "22:00-06:00=25 mcg/h").err


# -- 7. the screening strength -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (("rate", "--dose", "500 mcg/day", "--concentration", "50 mcg/mL"), "--concentration"),
        (
            ("refill", "--volume", "20 mL", "--dose", "500 mcg/day", "--concentration", "50 mcg/mL"),
            "--concentration",
        ),
        (
            (
                "schedule",
                "--dose",
                "500 mcg/day",
                "--window",
                "22:00-06:00=+20%",
                "--concentration",
                "50 mcg/mL",
            ),
            "--concentration",
        ),
        (
            (
                "bridge",
                "--internal-volume",
                "0.2 mL",
                "--catheter-length",
                "50 cm",
                "--dose",
                "500 mcg/day",
                "--new-concentration",
                "500 mcg/mL",
                "--old-concentration",
                "50 mcg/mL",
            ),
            "--old-concentration",
        ),
    ],
)
def test_the_screening_strength_is_named_where_a_pump_concentration_is_meant(
    itb: Itb, argv: tuple[str, ...], flag: str
) -> None:
    """REQ: ITB-SCR-05. program build and dilute refuse 50 mcg/mL; rate, refill, bridge took it silently."""
    r = itb(*argv)
    assert r.rc == 0
    assert f"warning: {flag} '50 mcg/mL' is the screening strength, for bolus test doses only" in r.err
    assert "[ITB-SCR-05]" in r.err
    strict = itb(*argv, "--strict")
    assert strict.rc == 1 and "ITB-SCR-05" in strict.err.splitlines()[-1]
    assert "ITB-SCR-05" not in itb(*[a.replace("50 mcg/mL", "500 mcg/mL") for a in argv]).err


# -- 8. absurd flows and mg for mcg --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "flow"),
    [("500 mcg/s", "86400 mL/day"), ("500 mg/day", "1000 mL/day")],
)
def test_a_flow_no_pump_delivers_is_warned_about(itb: Itb, dose: str, flow: str) -> None:
    """REQ: ITB-CON-03. These passed with exit 0 and only range warnings."""
    r = itb("rate", "--concentration", "500 mcg/mL", "--dose", dose)
    assert r.rc == 0
    assert f"warning: flow: {flow} is above the 24 mL/day a pump delivers at most" in r.err
    assert "[ITB-CON-03]" in r.err


def test_a_tiny_flow_is_warned_about_too() -> None:
    r = calc.rate("20 mcg/day", "2000 mcg/mL")
    assert [c.rule_id for c in r.warnings] == ["ITB-CON-03"]
    assert "below the 0.048 mL/day a pump delivers at least" in r.warnings[0].text


def test_mg_typed_for_mcg_is_called_out(itb: Itb) -> None:
    r = itb("rate", "--concentration", "500 mcg/mL", "--dose", "500 mg/day")
    assert (
        "warning: --dose '500 mg/day' is 500000 mcg/day; in mcg/day the same number is 500 mcg/day: "
        "mg typed for mcg? [ITB-RNG-01]" in r.err.splitlines()
    )
    assert calc.rate("0.5 mg/day", "500 mcg/mL").warnings == []  # a usual dose in mg
