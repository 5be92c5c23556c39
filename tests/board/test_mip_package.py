"""firmware_py/package.json (mip's package format) lists exactly the firmware modules, and
`mpremote mip install` from it puts them on the emulated QEMU board's file system, byte for byte."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.board import EmulatedBoard
from tests.board.conftest import fresh_board

pytestmark = pytest.mark.board
ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "firmware_py" / "package.json"


def test_package_json_lists_every_firmware_module() -> None:
    doc = json.loads(PKG.read_text())
    assert sorted(doc["urls"]) == sorted(
        ["firmware_py/" + p.name, p.name] for p in (ROOT / "firmware_py").glob("*.py")
    ), 'regenerate firmware_py/package.json: one ["firmware_py/<m>.py", "<m>.py"] entry per module'


def test_mpremote_mip_install_on_the_qemu_board(templates: dict[str, Path], tmp_path: Path) -> None:
    b: EmulatedBoard = fresh_board(templates, "qemu", tmp_path / "mip")
    b.start(wait_rig=False, boot_main=False)
    try:
        mp = [sys.executable, "-m", "mpremote", "connect", b.url]
        proc = subprocess.run(
            [*mp, "mip", "install", str(PKG)], check=False, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        code = (
            "import sys, os; sys.path.insert(0, '/lib'); import firmware_py.units as u; "
            "print(u.__file__, sorted(os.listdir('/lib/firmware_py')))"
        )
        out = subprocess.run([*mp, "exec", code], check=False, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "/lib/firmware_py/units.py" in out.stdout
        for p in (ROOT / "firmware_py").glob("*.py"):
            assert repr(p.name) in out.stdout
        got = subprocess.run(
            [*mp, "fs", "cat", ":/lib/firmware_py/rig.py"], capture_output=True, timeout=60, check=True
        ).stdout
        assert got.replace(b"\r\n", b"\n") == (ROOT / "firmware_py" / "rig.py").read_bytes()
    finally:
        b.stop()
