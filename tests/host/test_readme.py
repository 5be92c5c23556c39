"""The README's shell examples run exactly as written, in order, in one shell, in a fresh directory with the
`itb` of this environment on PATH: the calculations, the examples written out and built, and a program
loaded with a fill onto a fresh virtual rig served on 127.0.0.1:7000 with its key file. Lines that install
(`pip install …`) or set up a checkout (`./dev …`) are not run here: the wheel test (tests/package) installs
the package offline and runs the same `itb bench`, and tests/package/test_metadata.py runs `./dev`.
Every repository path the README and docs/*.md cite exists."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.host.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
NOT_RUN = ("pip install", "./dev ")
TOP = ("firmware_py/", "host_tools/", "tests/", "docs/", "tools/", "benchmarks/", "examples/", "shared/",
       ".ci/", "README.md", "BENCHMARKS.md", "LICENSE", "pyproject.toml", "constraints.txt", "package.json",
       "package-lock.json")


def shell_lines(text: str) -> list[str]:
    """The lines of the ```sh blocks that the test runs, as written."""
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)
    lines = [ln for b in blocks for ln in b.splitlines() if ln.strip() and not ln.startswith("#")]
    return [ln for ln in lines if not ln.startswith(NOT_RUN)]


def _port_free(port: int, wait_s: float = 10.0) -> bool:
    # Free once nothing listens on it (a rig of an earlier run may still be closing).
    deadline = time.monotonic() + wait_s
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def test_the_readme_shell_examples_run_as_written(tmp_path: Path) -> None:
    lines = shell_lines(README)
    assert any(ln.startswith("itb load ") and "--fill" in ln for ln in lines)
    assert _port_free(7000), "127.0.0.1:7000 is taken: the README's rig example needs it"
    script = tmp_path / "readme.sh"
    script.write_text("set -euo pipefail\nset -x\n" + "\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITB_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.Popen(["bash", str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the rig, if a line failed before `kill %1`
        proc.wait()
    assert proc.returncode == 0, out[-4000:]
    assert "PASS" in out and "loaded program" in out and "verified" in out
    assert (tmp_path / "night.json").is_file() and (tmp_path / "out" / "bench" / "report.json").is_file()


TOP_DIRS = "firmware_py|host_tools|tests|docs|tools|benchmarks|examples|shared|\\.ci"
PATH_RE = re.compile(rf"(?<![\w./~-])((?:{TOP_DIRS})/[\w./*-]*)")


def _cited(text: str) -> set[str]:
    # Repository paths anywhere in the text (prose, code, command lines) and relative link targets.
    found = set(PATH_RE.findall(text))
    found |= {m for m in re.findall(r"\]\(([^)\s]+)\)", text) if not m.startswith(("http", "#"))}
    found |= set(re.findall(r"`((?:README|BENCHMARKS)\.md|LICENSE|pyproject\.toml|constraints\.txt)`", text))
    return {c.split("#")[0].split(":")[0].rstrip(".") for c in found}


def test_every_repository_path_the_docs_cite_exists() -> None:
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in _cited(doc.read_text(encoding="utf-8")):
            rel = path if doc.name == "README.md" or path.startswith(TOP) else f"docs/{path}"
            rel = rel.rstrip("/") or rel
            if not (list(ROOT.glob(rel)) if "*" in rel else (ROOT / rel).exists()):
                missing.append(f"{doc.relative_to(ROOT)}: {path}")
    assert not missing, missing
