"""CPython-side helpers that drive the node scripts in tests/mp (MicroPython WebAssembly port).

Nothing here skips: a missing node or node_modules raises MicroPythonUnavailableError saying how to fix
it, and the tests turn that into a failure, so CI can never pass without running MicroPython.
"""

import ast
import functools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
MP_DIR = REPO_ROOT / "tests" / "mp"
CORE_DIR = REPO_ROOT / "tests" / "core"
MP_PACKAGE = REPO_ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
RUN_CORE = MP_DIR / "run_core.mjs"
DEFAULT_TIMEOUT_S = 180


class MicroPythonUnavailableError(RuntimeError):
    """node or the MicroPython WebAssembly package is missing."""


class CoreResult:
    """One core test as reported by tests/mp/mp_runner.py: status PASS / FAIL / ERROR, message, traceback."""

    __slots__ = ("message", "status", "test_id", "trace")

    def __init__(self, test_id: str, status: str, message: str) -> None:
        self.test_id = test_id
        self.status = status
        self.message = message
        self.trace: list[str] = []


class CoreRun:
    """The parsed output of one run_core.mjs run."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.impl = ""
        self.summary: dict[str, int] = {}
        self.results: dict[str, CoreResult] = {}
        self.duplicates: list[str] = []
        self.imports: dict[str, str] = {}
        last: CoreResult | None = None
        for line in stdout.splitlines():
            if line.startswith("  | ") and last is not None:
                last.trace.append(line[4:])
                continue
            head, _, rest = line.partition(" ")
            if head == "IMPORT":
                status, _, detail = rest.partition(" ")
                name, _, message = detail.partition(" ")
                self.imports[name] = status if status == "OK" else message
            elif head == "IMPL":
                self.impl = rest
            elif head == "SUMMARY":
                self.summary = {k: int(v) for k, v in (kv.split("=") for kv in rest.split())}
            elif head in ("PASS", "FAIL", "ERROR"):
                test_id, _, message = rest.partition(" ")
                last = CoreResult(test_id, head, message)
                if test_id in self.results:
                    self.duplicates.append(test_id)
                self.results[test_id] = last

    def describe(self, test_id: str) -> str:
        """A failure text for one test: status, message and the MicroPython traceback."""
        res = self.results[test_id]
        return "\n".join([f"{res.status} under MicroPython: {res.message}", *res.trace])


def node_binary() -> str:
    """The node executable, or MicroPythonUnavailableError explaining what is missing."""
    node = os.environ.get("ITB_NODE") or shutil.which("node")
    if not node:
        raise MicroPythonUnavailableError(
            "node is not on PATH: the MicroPython tests need node >= 18 (set ITB_NODE to its path)"
        )
    if not (MP_PACKAGE / "micropython.mjs").is_file():
        raise MicroPythonUnavailableError(
            f"{MP_PACKAGE} is missing: run `./dev setup` (npm ci) to install the MicroPython WebAssembly port"
        )
    return node


def run_node(
    script: Path, args: list[str], timeout_s: float = DEFAULT_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a node script from tests/mp in the repository root and capture its output."""
    return subprocess.run(
        [node_binary(), str(script), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def run_core(
    mpy_dir: Path | None = None, core_dir: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> CoreRun:
    """Run the core test suite once under MicroPython (from .py, or from .mpy in ``mpy_dir``)."""
    args: list[str] = []
    if mpy_dir is not None:
        args += ["--mpy", str(mpy_dir)]
    if core_dir is not None:
        args += ["--core", str(core_dir)]
    proc = run_node(RUN_CORE, args, timeout_s)
    return CoreRun(proc.returncode, proc.stdout, proc.stderr)


def run_call(target: str, mpy_dir: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Call ``module:function`` under MicroPython and return its stdout; RuntimeError if it raised."""
    args = ["--call", target]
    if mpy_dir is not None:
        args += ["--mpy", str(mpy_dir)]
    proc = run_node(RUN_CORE, args, timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"{target} failed under MicroPython (exit {proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def run_exec(code: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Run Python source under MicroPython (firmware_py importable) and return its stdout."""
    proc = run_node(RUN_CORE, ["--exec", code], timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"code failed under MicroPython (exit {proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def core_test_ids(core_dir: Path = CORE_DIR) -> list[str]:
    """Ids (``tests.core.test_x::test_y``) of the module-level test functions in core_dir, read statically."""
    ids: list[str] = []
    for path in sorted(core_dir.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                ids.append(f"tests.core.{path.stem}::{node.name}")
    return sorted(ids)


@functools.cache
def pytest_collected_core_ids() -> tuple[str, ...]:
    """Ids of the tests pytest collects from tests/core on CPython (a ``--collect-only`` subprocess, once per
    session; every MicroPython run of the core is compared with it). The hypothesis plugin is left out: the
    core tests cannot use it (they run on MicroPython), and loading it is most of the collection's time."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", "tests/core"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    ids = []
    for line in proc.stdout.splitlines():
        path, sep, name = line.partition("::")
        if sep and path.startswith("tests/core/") and path.endswith(".py"):
            ids.append(path[: -len(".py")].replace("/", ".") + "::" + name)
    if proc.returncode not in (0, 5):  # 5: nothing collected
        raise RuntimeError("pytest --collect-only tests/core failed:\n" + proc.stdout + proc.stderr)
    return tuple(sorted(ids))


def assert_every_core_test_ran(run: CoreRun, where: str) -> None:
    """Every test pytest collects from tests/core ran in `run` (once), and nothing else did."""
    collected = list(pytest_collected_core_ids())
    ran = sorted(run.results)
    assert collected, f"pytest collected no tests from tests/core: the {where} run proves nothing"
    assert not run.duplicates, run.duplicates
    assert ran == collected, (
        f"only {where}: {sorted(set(ran) - set(collected))}; "
        f"only under pytest: {sorted(set(collected) - set(ran))}"
    )
    assert run.summary.get("total") == len(collected), run.summary
    if all(r.status == "PASS" for r in run.results.values()):
        assert run.returncode == 0, run.stderr


# A core test module for checking a runner itself: one pass, one failing assert (its message has a newline),
# one error, and a helper that is not a test.
RUNNER_PROBE = textwrap.dedent(
    """
    from firmware_py import units

    def test_ok():
        assert units.floor_div(-7, 2) == (-4, 1)

    def test_fail():
        assert 1 + 1 == 3, "arith\\nbroken"

    def test_err():
        raise KeyError("k")

    def helper():
        raise RuntimeError("helpers are not tests")
    """
)
