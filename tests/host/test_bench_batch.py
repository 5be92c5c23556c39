"""Bench batches: two days an ADV by default, one day when the rig says two do not fit a frame; a state save
of the virtual rig never calls a global os.sync()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from firmware_py import protocol
from host_tools import bench_report
from host_tools.bench import AUTO_BATCH_HOURS, DEFAULT_BATCH_HOURS, run_bench
from host_tools.replies import RigRefusedError
from tests.host.rig_support import client_for, encoded, served


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_report, "_plots", lambda _session, _out: {})


def test_default_batch_is_two_days_and_falls_back_to_one(tmp_path: Path) -> None:
    asked: list[int] = []
    with served() as vr, client_for(vr) as c:
        real = c.advance

        def advance(seconds: int, every: int | None = None, t_before: int | None = None) -> object:
            asked.append(seconds // 3600)
            if seconds > DEFAULT_BATCH_HOURS * 3600 and len(asked) > 1:
                raise RigRefusedError("ADV", protocol.ARG, {"msg": "too many readings"})
            return real(seconds, every, t_before)

        c.advance = advance  # type: ignore[assignment,method-assign]
        res = run_bench(c, encoded(), days=4, out_dir=tmp_path, progress=False)
    assert res.passed, res.failures
    assert len(res.rows) == 4 * 24
    assert asked[0] == AUTO_BATCH_HOURS and asked[1] == AUTO_BATCH_HOURS
    assert set(asked[2:]) == {DEFAULT_BATCH_HOURS}


def test_an_explicit_batch_is_never_changed(tmp_path: Path) -> None:
    with served() as vr, client_for(vr) as c:

        def advance(seconds: int, every: int | None = None, t_before: int | None = None) -> object:
            raise RigRefusedError("ADV", protocol.ARG, {})

        c.advance = advance  # type: ignore[assignment,method-assign]
        with pytest.raises(RigRefusedError):
            run_bench(c, encoded(), days=3, out_dir=tmp_path, batch_hours=48, progress=False)


def test_virtual_rig_saves_without_a_global_sync(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "sync", lambda: calls.append("sync"))
    fsynced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        fsynced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with served() as vr, client_for(vr) as c:
        run_bench(c, encoded(), days=1, out_dir=tmp_path, progress=False)
    assert calls == [] and fsynced == []  # a discarded rig: no sync at all
    from host_tools.virtual_rig import HostFs  # noqa: PLC0415

    f = HostFs(durable=True).open_write(str(tmp_path / "x"))
    f.write(b"x")  # type: ignore[attr-defined]
    f.close()  # type: ignore[attr-defined]
    assert calls == [] and len(fsynced) == 1
