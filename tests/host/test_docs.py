"""docs/cli.md documents every calculation command, every JSON key they write, the warnings (with their rule
IDs) and the precision policy; the defaults it quotes are the library's. The JSON keys are looked for by
name anywhere in the file; their structure and kinds are checked by tests/host/test_json_shapes.py."""

from __future__ import annotations

import argparse
import re
from typing import Any

from firmware_py import library
from host_tools import calc, cli_calc, rx
from host_tools.calc.defaults import defaults
from tests.host.conftest import EXAMPLES, ROOT

TEXT = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def _subcommands(parser: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = _subcommands(sub, f"{prefix}{name} ")
                out.extend(inner or [f"{prefix}{name}"])
    return out


def _keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return {k for k in obj} | {k for key, v in obj.items() if key != "inputs" for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def test_every_command_has_a_section() -> None:
    parser = argparse.ArgumentParser()
    cli_calc.register(parser.add_subparsers())
    names = _subcommands(parser)
    assert "program build" in names and "residual" in names
    for name in names:
        assert f"### itb {name}" in TEXT, name


def test_every_json_key_is_documented() -> None:
    results = [
        calc.rate("500 mcg/day", "500 mcg/mL"),
        calc.schedule("500 mcg/day", "500 mcg/mL", ["22:00-06:00=+20%", "Sat 08:00-10:00=600 mcg/day"]),
        calc.refill("20 mL", "500 mcg/mL", "500 mcg/day"),
        calc.residual("20 mL", "3 mL", "4.5 mL"),
        calc.concentration("500 mcg/day"),
        calc.dilute("2000 mcg/mL", "750 mcg/mL", "20 mL"),
        calc.screening(),
        calc.initial_dose("50 mcg", "6 h"),
        calc.titrate(
            "1000 mcg/day", "1100 mcg/day", "30 days", phase="refill", overrides={"ITB-RNG-04": "x"}
        ),
        calc.taper("500 mcg/day", "300 mcg/day"),
        calc.bridge("0.2 mL", "50 cm", "500 mcg/mL", "1000 mcg/mL", "500 mcg/day"),
    ]
    keys = set().union(*(_keys(r.to_json()) for r in results))
    for name in ("night-boost", "initial", "concentration-change", "soft-override"):
        keys |= _keys(rx.build_program(rx.load_prescription(EXAMPLES / f"{name}.toml")).to_json())
    missing = sorted(k for k in keys if not re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", TEXT))
    assert not missing, missing


def test_warnings_and_precision_are_documented() -> None:
    assert "## Warnings" in TEXT and "## Precision" in TEXT and "## Output files" in TEXT
    warnings = TEXT.split("## Warnings")[1].split("\n## ")[0]
    for rid in ("ITB-RNG-01", "ITB-RNG-02", "ITB-RNG-03", "ITB-RNG-04", "ITB-RNG-05", "ITB-REF-02"):
        assert rid in warnings, rid
    assert (
        "--strict" in warnings and "stderr" in warnings and "per-hour" in warnings and "decimal" in warnings
    )
    precision = TEXT.split("## Precision")[1].split("\n## ")[0]
    for unit in ("mcg/day", "mcg/h", "mL/day", "uL/h", "mL", "mcg/mL", "never rounded up"):
        assert unit in precision, unit


def test_the_documented_defaults_are_the_librarys() -> None:
    d = defaults()
    rng = library.rule("ITB-RNG-01").params
    assert f"{rng['low_ng_per_day'] // 1000} to {rng['high_ng_per_day'] // 1000} mcg/day" in TEXT
    for key in ("lead", "min_step", "alarm_volume", "over", "tolerance", "max_step"):
        assert d[key].replace(" ", "") in TEXT.replace(" ", ""), key
