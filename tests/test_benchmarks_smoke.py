"""Smoke slice of the benchmarks (issue 6): every benchmark at tiny sizes, so benchmarks/ cannot rot.

Checks the result structure and the correctness conditions a benchmark states (zero disagreements, the
delivered total equal to the analytic one, the program really loaded and read back, round trips within
bound), not speed: smoke sizes are too small for timings to mean anything. The full run is
`./dev benchmarks`.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from benchmarks import MODULES, load, run_one
from benchmarks.common import Figure, Result
from benchmarks.pacing import PacedProxy
from benchmarks.report import MODULE_NAMES, build_json, build_markdown, write_reports

# Figures that state correctness and must hold even at smoke size.
MUST_MEET = {
    "sweep": ("disagreements_flow", "disagreements_windows", "disagreements_dilution",
              "mutant_flow_rounded_up", "mutant_2_h_lead_dropped"),
    "delivery": ("mismatch_1d", "mismatch_20d", "mp_mismatch"),
    "session": ("failures",),
    "scaling": ("fuzz_findings",),
}  # fmt: skip


@functools.cache
def _smoke(name: str) -> Result:
    # Each benchmark runs once per session; several tests look at the same result.
    return run_one(name, "smoke")


def test_module_list_is_the_report_list() -> None:
    assert tuple(MODULE_NAMES) == MODULES
    for name in MODULES:
        mod = load(name)
        assert name == mod.NAME
        assert isinstance(mod.TITLE, str) and mod.TITLE


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_smoke(name: str) -> None:
    r = _smoke(name)
    assert r.status == "ok", r.error
    assert r.figures, "a benchmark must report figures"
    assert r.method.strip(), "a benchmark must say how it measured"
    assert r.limits, "a benchmark must say what limits its figures"
    keys = [f.key for f in r.figures]
    assert len(keys) == len(set(keys))
    assert any(f.met is not None for f in r.figures), "at least one figure has a target"
    for f in r.figures:
        assert isinstance(f.value, int | float), (f.key, f.value)
        if f.op is not None:
            assert f.met is not None
    for key in MUST_MEET.get(name, ()):
        fig = r.figure(key)
        assert fig.met is True, (key, fig.value, fig.note, r.details)
    # The JSON of one result round-trips through json (no stray objects in details).
    doc = json.loads(json.dumps(r.to_json()))
    assert doc["name"] == name and doc["figures"][0]["key"] == keys[0]


def test_sweep_smoke_hits_every_rounding() -> None:
    r = _smoke("sweep")
    assert r.status == "ok", r.error
    for what in ("flow nL/day floor", "flow nL/h floor", "dose ng/h floor", "window rate floor",
                 "day total floor", "dilution stock floor", "dilution shortfall ceil", "dilution refused"):
        assert r.details["hits"].get(what, 0) > 0, what


def test_footprint_smoke_states_baseline() -> None:
    r = _smoke("footprint")
    assert r.status == "ok", r.error
    b = r.details["bytes"]
    # The measurement points are ordered: empty < harness < imported < rig built <= loaded <= peak.
    assert 0 < b["empty_interpreter"] < b["harness_loaded"] < b["after_import"] < b["after_rig_built"]
    assert b["after_rig_built"] <= b["program_loaded"]
    assert r.figure("heap_peak").value * 1024 >= b["program_loaded"] - 1024  # rounding to 0.01 KiB
    assert "do not subtract" in r.method
    assert r.details["frames"] >= 2  # at least one STG and the COM


def test_figure_targets() -> None:
    assert Figure("a", "a", 5, "s", op="<=", target=5).met is True
    assert Figure("a", "a", 5.001, "s", op="<=", target=5).met is False
    assert (
        Figure("a", "a", 1, "µs", reference=300, op=">=", target=300, target_on="ratio", ratio=300.0).met
        is True
    )
    assert Figure("a", "a", 1, "µs", op=">=", target=300, target_on="ratio", ratio=299.9).met is False
    assert Figure("a", "a", 0, "cases", op="==", target=0).met is True
    assert Figure("a", "a", 1, "cases", op="==", target=0).met is False
    assert Figure("a", "a", 1, "B").met is None
    assert Figure("a", "a", 2, "s", reference=4).ratio == 0.5
    with pytest.raises(ValueError, match="op"):
        Figure("a", "a", 1, "s", op="<")


def test_reports_show_missed_and_machine(tmp_path: Path) -> None:
    r = Result("x", "title", "smoke")
    r.add(Figure("ok", "fine figure", 1.0, "s", op="<=", target=2))
    r.add(Figure("bad", "bad figure", 3.0, "s", op="<=", target=2))
    r.method = "m"
    r.limits.append("limited by the test")
    u = Result("y", "y", "smoke")
    u.status, u.error = "unavailable", "module z is missing"
    mach = {
        "cpu_model": "cpu",
        "logical_cores": 2,
        "ram_gib": 1.0,
        "os": "os",
        "python": "py",
        "node": "v0",
        "micropython": "mp",
        "mpy_cross": "x",
        "pint": "p",
        "usable_cores": 2,
    }
    doc = build_json([r, u], "smoke", ["x", "y"], mach)
    md = build_markdown(doc, [r, u])
    assert "**MISSED**" in md and "**met**" in md and "UNAVAILABLE" in md
    assert "limited by the test" in md and "module z is missing" in md
    for word in ("CPU", "RAM", "OS", "Python", "node", "MicroPython"):
        assert f"| {word}" in md
    jp, mp = tmp_path / "r.json", tmp_path / "B.md"
    write_reports([r], "smoke", ["x"], jp, mp)
    loaded = json.loads(jp.read_text())
    assert loaded["schema"] == 1 and loaded["benchmarks"][0]["figures"][1]["met"] is False
    assert loaded["machine"]["micropython"].find("MicroPython") >= 0
    assert mp.read_text().startswith("# itb benchmarks")


def test_paced_proxy_paces_and_counts() -> None:
    # An echo server behind the proxy at 9600 baud: 96 bytes take >= 0.1 s each way, 0.2 s round trip.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def echo() -> None:
        conn, _ = srv.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    proxy = PacedProxy(("127.0.0.1", srv.getsockname()[1]), 9600).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port)) as c:
            msg = b"x" * 95 + b"\n"
            t0 = time.perf_counter()
            c.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += c.recv(4096)
            dt = time.perf_counter() - t0
        assert got == msg
        assert 0.2 <= dt < 0.6, dt
        assert proxy.to_rig.bytes == 96 and proxy.to_host.bytes == 96
        assert proxy.to_rig.frames == 1 and proxy.to_host.frames == 1
    finally:
        proxy.close()
        srv.close()
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        PacedProxy(("10.0.0.1", 1), 9600)


def test_sweep_catches_both_mutants() -> None:
    # The mutation check: a core that rounds a flow up, and one that drops the 2 h lead, must both disagree
    # with the independent reference on a small slice of the sweep; the unmutated core must not.
    from benchmarks import sweep  # noqa: PLC0415

    grid = {k: v[::4] for k, v in sweep.cases("smoke").items()}
    assert sum(len(v) for v in sweep.sweep(grid)["bad"].values()) == 0
    found = sweep.mutant_disagreements(grid)
    assert found["flow rounded up"] > 0 and found["2 h lead dropped"] > 0, found
    assert sum(len(v) for v in sweep.sweep(grid)["bad"].values()) == 0  # the patches are undone


def test_only_a_full_run_writes_the_tracked_reports(tmp_path: Path) -> None:
    from benchmarks.__main__ import report_paths  # noqa: PLC0415
    from benchmarks.common import ROOT  # noqa: PLC0415

    tracked = {ROOT / "benchmarks" / "results.json", ROOT / "BENCHMARKS.md"}
    assert set(report_paths(True, "full")) == tracked
    for size in ("quick", "smoke"):
        assert not set(report_paths(False, size)) & tracked
    # The board-footprint section of an existing report survives a rewrite.
    md = tmp_path / "B.md"
    md.write_text("old\n<!-- board-footprint:begin -->\nboard figures\n<!-- board-footprint:end -->\n")
    r = Result("x", "title", "smoke")
    r.add(Figure("ok", "fine figure", 1.0, "s", op="<=", target=2))
    write_reports([r], "smoke", ["x"], tmp_path / "r.json", md)
    assert "board figures" in md.read_text() and "old" not in md.read_text()
