"""Every command's real `--json` output has the structure docs/cli.md states in its `json shape` block: the
same keys at every level of nesting, and values of the stated kind (a quantity object, an integer, a string,
a list, an object...). The older tests (test_docs.py, test_cli_contract.py) only look for each key's name
somewhere in the section, so a quantity written as text, a number where a list is, or a key at the wrong
level passed them; this one compares the structure itself, on a virtual rig for the rig commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools import cli, trace
from host_tools.bench import run_bench
from tests.host.conftest import BRIDGE, EXAMPLES, ROOT
from tests.host.json_shapes import blocks, check, quantities
from tests.host.rig_support import NIGHT_BOOST, client_for, encoded, key_file_for, run_cli, served
from tests.host.test_cli_contract import _commands

TEXT = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
SHAPES = blocks(TEXT)
NAMED = {**SHAPES.get("JSON output", {}), **SHAPES}
# The units of the JSON quantities (docs/cli.md, "JSON output": the display units of "Precision")
UNITS = ("mcg/day", "mcg/h", "mcg", "mL/day", "uL/h", "mL", "mcg/mL", "cm", "percent", "day", "h", "min")
OTHER_UNITS = {"dropped_per_day": "ng/day"}  # below the display resolution

CALC: list[tuple[str, ...]] = [
    ("rate", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL"),
    ("rate", "--dose", "500 mcg/h", "--concentration", "2000 mcg/mL", "--age", "8"),
    ("schedule", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL", "--window", "22:00-06:00=+20%"),
    ("schedule", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL", "--window", "22:00-06:00=+20%",
     "--window", "Sat,Sun 08:00-10:00=600 mcg/day"),
    ("refill", "--volume", "20 mL", "--concentration", "500 mcg/mL", "--dose", "500 mcg/day"),
    ("residual", "--reservoir", "20 mL", "--expected", "3 mL", "--measured", "4.5 mL"),
    ("concentration", "--dose", "500 mcg/day"),
    ("concentration", "--dose", "100 mcg/day", "--pump", "constant-flow", "--fixed-flow", "0.5 mL/day"),
    ("dilute", "--stock", "2000 mcg/mL", "--target", "750 mcg/mL", "--volume", "20 mL"),
    ("screening",),
    ("screening", "--small-child"),
    ("initial-dose", "--screening", "50 mcg", "--effect", "6 h"),
    ("titrate", "--current", "1000 mcg/day", "--proposed", "1100 mcg/day", "--since-change", "30 days",
     "--phase", "refill", "--override", "ITB-RNG-04=reviewed"),
    ("titrate", "--current", "500 mcg/day", "--proposed", "700 mcg/day", "--since-change", "1 day"),
    ("taper", "--dose", "500 mcg/day", "--floor", "300 mcg/day"),
    (*BRIDGE, "50 cm"),
    (*BRIDGE[:6], "500 mcg/mL", *BRIDGE[7:], "50 cm"),  # the same strength: no bridge needed
]


def _json(argv: list[str], rc: int = 0) -> Any:
    code, out, err = run_cli(argv)
    assert code == rc, (argv, out, err)
    if argv[0] == "monitor":
        return [json.loads(line) for line in out.splitlines()]
    return json.loads(out)


def _drift(command: str, doc: object, argv: object = "") -> list[str]:
    shape = SHAPES.get(f"itb {command}")
    assert shape is not None, f"docs/cli.md: section 'itb {command}' has no json shape block"
    if command == "monitor":  # JSON lines: one status object a line
        shape = [shape]
    drift = check(doc, shape, NAMED) + [f"{path}: unit {unit!r}" for path, key, unit in quantities(doc)
                                         if unit not in UNITS and OTHER_UNITS.get(key) != unit]
    return [f"itb {command} {argv}: {p}" if argv else f"itb {command}: {p}" for p in drift]


def test_the_json_units_are_the_documented_ones() -> None:
    text = TEXT.split("\n## JSON output\n")[1].split("\n## ")[0]
    assert [u for u in (*UNITS, *OTHER_UNITS.values()) if f"`{u}`" not in text] == []


def test_every_command_with_json_has_a_shape_block() -> None:
    with_json = {name for name, p in _commands(cli.build_parser()).items()
                 if any("--json" in a.option_strings for a in p._actions)}
    assert {"rate", "program build", "status", "readback", "log", "load", "bench", "trace"} <= with_json
    assert sorted(n for n in with_json if f"itb {n}" not in SHAPES) == []
    assert sorted(t for t in SHAPES if t != "JSON output" and t[4:] not in with_json) == []


@pytest.mark.parametrize("argv", CALC, ids=lambda a: " ".join(a[:1]))
def test_calculation_json_has_the_documented_shape(argv: tuple[str, ...]) -> None:
    rc = 1 if argv[0] == "titrate" and "1 day" in argv else 0  # a refusal: exit 1, the result still printed
    assert _drift(argv[0], _json([*argv, "--json"], rc), " ".join(argv[1:3])) == []


def _examples() -> Iterator[Path]:
    return (p for p in sorted(EXAMPLES.glob("*.toml")) if p.stem != "refused-titration")


def test_program_build_json_has_the_documented_shape(tmp_path: Path) -> None:
    drift: list[str] = []
    for path in _examples():
        doc = _json(["program", "build", str(path), "--json"])
        drift += _drift("program build", doc, path.stem)
        out = tmp_path / f"{path.stem}.json"
        code, _out, err = run_cli(["program", "build", str(path), "-o", str(out)])
        assert code == 0, err
        drift += _drift("program build", json.loads(out.read_text()), f"{path.stem} (file)")
    assert drift == []


def _steps(doc: dict[str, Any]) -> list[tuple[str, str, object, object]]:
    # (start, end, per day, per hour) of each step: a rig program's or a program file's
    keys = ("per_day", "per_hour") if "per_day" in doc["steps"][0] else ("dose_per_day", "dose_per_hour")
    return [(s["start"], s["end"], s[keys[0]], s[keys[1]]) for s in doc["steps"]]


def test_rig_command_json_has_the_documented_shape(tmp_path: Path) -> None:
    drift: list[str] = []
    # the concentration change (500 -> 750 mcg/mL, a constant rate) of the night-boost patient
    change = tmp_path / "change.toml"
    change.write_text((EXAMPLES / "concentration-change.toml").read_text().replace("age = 47", "age = 34"))
    with served() as vr:
        port = ["--port", vr.url, "--key-file", str(key_file_for(vr, tmp_path))]
        # a fresh rig: no program
        drift += _drift("status", _json(["status", "--json", *port]), "(fresh)")
        drift += _drift("readback", _json(["readback", "--json", *port]), "(fresh)")
        first = _json(["load", str(NIGHT_BOOST), "--yes", "--fill", "--json", *port])  # old is null
        drift += _drift("load", first, "first")
        with client_for(vr) as c:
            c.advance(30 * 86_400)  # past the low alarm and empty: their log entries
        second = _json(["load", str(change), "--yes", "--fill", "--json", *port])  # old set, a bridge bolus
        drift += _drift("load", second, "change")
        assert first["bridge"] is None and second["bridge"]["given"] is True, second["bridge"]
        with client_for(vr) as c:
            c.advance(86_400)  # the bridge bolus done
        third = _json(["load", str(change), "--yes", "--json", *port])  # the same strength: no refill
        assert third["refill"] is None and third["result"]["pocket"] is None and third["bridge"] is None
        drift += _drift("load", third, "again")
        drift += _drift("status", _json(["status", "--json", *port]))
        readback = _json(["readback", "--json", *port])
        drift += _drift("readback", readback)
        log = _json(["log", "--json", *port])
        assert {"boot", "refill", "commit", "low", "empty", "adv", "bolus"} <= {e["kind"] for e in log}, log
        drift += _drift("log", log)
        drift += _drift("monitor", _json(["monitor", "--count", "2", "--interval", "0", "--json", *port]))
    assert drift == []
    # a program read back states its steps as the program file does (a constant rate 00:00-24:00)
    for path, doc in ((NIGHT_BOOST, first["new"]), (change, readback["program"])):
        assert _steps(doc) == _steps(_json(["program", "build", str(path), "--json"])), path
    assert second["old"] == first["new"]


def test_bench_json_and_report_have_the_documented_shape(tmp_path: Path) -> None:
    # 20 days: a refill at the booked date (the refills after the initial fill have rig_expected_nl)
    out = tmp_path / "bench"
    doc = _json(["bench", "--json", "--days", "20", "--batch", "48", "--out", str(out)])
    assert len(doc["refills"]) > 1, doc["refills"]
    assert json.loads((out / "report.json").read_text()) == doc
    drift = _drift("bench", doc)
    # an alarm volume too high to book a refill ahead: the low alarm fires (the alarms list has items)
    data = encoded(steps=[(0, 500_000)], alarm_nl=19_000_000)
    with served() as vr, client_for(vr) as c:
        res = run_bench(c, data, days=3, out_dir=tmp_path / "alarm", progress=False)
    assert res.report["alarms"], res.report
    drift += _drift("bench", json.loads((tmp_path / "alarm" / "report.json").read_text()), "(alarms)")
    # a change phase on the built-in rig: its [previous] ran first (builtin_rig.predecessor is an object)
    doc = _json(["bench", str(EXAMPLES / "soft-override.toml"), "--json", "--days", "1", "--quiet",
                 "--out", str(tmp_path / "previous")])
    assert doc["builtin_rig"]["predecessor"] is not None, doc["builtin_rig"]
    drift += _drift("bench", doc, "(a [previous] first)")
    assert drift == []


def test_example_plot_and_trace_json_have_the_documented_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drift = _drift("example", _json(["example", "--json"]))
    pytest.importorskip("matplotlib")
    drift += _drift("plot", _json(["plot", str(NIGHT_BOOST), "--json", "-o", str(tmp_path)]))
    matrix = tmp_path / "trace.json"
    run = {"ITB-RNG-01": {"code": ["firmware_py/x.py:f"], "tests": ["t"]}}
    matrix.write_text(json.dumps(trace.shipped(run)))
    monkeypatch.setattr(trace, "matrix_file", lambda: matrix)
    drift += _drift("trace", _json(["trace", "--json"], 1))  # a synthetic matrix: the rest untested
    assert drift == []


def test_the_checker_catches_the_drift_it_is_for() -> None:
    """The checker itself: text for a quantity, a scalar for a list, an undocumented key, a missing key."""
    shape = {"a": "quantity", "b": ["integer"], "c?": {"d": "string"}, "e": "@rig_program|null"}
    ok = {"a": {"value": 1.5, "unit": "mcg/h"}, "b": [1], "e": None}
    assert check(ok, shape, NAMED) == []
    assert check({**ok, "a": "1.5 mcg/h"}, shape, NAMED) == ['$.a: string "1.5 mcg/h", documented quantity']
    assert check({**ok, "b": 1}, shape, NAMED) == ["$.b: integer 1, documented a list"]
    assert check({**ok, "c": {"d": "x", "f": 1}}, shape, NAMED) == ["$.c: key 'f' is not documented"]
    assert check({"a": ok["a"], "b": []}, shape, NAMED) == ["$: no key 'e'"]
    assert check({**ok, "b": ["1"]}, shape, NAMED) == ['$.b[0]: string "1", documented integer']
    bad_program = {**ok, "e": {"id": "x"}}
    assert "$.e: no key 'steps'" in check(bad_program, shape, NAMED)
    assert quantities({"a": [{"value": 1, "unit": "ng"}], "b": 2}) == [("$.a[0]", "a", "ng")]
