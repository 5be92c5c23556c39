"""An accelerated bench session: load a program with an initial fill, advance the rig's bench clock hour by
hour, read its status, refill when a bench engineer would, and compare what the rig delivered with what the
program prescribes.

Expected delivery comes from two paths computed on the host:

1. the reference the rig must match exactly: `Schedule.integral_between` (ng·s/day) from the last fill,
   floored to whole ng (and to whole nL at the reservoir concentration) once per fill, as the program
   prescribes (rounding toward less drug); and
2. an independent path that shares nothing with `Schedule`'s cumulative table: the rate function stepped
   with `rate_at` / `next_change`, integrated in `fractions.Fraction` (exact), with the session totals also
   converted with pint. Path 1 and path 2 must agree exactly (else `VerificationError`).

Tolerance (`TOLERANCE`), and why: the rig's delivery engine is exact (delivered ng since the last fill is
`floor(integral / 86 400)`, never accumulated per tick), so

- cumulative delivered dose and volume must equal path 1 **exactly** at every reading: 0 ng, 0 nL;
- each hour's delivered dose may differ from the exact rational dose of that hour by **less than 1 ng**,
  because the floor at the two bucket edges moves up to 1 ng between neighbouring buckets (never across
  the session: the cumulative check above catches any drift);
- the session total lies in [exact − fills ng, exact] (one floor per fill, always toward less drug);
- the rate the rig reports at every reading equals the program's rate at that time (a per-hour / per-day
  mix-up shows here at once).
A reading that breaks any of these, or delivery stopped by an empty reservoir, fails the session (exit 1).

Readings come in batches: one `ADV <seconds> 3600` returns the ng and nL the rig delivered in every hour of
the batch, and marks the hours in which an alarm fired; each hourly reading is checked as above. By default a
batch is two days (`AUTO_BATCH_HOURS`); when the rig answers that they do not fit one frame (`NAK ARG`,
nothing ran), the session goes on with one day, which always fits.

Refills: when the low-reservoir alarm fires (ITB-REF-01) or on the recommended refill date (the firmware's
`refill.refill_forecast`, booked days before the alarm), whichever comes first, the bench refills to the
rig's reservoir capacity at the program's concentration, declaring the rig's residual as measured.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from firmware_py import program as fw_program
from firmware_py import program_checks, units
from firmware_py import refill as fw_refill
from firmware_py.protocol import ARG
from firmware_py.schedule import Schedule
from host_tools import display
from host_tools import quantities as qt
from host_tools.client import RigClient
from host_tools.errors import UsageError, VerificationError
from host_tools.replies import AdvanceAck, Reading, Refill, RigRefusedError, RigStatus
from host_tools.source import Source

S_PER_H = units.S_PER_H
MAX_DAYS = 3660
DEFAULT_BATCH_HOURS = 24  # hourly readings per ADV frame (a day: fits one frame at any dose)
AUTO_BATCH_HOURS = 48  # asked for by default; the rig refuses (NAK ARG) when they do not fit: then 24
MAX_FAILURES_REPORTED = 50  # failures listed in report.json (all are counted)
TOLERANCE = {
    "total_ng": 0,
    "total_nl": 0,
    "hour_bucket_ng_exclusive": 1,
    "basis": (
        "the rig delivers floor(integral / S_PER_DAY) ng since each fill, exactly: cumulative dose and "
        "volume must equal the host's floored reference at every reading (0 ng, 0 nL); each hour may "
        "differ from the exact rational dose of that hour by less than 1 ng (floor at the bucket edges)"
    ),
}


# -- the independent reference path -----------------------------------------------------------------------


def exact_dose_q(schedule: Schedule, t0_s: int, t1_s: int) -> int:
    """The exact dose the schedule prescribes over [t0_s, t1_s] in ng·s/day (an int), by stepping the rate."""
    total = 0
    t = t0_s
    while t < t1_s:
        nxt = min(schedule.next_change(t), t1_s)
        total += schedule.rate_at(t) * (nxt - t)
        t = nxt
    return total


def exact_dose_ng(schedule: Schedule, t0_s: int, t1_s: int) -> Fraction:
    """The exact dose (ng, a Fraction) the schedule prescribes over [t0_s, t1_s], by stepping the rate."""
    return Fraction(exact_dose_q(schedule, t0_s, t1_s), units.S_PER_DAY)


def pint_total_mg(schedule: Schedule, spans: Iterable[tuple[int, int]]) -> Fraction:
    """The session's prescribed dose in mg through pint (rate in ng/day times time in s), exact."""
    total = qt.q(0, "mg")
    for t0, t1 in spans:
        t = t0
        while t < t1:
            nxt = min(schedule.next_change(t), t1)
            total = total + qt.q(schedule.rate_at(t), "ng/day") * qt.q(nxt - t, "s")
            t = nxt
    return qt.exact(total, "mg")


# -- what to load ----------------------------------------------------------------------------------------



# -- records ----------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One reading span (normally one hour): delivered against expected."""

    hour: int
    t0_s: int
    t1_s: int
    rate_ng_per_day: int
    delivered_ng: int
    expected_ng: int
    exact_q: int  # the exact dose of the span in ng·s/day (exact_ng = exact_q / S_PER_DAY)
    delivered_nl: int
    expected_nl: int
    cum_delivered_ng: int
    cum_expected_ng: int
    cum_delivered_nl: int
    cum_expected_nl: int
    reservoir_nl: int
    alarm: str
    event: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def exact_ng(self) -> Fraction:
        return Fraction(self.exact_q, units.S_PER_DAY)

    @property
    def deviation_ng(self) -> Fraction:
        return self.delivered_ng - self.exact_ng


# Before the first reading: nothing delivered or expected yet.
_NO_ROW = Row(-1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "")


@dataclass
class BenchResult:
    """The outcome of a bench session, and where its files are."""

    passed: bool
    report: dict[str, Any]
    rows: list[Row]
    files: dict[str, str]
    failures: list[str]


# -- the session ------------------------------------------------------------------------------------------


class _Fill:
    # One fill segment: delivery since the fill is floor(integral since t_s / S_PER_DAY) on the rig.
    def __init__(self, t_s: int, volume_nl: int, conc: int, base_ng: int, base_nl: int) -> None:
        self.t_s = t_s
        self.volume_nl = volume_nl
        self.conc = conc
        self.base_ng = base_ng  # cumulative delivered before this fill
        self.base_nl = base_nl
        self.t_q, self.q = t_s, 0  # the integral since the fill (ng·s/day) up to t_q, the last reading


class BenchSession:
    """Runs one session on a connected `RigClient`. `run()` does everything and returns a `BenchResult`."""

    def __init__(
        self,
        client: RigClient,
        source: Source,
        *,
        days: int,
        out_dir: Path,
        batch_hours: int | None = None,
        progress: bool | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not 1 <= days <= MAX_DAYS:
            raise UsageError(f"--days: must be 1 to {MAX_DAYS} (got {days})")
        self.auto_batch = batch_hours is None
        batch_hours = AUTO_BATCH_HOURS if batch_hours is None else batch_hours
        if batch_hours < 1:
            raise UsageError(f"batch_hours must be >= 1 (got {batch_hours})")
        self.client = client
        self.source = source
        data = source.encoding
        self.data = data
        self.program = fw_program.decode(data)
        program_checks.validate(self.program)
        self.prog_id = fw_program.short_id(data)
        self.days = days
        self.out_dir = Path(out_dir)
        self.name = Path(source.path).name if source.path != "<bytes>" else ""
        self.batch_hours = batch_hours
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.log = log or (lambda _text: None)
        self.rows: list[Row] = []
        self.alarms: list[dict[str, Any]] = []
        self.refills: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.t_start = 0
        self.fills: list[_Fill] = []
        self.refill_at_s: int | None = None
        self.predicted_alarm_s: int | None = None
        self.last: RigStatus | None = None
        self.decision = ""
        self.pending_event = ""  # an event at the end of the last reading: marked on the next hour's row
        self.plots_note = ""  # why no PNG was written, when none was

    # -- expected values (path 1) --

    def _expected_cum(self, t0: int, span_q: int, t1: int) -> tuple[int, int]:
        # Cumulative (ng, nL) at t1: the integral since the fill is the sum of the readings' spans (each the
        # Schedule's integral_between), or integral_between from the fill when a span does not follow on.
        f = self.fills[-1]
        integral = (f.q if t0 == f.t_q else self.program.schedule.integral_between(f.t_s, t0)) + span_q
        f.t_q, f.q = t1, integral
        ng = units.floor_div(integral, units.S_PER_DAY)[0]
        nl = units.floor_div(integral * units.NL_PER_UL, units.S_PER_DAY * f.conc)[0]
        return f.base_ng + ng, f.base_nl + nl

    def _forecast(self, t: int, volume_nl: int) -> None:
        p = self.program
        f = fw_refill.refill_forecast(volume_nl, p.conc_ng_per_ul, p.schedule, start_s=t, alarm_nl=p.alarm_nl)
        # A fill too small for the booking margin is "overdue" at once: then the low alarm decides.
        self.refill_at_s = None if f.refill_overdue else f.refill_at_s
        self.predicted_alarm_s = f.alarm_at_s

    # -- steps --

    def _start(self) -> None:
        p = self.program
        st = self.client.status()
        if self.client.info is not None and self.client.info.clock != "bench":
            raise UsageError("bench needs a rig with a bench clock (ADV); this rig follows real time")
        fill = Refill.full(p.reservoir_nl, p.conc_ng_per_ul, st)
        residual = fill.measured_residual_nl
        result = self.client.load(self.data, fill)
        self.t_start = result.t_commit_s
        self.fills.append(_Fill(self.t_start, p.reservoir_nl, p.conc_ng_per_ul, 0, 0))
        self.decision = result.decision
        self.refills.append(
            {"t_s": self.t_start, "hour": 0, "reason": "initial fill", "added_nl": p.reservoir_nl,
             "conc_ng_per_ul": p.conc_ng_per_ul, "measured_residual_nl": residual, "pocket": result.pocket}
        )  # fmt: skip
        self._forecast(self.t_start, p.reservoir_nl)
        filled = display.ml(p.reservoir_nl)
        self.log(f"loaded program {self.prog_id} at t={self.t_start} with a fill of {filled}")
        self.last = self.client.status()
        self._check_status_basics(self.last, 0)

    def _check_status_basics(self, st: RigStatus, hour: int) -> list[str]:
        out = []
        if st.prog != self.prog_id:
            out.append(f"hour {hour}: rig runs program {st.prog}, not {self.prog_id}")
        if st.state != "running":
            out.append(f"hour {hour}: rig state {st.state} (alarm {st.alarm}): delivery stopped")
        want = self.program.schedule.rate_at(st.t_s)
        if st.state == "running" and st.bolus_nl == 0 and st.rate_ng_per_day != want:
            out.append(f"hour {hour}: rig rate {st.rate_ng_per_day} ng/day, program {want} ng/day")
        return out

    def _record(self, t0: int, t1: int, reading: Reading) -> Row:
        # One reading, checked in ints (ng·s/day): cumulative dose and volume equal to path 1, the span's
        # path-1 integral equal to path 2 (the stepped rate), the hour within 1 ng of its exact dose.
        sched = self.program.schedule
        f = self.fills[-1]
        prev = self.rows[-1] if self.rows else _NO_ROW
        ref = sched.integral_between(t0, t1)
        exp_ng, exp_nl = self._expected_cum(t0, ref, t1)
        exact_q = exact_dose_q(sched, t0, t1)
        row = Row(
            hour=(t0 - self.t_start) // S_PER_H, t0_s=t0, t1_s=t1, rate_ng_per_day=sched.rate_at(t0),
            delivered_ng=reading.delivered_ng, expected_ng=exp_ng - prev.cum_expected_ng, exact_q=exact_q,
            delivered_nl=reading.delivered_nl, expected_nl=exp_nl - prev.cum_expected_nl,
            cum_delivered_ng=prev.cum_delivered_ng + reading.delivered_ng, cum_expected_ng=exp_ng,
            cum_delivered_nl=prev.cum_delivered_nl + reading.delivered_nl, cum_expected_nl=exp_nl,
            reservoir_nl=f.volume_nl - (prev.cum_delivered_nl + reading.delivered_nl - f.base_nl),
            alarm="empty" if reading.empty else ("low" if reading.low else ""),
        )  # fmt: skip
        # Path 1 against path 2: the host's two computations must agree (a bug otherwise, not a rig fault).
        if ref != exact_q:
            raise VerificationError(
                f"hour {row.hour}: Schedule integral {Fraction(ref, units.S_PER_DAY)} ng != stepped rate "
                f"{row.exact_ng} ng"
            )
        if self.pending_event:
            row.event, self.pending_event = self.pending_event, ""
        if row.cum_delivered_ng != exp_ng or row.cum_delivered_nl != exp_nl or reading.empty or (
                abs(reading.delivered_ng * units.S_PER_DAY - exact_q)
                >= TOLERANCE["hour_bucket_ng_exclusive"] * units.S_PER_DAY):  # type: ignore[operator]
            self._problems(row, reading)
        self.rows.append(row)
        return row

    def _problems(self, row: Row, reading: Reading) -> None:
        p, hour, r = row.problems, row.hour, row
        if r.cum_delivered_ng != r.cum_expected_ng:
            p.append(f"hour {hour}: cumulative dose {r.cum_delivered_ng} ng, expected {r.cum_expected_ng} ng")
        if r.cum_delivered_nl != r.cum_expected_nl:
            p.append(f"hour {hour}: cumulative volume {r.cum_delivered_nl} nL, expected {r.cum_expected_nl} "
                     "nL")
        if abs(row.deviation_ng) >= TOLERANCE["hour_bucket_ng_exclusive"]:  # type: ignore[operator]
            p.append(f"hour {hour}: delivered {row.delivered_ng} ng, exact {float(row.exact_ng):.3f} ng")
        if reading.empty:
            p.append(f"hour {hour}: the reservoir ran empty: delivery stopped")
        self.failures.extend(p)

    def _check_status(self, st: RigStatus) -> None:
        # A status read at the end of a batch against the readings: the same cumulative delivery.
        f = self.fills[-1]
        hour = (st.t_s - self.t_start) // S_PER_H
        problems = self._check_status_basics(st, hour)
        if self.rows and (f.base_ng + st.delivered_ng, f.base_nl + st.delivered_nl) != (
                self.rows[-1].cum_delivered_ng, self.rows[-1].cum_delivered_nl):
            problems.append(f"hour {hour}: status shows {st.delivered_ng} ng since the fill, the readings "
                            f"{self.rows[-1].cum_delivered_ng - f.base_ng} ng")
        self.failures.extend(problems)
        self._note_alarm(self.last or st, st, hour)
        self.last = st

    def _note_alarm(self, prev: RigStatus, st: RigStatus, hour: int) -> None:
        if st.alarm not in (prev.alarm, "none"):
            exact_t = prev.t_alarm_s if st.alarm == "low" else prev.t_empty_s
            self.alarms.append(
                {"kind": st.alarm, "t_s": exact_t, "hour": hour, "seen_at_s": st.t_s,
                 "host_predicted_t_s": self.predicted_alarm_s if st.alarm == "low" else None,
                 "reservoir_nl": st.reservoir_nl}
            )  # fmt: skip
            self.log(f"hour {hour}: {st.alarm} reservoir alarm (rig time {exact_t})")

    def _maybe_refill(self, st: RigStatus) -> None:
        hour = (st.t_s - self.t_start) // S_PER_H
        reason = ""
        if st.alarm in ("low", "empty"):
            reason = f"{st.alarm} reservoir alarm"
        elif self.refill_at_s is not None and st.t_s >= self.refill_at_s:
            reason = "recommended refill date"
        if not reason:
            return
        p = self.program
        f = self.fills[-1]
        residual = st.reservoir_nl
        capacity = self.client.info.config.reservoir_nl if self.client.info else p.reservoir_nl
        ack = self.client.refill(Refill(capacity, p.conc_ng_per_ul, residual))
        base_ng = f.base_ng + st.delivered_ng
        base_nl = f.base_nl + st.delivered_nl
        self.fills.append(_Fill(st.t_s, capacity, p.conc_ng_per_ul, base_ng, base_nl))
        self.refills.append(
            {"t_s": st.t_s, "hour": hour, "reason": reason, "added_nl": capacity,
             "conc_ng_per_ul": p.conc_ng_per_ul, "measured_residual_nl": residual,
             "rig_expected_nl": ack.expected_nl, "pocket": ack.pocket}
        )  # fmt: skip
        self.pending_event = "refill"  # at t = hour h: the row of hour h starts with it (the log's hour)
        self.log(
            f"hour {hour}: refilled ({reason}): withdrew the residual {display.ml(residual)}, "
            f"filled {display.ml(capacity)}"
        )
        self._forecast(st.t_s, capacity)
        after = self.client.status()
        if after.delivered_ng != 0 or after.t_s != st.t_s:
            self.failures.append(
                f"hour {hour}: after the refill the rig shows {after.delivered_ng} ng delivered"
            )
        self.last = after

    def _window(self, hour: int, total_hours: int) -> int:
        # Hours to advance in one batch: up to the next hour at or after a refill time.
        n = min(self.batch_hours, total_hours - hour)
        assert self.last is not None
        t = self.t_start + hour * S_PER_H
        if self.refill_at_s is not None and self.refill_at_s > t:
            n = min(n, units.ceil_div(self.refill_at_s - t, S_PER_H)[0])
        return max(1, n)

    def _advance(self, n: int, t0: int) -> tuple[AdvanceAck, int]:
        # ADV for n hours with hourly readings; n readings too many for one frame: one day, from then on.
        try:
            return self.client.advance(n * S_PER_H, S_PER_H, t_before=t0), n
        except RigRefusedError as exc:
            if not (self.auto_batch and exc.reason_code == ARG and n > DEFAULT_BATCH_HOURS):
                raise
        self.batch_hours = DEFAULT_BATCH_HOURS
        n = min(n, DEFAULT_BATCH_HOURS)
        return self.client.advance(n * S_PER_H, S_PER_H, t_before=t0), n

    def run(self) -> BenchResult:
        """Load, advance, compare, refill; write report.json, delivery.csv and the plots."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        total_hours = self.days * units.H_PER_DAY
        self._start()
        bar = _Progress(total_hours, self.progress)
        self.log = bar.wrap(self.log)
        hour = 0
        try:
            while hour < total_hours:
                n = self._window(hour, total_hours)
                t0 = self.t_start + hour * S_PER_H
                ack, n = self._advance(n, t0)
                if ack.readings is None:
                    # The reply was lost and its readings with it: one reading from the status instead,
                    # checked the same way over the whole span (delivery since the fill is cumulative).
                    st = self.client.status()
                    f = self.fills[-1]
                    prev = self.rows[-1] if self.rows else None
                    ng = f.base_ng + st.delivered_ng - (prev.cum_delivered_ng if prev else 0)
                    nl = f.base_nl + st.delivered_nl - (prev.cum_delivered_nl if prev else 0)
                    ack = AdvanceAck(st.t_s, [Reading(ng, nl, st.alarm == "low", st.alarm == "empty")])
                    n = (st.t_s - t0) // S_PER_H
                alarm = False
                step = n * S_PER_H // len(ack.readings or [0])
                for i, reading in enumerate(ack.readings or []):
                    self._record(t0 + i * step, t0 + (i + 1) * step, reading)
                    alarm = alarm or reading.low or reading.empty
                hour += n
                bar.update(hour)
                t = self.t_start + hour * S_PER_H
                if alarm or hour >= total_hours or (self.refill_at_s is not None and t >= self.refill_at_s):
                    self._check_status(self.client.status())
                    self._maybe_refill(self.last)  # type: ignore[arg-type]
        finally:
            bar.close()
        return self._finish()

    # -- report --

    def _finish(self) -> BenchResult:
        rows = self.rows
        end = rows[-1].t1_s if rows else self.t_start
        exact_total = exact_dose_ng(self.program.schedule, self.t_start, end)
        mg = pint_total_mg(self.program.schedule, [(self.t_start, end)])
        if mg * units.NG_PER_MG != exact_total:
            raise VerificationError(f"pint total {mg} mg != stepped total {exact_total} ng")
        delivered = rows[-1].cum_delivered_ng if rows else 0
        expected = rows[-1].cum_expected_ng if rows else 0
        n_fills = len(self.fills)
        if not exact_total - n_fills < delivered <= exact_total:
            self.failures.append(
                f"total delivered {delivered} ng is outside [exact - fills, exact] = "
                f"({float(exact_total) - n_fills:.3f}, {float(exact_total):.3f}] ng"
            )
        max_dev = max((abs(r.deviation_ng) for r in rows), default=Fraction(0))
        max_cum_dev = max((abs(r.cum_delivered_ng - r.cum_expected_ng) for r in rows), default=0)
        passed = not self.failures
        p = self.program
        report: dict[str, Any] = {
            "result": "pass" if passed else "fail",
            "program": {
                "id": self.prog_id,
                "checksum": fw_program.checksum(self.data),
                "name": self.name,
                "label": p.label,
                "encoding": self.data.decode(),
            },
            "settings": {
                "days": self.days,
                "hours": len(rows),
                "t_start_s": self.t_start,
                "t_end_s": end,
                "batch_hours": self.batch_hours,
                "rig": self.client.info.to_json() if self.client.info else None,
                "port": self.client.link.url,
                "conc_ng_per_ul": p.conc_ng_per_ul,
                "reservoir_nl": p.reservoir_nl,
                "alarm_nl": p.alarm_nl,
                "schedule_steps": [list(s) for s in p.schedule.steps],
                "period_s": p.schedule.period_s,
            },
            "totals": {
                "delivered_ng": delivered,
                "expected_ng": expected,
                "exact_ng": str(exact_total),
                "exact_mg_pint": str(mg),
                "delivered_nl": rows[-1].cum_delivered_nl if rows else 0,
                "expected_nl": rows[-1].cum_expected_nl if rows else 0,
                "rounding_dropped_ng": str(exact_total - delivered),
            },
            "max_deviation": {
                "hour_bucket_ng": str(max_dev),
                "hour_bucket_ng_float": float(max_dev),
                "cumulative_ng": max_cum_dev,
            },
            "tolerance": TOLERANCE,
            "alarms": self.alarms,
            "refills": self.refills,
            "failures": self.failures[:MAX_FAILURES_REPORTED],
            "failure_count": len(self.failures),
            "retries": self.client.retried,
            "lost_replies_recovered": self.client.recovered,
        }
        files = self._write(report)
        report["files"] = {k: Path(v).name for k, v in files.items()}
        report["plots_skipped"] = self.plots_note or None
        (self.out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        return BenchResult(passed, report, rows, files, self.failures)

    def _write(self, report: dict[str, Any]) -> dict[str, str]:
        files = {"report": str(self.out_dir / "report.json")}
        csv_path = self.out_dir / "delivery.csv"
        with csv_path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            for r in self.rows:
                w.writerow(
                    [r.hour, r.t0_s, r.t1_s, r.rate_ng_per_day, r.delivered_ng, r.expected_ng,
                     f"{float(r.exact_ng):.6f}", f"{float(r.deviation_ng):.6f}", r.delivered_nl,
                     r.expected_nl,
                     r.cum_delivered_ng, r.cum_expected_ng, r.cum_delivered_nl, r.cum_expected_nl,
                     r.reservoir_nl, r.alarm, r.event.strip()]
                )  # fmt: skip
        files["csv"] = str(csv_path)
        files.update(_plots(self, self.out_dir))
        return files


CSV_COLUMNS = (
    "hour", "t0_s", "t1_s", "rate_ng_per_day", "delivered_ng", "expected_ng", "exact_ng", "deviation_ng",
    "delivered_nl", "expected_nl", "cum_delivered_ng", "cum_expected_ng", "cum_delivered_nl",
    "cum_expected_nl", "reservoir_nl", "alarm", "event",
)  # fmt: skip


class _Progress:
    # A tqdm bar on stderr when enabled; event lines written while it shows go through tqdm's own write
    # (the bar is cleared, the line printed, the bar redrawn), so no line is ever glued to the bar.
    def __init__(self, total: int, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm  # noqa: PLC0415  (only when a progress bar is shown)

            self.bar = tqdm(total=total, unit="h", desc="bench", leave=False, file=sys.stderr)

    def update(self, hour: int) -> None:
        if self.bar is not None:
            self.bar.update(max(0, hour - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def wrap(self, log: Callable[[str], None]) -> Callable[[str], None]:
        def write(text: str) -> None:
            if self.bar is None:
                log(text)
                return
            with self.bar.external_write_mode(file=sys.stderr):
                log(text)

        return write


def _plots(session: BenchSession, out_dir: Path) -> dict[str, str]:
    # The session's PNGs (host_tools.plots_session), or one line saying why there are none.
    from host_tools import plots  # noqa: PLC0415

    if not plots.available():
        # Said once, in the summary (and in report.json), not also as an event line.
        session.plots_note = f"plots skipped: matplotlib is not installed ({plots.INSTALL_HINT} to get them)"
        return {}
    from host_tools import plots_session  # noqa: PLC0415

    return plots_session.write(session, out_dir)


def run_bench(
    client: RigClient,
    source: Source | bytes,
    *,
    days: int,
    out_dir: str | Path,
    batch_hours: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> BenchResult:
    """Run a bench session on `client` with `source` (a `host_tools.source.Source` or an encoding; see the
    module docstring).

    Raises `CommError` (exit 3) when the rig cannot be reached; a delivery outside tolerance is reported in
    the result (`passed` False), not raised.
    """
    if isinstance(source, bytes):
        source = Source.from_bytes(source)
    session = BenchSession(
        client, source, days=days, out_dir=Path(out_dir), batch_hours=batch_hours, progress=progress, log=log
    )
    return session.run()


def _exact_mcg(ng: Fraction) -> str:
    # "1600 mcg", or "1600.333 mcg + 1/3 ng" when the exact dose is not a whole ng.
    whole = ng.numerator // ng.denominator
    rest = ng - whole
    return display.mcg(whole) + (f" + {rest} ng" if rest else "")


def summary(result: BenchResult) -> str:
    """A short readable summary of a bench session."""
    rep = result.report
    tot = rep["totals"]
    prog = rep["program"]
    s = rep["settings"]
    lines = [
        f"bench: program {prog['id']}{' (' + prog['name'] + ')' if prog['name'] else ''}, "
        f"{display.plural(s['days'], 'day')} ({display.plural(s['hours'], 'hourly reading')}) on {s['port']}",
        f"  delivered {display.mcg(tot['delivered_ng'])} = {display.ml(tot['delivered_nl'])}; expected "
        f"{display.mcg(tot['expected_ng'])} (exact {_exact_mcg(Fraction(tot['exact_ng']))})",
        f"  max deviation: {rep['max_deviation']['cumulative_ng']} ng cumulative (tolerance 0 ng), "
        f"{rep['max_deviation']['hour_bucket_ng_float']:.3f} ng in an hour (tolerance < 1 ng)",
        f"  alarms: {', '.join(a['kind'] + ' at hour ' + str(a['hour']) for a in rep['alarms']) or 'none'}; "
        f"refills: {len(rep['refills']) - 1} after the initial fill",
    ]
    if rep["failures"]:
        lines.append(f"  {rep['failure_count']} problem(s), first: {rep['failures'][0]}")
    names = ", ".join(sorted(result.files[k] for k in result.files))
    lines.append(f"  {'PASS' if result.passed else 'FAIL'}; wrote {names}")
    if rep.get("plots_skipped"):
        lines.append(f"  {rep['plots_skipped']}")
    return "\n".join(lines)
