"""Helpers for the rig tests: programs built from the labeling's numbers, a virtual rig, a CLI runner."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

from firmware_py import program as pg
from firmware_py.schedule import Schedule
from host_tools import cli
from host_tools.client import RigClient
from host_tools.keys import RigKey, create_key_file
from host_tools.virtual_rig import VirtualRig
from tests.core import support as fixtures

ROOT = Path(__file__).resolve().parents[2]
NIGHT_BOOST = ROOT / "host_tools" / "examples" / "night-boost.toml"


def program(
    *,
    conc: int = 500,
    base: int = 500_000,
    steps: list[tuple[int, int]] | None = None,
    phase: str = "transfer",
    label: str = "test",
    alarm_nl: int = 2_000_000,
) -> pg.Program:
    """A spinal adult program for the virtual rig's pump; default 500 mcg/day at 500 mcg/mL with the
    labeling's +20 % night step (ITB-SCH-03) starting 2 h early at 20:00 (ITB-SCH-01), transferred from a
    500 mcg/day pump (a first program on a rig is a start)."""
    if steps is None:
        steps = [(4 * 3600, base), (20 * 3600, base * 12 // 10)]
    return fixtures.program(
        Schedule(86_400, steps),
        phase,
        conc,
        label=label,
        base_dose_ng_per_day=base,
        alarm_nl=alarm_nl,
        **({"previous_ng_per_day": base} if phase == "transfer" else {}),
    )


def encoded(**kwargs: object) -> bytes:
    return pg.encode(program(**kwargs))  # type: ignore[arg-type]


@contextlib.contextmanager
def served(transport: str = "pty", **kwargs: object) -> Iterator[VirtualRig]:
    with VirtualRig(transport=transport, **kwargs) as vr:  # type: ignore[arg-type]
        yield vr


@contextlib.contextmanager
def client_for(vr: VirtualRig, *, timeout_s: float = 0.5, retries: int = 2) -> Iterator[RigClient]:
    c = RigClient.connect(vr.url, vr.key, timeout_s=timeout_s, retries=retries)
    try:
        yield c
    finally:
        c.close()


def key_file_for(vr: VirtualRig, tmp: Path) -> Path:
    """Write the virtual rig's key to a 0600 key file (as `itb rig` does) and return its path."""
    path = tmp / "rig.key"
    create_key_file(path)
    path.write_text(vr.key.secret().hex() + "\n")
    return path


def run_cli(argv: list[str], monkeypatch: object = None) -> tuple[int, str, str]:
    """Run `itb ARGV` in process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def secret_hex(key: RigKey) -> str:
    return key.secret().hex()
