"""PNG pictures of a bench session, from what the rig reported (matplotlib, the optional `itb[plots]`).

- ``reservoir_figure(session)``: the reservoir volume the rig's readings give over the whole run (the fill
  minus the delivered volume it reported, hour by hour), every refill and every alarm marked, and the volume
  the program predicts beside it (the host's exact reference with the same fills).
- ``delivery_figure(session)``: cumulative delivered dose against expected, and on its own axis the
  deviation in ng: each hour's delivered dose minus its exact dose, and the cumulative deviation.
- ``write(session, out_dir) -> {key: path}``: those two and the program's 24 h profile as PNGs.

`session` is a `host_tools.bench.BenchSession` after its run (rows, refills, alarms). Layout as in
`host_tools.plots`: legends below the axes, no label inside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_py.units import S_PER_DAY
from host_tools import display, plots

if TYPE_CHECKING:
    from host_tools.bench import BenchSession


def _days(session: BenchSession, t_s: int) -> float:
    return (t_s - session.t_start) / S_PER_DAY


def _volumes(session: BenchSession) -> tuple[list[float], list[float], list[float]]:
    # (days, measured mL, expected mL) with a vertical jump at every refill.
    first = session.refills[0]["added_nl"] / 1e6 if session.refills else 0.0
    xs, measured, expected = [0.0], [first], [first]
    later = sorted(session.refills[1:], key=lambda r: r["t_s"])
    i = 0
    for row in session.rows:
        while i < len(later) and later[i]["t_s"] <= row.t0_s:
            xs.append(_days(session, later[i]["t_s"]))
            measured.append(later[i]["added_nl"] / 1e6)
            expected.append(later[i]["added_nl"] / 1e6)
            i += 1
        xs.append(_days(session, row.t1_s))
        measured.append(row.reservoir_nl / 1e6)
        expected.append((row.reservoir_nl + row.cum_delivered_nl - row.cum_expected_nl) / 1e6)
    for r in later[i:]:
        xs.append(_days(session, r["t_s"]))
        measured.append(r["added_nl"] / 1e6)
        expected.append(r["added_nl"] / 1e6)
    return xs, measured, expected


def _title(session: BenchSession, what: str) -> str:
    name = session.source.label or session.name or session.prog_id
    n_refills, n_alarms = len(session.refills) - 1, len(session.alarms)
    return (f"{name}: {what}\nbench {session.prog_id}, {display.plural(session.days, 'day')}: "
            f"{display.plural(n_refills, 'refill')}, {display.plural(n_alarms, 'alarm')}")


def _mark_refills(session: BenchSession, axes: list[Any]) -> None:
    for ax in axes:
        for n, r in enumerate(session.refills[1:]):
            ax.axvline(_days(session, r["t_s"]), color=plots.GREEN, lw=1, ls=":", gid=plots.MARKER_GID,
                       label="refill" if n == 0 and ax is axes[0] else None)


def reservoir_figure(session: BenchSession) -> Any:
    """The session's reservoir volume as the rig reported it, refills and alarms marked, expected beside."""
    fig, ax = plots.figure()
    xs, measured, expected = _volumes(session)
    ax.plot(xs, measured, color=plots.BLUE, lw=2.4, label="reservoir: fill minus the rig's delivered volume")
    ax.plot(xs, expected, color=plots.ORANGE, lw=1.2, ls="--", label="expected from the program")
    later = session.refills[1:]
    if later:
        ax.plot([_days(session, r["t_s"]) for r in later], [r["added_nl"] / 1e6 for r in later], ls="none",
                marker="^", ms=8, color=plots.GREEN,
                label=f"refill ({len(later)}): filled to {display.ml(later[0]['added_nl'])}")
        ax.plot([_days(session, r["t_s"]) for r in later], [r["measured_residual_nl"] / 1e6 for r in later],
                ls="none", marker="v", ms=6, color=plots.GREEN, label="residual at the refill")
    for kind, marker in (("low", "X"), ("empty", "s")):
        hits = [a for a in session.alarms if a["kind"] == kind]
        if hits:
            ax.plot([_days(session, a["t_s"]) for a in hits], [a["reservoir_nl"] / 1e6 for a in hits],
                    ls="none", marker=marker, ms=8, color=plots.RED,
                    label=f"{kind} reservoir alarm ({len(hits)})")
    alarm_nl = session.program.alarm_nl
    ax.axhline(alarm_nl / 1e6, color=plots.RED, ls="--", lw=1, label=f"alarm level ({display.ml(alarm_nl)})")
    top = max([*measured, 0.001])
    ax.set_xlim(0, max(xs[-1], 1 / 24))
    ax.set_ylim(0, top * 1.1)
    ax.set_xlabel("days since the session's first fill")
    ax.set_ylabel("volume in reservoir (mL)")
    ax.grid(alpha=0.3)
    ax.set_title(_title(session, "reservoir as the rig reported it"), fontsize=10)
    plots.legend_below(fig, [ax], ncol=2)
    return fig


def delivery_figure(session: BenchSession) -> Any:
    """Cumulative delivered dose against expected; below, the deviation in ng."""
    fig, (top, dev) = plots.figure(2, sharex=True, height_ratios=[2, 1])
    xs = [0.0] + [_days(session, r.t1_s) for r in session.rows]
    top.plot(xs, [0.0] + [r.cum_delivered_ng / 1e6 for r in session.rows], color=plots.BLUE, lw=2.4,
             label="delivered (the rig's readings)")
    top.plot(xs, [0.0] + [r.cum_expected_ng / 1e6 for r in session.rows], color=plots.ORANGE, lw=1.2,
             ls="--", label="expected (exact integral, floored per fill)")
    hourly = [float(r.deviation_ng) for r in session.rows]
    cum = [r.cum_delivered_ng - r.cum_expected_ng for r in session.rows]
    dev.plot(xs[1:], hourly, color=plots.BLUE, lw=0.8, label="each hour: delivered - exact (ng)")
    dev.plot(xs[1:], cum, color=plots.ORANGE, lw=1.6, label="cumulative: delivered - expected (ng)")
    for y in (-1, 1):
        dev.axhline(y, color=plots.RED, ls=":", lw=1, label="hourly tolerance (< 1 ng)" if y == 1 else None)
    _mark_refills(session, [top, dev])
    span = max([1.0, *(abs(v) for v in hourly), *(abs(v) for v in cum)])
    dev.set_ylim(-span * 1.3, span * 1.3)
    top.set_ylim(0, max([1e-6, *(r.cum_delivered_ng / 1e6 for r in session.rows[-1:])]) * 1.1)
    dev.set_xlim(0, max(xs[-1], 1 / 24))
    top.set_ylabel("cumulative dose (mg)")
    dev.set_ylabel("deviation (ng)")
    dev.set_xlabel("days since the session's first fill")
    for ax in (top, dev):
        ax.grid(alpha=0.3)
    top.set_title(_title(session, "delivered against expected"), fontsize=10)
    plots.legend_below(fig, [top, dev], ncol=2)
    return fig


def write(session: BenchSession, out_dir: Path) -> dict[str, str]:
    """The session's three PNGs in out_dir: profile.png, reservoir.png, delivery.png."""
    p = session.program
    src = session.source
    name = src.label or session.name or session.prog_id
    profile = plots.profile_figure(p.schedule, src.windows, src.lead_s, p.conc_ng_per_ul,
                                   title=f"{name}: programmed rate (bench {session.prog_id})")
    out = {
        "profile_png": plots.save(profile, out_dir / "profile.png"),
        "reservoir_png": plots.save(reservoir_figure(session), out_dir / "reservoir.png"),
        "delivery_png": plots.save(delivery_figure(session), out_dir / "delivery.png"),
    }
    return {k: str(v) for k, v in out.items()}
