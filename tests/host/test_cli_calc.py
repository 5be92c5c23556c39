"""The real `itb` console script: exit codes, one-line errors without tracebacks, JSON contract, atomic
program files, and docs/cli.md documenting every command and JSON key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_py import program as core_program
from host_tools import cli, rx

ROOT = Path(__file__).resolve().parents[2]
ITB = Path(sys.executable).parent / "itb"
EXAMPLES = ROOT / "examples"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ITB), *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def run_json(*args: str) -> dict[str, Any]:
    p = run(*args, "--json")
    assert p.returncode == 0, p.stderr
    out: dict[str, Any] = json.loads(p.stdout)
    return out


def one_line_error(p: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


CONTRACT = {
    "rate": ["daily_dose", "concentration", "flow_per_day", "flow_per_hour", "dose_per_hour"],
    "dilute": ["stock_volume", "diluent_volume", "final_volume", "achieved_concentration"],
    "schedule": ["steps", "daily_total", "start", "end", "dose_per_hour", "flow_per_hour"],
    "refill": ["days_to_alarm", "days_to_empty"],
    "initial-dose": ["daily_dose"],
    "titrate": ["allowed", "rules", "message"],
}

CALLS = {
    "rate": ["rate", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL"],
    "dilute": ["dilute", "--stock", "2000 mcg/mL", "--target", "750 mcg/mL", "--volume", "20 mL"],
    "schedule": [
        "schedule",
        "--dose",
        "500 mcg/day",
        "--concentration",
        "500 mcg/mL",
        "--window",
        "22:00-06:00=+20%",
        "--lead",
        "2h",
    ],
    "refill": [
        "refill",
        "--volume",
        "20 mL",
        "--concentration",
        "500 mcg/mL",
        "--dose",
        "500 mcg/day",
        "--alarm-volume",
        "2 mL",
    ],
    "initial-dose": ["initial-dose", "--screening", "50 mcg", "--effect-hours", "6"],
    "titrate": [
        "titrate",
        "--origin",
        "spinal",
        "--age",
        "34",
        "--current",
        "500 mcg/day",
        "--proposed",
        "600 mcg/day",
        "--hours-since-change",
        "26",
    ],
    "concentration": ["concentration", "--dose", "500 mcg/day"],
    "screening": ["screening"],
    "taper": ["taper", "--dose", "500 mcg/day", "--floor", "300 mcg/day"],
    "bridge": [
        "bridge",
        "--internal-volume",
        "0.2 mL",
        "--catheter-length",
        "50 cm",
        "--old-concentration",
        "500 mcg/mL",
        "--new-concentration",
        "1000 mcg/mL",
        "--dose",
        "500 mcg/day",
    ],
}


def _quantities(obj: object) -> list[dict[str, Any]]:
    if isinstance(obj, dict):
        if set(obj) == {"value", "unit"}:
            return [obj]
        return [q for v in obj.values() for q in _quantities(v)]
    if isinstance(obj, list):
        return [q for v in obj for q in _quantities(v)]
    return []


@pytest.mark.parametrize("name", sorted(CALLS))
def test_json_contract(name: str) -> None:
    """Every command answers --json; contract keys present; every quantity is {value, unit} pint parses."""
    from host_tools import quantities as qt  # noqa: PLC0415

    doc = run_json(*CALLS[name])
    flat = json.dumps(doc)
    for key in CONTRACT.get(name, []):
        assert f'"{key}"' in flat
    qs = _quantities(doc)
    assert qs or name == "titrate"
    for q in qs:
        assert isinstance(q["value"], (int, float)) and not isinstance(q["value"], bool)
        qt.registry().parse_units(q["unit"])


def test_rate_contract_values() -> None:
    """REQ: ITB-CON-03 — per day and per hour both shown."""
    doc = run_json(*CALLS["rate"])
    assert doc["flow_per_day"] == {"value": 1, "unit": "mL/day"}
    assert doc["dose_per_hour"] == {"value": 20.833, "unit": "mcg/h"}


def test_schedule_contract_values() -> None:
    """REQ: ITB-SCH-01, ITB-SCH-03 — night +20 % starts 2 h early."""
    doc = run_json(*CALLS["schedule"])
    assert [(s["start"], s["end"]) for s in doc["steps"]] == [("04:00", "20:00"), ("20:00", "04:00")]


def test_titrate_refused_exits_1() -> None:
    """REQ: ITB-TIT-01 — a +40 % step is refused with exit 1, JSON still printed."""
    p = run(
        "titrate",
        "--origin",
        "spinal",
        "--age",
        "34",
        "--current",
        "500 mcg/day",
        "--proposed",
        "700 mcg/day",
        "--hours-since-change",
        "26",
        "--json",
    )
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["allowed"] is False and "ITB-TIT-01" in doc["rules"]
    one_line_error(p, 1, "ITB-TIT-01")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["rate", "--dose", "500", "--concentration", "500 mcg/mL"], "--dose"),
        (["rate", "--dose", "2 mg/mL", "--concentration", "500 mcg/mL"], "expected a dose rate"),
        (["rate", "--dose", "500 blorp/day", "--concentration", "500 mcg/mL"], "unknown unit"),
        (["rate", "--dose", "-5 mcg/day", "--concentration", "500 mcg/mL"], "greater than zero"),
        (["rate", "--dose", "0 mcg/day", "--concentration", "500 mcg/mL"], "greater than zero"),
        (["rate", "--dose", "1 gr/day", "--concentration", "500 mcg/mL"], "ambiguous"),
        (["rate", "--dose", "500 mcg/day"], "--concentration"),
        (
            [
                "schedule",
                "--dose",
                "500 mcg/day",
                "--concentration",
                "500 mcg/mL",
                "--window",
                "22:00-06:00=+20%",
                "--window",
                "05:00-07:00=+10%",
            ],
            "overlap",
        ),
        (
            [
                "schedule",
                "--dose",
                "500 mcg/day",
                "--concentration",
                "500 mcg/mL",
                "--window",
                "10:00-10:10=+20%",
            ],
            "minimum step",
        ),
        (
            [
                "titrate",
                "--origin",
                "lumbar",
                "--age",
                "3",
                "--current",
                "1 mcg/day",
                "--proposed",
                "1 mcg/day",
                "--hours-since-change",
                "1",
            ],
            "--origin",
        ),
        (["initial-dose", "--screening", "60 mcg", "--effect-hours", "6"], "screening"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_one_line(args: list[str], needle: str) -> None:
    one_line_error(run(*args), 2, needle)


def test_too_many_steps_exits_2() -> None:
    """REQ: ITB-SCH-02 — more than 13 steps a day."""
    wins = [f"--window={h:02d}:00-{h + 1:02d}:00=+{5 + h % 2 * 5}%" for h in range(14)]
    one_line_error(
        run("schedule", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL", *wins),
        2,
        "more than 13 steps",
    )


def test_help_on_every_command() -> None:
    parser = cli.build_parser()
    names = _subcommands(parser)
    assert {
        "rate",
        "dilute",
        "schedule",
        "refill",
        "initial-dose",
        "titrate",
        "concentration",
        "screening",
        "taper",
        "bridge",
        "program build",
        "plot",
    } <= set(names)
    for name in ("rate", "program build", "plot"):
        p = run(*name.split(), "--help")
        assert p.returncode == 0 and "usage: itb" in p.stdout


def _subcommands(parser: Any, prefix: str = "") -> list[str]:
    import argparse  # noqa: PLC0415

    out: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                inner = _subcommands(sub, full + " ")
                out.extend(inner or [full])
    return out


def test_docs_cover_every_command_and_key() -> None:
    """docs/cli.md names every registered sub-command of this module and every JSON key of the contract."""
    from host_tools import cli_calc  # noqa: PLC0415

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_calc.register(sub)
    for name in _subcommands(parser):
        assert f"itb {name}" in text, name
    keys: set[str] = set()
    for name, call in CALLS.items():
        keys |= _keys(run_json(*call))
        assert name
    keys |= _keys(run_json("program", "build", str(EXAMPLES / "night-boost.toml")))
    import re  # noqa: PLC0415

    missing = sorted(k for k in keys if not re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", text))
    assert not missing, missing


def _keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


# -- prescriptions ------------------------------------------------------------------------------------------


def test_program_build_night_boost(tmp_path: Path) -> None:
    """REQ: ITB-SCH-01, ITB-SCH-03, ITB-REF-01 — canonical JSON, checksums, steps after the lead, dates."""
    out = tmp_path / "p.json"
    p = run("program", "build", str(EXAMPLES / "night-boost.toml"), "-o", str(out))
    assert p.returncode == 0, p.stderr
    data = out.read_bytes()
    doc = json.loads(data)
    assert data == rx.canonical_json(doc)
    assert core_program.checksum(doc["encoding"].encode()) == doc["checksum"]
    assert rx.json_checksum(doc) == doc["json_checksum"]
    assert [(s["start"], s["end"]) for s in doc["steps"]] == [("04:00", "20:00"), ("20:00", "04:00")]
    assert doc["refill"]["fill_date"] == "2025-03-03"
    # 20 mL - 2 mL = 9000 mcg at 533.33 mcg/day: 16.87 days -> 2025-03-19
    assert doc["refill"]["alarm_date"] == "2025-03-19"
    assert "ITB-SCH-01" in doc["rules_applied"]
    assert rx.read_program_json(out)["checksum"] == doc["checksum"]


def test_program_tampered_is_verification_failure(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    assert run("program", "build", str(EXAMPLES / "night-boost.toml"), "-o", str(out)).returncode == 0
    doc = json.loads(out.read_text())
    doc["encoding"] = doc["encoding"].replace("base=500000", "base=5000000")
    doc["json_checksum"] = rx.json_checksum(doc)
    out.write_bytes(rx.canonical_json(doc))
    one_line_error(run("plot", str(out), "-o", str(tmp_path)), 1, "checksum")


@pytest.mark.parametrize("name", ["constant", "weekend", "soft-override"])
def test_examples_build(name: str, tmp_path: Path) -> None:
    p = run("program", "build", str(EXAMPLES / f"{name}.toml"), "-o", str(tmp_path / "x.json"))
    assert p.returncode == 0, p.stderr


def test_refused_example_leaves_no_file(tmp_path: Path) -> None:
    """REQ: ITB-TIT-01 — refused (exit 1) and no partial output."""
    out = tmp_path / "p.json"
    one_line_error(
        run("program", "build", str(EXAMPLES / "refused-titration.toml"), "-o", str(out)), 1, "ITB-TIT-01"
    )
    assert list(tmp_path.iterdir()) == []


def test_soft_limit_without_override_refused(tmp_path: Path) -> None:
    """REQ: ITB-RNG-04 — the soft limit needs an override with a reason."""
    text = (EXAMPLES / "soft-override.toml").read_text()
    bad = tmp_path / "rx.toml"
    bad.write_text(text.split("\n[[override]]")[0])
    one_line_error(run("program", "build", str(bad), "-o", str(tmp_path / "p.json")), 1, "ITB-RNG-04")
    assert not (tmp_path / "p.json").exists()


def test_hard_limit_refused(tmp_path: Path) -> None:
    """REQ: ITB-RNG-01 — above 2003 mcg/day for spinal origin is a hard refusal, even with overrides."""
    text = (
        (EXAMPLES / "soft-override.toml")
        .read_text()
        .replace('base = "1100 mcg/day"', 'base = "2100 mcg/day"')
    )
    text = text.replace('previous = "1000 mcg/day"\nhours_since_change = 720\n', "")
    f = tmp_path / "rx.toml"
    f.write_text(text)
    one_line_error(run("program", "build", str(f)), 1, "ITB-RNG-01")


NIGHT = (EXAMPLES / "night-boost.toml").read_text()


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda t: t.replace('concentration = "500 mcg/mL"', 'concentration = "500"'), "drug.concentration"),
        (
            lambda t: t.replace('concentration = "500 mcg/mL"', 'concentration = "500 zz/mL"'),
            "drug.concentration",
        ),
        (lambda t: t.replace('base = "500 mcg/day"', 'base = "-500 mcg/day"'), "dose.base"),
        (lambda t: t.replace('base = "500 mcg/day"', 'base = "0 mcg/day"'), "dose.base"),
        (lambda t: t.replace('reservoir = "20 mL"\n', ""), "pump.reservoir"),
        (lambda t: t.replace("age = 34", 'age = "34"'), "patient.age"),
        (lambda t: t.replace("age = 34", "age = true"), "patient.age"),
        (lambda t: t.replace("age = 34", "age = 34\nage = 35"), "malformed TOML"),
        (lambda t: t.replace("[patient]", "[patient]\nweight = 70"), "patient.weight"),
        (lambda t: t.replace('effect = "22:00-06:00"', 'effect = "22:00-22:10"'), "minimum step"),
        (lambda t: t + '\n[[window]]\neffect = "05:00-07:00"\nchange = "+10%"\n', "overlap"),
        (lambda t: t.replace("[drug]", "[drug"), "malformed TOML"),
        (lambda t: t.replace("[dose]", "[[dose]]"), "dose"),
        (lambda t: t + '\n[[override]]\nrule = "ITB-RNG-01"\nreason = "x"\n', "override"),
        (lambda t: t + '\n[[override]]\nrule = "ITB-RNG-04"\nreason = "  "\n', "reason"),
    ],
)
def test_bad_prescriptions_exit_2(mutate: Any, needle: str, tmp_path: Path) -> None:
    f = tmp_path / "rx.toml"
    f.write_text(mutate(NIGHT))
    out = tmp_path / "p.json"
    one_line_error(run("program", "build", str(f), "-o", str(out)), 2, needle)
    assert not out.exists()


def test_non_utf8_and_huge_prescriptions(tmp_path: Path) -> None:
    f = tmp_path / "rx.toml"
    f.write_bytes(NIGHT.encode().replace(b"night boost", b"night \xff boost"))
    one_line_error(run("program", "build", str(f)), 2, "UTF-8")
    f.write_text(NIGHT + "#" * (rx.MAX_RX_BYTES + 1))
    one_line_error(run("program", "build", str(f)), 2, "larger than")
    one_line_error(run("program", "build", str(tmp_path / "missing.toml")), 2, "cannot read")


def test_plot_writes_pngs(tmp_path: Path) -> None:
    p = run("plot", str(EXAMPLES / "night-boost.toml"), "-o", str(tmp_path), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    for key in ("profile", "reservoir"):
        data = Path(doc[key]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
