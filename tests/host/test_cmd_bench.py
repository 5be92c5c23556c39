"""Bench sessions: exact delivery against the host's two reference paths, alarms, refills, tampering.

REQ: ITB-SCH-01, ITB-SCH-03 (night boost delivered as programmed, per hour and per day), ITB-REF-01 (low
reservoir alarm before empty; refill before depletion), ITB-REF-02 (refill residual declared as measured).
"""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path

import pytest

from firmware_py import protocol
from firmware_py.schedule import Schedule
from host_tools import bench, bench_report
from host_tools.bench import exact_dose_ng, run_bench
from tests.host.rig_support import client_for, encoded, served

DAY = 86_400
H = 3_600


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    # Plots are exercised once in test_cli_rig; here they would only cost time.
    monkeypatch.setattr(bench_report, "_plots", lambda _session, _out: {})


def _minute_sum(sched: Schedule, t0: int, t1: int) -> Fraction:
    # Independent of Schedule's integral and of exact_dose_ng's stepping: steps start on whole minutes,
    # so the rate is constant over each minute; t0 and t1 are whole minutes here.
    return sum((Fraction(sched.rate_at(t) * 60, DAY) for t in range(t0, t1, 60)), Fraction(0))


def test_exact_dose_matches_minute_sum_across_midnight_and_steps() -> None:
    sched = Schedule(DAY, [(4 * H, 500_000), (20 * H, 600_000)])
    for t0, t1 in [
        (0, DAY),
        (19 * H, 21 * H),
        (23 * H + 1800, DAY + 5 * H),
        (1_767_571_200, 1_767_571_200 + 3 * DAY),
    ]:
        assert exact_dose_ng(sched, t0, t1) == _minute_sum(sched, t0, t1)
    # the labeling example: 500 mcg/day with +20 % for 8 h is 500 + 100 * 8/24 = 533.333... mcg per day
    assert exact_dose_ng(sched, 0, DAY) == Fraction(1_600_000, 3)


def test_pint_total_agrees() -> None:
    sched = Schedule(DAY, [(4 * H, 500_000), (20 * H, 600_000)])
    assert bench.pint_total_mg(sched, [(0, 14 * DAY)]) == Fraction(14 * 1_600_000, 3) / 1_000_000


def test_bench_14_days_passes_and_writes_report(tmp_path: Path) -> None:
    data = encoded()
    with served() as vr, client_for(vr) as c:
        res = run_bench(c, data, days=14, out_dir=tmp_path, progress=False)
    assert res.passed, res.failures
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["result"] == "pass" and rep["settings"]["hours"] == 14 * 24
    tot = rep["totals"]
    assert tot["delivered_ng"] == tot["expected_ng"]
    # one floor per fill, toward less drug: exact - fills < delivered <= exact
    exact = Fraction(tot["exact_ng"])
    assert exact == Fraction(14 * 1_600_000, 3)
    assert exact - len(rep["refills"]) < tot["delivered_ng"] <= exact
    with (tmp_path / "delivery.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 336
    assert all(abs(Fraction(r["delivered_ng"]) - Fraction(r["exact_ng"])) < 1 for r in rows)
    # night step (20:00-04:00) at 600 mcg/day = 25 mcg/h, day step 500 mcg/day = 20.833 mcg/h
    assert {r["rate_ng_per_day"] for r in rows} == {"500000", "600000"}
    assert sum(int(r["delivered_ng"]) for r in rows[:24]) == 533_333
    # 20 mL at 500 mcg/mL lasts ~18.7 days: the refill is booked before the alarm (day ~16.9)
    assert [r["reason"] for r in rep["refills"]] == ["initial fill", "recommended refill date"]
    assert rep["alarms"] == []


def test_low_alarm_triggers_refill(tmp_path: Path) -> None:
    # A 19 mL alarm volume on the 20 mL pump: at 500 mcg/day of 500 mcg/mL (1 mL/day) the alarm is reached
    # after one day, too soon to book a refill ahead: the bench refills when the low-reservoir alarm fires
    # (ITB-REF-01), and never lets the reservoir run empty.
    data = encoded(steps=[(0, 500_000)], alarm_nl=19_000_000)
    with served() as vr, client_for(vr) as c:
        res = run_bench(c, data, days=5, out_dir=tmp_path, progress=False)
    assert res.passed, res.failures
    low = [a for a in res.report["alarms"] if a["kind"] == "low"]
    assert low and all(a["t_s"] is not None for a in low)
    t0 = res.report["settings"]["t_start_s"]
    assert low[0]["t_s"] == t0 + DAY  # 1 mL = 500 mcg at 500 mcg/day: exactly one day
    assert low[0]["host_predicted_t_s"] == low[0]["t_s"]
    reasons = [r["reason"] for r in res.report["refills"]]
    assert reasons[0] == "initial fill" and reasons.count("low reservoir alarm") >= 2
    assert all(r.alarm != "empty" for r in res.rows)


def _tamper(what: str, delta: int, from_hour: int, t0: int) -> object:
    # A rig that lies from hour `from_hour` on: one reading's ng or nL in its ADV reply, or its ST rate.
    def f(frame: bytes) -> bytes:
        body = frame[1 : frame.index(b"*")].decode()
        parts = body.split(" ")
        if what == "rate" and " ACK ST " in body:
            vals = dict(p.split("=", 1) for p in parts[3:])
            out = [p if not p.startswith("rate=") else f"rate={int(vals['rate']) + delta}" for p in parts]
            return protocol.frame(protocol.RIG_START, " ".join(out))
        if what in ("ng", "nl") and " ACK ADV " in body:
            vals = dict(p.split("=", 1) for p in parts[3:])
            first = (int(vals["t"]) - t0) // H - len(vals["d"].split(","))
            items = vals["d"].split(",")
            for i in range(len(items)):
                if first + i >= from_hour:
                    ng, nl = items[i].split(":")
                    items[i] = f"{int(ng) + delta}:{nl}" if what == "ng" else f"{ng}:{int(nl) + delta}"
                    break
            out = [p if not p.startswith("d=") else "d=" + ",".join(items) for p in parts]
            return protocol.frame(protocol.RIG_START, " ".join(out))
        return frame

    return f


@pytest.mark.parametrize(("what", "delta"), [("ng", 1), ("nl", -1), ("rate", 24_000)])
def test_tampered_rig_fails(tmp_path: Path, what: str, delta: int) -> None:
    # One extra ng or one nL short in the reading of hour 30, or a status rate 1 mcg/h off: each is outside
    # tolerance.
    data = encoded()
    with served() as vr, client_for(vr) as c:
        vr.reply_filter = _tamper(what, delta, 30, vr.clock.now_s())  # type: ignore[assignment]
        res = run_bench(c, data, days=3, out_dir=tmp_path, progress=False)
    assert not res.passed
    assert json.loads((tmp_path / "report.json").read_text())["result"] == "fail"
    if what == "rate":
        assert any("rig rate" in f for f in res.failures), res.failures
    else:
        assert res.failures[0].startswith("hour 30:"), res.failures


def test_batching_does_not_change_the_result(tmp_path: Path) -> None:
    data = encoded()
    reports = []
    for batch in (1, 24):
        with served() as vr, client_for(vr) as c:
            res = run_bench(c, data, days=2, out_dir=tmp_path / str(batch), batch_hours=batch, progress=False)
        reports.append([(r.t1_s, r.cum_delivered_ng, r.cum_delivered_nl) for r in res.rows])
    assert reports[0] == reports[1]


def test_lost_reply_in_a_batch_recovers(tmp_path: Path) -> None:
    # The second day's ADV reply is lost, with its readings: the client does not advance twice (the resend
    # is answered NAK SEQ, the rig time read back), and the bench checks that day as one reading.
    data = encoded()
    with served() as vr, client_for(vr, timeout_s=0.2) as c:
        lost: list[bytes] = []
        seen = [0]

        def drop(frame: bytes) -> bytes:
            if b" ACK ADV " in frame:
                seen[0] += 1
                if seen[0] == 2:
                    lost.append(frame)
                    return b""
            return frame

        vr.reply_filter = drop
        one_day = bench.DEFAULT_BATCH_HOURS
        res = run_bench(c, data, days=3, out_dir=tmp_path, batch_hours=one_day, progress=False)
    assert lost and res.passed, res.failures
    t0 = res.report["settings"]["t_start_s"]
    assert res.rows[-1].t1_s == t0 + 3 * DAY and res.report["lost_replies_recovered"] == 1
    assert len(res.rows) == 24 + 1 + 24 and res.rows[24].t1_s - res.rows[24].t0_s == DAY


def test_days_out_of_range(tmp_path: Path) -> None:
    from host_tools.errors import UsageError  # noqa: PLC0415

    with served() as vr, client_for(vr) as c, pytest.raises(UsageError, match="--days"):
        run_bench(c, encoded(), days=0, out_dir=tmp_path)
