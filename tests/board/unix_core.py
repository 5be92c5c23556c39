"""The core suite (tests/core) on the 32-bit unix port of MicroPython v1.27, with the runner of the
WebAssembly run (tests/mp/mp_runner.py: one PASS / FAIL / ERROR line per test function, then SUMMARY),
parsed by `tests.mp.host.CoreRun`.

`run_core_unix(image, path)` starts the port once with ``MICROPYPATH`` = ``path`` in an empty directory,
prints an IMPL line (interpreter, where ``firmware_py`` and the runner were imported from, ``sys.path``, the
directory's listing), an IMPORT line per firmware module, then runs every ``tests/core/test_*.py`` module.
The exit status is 0 only when every test passed and at least one module ran. ``path`` chooses what runs:
``[".frozen"]`` on the unix-test image is the frozen bytecode; ``[<mpy dir>, ".frozen"]`` imports
``firmware_py`` from .mpy files first.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.mp.host import CORE_DIR, CoreRun
from tools.board_build import firmware_modules

CORE_HEAP = "8M"  # as the WebAssembly run (tests/mp/mpenv.mjs)
TIMEOUT_S = 120

_PROGRAM = """\
import os, sys, firmware_py, tests.mp.mp_runner as r
print('IMPL %s %s mpy=%d firmware=%s runner=%s path=%s cwd=%s' % (sys.implementation.name,
    '.'.join(str(v) for v in sys.implementation.version[:3]), sys.implementation._mpy, firmware_py.__file__,
    r.__file__, ':'.join(sys.path), ','.join(os.listdir('.')) or '-'))
r.import_all(FIRMWARE)
ok = r.run(MODULES)
sys.exit(0 if ok and MODULES else 1)
"""


def core_modules(core_dir: Path = CORE_DIR) -> list[str]:
    """The core test modules, as the WebAssembly runner lists them (tests/mp/run_core.mjs)."""
    return ["tests.core." + p.stem for p in sorted(core_dir.glob("test_*.py"))]


def program(modules: list[str]) -> str:
    """The MicroPython program of one run (lists of ASCII module names are MicroPython literals)."""
    firmware = [m for m in firmware_modules() if m != "firmware_py.__init__"]
    return _PROGRAM.replace("FIRMWARE", repr(firmware), 1).replace("MODULES", repr(modules))


def run_core_unix(
    image: Path, path: list[str], cwd: Path, modules: list[str] | None = None, heap: str = CORE_HEAP
) -> CoreRun:
    """One run of the core suite on the unix-port ``image`` (see the module doc). ``cwd`` must be empty."""
    cwd.mkdir(parents=True, exist_ok=True)
    if any(cwd.iterdir()):
        raise ValueError(f"{cwd}: the run directory must be empty (nothing but frozen code may be imported)")
    mods = core_modules() if modules is None else modules
    proc = subprocess.run(
        [str(image), "-X", f"heapsize={heap}", "-c", program(mods)],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "MICROPYPATH": ":".join(path)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return CoreRun(proc.returncode, proc.stdout, proc.stderr)
