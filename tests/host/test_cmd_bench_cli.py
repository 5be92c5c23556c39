"""`itb bench` end to end: the built-in rig, a tampered rig (exit 1), a cable pulled and a mute rig (exit 3,
saying what the rig was left running).

REQ: ITB-DIS-01 (an interrupted session says what the rig was left running).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from host_tools import cli_load
from host_tools.errors import EXIT_COMM, EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from tests.host.rig_support import NIGHT_BOOST, key_file_for, run_cli, served
from tests.host.test_cmd_bench import _tamper


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
    monkeypatch.setattr("host_tools.bench_report._plots", lambda _s, _o: {})
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        vr.reply_filter = _tamper("ng", 5, 10, vr.clock.now_s())  # type: ignore[assignment]
        code, out, _err = run_cli(
            ["bench", str(NIGHT_BOOST), "--days", "2", "--out", str(tmp_path / "b"), "--quiet",
             "--port", vr.url, "--key-file", str(kf), "--yes"]
        )  # fmt: skip
    assert code == EXIT_REFUSED and "FAIL" in out
    assert json.loads((tmp_path / "b" / "report.json").read_text())["result"] == "fail"


def test_bench_disconnect_exit_3_names_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("host_tools.bench_report._plots", lambda _s, _o: {})
    with served("pty") as vr:
        kf = key_file_for(vr, tmp_path)
        n = [0]

        def pull_cable(frame: bytes) -> bytes:
            if b" ACK ADV " in frame:
                n[0] += 1
                if n[0] == 2:
                    vr.disconnect()
                    return b""
            return frame

        vr.reply_filter = pull_cable
        code, _out, err = run_cli(
            ["bench", str(NIGHT_BOOST), "--days", "3", "--out", str(tmp_path / "b"), "--quiet",
             "--port", vr.url, "--key-file", str(kf), "--timeout", "0.3", "--yes"]
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
             "--timeout", "0.05", "--retries", "1", "--yes"]
        )  # fmt: skip
    lines = err.strip().splitlines()
    assert code == EXIT_COMM and len(lines) == 1
    assert lines[0].startswith("itb: timeout: ")
    assert lines[0].endswith("(rig left running: its program, unchanged: nothing was sent)")


def test_bench_on_a_live_rig_without_stdin_refuses_before_touching_it(tmp_path: Path) -> None:
    # REQ: ITB-DIS-01: bench --port replaces the rig's program; nobody can confirm, so nothing is sent.
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        before = vr.frames_in
        code, out, err = run_cli(["bench", str(NIGHT_BOOST), "--port", vr.url, "--key-file", str(kf),
                                  "--out", str(tmp_path / "b")])
        assert code == EXIT_USAGE and "pass --yes" in err and out == ""
        assert vr.frames_in == before and not (tmp_path / "b").exists()


@pytest.mark.parametrize(("answer", "expected"), [("y\n", EXIT_OK), ("n\n", EXIT_REFUSED)])
def test_bench_on_a_live_rig_shows_old_and_new_and_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, expected: int
) -> None:
    monkeypatch.setattr("host_tools.bench_report._plots", lambda _s, _o: {})
    monkeypatch.setattr(cli_load, "_stdin_isatty", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        code, out, err = run_cli(["bench", str(NIGHT_BOOST), "--days", "1", "--port", vr.url, "--key-file",
                                  str(kf), "--out", str(tmp_path / "b"), "--quiet"])
        assert code == expected, err
        assert "old (on the rig)" in out and "new (to load)" in out and "mL/day" in out
        assert "with a full fill of" in out and "1 simulated day " in out
        assert "load this program? [y/N]" in err
        assert (vr.rig.status().prog is not None) == (expected == EXIT_OK)
        if expected != EXIT_OK:
            assert "not loaded" in err and "rig left running: no program" in err
