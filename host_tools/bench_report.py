"""What a bench session is judged by and what it reports: the tolerance, the independent reference path
(path 2 of `host_tools.bench`), report.json, delivery.csv, the pictures and the summary.

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
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_py import program as fw_program
from firmware_py import units
from firmware_py.schedule import Schedule
from host_tools import display
from host_tools import quantities as qt
from host_tools.errors import VerificationError

if TYPE_CHECKING:
    from host_tools.bench import BenchSession


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


@dataclass
class BenchResult:
    """The outcome of a bench session, and where its files are."""

    passed: bool
    report: dict[str, Any]
    rows: list[Row]
    files: dict[str, str]
    failures: list[str]



CSV_COLUMNS = (
    "hour", "t0_s", "t1_s", "rate_ng_per_day", "delivered_ng", "expected_ng", "exact_ng", "deviation_ng",
    "delivered_nl", "expected_nl", "cum_delivered_ng", "cum_expected_ng", "cum_delivered_nl",
    "cum_expected_nl", "reservoir_nl", "alarm", "event",
)  # fmt: skip


def finish(session: BenchSession) -> BenchResult:
    """Check the session totals, write report.json, delivery.csv and the pictures; the result."""
    self = session
    rows = self.rows
    end = rows[-1].t1_s if rows else self.t_start
    exact_total = exact_dose_ng(self.program.schedule, self.t_start, end)
    mg = pint_total_mg(self.program.schedule, [(self.t_start, end)])
    if mg * units.NG_PER_MG != exact_total:
        raise VerificationError(f"pint total {mg} mg != stepped total {exact_total} ng")
    delivered = rows[-1].cum_delivered_ng if rows else 0
    n_fills = len(self.fills)
    if not exact_total - n_fills < delivered <= exact_total:
        self.failures.append(
            f"total delivered {delivered} ng is outside [exact - fills, exact] = "
            f"({float(exact_total) - n_fills:.3f}, {float(exact_total):.3f}] ng"
        )
    passed = not self.failures
    report = _report(self, end, exact_total, mg)
    files = _write(self, report)
    report["files"] = {k: Path(v).name for k, v in files.items()}
    report["plots_skipped"] = self.plots_note or None
    (self.out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return BenchResult(passed, report, rows, files, self.failures)


def _report(self: BenchSession, end: int, exact_total: Fraction, mg: Fraction) -> dict[str, Any]:
    rows = self.rows
    max_dev = max((abs(r.deviation_ng) for r in rows), default=Fraction(0))
    max_cum_dev = max((abs(r.cum_delivered_ng - r.cum_expected_ng) for r in rows), default=0)
    delivered = rows[-1].cum_delivered_ng if rows else 0
    expected = rows[-1].cum_expected_ng if rows else 0
    p = self.program
    return {
        "result": "fail" if self.failures else "pass",
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
        "builtin_rig": self.builtin.to_json() if self.builtin else None,
        "tolerance": TOLERANCE,
        "alarms": self.alarms,
        "refills": self.refills,
        "failures": self.failures[:MAX_FAILURES_REPORTED],
        "failure_count": len(self.failures),
        "retries": self.client.retried,
        "lost_replies_recovered": self.client.recovered,
    }


def _write(self: BenchSession, report: dict[str, Any]) -> dict[str, str]:
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




def _plots(session: BenchSession, out_dir: Path) -> dict[str, str]:
    # The session's PNGs (host_tools.plots_session), or one line saying why there are none.
    from host_tools import plots  # noqa: PLC0415

    if not plots.available():
        # Said once, in the summary (and in report.json), not also as an event line.
        session.plots_note = f"plots skipped: matplotlib is not installed ({plots.INSTALL_HINT} to get them)"
        return {}
    from host_tools import plots_session  # noqa: PLC0415

    return plots_session.write(session, out_dir)


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
    builtin = rep.get("builtin_rig") or {}
    if builtin:
        c = builtin["config"]
        how = ("set up as the program's pump" if builtin["config_from_program"]
               else "in its bench configuration")
        lines.append(f"  built-in rig {how}: {c['pump']}, reservoir {display.ml(c['res'])}, catheter "
                     f"{display.cm(c['cath'])}, minimum step {display.duration(c['minstep'])}")
    pred = builtin.get("predecessor")
    if pred:
        lines.append(f"  before it: the [previous] program {pred['program_id']} ran "
                     f"{display.duration(pred['since_change_s'])} on the built-in rig "
                     f"({display.plural(len(pred['refills']), 'refill')})")
    if rep["failures"]:
        lines.append(f"  {rep['failure_count']} problem(s), first: {rep['failures'][0]}")
    names = ", ".join(sorted(result.files[k] for k in result.files))
    lines.append(f"  {'PASS' if result.passed else 'FAIL'}; wrote {names}")
    if rep.get("plots_skipped"):
        lines.append(f"  {rep['plots_skipped']}")
    return "\n".join(lines)
