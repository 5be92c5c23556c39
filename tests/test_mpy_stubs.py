"""tools/check_mpy_stubs.py: firmware_py type-checked against the MicroPython (rp2) stubs.

The checker must fail on code that uses CPython-only APIs and pass on clean code, and the corrections it
applies to the stubs must match the real MicroPython 1.27 interpreter.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mp.host import REPO_ROOT, MicroPythonUnavailableError, run_exec
from tools.check_mpy_stubs import BUILTINS_ADDITIONS, MICROPYTHON_BUILTIN, MISSING_ON_MICROPYTHON

CHECKER = REPO_ROOT / "tools" / "check_mpy_stubs.py"

BAD = '''
import os


def pad(x: str) -> str:
    return x.zfill(3)


def swap(a: str, b: str) -> None:
    os.replace(a, b)
'''

BAD_IMPORT = '''
from fractions import Fraction


def half() -> Fraction:
    return Fraction(1, 2)
'''

BAD_TYPING = '''
from typing import Any


def f(x: Any) -> int:
    return 1
'''

GOOD = '''
try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
import hashlib
import time


def pad(x: str) -> str:
    return "0" * (3 - len(x)) + x


def digest(data: bytes) -> bytes:
    time.sleep_ms(0)
    return hashlib.sha256(data).digest()


class Box:
    def __init__(self, v: int) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Box):
            return NotImplemented
        return self.v == other.v
'''


def _check(tmp_path: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    path.write_text(source)
    return subprocess.run(
        [sys.executable, str(CHECKER), str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cpython_only_methods_fail(tmp_path: Path) -> None:
    proc = _check(tmp_path, "bad.py", BAD)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'bad.py:6: error: "str" has no attribute "zfill"' in proc.stdout
    assert "bad.py:10: error: Module has no attribute \"replace\"" in proc.stdout


def test_missing_module_fails(tmp_path: Path) -> None:
    proc = _check(tmp_path, "frac.py", BAD_IMPORT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "frac.py:2: error:" in proc.stdout and "fractions" in proc.stdout


def test_unguarded_typing_import_fails(tmp_path: Path) -> None:
    proc = _check(tmp_path, "typ.py", BAD_TYPING)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "typ.py:2: error: run-time import of 'typing'" in proc.stdout


def test_clean_module_passes(tmp_path: Path) -> None:
    proc = _check(tmp_path, "good.py", GOOD)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_firmware_py_is_clean() -> None:
    cmd = [sys.executable, str(CHECKER)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.micropython
def test_stub_corrections_match_micropython() -> None:
    # Every name the checker removes from the stubs exists on CPython and is missing on MicroPython 1.27;
    # NotImplemented (added) and the modules assumed built in exist there.
    owners = {"str": str, "bytes": bytes, "int": int}
    probes = []
    for (rel, cls), names in sorted(MISSING_ON_MICROPYTHON.items()):
        owner = cls if cls else rel.split("/")[0]
        for n in names:
            if cls:
                assert hasattr(owners[cls], n), f"{cls}.{n} is not a CPython API either"
            probes.append((owner, n))
    code = (
        "import os, json\n"
        f"probes = {probes!r}\n"
        "owners = {'str': str, 'bytes': bytes, 'int': int, 'os': os}\n"
        "present = [o + '.' + n for o, n in probes if hasattr(owners[o], n)]\n"
        f"mods = {sorted(MICROPYTHON_BUILTIN)!r}\n"
        "missing = []\n"
        "for m in mods:\n"
        "    try:\n"
        "        __import__(m)\n"
        "    except ImportError:\n"
        "        missing.append(m)\n"
        "print(json.dumps({'present': present, 'missing': missing, 'ni': repr(NotImplemented)}))\n"
    )
    try:
        out = json.loads(run_exec(code).strip().splitlines()[-1])
    except MicroPythonUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    assert out["present"] == [], "the stubs lose names MicroPython has: " + ", ".join(out["present"])
    assert out["missing"] == []
    assert out["ni"] == "NotImplemented"
    assert "NotImplemented" in BUILTINS_ADDITIONS
