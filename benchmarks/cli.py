"""CLI latency: `itb rate ...` against creating a pint UnitRegistry in a fresh interpreter.

Both commands run as sub-processes of the same Python, alternating, so drift of the machine hits both
alike. Figure: median wall time of `itb rate` / median wall time of the pint start-up. Target ≤ 1.0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, Figure, Result, Size, Unavailable, median

NAME = "cli"
TITLE = "CLI latency: `itb rate` vs `import pint; pint.UnitRegistry()`"

DOSE = "500mcg/day"
CONC = "500mcg/mL"
REPEATS = {"full": 21, "quick": 7, "smoke": 1}
WARMUP = {"full": 3, "quick": 2, "smoke": 1}


def itb_command() -> list[str]:
    exe = Path(sys.executable).parent / "itb"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-m", "host_tools.cli"]


def _time(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, env=os.environ.copy())
    return time.perf_counter() - t0, proc


def run(size: Size) -> Result:
    res = Result(NAME, TITLE, size)
    itb = [*itb_command(), "rate", "--dose", DOSE, "--concentration", CONC]
    pint_cmd = [sys.executable, "-c", "import pint; pint.UnitRegistry()"]
    _, first = _time(itb)
    if first.returncode != 0:
        if "invalid choice: 'rate'" in first.stderr:
            raise Unavailable("`itb rate` is not registered yet (host_tools/cli_calc.py)")
        raise RuntimeError(f"itb rate failed (exit {first.returncode}): {first.stderr.strip()}")
    for _ in range(WARMUP[size]):
        _time(itb)
        _time(pint_cmd)
    t_itb: list[float] = []
    t_pint: list[float] = []
    for _ in range(REPEATS[size]):
        dt, proc = _time(itb)
        if proc.returncode != 0:
            raise RuntimeError(f"itb rate failed (exit {proc.returncode}): {proc.stderr.strip()}")
        t_itb.append(dt)
        dt, proc = _time(pint_cmd)
        if proc.returncode != 0:
            raise RuntimeError(f"pint start-up failed: {proc.stderr.strip()}")
        t_pint.append(dt)
    # A bare interpreter: the floor under both figures.
    t_bare = [_time([sys.executable, "-c", "pass"])[0] for _ in range(max(1, REPEATS[size] // 2))]
    # Where itb's time goes: import of the CLI module alone, and the cost of building the registry inside it.
    t_import = [
        _time([sys.executable, "-c", "import host_tools.cli"])[0] for _ in range(max(1, REPEATS[size] // 2))
    ]
    t_pint_import = [
        _time([sys.executable, "-c", "import pint"])[0] for _ in range(max(1, REPEATS[size] // 2))
    ]
    m_pint_import = median(t_pint_import)
    m_itb, m_pint, m_bare, m_import = median(t_itb), median(t_pint), median(t_bare), median(t_import)
    res.add(
        Figure(
            "itb_rate_vs_pint",
            "`itb rate` wall time",
            round(m_itb * 1000, 1),
            "ms",
            reference=round(m_pint * 1000, 1),
            reference_label="ms (pint UnitRegistry)",
            ratio=m_itb / m_pint,
            ratio_label="itb / pint",
            op="<=",
            target=1.0,
            target_on="ratio",
        )
    )
    res.add(
        Figure("bare_python", "bare `python -c pass`", round(m_bare * 1000, 1), "ms", note="floor of both")
    )
    res.add(
        Figure(
            "import_cli", "`import host_tools.cli`", round(m_import * 1000, 1), "ms", note="no command run"
        )
    )
    res.add(
        Figure("import_pint", "`import pint` alone", round(m_pint_import * 1000, 1), "ms", note="no registry")
    )
    res.details = {
        "import_pint_ms": [round(x * 1000, 2) for x in t_pint_import],
        "itb_command": " ".join(["itb", *itb[len(itb_command()) :]]),
        "reference_command": "python -c 'import pint; pint.UnitRegistry()'",
        "itb_stdout": first.stdout.strip().splitlines()[:12],
        "itb_ms": [round(x * 1000, 2) for x in t_itb],
        "pint_ms": [round(x * 1000, 2) for x in t_pint],
        "bare_ms": [round(x * 1000, 2) for x in t_bare],
        "import_cli_ms": [round(x * 1000, 2) for x in t_import],
        "repeats": REPEATS[size],
        "warmup": WARMUP[size],
        "ITB_PINT_CACHE": os.environ.get("ITB_PINT_CACHE", "(unset: host_tools default)"),
    }
    res.method = (
        f"Median of {REPEATS[size]} alternating runs of each command after {WARMUP[size]} warm-up runs "
        "(warm OS file cache, and pint's on-disk definition cache if the host tools use one; the reference "
        "builds a default registry with no cache, as a user's script would). Wall time of the whole process, "
        "measured from the parent with `time.perf_counter`. Same interpreter for both: "
        f"`{sys.executable}`."
    )
    over_bare_itb = m_itb - m_bare
    over_bare_pint = m_pint - m_bare
    res.limits.append(
        f"A bare interpreter takes {m_bare * 1000:.0f} ms; above it `itb rate` costs "
        f"{over_bare_itb * 1000:.0f} ms and the pint start-up {over_bare_pint * 1000:.0f} ms. Importing "
        f"`host_tools.cli` alone takes {m_import * 1000:.0f} ms, so the command itself "
        f"(parse, compute, pint check, print) takes about {(m_itb - m_import) * 1000:.0f} ms. "
        f"`import pint` alone takes {m_pint_import * 1000:.0f} ms, so building a registry costs the "
        f"reference about {(m_pint - m_pint_import) * 1000:.0f} ms. Unlike the reference, `itb rate` "
        "(host_tools.quantities) imports pint without numpy and builds its registry from pint's on-disk "
        "definition cache."
    )
    return res
