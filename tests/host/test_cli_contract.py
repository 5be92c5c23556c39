"""docs/cli.md is the contract of the whole `itb` command: walking the real argparse parser, every command
has a section, every flag and argument of it is in that section (or in "Common options"), every exit code is
in the table, and every JSON key the rig, bench, example, plot and trace commands write is in its section.
These look for key names only, anywhere in the section: the structure (nesting, the kind of each value) is
tests/host/test_json_shapes.py's, against the section's `json shape` block."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from host_tools import cli, errors, trace
from tests.host.conftest import ROOT
from tests.host.rig_support import NIGHT_BOOST, key_file_for, run_cli, served

TEXT = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.update(_commands(sub, f"{prefix}{name} ") or {f"{prefix}{name}": sub})
    return out


def section(title: str) -> str:
    """The text of a `## ` or `### ` section, up to the next heading of any level."""
    m = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", TEXT + "\n#", re.S | re.M)
    assert m, f"docs/cli.md has no section '{title}'"
    return m.group(1)


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for key, v in obj.items() if key != "inputs" for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def test_every_command_flag_and_argument_is_documented() -> None:
    commands = _commands(cli.build_parser())
    rig_and_more = {"bench", "load", "rig", "status", "readback", "log", "monitor", "trace", "example"}
    assert rig_and_more <= set(commands)
    common = section("Common options")
    head = TEXT.split("\n## ")[0]
    missing = [f"itb {o}" for a in cli.build_parser()._actions for o in a.option_strings
               if o not in ("-h", "--help") and not _mentions(head, o)]
    for name, parser in commands.items():
        text = section(f"itb {name}")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            words = list(action.option_strings) or [str(action.metavar or action.dest)]
            missing += [f"{name} {w}" for w in words if not (_mentions(text, w) or _mentions(common, w))]
    assert not missing, " ".join(missing)


def test_every_exit_code_is_in_the_table() -> None:
    table = section("Exit codes")
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_")} | {141}
    assert codes >= {0, 1, 2, 3, 130}
    for code in codes:
        assert f"| {code} |" in table, code


def _json(argv: list[str]) -> Any:
    rc, out, err = run_cli(argv)
    assert rc == 0, (argv, out, err)
    if argv[0] == "monitor":
        return [json.loads(line) for line in out.splitlines()]
    return json.loads(out)


def _undocumented(command: str, doc: Any) -> list[str]:
    text = section(f"itb {command}")
    return sorted(f"{command}: {k}" for k in _keys(doc) if not _mentions(text, k))


def test_every_json_key_of_the_rig_commands_is_documented(tmp_path: Path) -> None:
    missing: list[str] = []
    with served() as vr:
        port = ["--port", vr.url, "--key-file", str(key_file_for(vr, tmp_path))]
        load = ["load", str(NIGHT_BOOST), "--yes", "--fill", "--json", *port]
        missing += _undocumented("load", _json(load))
        for argv in (["status"], ["readback"], ["log"], ["monitor", "--count", "2", "--interval", "0"]):
            missing += _undocumented(argv[0], _json([*argv, "--json", *port]))
    assert not missing, " ".join(missing)


def test_every_json_key_of_bench_plot_example_and_trace_is_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = _undocumented("bench", _json(["bench", "--json", "--days", "1", "--out", str(tmp_path / "b")]))
    missing += _undocumented("plot", _json(["plot", str(NIGHT_BOOST), "--json", "-o", str(tmp_path)]))
    missing += _undocumented("example", _json(["example", "--json"]))
    matrix = tmp_path / "trace.json"
    run = {"ITB-RNG-01": {"code": ["firmware_py/x.py:f"], "tests": ["t"]}}
    matrix.write_text(json.dumps(trace.shipped(run)))
    monkeypatch.setattr(trace, "matrix_file", lambda: matrix)
    rc, out, _err = run_cli(["trace", "--json"])
    assert rc == 1  # a synthetic matrix: every other requirement untested
    missing += _undocumented("trace", json.loads(out))
    assert not missing, " ".join(missing)
