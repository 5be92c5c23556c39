"""The core test suite (tests/core) run under real MicroPython (the 1.27 WebAssembly port, in node).

One interpreter runs every core test once (module-scoped fixture); each core test then becomes its own
pytest result here, so a failure under MicroPython names the test. Nothing skips: without node or
node_modules every test here fails with a message saying what to install.
"""

from pathlib import Path

import pytest

from tests.mp.host import (
    REPO_ROOT,
    RUNNER_PROBE,
    CoreRun,
    MicroPythonUnavailableError,
    assert_every_core_test_ran,
    core_test_ids,
    run_core,
)

pytestmark = pytest.mark.micropython

CORE_IDS = core_test_ids()


@pytest.fixture(scope="module")
def mp_run() -> CoreRun:
    try:
        return run_core()
    except MicroPythonUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


# An empty table would make pytest skip; a placeholder id fails instead ("did not run").
@pytest.mark.parametrize("test_id", CORE_IDS or ["<no core tests found>"])
def test_core_under_micropython(mp_run: CoreRun, test_id: str) -> None:
    assert test_id in mp_run.results, f"{test_id} did not run under MicroPython\n{mp_run.stderr}"
    res = mp_run.results[test_id]
    if res.status != "PASS":
        pytest.fail(mp_run.describe(test_id), pytrace=False)


def test_interpreter_is_micropython_1_27(mp_run: CoreRun) -> None:
    # The run really happened on MicroPython (not a CPython fallback), from the .py sources.
    assert mp_run.impl.startswith("micropython 1.27."), mp_run.impl
    assert "mpy=774" in mp_run.impl
    assert mp_run.impl.endswith("firmware=/itb/firmware_py/__init__.py"), mp_run.impl


def test_nothing_silently_skipped(mp_run: CoreRun) -> None:
    # Every test pytest collects from tests/core ran under MicroPython, and nothing else did.
    assert_every_core_test_ran(mp_run, "under MicroPython")


def test_runner_reports_failures(tmp_path: Path) -> None:
    # The plumbing itself can fail: a failing assert, an error and a module that does not import are
    # each reported with their name, and the run exits non-zero.
    core = tmp_path / "core"
    core.mkdir()
    for name in ("__init__.py", "support.py"):
        (core / name).write_text((REPO_ROOT / "tests" / "core" / name).read_text())
    (core / "test_a.py").write_text(RUNNER_PROBE)
    (core / "test_b.py").write_text("import no_such_module_itb\n")
    try:
        run = run_core(core_dir=core)
    except MicroPythonUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    assert run.returncode == 1
    status = {k: v.status for k, v in run.results.items()}
    assert status == {
        "tests.core.test_a::test_ok": "PASS",
        "tests.core.test_a::test_fail": "FAIL",
        "tests.core.test_a::test_err": "ERROR",
        "tests.core.test_b::<import>": "ERROR",
    }
    assert run.results["tests.core.test_a::test_fail"].message == "arith\\nbroken"
    assert any("test_a.py" in t for t in run.results["tests.core.test_a::test_err"].trace)
    assert run.summary == {"passed": 1, "failed": 1, "errors": 2, "total": 4}
    assert core_test_ids(core) == sorted(
        ["tests.core.test_a::test_ok", "tests.core.test_a::test_fail", "tests.core.test_a::test_err"]
    )


# main.py is the board entry point; it may need `machine` (UART), which the WebAssembly port lacks.
BOARD_ONLY = {"firmware_py.main": "machine"}


def test_every_firmware_module_imports(mp_run: CoreRun) -> None:
    expected = sorted(
        "firmware_py." + p.stem for p in (REPO_ROOT / "firmware_py").glob("*.py") if p.stem != "__init__"
    )
    assert sorted(mp_run.imports) == expected
    for name, status in mp_run.imports.items():
        if name in BOARD_ONLY and status != "OK":
            assert BOARD_ONLY[name] in status, f"{name}: {status}"
        else:
            assert status == "OK", f"{name} does not import under MicroPython: {status}"
