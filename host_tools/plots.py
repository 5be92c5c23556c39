"""PNG pictures of a program (matplotlib, Agg backend, the optional extra `itb[plots]`): the 24 h rate
profile and the reservoir forecast. The pictures of a bench session are in `host_tools.plots_session`.

Public API (also used by the rig commands):

- ``available() -> bool``: whether matplotlib is installed (without it no PNG is written, all else works).
- ``plot_profile(schedule, windows, lead_s, conc_ng_per_ul, path, title="") -> Path``: the programmed dose
  rate over the day (per hour on the left axis, per day on the right; weekly schedules: one line per
  distinct day) with the desired-effect windows shaded and the lead of each step marked.
- ``plot_reservoir(schedule, conc_ng_per_ul, reservoir_nl, alarm_nl, path, start_s=0, title="") -> Path``:
  reservoir volume from a fill at ``start_s`` until empty, the low-reservoir alarm line and alarm/empty times.
- ``plot_source(path, out_dir) -> (profile_png, reservoir_png)``: both pictures for a prescription (.toml)
  or a written program (.json, checksums verified); without matplotlib a UsageError (exit 2) that says how
  to install it.

The ``*_figure`` functions return the figure unsaved (the tests check its label layout). Labels never sit on
a curve or past an edge: legends go below the axes, labels inside the axes sit in a band above the curves
(`place_labels`). Times are shown as the CLI shows them (`display.duration`, truncated). Arguments are core
values (ints in base units, a firmware_py Schedule and Windows). Files are written atomically.
"""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from firmware_py import flow as fw_flow
from firmware_py import refill as fw_refill
from firmware_py import schedule as core_schedule
from firmware_py.units import H_PER_DAY, NG_PER_MCG, S_PER_DAY, S_PER_H, S_PER_WEEK, hhmm, per_hour
from firmware_py.windows import Window
from host_tools import display

BLUE = "#1f5fa8"
ORANGE = "#d9822b"
RED = "#c0392b"
GREEN = "#2e8b57"
GREY = "#7f7f7f"
MARKER_GID = "marker"  # a vertical guide line (an event time), not a curve
INSTALL_HINT = "pip install 'itb[plots]'"
TOP_BAND = 1.5  # the y range is this times the highest curve: labels sit in the band above it


def available() -> bool:
    """Whether matplotlib can be imported (the `plots` extra)."""
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def figure(nrows: int = 1, **kw: Any) -> tuple[Any, Any]:
    """A figure laid out by matplotlib's constrained layout (nothing clipped at the figure's edge)."""
    size = (10, 5.2 if nrows == 1 else 6.4)
    fig, axes = _pyplot().subplots(nrows, 1, figsize=size, layout="constrained", **kw)
    return fig, axes


def save(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write the figure as a PNG atomically (host_tools.outfile) and close it."""
    from host_tools import outfile  # noqa: PLC0415

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _pyplot().close(fig)
    outfile.write("--out-dir", str(path), buf.getvalue())
    return Path(path)


def legend_below(fig: Any, axes: Sequence[Any], ncol: int = 3) -> None:
    """One legend for all the axes, below them, outside the plotting area."""
    handles, labels = [], []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=8, frameon=False)


def place_labels(ax: Any, texts: Sequence[Any], pad_px: float = 4.0) -> None:
    """Keep the texts (in axes coordinates, top-aligned) inside the axes and off each other: a text past the
    right edge moves left, and a text that would overlap one already placed moves down a row."""
    if not texts:
        return
    fig = ax.figure
    fig.canvas.draw()  # the constrained layout first: then the axes box is final
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    rows: list[list[tuple[float, float]]] = []
    for t in sorted(texts, key=lambda t: t.get_position()[0]):
        x, y = t.get_position()
        ext = t.get_window_extent(renderer)
        shift = max(0.0, ext.x1 - (box.x1 - pad_px))  # > 0: moves left
        if ext.x0 - shift < box.x0 + pad_px:
            shift = ext.x0 - (box.x0 + pad_px)
        x -= shift / box.width
        x0, x1 = ext.x0 - shift, ext.x1 - shift
        row = next((i for i, r in enumerate(rows) if all(x1 + pad_px < a or x0 > b + pad_px for a, b in r)),
                   len(rows))
        if row == len(rows):
            rows.append([])
        rows[row].append((x0, x1))
        t.set_position((x, y - row * (ext.height + pad_px) / box.height))


def _mcg_per_h(ng_per_day: int) -> float:
    # The plotted height: the one per-hour conversion (rounded down to the ng/h, as every display), in mcg.
    return per_hour(ng_per_day)[0] / NG_PER_MCG


def _stepped(rates: Sequence[int]) -> tuple[list[float], list[float]]:
    # The rate at each minute of a day as the vertices of a step curve (hours, mcg/h).
    xs, ys = [0.0], [_mcg_per_h(rates[0])]
    for m in range(1, len(rates)):
        if rates[m] != rates[m - 1]:
            xs += [m / 60, m / 60]
            ys += [_mcg_per_h(rates[m - 1]), _mcg_per_h(rates[m])]
    xs.append((len(rates) - 1) / 60)
    ys.append(_mcg_per_h(rates[-1]))
    return xs, ys


def _day_profiles(schedule: core_schedule.Schedule) -> dict[tuple[int, ...], list[int]]:
    # Each distinct day of the period (one for a daily schedule) with the weekdays that run it.
    days = [0] if schedule.period_s == S_PER_DAY else list(range(7))
    out: dict[tuple[int, ...], list[int]] = {}
    for d in days:
        rates = tuple(_rate_at_phase(schedule, d * S_PER_DAY + m * 60) for m in range(24 * 60 + 1))
        out.setdefault(rates, []).append(d)
    return out


def _window_text(w: Window) -> str:
    p = w.change_permille
    what = (("+" if p > 0 else "") + display.percent(p)) if p is not None else display.mcg_per_day(
        w.dose_ng_per_day or 0)
    days = ",".join(core_schedule.DAY_NAMES[d] for d in w.days) + " " if w.days else ""
    return f"{days}effect {hhmm(w.start_s)}-{hhmm(w.end_s)} {what}"


def _lead_pieces(start_h: float, lead_h: float) -> list[tuple[float, float]]:
    # The lead before a window starting at start_h, as pieces inside [0, 24] (it may wrap past midnight).
    x0 = start_h - lead_h
    if x0 >= 0:
        return [(x0, start_h)]
    return [(p0, p1) for p0, p1 in ((x0 + 24, 24.0), (0.0, start_h)) if p1 > p0]


LEAD_ROW = 0.09  # lead arrows that would touch stack upward in rows this far apart (times the highest curve)
LEAD_GAP_H = 0.15  # the least gap between two lead arrows in one row, in hours
LEAD_LABEL_HALF_H = 0.9  # half the width of a "2 h lead" label, in hours (the arrow's row keeps it clear)


def _lead_rows(windows: Sequence[Window], lead_h: float) -> list[int]:
    # Each window's row of lead arrows: the lowest whose arrows and labels it does not touch.
    taken: list[list[tuple[float, float]]] = []
    rows = [0] * len(windows)
    for i in sorted(range(len(windows)), key=lambda k: windows[k].start_s):
        pieces = _lead_pieces(windows[i].start_s / S_PER_H, lead_h)
        p0, p1 = max(pieces, key=lambda p: p[1] - p[0])
        mid = (p0 + p1) / 2
        spans = [(a - LEAD_GAP_H, b + LEAD_GAP_H) for a, b in pieces]
        spans.append((mid - LEAD_LABEL_HALF_H, mid + LEAD_LABEL_HALF_H))
        row = next((r for r, used in enumerate(taken)
                    if all(b <= c or a >= d for a, b in spans for c, d in used)), len(taken))
        if row == len(taken):
            taken.append([])
        taken[row] += spans
        rows[i] = row
    return rows


def _draw_windows(
    ax: Any, windows: Sequence[Window], lead_s: int, top: float
) -> tuple[list[Any], list[list[Any]], float]:
    # The windows' spans and labels, the lead arrows (in rows that do not touch), their labels by row, and
    # the y range needed (times the highest curve).
    labels = []
    for i, w in enumerate(windows):
        for n, (a, b) in enumerate(_spans(w.start_s, w.end_s)):
            ax.axvspan(a / S_PER_H, b / S_PER_H, color=ORANGE, alpha=0.18, lw=0,
                       label="desired effect" if i == 0 and n == 0 else None)
        labels.append(ax.text(w.start_s / S_PER_DAY + 0.004, 0.97, _window_text(w), transform=ax.transAxes,
                              fontsize=8, color=ORANGE, va="top", in_layout=False))
    rows = _lead_rows(windows, lead_s / S_PER_H) if lead_s else []
    band = TOP_BAND + LEAD_ROW * max(rows, default=0)
    lead_labels: list[list[Any]] = [[] for _ in range(max(rows, default=-1) + 1)]
    for w, row in zip(windows, rows, strict=True):
        pieces = _lead_pieces(w.start_s / S_PER_H, lead_s / S_PER_H)
        y = top * (1.08 + LEAD_ROW * row)
        for p0, p1 in pieces:
            ax.annotate("", xy=(p0, y), xytext=(p1, y),
                        arrowprops={"arrowstyle": "->", "color": RED, "lw": 1.5})
        p0, p1 = max(pieces, key=lambda p: p[1] - p[0])
        y_label = (1.1 + LEAD_ROW * row) / band  # just above the arrows, in axes coordinates
        lead_labels[row].append(ax.text((p0 + p1) / 48, y_label, f"{lead_s / S_PER_H:g} h lead",
                                        transform=ax.transAxes, color=RED, ha="center", va="bottom",
                                        fontsize=9, in_layout=False))
    return labels, lead_labels, band


def profile_figure(
    schedule: core_schedule.Schedule, windows: Sequence[Window], lead_s: int, conc_ng_per_ul: int,
    *, title: str = "",
) -> Any:
    """The 24 h rate profile as an unsaved figure (see `plot_profile`)."""
    fig, ax = figure()
    profiles = _day_profiles(schedule)
    top = 0.0
    for n, (rates, ds) in enumerate(profiles.items()):
        label = "programmed rate"
        if len(profiles) > 1:
            label += " (" + ",".join(core_schedule.DAY_NAMES[d] for d in ds) + ")"
        xs, ys = _stepped(rates)
        top = max(top, *ys)
        ax.plot(xs, ys, color=BLUE if n == 0 else ORANGE, lw=2.2, label=label, ls="-" if n == 0 else "--")
    top = top or 1.0
    base = schedule_base(schedule, min(min(r) for r in profiles))
    labels, lead_labels, band = _draw_windows(ax, windows, lead_s, top)
    ax.set_xlim(0, 24)
    ax.set_ylim(0, top * band)
    ax.set_xticks(range(0, 25, 2))
    ax.set_xticklabels([f"{h:02d}:00" for h in range(0, 25, 2)], fontsize=8)
    ax.set_xlabel("time of day")
    ax.set_ylabel("dose rate (mcg/h)")
    ax.grid(alpha=0.3)
    right = ax.secondary_yaxis("right", functions=(lambda v: v * H_PER_DAY, lambda v: v / H_PER_DAY))
    right.set_ylabel("dose rate (mcg/day)")
    flow = fw_flow.flow(base, conc_ng_per_ul)
    note = f"{conc_ng_per_ul} mcg/mL; base {display.dose(base)} = {display.ml_per_day(flow.flow_nl_per_day)}"
    ax.set_title(f"{title or '24 h rate profile'}\n{note}", fontsize=10)
    legend_below(fig, [ax])
    place_labels(ax, labels)
    for row in lead_labels:
        place_labels(ax, row)
    return fig


def plot_profile(
    schedule: core_schedule.Schedule,
    windows: list[Window],
    lead_s: int,
    conc_ng_per_ul: int,
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> Path:
    """The 24 h rate profile: programmed steps against the desired-effect windows, the lead visible."""
    return save(profile_figure(schedule, windows, lead_s, conc_ng_per_ul, title=title), path)


def schedule_base(schedule: core_schedule.Schedule, fallback: int) -> int:
    """The most common rate of a schedule by time (the base dose for display)."""
    best, best_len = fallback, -1
    totals: dict[int, int] = {}
    for s, e, r in schedule.intervals():
        totals[r] = totals.get(r, 0) + (e - s)
    for r, length in totals.items():
        if length > best_len:
            best, best_len = r, length
    return best


def _rate_at_phase(schedule: core_schedule.Schedule, phase_s: int) -> int:
    phase_s %= schedule.period_s
    t = phase_s - core_schedule.WEEK_OFFSET_S if schedule.period_s == S_PER_WEEK else phase_s
    return schedule.rate_at(t)


def _spans(start_s: int, end_s: int) -> list[tuple[int, int]]:
    if end_s > start_s:
        return [(start_s, end_s)]
    return [(start_s, S_PER_DAY), (0, end_s)]


def reservoir_figure(
    schedule: core_schedule.Schedule, conc_ng_per_ul: int, reservoir_nl: int, alarm_nl: int,
    *, start_s: int = 0, title: str = "",
) -> Any:
    """The reservoir forecast from one full fill as an unsaved figure (see `plot_reservoir`)."""
    f = fw_refill.refill_forecast(reservoir_nl, conc_ng_per_ul, schedule, start_s=start_s, alarm_nl=alarm_nl)
    n = 400
    xs, ys = [], []
    for i in range(n + 1):
        t = f.empty_in_s * i // n
        used_nl = schedule.integral_between(start_s, start_s + t) * 1000 / S_PER_DAY / conc_ng_per_ul
        xs.append(t / S_PER_DAY)
        ys.append(max(0.0, (reservoir_nl - used_nl) / 1e6))
    fig, ax = figure()
    ax.plot(xs, ys, color=BLUE, lw=2.2, label="reservoir volume (forecast)")
    level = f"low-reservoir alarm level ({display.ml(alarm_nl)})"
    ax.axhline(alarm_nl / 1e6, color=RED, ls="--", lw=1.5, label=level)
    refill_in = f.refill_at_s - start_s
    for t, color, ls, text in (
        (f.alarm_in_s, RED, "-", f"low-reservoir alarm in {display.duration(f.alarm_in_s)}"),
        (f.empty_in_s, "black", "-", f"empty in {display.duration(f.empty_in_s)}"),
        (refill_in, ORANGE, ":", f"book the refill within {display.duration(refill_in)}"),
    ):
        ax.axvline(t / S_PER_DAY, color=color, ls=ls, lw=1.2, alpha=0.8, label=text, gid=MARKER_GID)
    ax.set_xlim(0, max(xs[-1], 1) * 1.02)
    ax.set_ylim(0, reservoir_nl / 1e6 * 1.08)
    ax.set_xlabel("days since fill")
    ax.set_ylabel("volume in reservoir (mL)")
    ax.grid(alpha=0.3)
    note = f"{display.ml(reservoir_nl)} at {conc_ng_per_ul} mcg/mL, from one fill"
    ax.set_title(f"{title or 'Reservoir over the refill interval'}\n{note}", fontsize=10)
    legend_below(fig, [ax])
    return fig


def plot_reservoir(
    schedule: core_schedule.Schedule,
    conc_ng_per_ul: int,
    reservoir_nl: int,
    alarm_nl: int,
    path: str | os.PathLike[str],
    *,
    start_s: int = 0,
    title: str = "",
) -> Path:
    """Reservoir volume from a full fill until empty, with the low-reservoir alarm line (ITB-REF-01)."""
    fig = reservoir_figure(schedule, conc_ng_per_ul, reservoir_nl, alarm_nl, start_s=start_s, title=title)
    return save(fig, path)


def plot_source(source: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Both PNGs for a prescription (.toml) or a written program (.json); returns their paths."""
    from host_tools import rx  # noqa: PLC0415
    from host_tools.errors import UsageError  # noqa: PLC0415

    if not available():
        raise UsageError(f"plot: matplotlib is not installed; the pictures need it ({INSTALL_HINT})")
    src = Path(source)
    out = Path(out_dir)
    if not out.is_dir():
        raise UsageError(f"--out-dir: {out} is not a directory")
    loaded = rx.load_source(src)
    prog, label = loaded.program, loaded.label or src.stem
    p1 = plot_profile(prog.schedule, loaded.windows, loaded.lead_s, prog.conc_ng_per_ul,
                      out / f"{src.stem}-profile.png", title=f"{label}: programmed rate vs desired effect")
    p2 = plot_reservoir(prog.schedule, prog.conc_ng_per_ul, prog.reservoir_nl, prog.alarm_nl,
                        out / f"{src.stem}-reservoir.png", start_s=loaded.fill_start_s or 0,
                        title=f"{label}: reservoir from fill to empty")
    return p1, p2


__all__ = ["available", "hhmm", "plot_profile", "plot_reservoir", "plot_source", "schedule_base"]
