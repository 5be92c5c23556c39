"""PNG pictures of a program (matplotlib, Agg backend): the 24 h rate profile and the reservoir curve.

Public API (also used by the rig commands):

- ``plot_profile(schedule, windows, lead_s, conc_ng_per_ul, path, title="") -> Path``: the programmed dose
  rate over the day (per hour on the left axis, per day on the right; weekly schedules: one line per
  distinct day) with the desired-effect windows shaded and the lead of each step marked.
- ``plot_reservoir(schedule, conc_ng_per_ul, reservoir_nl, alarm_nl, path, start_s=0, title="") -> Path``:
  reservoir volume from a fill at ``start_s`` until empty, the low-reservoir alarm line and alarm/empty days.
- ``plot_source(path, out_dir) -> (profile_png, reservoir_png)``: both pictures for a prescription (.toml)
  or a written program (.json, checksums verified).

Arguments are core values (ints in base units, a firmware_py Schedule and Windows). Files are written
atomically (temp file in the same directory, then os.replace).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from firmware_py import flow as fw_flow
from firmware_py import refill as fw_refill
from firmware_py import schedule as core_schedule
from firmware_py.units import S_PER_DAY, S_PER_H, S_PER_WEEK, hhmm
from firmware_py.windows import Window

_BLUE = "#1f5fa8"
_ORANGE = "#d9822b"
_RED = "#c0392b"
_GREY = "#7f7f7f"


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    from host_tools import outfile  # noqa: PLC0415

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _pyplot().close(fig)
    outfile.write("--out-dir", str(path), buf.getvalue())
    return Path(path)


def _mcg_per_h(ng_per_day: int) -> float:
    return ng_per_day / 24_000


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
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.8))
    days = [0] if schedule.period_s == S_PER_DAY else list(range(7))
    profiles: dict[tuple[int, ...], list[int]] = {}
    for d in days:
        # Rate at each minute of day d (phase), as a step curve.
        off = d * S_PER_DAY
        rates = tuple(_rate_at_phase(schedule, off + m * 60) for m in range(24 * 60 + 1))
        profiles.setdefault(rates, []).append(d)
    hours = [m / 60 for m in range(24 * 60 + 1)]
    top = 0.0
    for n, (rates, ds) in enumerate(profiles.items()):
        label = "programmed rate"
        if len(profiles) > 1:
            label += " (" + ",".join(core_schedule.DAY_NAMES[d] for d in ds) + ")"
        ys = [_mcg_per_h(r) for r in rates]
        top = max(top, *ys)
        ax.step(
            hours,
            ys,
            where="post",
            color=_BLUE if n == 0 else _ORANGE,
            lw=2.2,
            label=label,
            ls="-" if n == 0 else "--",
        )
    base = min(min(r) for r in profiles)
    # Desired-effect windows (shaded) and the lead arrow from each window start back to its step start.
    for i, w in enumerate(windows):
        rate = _mcg_per_h(w.rate(schedule_base(schedule, base)))
        for a, b in _spans(w.start_s, w.end_s):
            ax.axvspan(
                a / S_PER_H,
                b / S_PER_H,
                color=_ORANGE,
                alpha=0.18,
                lw=0,
                label="desired effect" if i == 0 and a == _spans(w.start_s, w.end_s)[0][0] else None,
            )
        what = (
            f"{w.change_permille / 10:+g} %"
            if w.change_permille is not None
            else f"{(w.dose_ng_per_day or 0) / 1000:g} mcg/day"
        )
        label_x = w.start_s / S_PER_H + 0.1 if w.end_s > w.start_s else 0.1
        ax.text(
            label_x,
            0.9,
            f"effect {hhmm(w.start_s)}-{hhmm(w.end_s)} {what}",
            transform=ax.get_xaxis_transform(),
            fontsize=8,
            color=_ORANGE,
            va="top",
            clip_on=True,
        )
        if lead_s:
            x1 = w.start_s / S_PER_H
            x0 = x1 - lead_s / S_PER_H
            y = rate * 1.04
            ax.annotate(
                "",
                xy=(x0 % 24 if x0 >= 0 else x0 + 24, y),
                xytext=(x1, y),
                arrowprops={"arrowstyle": "->", "color": _RED, "lw": 1.5},
            )
            ax.text(
                (x1 - lead_s / S_PER_H / 2) % 24,
                y * 1.01,
                f"{lead_s / S_PER_H:g} h lead",
                color=_RED,
                ha="center",
                va="bottom",
                fontsize=9,
            )
    ax.set_xlim(0, 24)
    ax.set_ylim(0, top * 1.25 if top else 1)
    ax.set_xticks(range(0, 25, 2))
    ax.set_xticklabels([f"{h:02d}:00" for h in range(0, 25, 2)], fontsize=8)
    ax.set_xlabel("time of day")
    ax.set_ylabel("dose rate (mcg/h)")
    ax.grid(alpha=0.3)
    right = ax.secondary_yaxis("right", functions=(lambda v: v * 24, lambda v: v / 24))
    right.set_ylabel("dose rate (mcg/day)")
    flow = fw_flow.flow(schedule_base(schedule, base), conc_ng_per_ul)
    note = (
        f"{conc_ng_per_ul} mcg/mL; base {schedule_base(schedule, base) / 1000:g} mcg/day = "
        f"{flow.flow_nl_per_day / 1e6:g} mL/day"
    )
    ax.set_title(title or "24 h rate profile", fontsize=11)
    ax.text(0.01, 0.03, note, transform=ax.transAxes, fontsize=8, color=_GREY)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    return _save(fig, path)


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
    plt = _pyplot()
    f = fw_refill.refill_forecast(reservoir_nl, conc_ng_per_ul, schedule, start_s=start_s, alarm_nl=alarm_nl)
    end = f.empty_in_s
    n = 400
    xs, ys = [], []
    for i in range(n + 1):
        t = end * i // n
        drug_ng_s_per_day = schedule.integral_between(start_s, start_s + t)
        # volume used (nL) = drug (ng) / conc (ng/uL) * 1000
        used_nl = drug_ng_s_per_day * 1000 / S_PER_DAY / conc_ng_per_ul
        xs.append(t / S_PER_DAY)
        ys.append(max(0.0, (reservoir_nl - used_nl) / 1e6))
    fig, ax = plt.subplots(figsize=(10, 4.8))
    ax.plot(xs, ys, color=_BLUE, lw=2.2, label="reservoir volume")
    ax.axhline(
        alarm_nl / 1e6, color=_RED, ls="--", lw=1.5, label=f"low-reservoir alarm ({alarm_nl / 1e6:g} mL)"
    )
    alarm_d, empty_d, refill_d = (
        f.alarm_in_s / S_PER_DAY,
        f.empty_in_s / S_PER_DAY,
        (f.refill_at_s - start_s) / S_PER_DAY,
    )
    ax.axvline(alarm_d, color=_RED, lw=1, alpha=0.6)
    ax.axvline(refill_d, color=_ORANGE, lw=1.2, ls=":", label=f"refill by day {refill_d:.1f}")
    ax.annotate(
        f"alarm: day {alarm_d:.1f}",
        (alarm_d, alarm_nl / 1e6),
        xytext=(-8, 30),
        textcoords="offset points",
        ha="right",
        color=_RED,
        fontsize=9,
        arrowprops={"arrowstyle": "->", "color": _RED},
    )
    ax.annotate(
        f"empty: day {empty_d:.1f}",
        (empty_d, 0),
        xytext=(-8, 50),
        textcoords="offset points",
        ha="right",
        fontsize=9,
        arrowprops={"arrowstyle": "->"},
    )
    ax.set_xlim(0, max(xs[-1], 1) * 1.02)
    ax.set_ylim(0, reservoir_nl / 1e6 * 1.08)
    ax.set_xlabel("days since fill")
    ax.set_ylabel("volume in reservoir (mL)")
    ax.grid(alpha=0.3)
    ax.set_title(title or "Reservoir over the refill interval", fontsize=11)
    ax.text(
        0.99,
        0.97,
        f"{reservoir_nl / 1e6:g} mL at {conc_ng_per_ul} mcg/mL",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
        color=_GREY,
    )
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    return _save(fig, path)


def plot_source(source: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Both PNGs for a prescription (.toml) or a written program (.json); returns their paths."""
    from host_tools import rx  # noqa: PLC0415
    from host_tools.errors import UsageError  # noqa: PLC0415

    src = Path(source)
    out = Path(out_dir)
    if not out.is_dir():
        raise UsageError(f"--out-dir: {out} is not a directory")
    loaded = rx.load_source(src)
    prog, windows, lead_s, label = loaded.program, loaded.windows, loaded.lead_s, loaded.label
    start_s = loaded.fill_start_s or 0
    stem = src.stem
    p1 = plot_profile(
        prog.schedule,
        windows,
        lead_s,
        prog.conc_ng_per_ul,
        out / f"{stem}-profile.png",
        title=f"{label or stem}: programmed rate vs desired effect",
    )
    p2 = plot_reservoir(
        prog.schedule,
        prog.conc_ng_per_ul,
        prog.reservoir_nl,
        prog.alarm_nl,
        out / f"{stem}-reservoir.png",
        start_s=start_s,
        title=f"{label or stem}: reservoir from fill to empty",
    )
    return p1, p2


__all__ = ["hhmm", "plot_profile", "plot_reservoir", "plot_source", "schedule_base"]
