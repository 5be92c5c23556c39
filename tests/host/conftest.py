"""Shared fixtures of the host tests: `itb` runs the real `host_tools.cli.main` in process (argparse, the one
error handler, exit codes). Rig fixtures (a served virtual rig, key files): tests/host/rig_support.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from host_tools import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "host_tools" / "examples"
# `itb bridge` for a 500 -> 1000 mcg/mL change at 500 mcg/day through a 0.2 mL pump; the catheter length last
BRIDGE = (
    "bridge",
    "--internal-volume",
    "0.2 mL",
    "--old-concentration",
    "500 mcg/mL",
    "--new-concentration",
    "1000 mcg/mL",
    "--dose",
    "500 mcg/day",
    "--catheter-length",
)


@dataclass
class Run:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def one_line_error(self, rc: int, *needles: str) -> str:
        """Exit `rc`, no traceback, exactly one stderr line starting with the program name, holding
        needles."""
        assert self.rc == rc, (self.rc, self.out, self.err)
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err and lines[0].startswith("itb")
        for n in needles:
            assert n in lines[0], (n, lines[0])
        return lines[0]


Itb = Callable[..., Run]


@pytest.fixture
def itb(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Itb:
    def run(*argv: str) -> Run:
        capsys.readouterr()
        try:
            rc = cli.main(list(argv))
        except SystemExit as exc:  # argparse: usage errors and --help
            rc = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(rc, captured.out, captured.err)

    return run
