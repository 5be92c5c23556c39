"""One version everywhere, complete metadata, pinned dependencies, the examples command, `itb trace` where
nothing was recorded, and `./dev`'s own behaviour (help, unknown commands, the Python version check)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import firmware_py
import host_tools
from firmware_py import commands
from host_tools import examples, trace
from tests.host.conftest import Itb
from tools import mip_package

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_one_version() -> None:
    v = firmware_py.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", v)
    assert host_tools.__version__ == v
    assert commands.FW.removeprefix("itb-") == v
    assert json.loads((ROOT / "firmware_py" / "package.json").read_text())["version"] == v
    assert (ROOT / "firmware_py" / "package.json").read_text() == mip_package.text()
    assert PYPROJECT["dynamic"] == ["version"] and "version" not in PYPROJECT


def test_version_flag_and_module(itb: Itb) -> None:
    r = itb("--version")
    assert (r.rc, r.out) == (0, f"itb {firmware_py.__version__}\n")
    p = subprocess.run([sys.executable, "-m", "host_tools", "--version"], capture_output=True, text=True,
                       timeout=60, check=False)
    assert (p.returncode, p.stdout) == (0, f"itb {firmware_py.__version__}\n"), p.stderr


def test_metadata_license_and_dependencies() -> None:
    assert PYPROJECT["license"] == "MIT" and PYPROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in PYPROJECT["classifiers"])
    deps = PYPROJECT["dependencies"]
    extras = PYPROJECT["optional-dependencies"]
    assert not any(d.startswith("matplotlib") for d in deps)
    assert extras["plots"] == [d for d in extras["plots"] if d.startswith("matplotlib==")] != []
    assert "itb[plots]" in extras["dev"]
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    lower = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    for req in [*deps, *extras["plots"], *(d for d in extras["dev"] if "==" in d)]:
        name, version = req.split(";")[0].split("#")[0].strip().split("==")
        assert lower.get(name.lower().replace("_", "-")) == version, f"constraints.txt: {req}"
    for name in ("numpy", "pillow", "packaging", "flexcache"):  # transitive ones are pinned too
        assert name in lower, name


def test_example_lists_and_writes(itb: Itb, tmp_path: Path) -> None:
    r = itb("example")
    assert r.rc == 0 and all(n in r.out for n in examples.names()) and examples.DEFAULT in r.out
    doc = itb("example", "--json").json()
    assert doc["default"] == "night-boost" and {e["name"] for e in doc["examples"]} == set(examples.names())
    target = tmp_path / "rx.toml"
    r = itb("example", "weekend", "-o", str(target))
    assert r.rc == 0 and target.read_bytes() == examples.path("weekend").read_bytes()
    r = itb("example", "night-boost")
    assert r.out == examples.path("night-boost").read_text()
    itb("example", "nope").one_line_error(2, "'nope' is not an example", "night-boost")


def test_trace_where_nothing_was_recorded(
    itb: Itb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    placeholder = tmp_path / "trace.json"
    placeholder.write_text('{"rules": {}}')
    monkeypatch.setattr(trace, "matrix_file", lambda: placeholder)
    for argv in (["trace"], ["trace", "--json"], ["trace", "--markdown"]):
        r = itb(*argv)
        line = r.one_line_error(2, "not recorded")
        assert " 0 " not in line and "0 with tests" not in r.out + r.err and r.out == ""


def _dev(tmp: Path, *args: str, python: str | None = None) -> subprocess.CompletedProcess[str]:
    # A copy of ./dev in an empty directory: it works on that directory, never on this checkout.
    shutil.copy2(ROOT / "dev", tmp / "dev")
    env = dict(os.environ, **({"PYTHON": python} if python else {}))
    return subprocess.run(["bash", str(tmp / "dev"), *args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_dev_help_unknown_command_and_python_check(tmp_path: Path) -> None:
    for args in (["help"], ["--help"], ["-h"]):
        r = _dev(tmp_path, *args)
        assert r.returncode == 0 and "./dev bench" in r.stdout and "set -euo" not in r.stdout, args
    r = _dev(tmp_path, "bogus")
    assert r.returncode == 2 and "unknown command 'bogus'" in r.stderr
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\nif [ "$1" = -c ]; then case "$2" in *exit*) exit 1;; esac; echo 3.9; fi\n')
    old.chmod(0o755)
    r = _dev(tmp_path, "bench", python=str(old))
    assert r.returncode == 1 and "needs Python >= 3.11" in r.stderr and not (tmp_path / ".venv").exists()


def test_dev_bench_needs_no_node() -> None:
    arm = next(line for line in (ROOT / "dev").read_text().splitlines() if line.strip().startswith("bench)"))
    assert "setup_python" in arm and "setup_node" not in arm and 'itb" bench "$@"' in arm


def test_dev_rebuilds_a_venv_made_by_another_python(tmp_path: Path) -> None:
    # A .venv whose python is 3.10: ./dev says so and makes a new one with the Python it runs. (Made without
    # pip, to be quick: the install step then stops at once, and nothing is installed.)
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho 3.10\n")
    fake.chmod(0o755)
    base = getattr(sys, "_base_executable", sys.executable)
    py = tmp_path / "python3"
    py.write_text(f'#!/bin/sh\nif [ "$1 $2" = "-m venv" ]; then shift 2; '
                  f'exec {base} -m venv --without-pip "$@"; fi\nexec {base} "$@"\n')
    py.chmod(0o755)
    r = _dev(tmp_path, "bench", python=str(py))
    want = "{}.{}".format(*sys.version_info[:2])
    assert f"was made by Python 3.10, not {want}: rebuilding it" in r.stderr, r.stderr
    made = subprocess.run([str(fake), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                          text=True, timeout=30, check=True)
    assert made.stdout.strip() == str(tuple(sys.version_info[:2]))
    assert r.returncode != 0 and not (tmp_path / ".venv" / ".itb-installed").exists()


def test_trace_update_only_in_a_checkout(
    itb: Itb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace, "REPO_ROOT", tmp_path)  # as in site-packages: no pyproject.toml, no docs/
    run = tmp_path / "run.json"
    run.write_text('{"complete": true, "rules": {}}')
    itb("trace", "--update", str(run)).one_line_error(2, "not a source checkout")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
