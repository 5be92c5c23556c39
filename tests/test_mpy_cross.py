"""firmware_py compiled to .mpy with mpy-cross, and run from .mpy under MicroPython 1.27.

Every module compiles (a failure names the module); the interpreter imports the compiled modules (mpy v6,
the version sys.implementation._mpy = 774 reports); the whole core suite passes from .mpy; the total .mpy
size is reported in the test output.
"""

from pathlib import Path

import pytest

from tests.mp.host import REPO_ROOT, CoreRun, MicroPythonUnavailableError, core_test_ids, run_core
from tools.mpy_build import MpyBuildError, build, compile_module, mpy_cross_version

pytestmark = pytest.mark.micropython

SOURCES = sorted(p.stem for p in (REPO_ROOT / "firmware_py").glob("*.py"))


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mpy")
    try:
        build(out)
    except MpyBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    return out


@pytest.fixture(scope="module")
def mpy_run(build_dir: Path) -> CoreRun:
    try:
        return run_core(mpy_dir=build_dir)
    except MicroPythonUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_mpy_cross_targets_the_interpreter() -> None:
    # The port reports sys.implementation._mpy == 774 == 0x306: mpy version 6, sub-version 3.
    assert mpy_cross_version().endswith("mpy v6.3"), mpy_cross_version()


@pytest.mark.parametrize("module", SOURCES)
def test_module_compiles(module: str, tmp_path: Path) -> None:
    src = REPO_ROOT / "firmware_py" / (module + ".py")
    try:
        m = compile_module(src, tmp_path / (module + ".mpy"), "firmware_py." + module)
    except MpyBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    assert m.size > 0
    assert m.mpy_path.read_bytes()[:2] == b"M\x06"


def test_build_reports_size(build_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mpys = sorted((build_dir / "firmware_py").glob("*.mpy"))
    assert [p.stem for p in mpys] == SOURCES
    total = sum(p.stat().st_size for p in mpys)
    with capsys.disabled():
        print(f"\n[mpy] firmware_py: {len(mpys)} modules, {total} bytes of .mpy ({mpy_cross_version()})")
        for p in mpys:
            print(f"[mpy]   {p.stat().st_size:7d}  {p.name}")


def test_build_fails_naming_the_module(tmp_path: Path) -> None:
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "good.py").write_text("X = 1\n")
    (src / "broken.py").write_text("def f(:\n    pass\n")
    with pytest.raises(MpyBuildError) as info:
        build(tmp_path / "out", source_dir=src)
    assert info.value.module == "pkg.broken"
    assert "pkg.broken" in str(info.value)


def test_core_suite_passes_from_mpy(mpy_run: CoreRun) -> None:
    assert mpy_run.impl.endswith("firmware=/itb/firmware_py/__init__.mpy"), mpy_run.impl
    bad = {k: v for k, v in mpy_run.imports.items() if v != "OK" and k != "firmware_py.main"}
    assert not bad, bad
    assert sorted(mpy_run.imports) == sorted("firmware_py." + s for s in SOURCES if s != "__init__")
    ids = core_test_ids()
    assert ids, "no core tests: running from .mpy proves nothing"
    failures = [mpy_run.describe(t) for t in sorted(mpy_run.results) if mpy_run.results[t].status != "PASS"]
    assert not failures, "\n".join(failures)
    assert sorted(mpy_run.results) == ids
    assert mpy_run.returncode == 0, mpy_run.stderr
