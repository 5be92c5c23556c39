"""Benchmarks of itb that anyone can rerun: `./dev benchmarks` (= `.venv/bin/python -m benchmarks`).

Each benchmark is a module of this package with `NAME`, `TITLE` and `run(size) -> Result`; `MODULES` lists
them in report order. `run_all` runs a selection and `benchmarks.report` writes `benchmarks/results.json`
and `BENCHMARKS.md` (with `--write`; the board-footprint section of BENCHMARKS.md is kept as it is).
`tests/test_benchmarks_smoke.py` runs every benchmark at size "smoke" to keep it from rotting, and the
sweep against two mutants of the core.
"""

from __future__ import annotations

import importlib
import time
import traceback
from types import ModuleType

from benchmarks.common import Result, Size, Unavailable

# Report order. The names are what `--only` takes.
MODULES: tuple[str, ...] = (
    "core_pint",
    "sweep",
    "footprint",
    "wire",
    "delivery",
    "session",
    "cli",
    "scaling",
)


def load(name: str) -> ModuleType:
    """The benchmark module called `name` (one of `MODULES`)."""
    if name not in MODULES:
        raise ValueError(f"benchmark: unknown name {name!r} (known: {', '.join(MODULES)})")
    return importlib.import_module(f"benchmarks.{name}")


def run_one(name: str, size: Size) -> Result:
    """Run one benchmark. A missing dependency or a crash is recorded in the result, never hidden."""
    t0 = time.perf_counter()
    try:
        mod = load(name)
        result: Result = mod.run(size)
    except Unavailable as exc:
        result = Result(name, name, size)
        result.status = "unavailable"
        result.error = str(exc)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.startswith("benchmarks"):
            raise
        result = Result(name, name, size)
        result.status = "unavailable"
        result.error = f"module {exc.name} is missing"
    except Exception as exc:  # a benchmark that crashes is reported as such, the others still run
        result = Result(name, name, size)
        result.status = "error"
        result.error = f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc()}"
    result.elapsed_s = time.perf_counter() - t0
    return result


def run_all(names: list[str], size: Size) -> list[Result]:
    return [run_one(n, size) for n in names]
