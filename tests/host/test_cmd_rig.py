"""`itb rig` serving on a pty and on TCP, and the key never printed by it or by a bench session."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.errors import EXIT_OK
from tests.host.rig_support import NIGHT_BOOST, ROOT, key_file_for, run_cli, served

# `itb rig` as a background job of a script starts it: SIGINT ignored (inherited through exec).
_IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'host_tools.cli', 'rig', *sys.argv[1:]])"
)


def _start_rig_process(
    args: list[str], cwd: Path, *, sigint_ignored: bool = False
) -> tuple[subprocess.Popen[str], list[str]]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("ITB_RIG_KEY_FILE", None)
    cmd = ["-c", _IGNORING_SIGINT] if sigint_ignored else ["-m", "host_tools.cli", "rig"]
    proc = subprocess.Popen(
        [sys.executable, *cmd, *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    while buf.count(b"\n") < 4:
        ready, _, _ = select.select([fd], [], [], 20)
        assert ready, f"itb rig printed only {buf!r}"
        chunk = os.read(fd, 4096)
        assert chunk, f"itb rig exited: {buf!r}"
        buf += chunk
    lines = buf.decode().splitlines()
    return proc, lines


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_itb_rig_serves_and_never_prints_the_key(tmp_path: Path, transport: str) -> None:
    args = ["--state-dir", str(tmp_path / "state")] + (["--tcp", "0"] if transport == "tcp" else [])
    proc, lines = _start_rig_process(args, ROOT)
    try:
        url = lines[0].split(" on ", 1)[1]
        assert url.startswith("socket://127.0.0.1:" if transport == "tcp" else "/dev/")
        key_path = tmp_path / "state" / "itb_key.hex"
        assert str(key_path) in lines[1] and "created" in lines[1]
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        secret = key_path.read_text().strip()
        port = ["--port", url, "--key-file", str(key_path)]
        outputs = []
        for argv in (
            ["load", str(NIGHT_BOOST), "--yes", "--fill", *port],
            ["status", *port],
            ["log", "--json", *port],
        ):
            code, out, err = run_cli(argv)
            assert code == EXIT_OK, err
            outputs.append(out + err)
        everything = "\n".join(lines + outputs) + (tmp_path / "state" / "itb_state.cur").read_text()
        assert secret not in everything and secret.upper() not in everything
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize(("sig", "sigint_ignored"), [
    (signal.SIGINT, True),  # a background job of a script: the rig puts Ctrl-C's handler back
    (signal.SIGTERM, False),  # `kill %1`, a service manager: the same clean stop
])  # fmt: skip
def test_itb_rig_stops_cleanly_on_sigint_and_sigterm(
    tmp_path: Path, sig: signal.Signals, sigint_ignored: bool
) -> None:
    proc, _lines = _start_rig_process(["--state-dir", str(tmp_path / "state"), "--tcp", "0"], ROOT,
                                      sigint_ignored=sigint_ignored)
    try:
        os.killpg(proc.pid, sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == EXIT_OK, out
    assert out.rstrip().endswith("itb rig: stopped"), out


def test_key_never_in_bench_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("host_tools.bench_report._plots", lambda _s, _o: {})
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        secret = vr.key.secret().hex()
        code, out, err = run_cli(
            ["bench", str(NIGHT_BOOST), "--days", "1", "--json", "--out", str(tmp_path / "b"),
             "--port", vr.url, "--key-file", str(kf), "--yes"]
        )  # fmt: skip
    assert code == EXIT_OK, err
    files = "".join(p.read_text() for p in (tmp_path / "b").iterdir())
    assert secret not in out + err + files
