"""The rig commands end to end: load (confirmation, --yes, no stdin), status/readback/log --json, bench,
`itb rig` serving on a pty and on TCP, exit codes, and the key never printed.

REQ: ITB-SCH-01, ITB-SCH-03 (night boost shown per hour AND per day, delivered as programmed),
ITB-REF-01 (fill and alarm), ITB-DIS-01 (an interrupted session says what the rig was left running).
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_py import program as pg
from host_tools import cli_rig
from host_tools.errors import EXIT_COMM, EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from tests.rig.support import NIGHT_BOOST, ROOT, key_file_for, run_cli, served
from tests.rig.test_bench import _tamper_st


def test_load_yes_then_status_readback_log_json(tmp_path: Path) -> None:
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        port = ["--port", vr.url, "--key-file", str(kf)]
        code, out, err = run_cli(["load", str(NIGHT_BOOST), "--yes", "--fill", *port])
        assert code == EXIT_OK, err
        # side by side, every rate per day AND per hour (ITB-SCH-03 night step 600 mcg/day = 25 mcg/h)
        assert "old (on the rig)" in out and "new (to load)" in out
        assert "20:00-04:00 600.000 mcg/day = 25.000 mcg/h" in out
        assert "04:00-20:00 500.000 mcg/day = 20.833 mcg/h" in out
        assert "533.333 mcg" in out and "every field matches" in out
        code, out, _ = run_cli(["status", "--json", *port])
        st = json.loads(out)["status"]
        assert code == 0 and st["state"] == "running" and st["conc_ng_per_ul"] == 500
        code, out, _ = run_cli(["readback", "--json", "--port", vr.url])  # read-only: no key needed
        doc = json.loads(out)["program"]
        assert code == 0 and doc["id"] == st["prog"] and pg.short_id(doc["encoding"].encode()) == st["prog"]
        assert [s["per_hour"] for s in doc["steps"]] == ["20.833 mcg/h", "25.000 mcg/h"]
        code, out, _ = run_cli(["log", "--json", "--port", vr.url])
        kinds = [e["kind"] for e in json.loads(out)]
        assert code == 0 and "commit" in kinds and "refill" in kinds
        code, out, _ = run_cli(["monitor", "--count", "3", "--interval", "0", "--json", "--port", vr.url])
        assert code == 0 and [json.loads(x)["state"] for x in out.splitlines()] == ["running"] * 3
        # a second load shows the active program as "old" and needs no fill (same concentration)
        code, out, err = run_cli(["load", str(NIGHT_BOOST), "--yes", "--json", *port])
        assert code == EXIT_OK, err
        res = json.loads(out)
        assert res["old"]["id"] == res["new"]["id"] == st["prog"] and res["refill"] is None


def test_load_without_stdin_refuses_before_touching_the_rig(tmp_path: Path) -> None:
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        before = vr.frames_in
        code, out, err = run_cli(["load", str(NIGHT_BOOST), "--port", vr.url, "--key-file", str(kf)])
        assert code == EXIT_USAGE and "pass --yes" in err and out == ""
        assert vr.frames_in == before


@pytest.mark.parametrize(
    ("answer", "expected"), [("y\n", EXIT_OK), ("n\n", EXIT_REFUSED), ("\n", EXIT_REFUSED)]
)
def test_load_interactive_confirmation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, expected: int
) -> None:
    monkeypatch.setattr(cli_rig, "_stdin_isatty", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        code, _out, err = run_cli(
            ["load", str(NIGHT_BOOST), "--fill", "--port", vr.url, "--key-file", str(kf)]
        )
        assert code == expected
        assert (vr.rig.status().prog is not None) == (expected == EXIT_OK)
        if expected != EXIT_OK:
            assert "not loaded" in err and "rig left running: no program" in err


def test_load_on_a_port_without_key_is_usage_error() -> None:
    with served("tcp") as vr:
        code, _out, err = run_cli(["load", str(NIGHT_BOOST), "--yes", "--port", vr.url])
    assert code == EXIT_USAGE and "--key-file" in err


def test_bench_builtin_rig_end_to_end(tmp_path: Path) -> None:
    out_dir = tmp_path / "bench"
    code, out, err = run_cli(["bench", str(NIGHT_BOOST), "--days", "14", "--out", str(out_dir), "--quiet"])
    assert code == EXIT_OK, err
    assert "PASS" in out and "max deviation: 0 ng cumulative" in out
    rep = json.loads((out_dir / "report.json").read_text())
    assert rep["result"] == "pass" and rep["program"]["name"] == "night-boost.toml"
    assert rep["totals"]["delivered_ng"] == rep["totals"]["expected_ng"]
    for name in ("delivery.csv", "profile.png", "reservoir.png"):
        assert (out_dir / name).stat().st_size > 0
    assert (out_dir / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_tampered_rig_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("host_tools.bench._plots", lambda _s, _o: {})
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        vr.reply_filter = _tamper_st("del_ng", 5, 10, vr.clock.now_s())  # type: ignore[assignment]
        code, out, _err = run_cli(
            ["bench", str(NIGHT_BOOST), "--days", "2", "--out", str(tmp_path / "b"), "--quiet",
             "--port", vr.url, "--key-file", str(kf)]
        )  # fmt: skip
    assert code == EXIT_REFUSED and "FAIL" in out
    assert json.loads((tmp_path / "b" / "report.json").read_text())["result"] == "fail"


def test_bench_disconnect_exit_3_names_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("host_tools.bench._plots", lambda _s, _o: {})
    with served("pty") as vr:
        kf = key_file_for(vr, tmp_path)
        n = [0]

        def pull_cable(frame: bytes) -> bytes:
            if b" ACK ADV " in frame:
                n[0] += 1
                if n[0] == 30:
                    vr.disconnect()
                    return b""
            return frame

        vr.reply_filter = pull_cable
        code, _out, err = run_cli(
            ["bench", str(NIGHT_BOOST), "--days", "3", "--out", str(tmp_path / "b"), "--quiet",
             "--port", vr.url, "--key-file", str(kf), "--timeout", "0.3"]
        )  # fmt: skip
        prog = vr.rig.status().prog
    lines = err.strip().splitlines()
    assert code == EXIT_COMM and len(lines) == 1
    assert lines[0].startswith("itb: disconnect: ")
    assert lines[0].endswith(f"(rig left running: program {prog})")


def test_bench_mute_rig_exit_3_timeout(tmp_path: Path) -> None:
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        vr.mute = True
        code, _out, err = run_cli(
            ["bench", str(NIGHT_BOOST), "--out", str(tmp_path / "b"), "--port", vr.url, "--key-file", str(kf),
             "--timeout", "0.05", "--retries", "1"]
        )  # fmt: skip
    lines = err.strip().splitlines()
    assert code == EXIT_COMM and len(lines) == 1
    assert lines[0].startswith("itb: timeout: ") and lines[0].endswith("(rig left running: unknown)")


def _start_rig_process(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("ITB_RIG_KEY_FILE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "rig", *args], cwd=cwd, env=env, text=True,
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


def test_key_never_in_bench_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("host_tools.bench._plots", lambda _s, _o: {})
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        secret = vr.key.secret().hex()
        code, out, err = run_cli(
            ["bench", str(NIGHT_BOOST), "--days", "1", "--json", "--out", str(tmp_path / "b"),
             "--port", vr.url, "--key-file", str(kf)]
        )  # fmt: skip
    assert code == EXIT_OK, err
    files = "".join(p.read_text() for p in (tmp_path / "b").iterdir())
    assert secret not in out + err + files
