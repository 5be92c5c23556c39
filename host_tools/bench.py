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

The tolerance every reading is held to, and why, is `host_tools.bench_report.TOLERANCE`.

Readings come in batches: one `ADV <seconds> 3600` returns the ng and nL the rig delivered in every hour of
the batch, and marks the hours in which an alarm fired; each hourly reading is checked as above. By default a
batch is two days (`AUTO_BATCH_HOURS`); when the rig answers that they do not fit one frame (`NAK ARG`,
nothing ran), the session goes on with one day, which always fits.

Refills: when the low-reservoir alarm fires (ITB-REF-01) or on the recommended refill date (the firmware's
`refill.refill_forecast`, booked days before the alarm), whichever comes first, the bench refills to the
rig's reservoir capacity at the program's concentration, declaring the rig's residual as measured.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_py import program as fw_program
from firmware_py import program_checks, units
from firmware_py import refill as fw_refill
from firmware_py.protocol import ARG
from host_tools import bench_report, display
from host_tools.bench_report import (
    TOLERANCE,
    BenchResult,
    Row,
    exact_dose_ng,
    exact_dose_q,
    pint_total_mg,
    summary,
)
from host_tools.client import RigClient
from host_tools.errors import UsageError, VerificationError
from host_tools.progress import Progress
from host_tools.replies import AdvanceAck, Reading, Refill, RigRefusedError, RigStatus
from host_tools.source import Source

if TYPE_CHECKING:
    from host_tools.bench_builtin import BuiltinSetup

S_PER_H = units.S_PER_H
MAX_DAYS = 3660
DEFAULT_BATCH_HOURS = 24  # hourly readings per ADV frame (a day: fits one frame at any dose)
AUTO_BATCH_HOURS = 48  # asked for by default; the rig refuses (NAK ARG) when they do not fit: then 24
# -- records ----------------------------------------------------------------------------------------------


# Before the first reading: nothing delivered or expected yet.
_NO_ROW = Row(-1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "")


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
        builtin: BuiltinSetup | None = None,
    ) -> None:
        if not 1 <= days <= MAX_DAYS:
            raise UsageError(f"--days: '{days}' must be 1 to {MAX_DAYS}", field="--days", value=days)
        self.auto_batch = batch_hours is None
        batch_hours = AUTO_BATCH_HOURS if batch_hours is None else batch_hours
        if batch_hours < 1:
            raise UsageError(f"--batch: '{batch_hours}' must be at least 1", field="--batch")
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
        self.builtin = builtin  # how the built-in rig was set up (host_tools.bench_builtin), or None

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
        if self.builtin is not None:  # the predecessor first, and a refusal with the built-in rig's hint
            st = self.builtin.before_load(self.client, self.source, st, self.log)
        fill = Refill.full(p.reservoir_nl, p.conc_ng_per_ul, st)
        residual = fill.measured_residual_nl
        load = self.client.load if self.builtin is None else self.builtin.loader(self.client)
        result = load(self.data, fill)
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
        bar = Progress(total_hours, self.progress)
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
        return bench_report.finish(self)


def run_bench(
    client: RigClient,
    source: Source | bytes,
    *,
    days: int,
    out_dir: str | Path,
    batch_hours: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    builtin: BuiltinSetup | None = None,
) -> BenchResult:
    """Run a bench session on `client` with `source` (a `host_tools.source.Source` or an encoding; see the
    module docstring); `builtin`: how the built-in rig was set up (`host_tools.bench_builtin.plan`).

    Raises `CommError` (exit 3) when the rig cannot be reached; a delivery outside tolerance is reported in
    the result (`passed` False), not raised.
    """
    if isinstance(source, bytes):
        source = Source.from_bytes(source)
    session = BenchSession(
        client, source, days=days, out_dir=Path(out_dir), batch_hours=batch_hours, progress=progress, log=log,
        builtin=builtin,
    )
    return session.run()


__all__ = ["TOLERANCE", "BenchResult", "BenchSession", "Row", "exact_dose_ng", "pint_total_mg", "run_bench",
           "summary"]
