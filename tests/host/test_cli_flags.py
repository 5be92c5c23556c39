"""Every flag of every `itb` command, walked from the real parser (a new user's report): a flag that is not
repeatable refuses a second occurrence (values and switches alike), every dose-taking command takes
--origin, --age and --strict, arguments are checked before anything is created or started, and a bad value
is refused in the documented form `itb: <flag>: '<value as typed>' <reason>`."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from host_tools import cli, cliargs
from tests.host.conftest import Itb
from tests.host.rig_support import run_cli
from tests.host.test_cli_contract import _commands

COMMANDS = _commands(cli.build_parser())
DOSE = ("--dose", "500 mcg/day")


def _flags() -> list[tuple[str, str, list[str]]]:
    """(command, flag, a value it accepts) of every option but the repeatable ones and --help."""
    out = []
    for name, parser in COMMANDS.items():
        for action in parser._actions:
            repeatable = isinstance(action, (argparse._HelpAction, argparse._AppendAction))
            if not action.option_strings or repeatable:
                continue
            out.append((name, action.option_strings[-1], _value(action)))
    return out


def _value(action: argparse.Action) -> list[str]:
    if action.nargs == 0:
        return []
    if action.choices:
        return [str(next(iter(action.choices)))]
    for text in ("1", "2026-01-05"):
        try:
            if action.type is not None:
                action.type(text)  # type: ignore[operator]
        except (argparse.ArgumentTypeError, ValueError):
            continue
        return [text]
    raise AssertionError(f"no sample value for {action.option_strings}")


FLAGS = _flags()


def test_the_walk_covers_the_reported_flags() -> None:
    seen = {(c, f) for c, f, _v in FLAGS}
    for pair in [("status", "--port"), ("bench", "--days"), ("bench", "--out"), ("bench", "--batch"),
                 ("status", "--timeout"), ("monitor", "--count"), ("log", "--from"), ("rig", "--tcp"),
                 ("status", "--json"), ("bench", "--quiet"), ("rate", "--dose")]:  # fmt: skip
        assert pair in seen, pair


def test_every_command_is_built_by_the_parser_that_refuses_repeats() -> None:
    for name, parser in COMMANDS.items():
        assert isinstance(parser, cliargs.Parser), name
        for action in parser._actions:
            if action.option_strings and not isinstance(
                action, (argparse._HelpAction, argparse._AppendAction)
            ):
                assert isinstance(action, (cliargs.Once, cliargs.OnceSwitch)), (name, action.option_strings)


@pytest.mark.parametrize(("command", "flag", "value"), FLAGS, ids=[f"{c}{f}" for c, f, _v in FLAGS])
def test_every_flag_given_twice_is_refused(itb: Itb, command: str, flag: str, value: list[str]) -> None:
    line = itb(*command.split(), flag, *value, flag, *value).one_line_error(2, "given twice")
    assert line.startswith(f"itb: {flag}: "), line
    if value:
        assert f"('{value[0]}', then '{value[0]}')" in line, line


def test_a_repeat_names_both_values_as_typed(itb: Itb) -> None:
    itb("status", "--timeout", "1.50", "--timeout", "2").one_line_error(
        2, "itb: --timeout: given twice ('1.50', then '2'); give it once"
    )
    itb("status", "--port", "A", "--port", "B").one_line_error(2, "--port: given twice ('A', then 'B')")


def test_repeatable_flags_still_repeat(itb: Itb) -> None:
    r = itb("schedule", *DOSE, "--concentration", "500 mcg/mL",
            "--window", "22:00-23:00=+10%", "--window", "02:00-04:00=+10%")  # fmt: skip
    assert r.rc == 0, r.err


# The commands of docs/cli.md's Warnings section: every one checks a dose.
DOSE_TAKING = ["rate", "schedule", "refill", "concentration", "bridge", "taper", "initial-dose", "titrate"]


@pytest.mark.parametrize("command", DOSE_TAKING)
def test_every_dose_taking_command_takes_origin_age_and_strict(command: str) -> None:
    flags = {o for a in COMMANDS[command]._actions for o in a.option_strings}
    assert {"--origin", "--age", "--strict"} <= flags, command
    # program build takes the patient group from the prescription, and --strict.
    assert "--strict" in {o for a in COMMANDS["program build"]._actions for o in a.option_strings}


def test_titrate_strict_exits_1_on_a_warning(itb: Itb) -> None:
    argv = ("titrate", "--current", "55 mcg/day", "--proposed", "50 mcg/day", "--since-change", "26 h")
    r = itb(*argv)
    assert r.rc == 0 and "decimal slip" in r.err, r.err
    r = itb(*argv, "--strict")
    assert r.rc == 1 and "itb: --strict: 2 warnings [ITB-RNG-01]" in r.err, r.err


TAPER = ("taper", *DOSE, "--floor", "150 mcg/day")
BAD = [
    (("status",), "--timeout", "0", "must be more than 0"),
    (("status",), "--timeout", "nan", "is not a number of seconds"),
    (("readback",), "--timeout", "-1", "must be more than 0"),
    (("status",), "--retries", "-1", "must be at least 0"),
    (("monitor",), "--count", "0", "must be at least 1"),
    (("monitor",), "--interval", "-1", "must be 0 or more"),
    (("log",), "--from", "-1", "must be at least 0"),
    (("log",), "--from", "x", "is not a whole number"),
    (("bench",), "--batch", "0", "must be at least 1"),
    (("bench",), "--days", "0", "must be 1 to 3660"),
    (("bench",), "--days", "3661", "must be 1 to 3660"),
    (("bench",), "--days", "-2", "must be 1 to 3660"),
    (("rig",), "--heap", "0", "must be at least 1"),
    (TAPER, "--max-step", "-10%", "is a size, without a sign"),
]


@pytest.mark.parametrize(("argv", "flag", "value", "reason"), BAD, ids=[f"{b[1]}{b[2]}" for b in BAD])
def test_a_bad_value_names_the_flag_and_quotes_it(
    itb: Itb, argv: tuple[str, ...], flag: str, value: str, reason: str
) -> None:
    line = itb(*argv, flag, value).one_line_error(2, reason)
    assert line.startswith(f"itb: {flag}: '{value}' "), line  # one line: no virtual rig was started


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [
        ("--tcp", "70000", "must be 0 to 65535"),
        ("--tcp", "-1", "must be 0 to 65535"),
        ("--start", "2026-02-30", "is not a date YYYY-MM-DD"),
    ],
)
def test_rig_checks_its_arguments_before_creating_anything(
    itb: Itb, tmp_path: Path, flag: str, value: str, reason: str
) -> None:
    state = tmp_path / "rs6"
    line = itb("rig", "--state-dir", str(state), flag, value).one_line_error(2, reason)
    assert line.startswith(f"itb: {flag}: '{value}' "), line
    assert not state.exists()


def test_rig_leaves_nothing_behind_when_its_port_is_taken(itb: Itb, tmp_path: Path) -> None:
    state, key = tmp_path / "rs", tmp_path / "k.hex"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        r = itb("rig", "--state-dir", str(state), "--key-file", str(key), "--tcp", port)
        r.one_line_error(2, "--tcp", "already in use")
    assert not state.exists() and not key.exists()


def test_rig_state_dir_must_be_a_directory(itb: Itb, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    itb("rig", "--state-dir", str(tmp_path / "f")).one_line_error(2, "--state-dir: ", "is not a directory")
    assert (tmp_path / "f").read_text() == "x"


def test_rig_heap_needs_board(itb: Itb, tmp_path: Path) -> None:
    state = tmp_path / "rs"
    r = itb("rig", "--state-dir", str(state), "--heap", "65536")
    r.one_line_error(2, "itb: --heap: '65536' needs --board")
    assert not state.exists()


def test_bench_quiet_prints_nothing_on_stderr(tmp_path: Path) -> None:
    code, out, err = run_cli(["bench", "--days", "1", "--out", str(tmp_path / "b"), "--quiet"])
    assert code == 0 and "PASS" in out, err
    assert err == ""


def test_example_json_with_a_name_is_refused(itb: Itb) -> None:
    itb("example", "night-boost", "--json").one_line_error(2, "itb: --json: ", "TOML")
    assert itb("example", "--json").json()["default"] == "night-boost"
