"""The wheel on its own: built from the repository's files, installed into a fresh virtual environment
outside the source tree, it does the main job (`itb bench` with no file: report, CSV and plots), and
`itb trace`, `itb --version` and `python -m host_tools` work; without matplotlib the bench still writes its
report and says in one line that the plots were skipped.

Offline: the wheel is built with the dev environment's setuptools (no build isolation), installed with
`--no-index --no-deps`, and the fresh environment sees its dependencies through a `.pth` file naming a
directory of links to the dev environment's installed packages (without itb itself, and without matplotlib
for the second case)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from firmware_py import __version__, library

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "firmware_py", "host_tools")
NO_PLOTS = ("matplotlib", "mpl_toolkits", "pylab")
NOT_DEPS = ("itb-", "__editable__", "_itb", "__pycache__", "distutils-precedence.pth")
TIMEOUT_S = 120


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    tracked = _run(["git", "ls-files", "-co", "--exclude-standard", *SOURCES], ROOT).stdout.split()
    for rel in tracked:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    out = tmp_path_factory.mktemp("dist")
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
              "-v", "-w", str(out), str(src)], src)
    assert r.returncode == 0, r.stdout + r.stderr
    said = r.stdout + r.stderr  # the build backend's own output: no setuptools warning of any kind
    assert "Deprecat" not in said and "_Warning" not in said and "SetuptoolsWarning" not in said, said
    (whl,) = out.glob("itb-*.whl")
    return whl


def _venv(tmp: Path, whl: Path, *, plots: bool) -> Path:
    venv = tmp / "venv"
    r = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp)
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    r = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
              "--no-cache-dir", str(whl)], tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    deps = tmp / "deps"
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        skip = NOT_DEPS + (() if plots else NO_PLOTS)
        if not entry.name.startswith(skip):
            (deps / entry.name).symlink_to(entry)
    target = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       tmp).stdout.strip())
    (target / "itb-test-deps.pth").write_text(str(deps) + "\n")
    return venv


def _env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "ITB_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_wheel_holds_the_package_data_and_metadata(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for want in ("host_tools/examples/night-boost.toml", "host_tools/data/trace.json",
                 "host_tools/calc/flow.py", "host_tools/__main__.py",
                 f"itb-{__version__}.dist-info/licenses/LICENSE"):
        assert want in names, want
    meta = zipfile.ZipFile(wheel).read(f"itb-{__version__}.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in meta and "Classifier: " in meta
    assert "Provides-Extra: plots" in meta and "Requires-Dist: matplotlib" in meta
    assert not any(line.startswith("Requires-Dist: matplotlib") and "extra" not in line
                   for line in meta.splitlines())


def test_the_installed_wheel_does_the_main_job(wheel: Path, tmp_path: Path) -> None:
    venv = _venv(tmp_path, wheel, plots=True)
    work = tmp_path / "work"
    work.mkdir()
    env = _env(venv)
    where = _run(["python", "-c", "import host_tools; print(host_tools.__file__)"], work, env)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    r = _run(["itb", "bench", "--quiet"], work, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout and "night-boost.toml" in r.stdout
    for name in ("report.json", "delivery.csv", "profile.png", "reservoir.png", "delivery.png"):
        assert (work / "out" / "bench" / name).stat().st_size > 0, name
    n = len(library.rules())
    r = _run(["itb", "trace"], work, env)
    assert r.returncode == 0 and f"{n} requirements: {n} applied in tests" in r.stdout, r.stdout + r.stderr
    for cmd in (["itb", "--version"], ["python", "-m", "host_tools", "--version"]):
        r = _run(cmd, work, env)
        assert (r.returncode, r.stdout) == (0, f"itb {__version__}\n"), (cmd, r.stdout, r.stderr)
    r = _run(["itb", "example", "night-boost", "-o", "rx.toml"], work, env)
    assert r.returncode == 0 and (work / "rx.toml").read_text().startswith("#"), r.stderr


def test_without_matplotlib_the_bench_writes_its_report(wheel: Path, tmp_path: Path) -> None:
    venv = _venv(tmp_path, wheel, plots=False)
    env = _env(venv)
    r = _run(["python", "-c", "import matplotlib"], tmp_path, env)
    assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr
    r = _run(["itb", "bench", "--out", "b"], tmp_path, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert (tmp_path / "b" / "report.json").is_file() and (tmp_path / "b" / "delivery.csv").is_file()
    assert not list((tmp_path / "b").glob("*.png"))
    said = [line for line in (r.stdout + r.stderr).splitlines() if "plots skipped" in line]
    assert len(said) == 1 and "pip install 'itb[plots]'" in said[0], r.stdout + r.stderr
    for cmd in (["itb", "rate", "--dose", "500 mcg/day", "--concentration", "500 mcg/mL"],
                ["itb", "example", "night-boost", "-o", "rx.toml"], ["itb", "program", "build", "rx.toml"]):
        r = _run(cmd, tmp_path, env)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (cmd, r.stderr)
    r = _run(["itb", "plot", "rx.toml"], tmp_path, env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "pip install 'itb[plots]'" in r.stderr
