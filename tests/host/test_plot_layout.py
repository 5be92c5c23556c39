"""The pictures are legible: for every example, no label (text, title, tick label, legend) lies over a
curve, past the figure's edge, or over another label, and labels placed inside the axes stay inside them;
measured with matplotlib's own text extents after the layout. Programs: the profile and reservoir forecast
of every example that builds (refused-titration is refused before any picture). Sessions: the reservoir
and delivery pictures of bench runs on a fresh virtual rig of the examples a fresh rig accepts (night-boost,
also for a year with its 28 refills, and initial), and one with an alarm in its record. Times on the
pictures are the CLI's (`display.duration`, truncated), never rounded up."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools import display, examples, plots, plots_session, rx
from host_tools.bench import BenchSession
from host_tools.errors import RefusedError
from tests.host.rig_support import client_for, served

pytest.importorskip("matplotlib")

from matplotlib.axis import Axis
from matplotlib.text import Text

PROGRAM_EXAMPLES = [n for n in examples.names() if n != "refused-titration"]
PAD = 1.0  # px of slack for antialiasing


def _segments_hit(points: Any, box: Any) -> bool:
    # Whether a polyline (display coordinates) crosses the box: Liang-Barsky on each segment.
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        t0, t1, dx, dy = 0.0, 1.0, x1 - x0, y1 - y0
        for p, q in ((-dx, x0 - box.x0), (dx, box.x1 - x0), (-dy, y0 - box.y0), (dy, box.y1 - y0)):
            if p == 0:
                if q < 0:
                    break
                continue
            r = q / p
            if p < 0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
        else:
            if t0 <= t1:
                return True
    return False


def _shrunk(box: Any) -> Any:
    return box.padded(-PAD)


def _curve_hits(line: Any, box: Any, clip: Any) -> bool:
    # A curve (or its markers) drawn inside the axes' box, crossing the text's box.
    inner = type(box).intersection(_shrunk(box), clip)
    if inner is None:
        return False
    pts = line.get_transform().transform(line.get_xydata())
    if line.get_linestyle() not in ("None", "none", " ", "") and _segments_hit(pts, inner):
        return True
    if line.get_marker() not in (None, "None", "none", "", " "):
        r = line.get_markersize() / 2 * line.figure.dpi / 72
        return any(inner.x0 - r < x < inner.x1 + r and inner.y0 - r < y < inner.y1 + r for x, y in pts)
    return False


def _labels(fig: Any) -> list[Any]:
    # The texts the figure draws: tick labels only of the ticks the axis draws (inside its view interval).
    ticks: set[int] = set()
    drawn = []
    for axis in fig.findobj(Axis):
        every = axis.get_major_ticks() + axis.get_minor_ticks()
        ticks |= {id(t) for tick in every for t in (tick.label1, tick.label2)}
        drawn += [t for tick in axis._update_ticks() for t in (tick.label1, tick.label2)]
    texts = [t for t in fig.findobj(Text) if id(t) not in ticks] + drawn
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def layout_problems(fig: Any) -> list[str]:
    """Every label over a curve, past the figure, outside its axes, or over another label."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    out = []
    labels = [(t, t.get_window_extent(r)) for t in _labels(fig)]
    boxes = labels + [(leg, leg.get_window_extent(r)) for leg in fig.legends]
    edge = fig.bbox.padded(PAD)
    for t, box in labels:
        if not (edge.contains(box.x0, box.y0) and edge.contains(box.x1, box.y1)):
            out.append(f"past the figure's edge: {t.get_text()!r}")
    for ax in fig.axes:
        clip = ax.get_window_extent(r)
        for t in ax.texts:
            b = t.get_window_extent(r)
            if t.get_text().strip() and not (clip.x0 <= b.x0 and b.x1 <= clip.x1 and clip.y0 <= b.y0 and
                                             b.y1 <= clip.y1):
                out.append(f"past the axes' edge: {t.get_text()!r}")
        for line in ax.lines:
            if line.get_gid() == plots.MARKER_GID or not line.get_visible():
                continue
            for t, box in boxes:
                if _curve_hits(line, box, clip):
                    what = t.get_text() if isinstance(t, Text) else "the legend"
                    out.append(f"over the curve {line.get_label()!r}: {what!r}")
    for i, (a, abox) in enumerate(labels):
        for b, bbox in labels[i + 1 :]:
            if _shrunk(abox).overlaps(_shrunk(bbox)):
                out.append(f"labels overlap: {a.get_text()!r} and {b.get_text()!r}")
    arrows = [a.arrow_patch.get_window_extent(r) for ax in fig.axes for a in ax.texts
              if getattr(a, "arrow_patch", None) is not None]
    for i, abox in enumerate(arrows):
        out += [f"arrows touch at x={abox.x0:.0f} px" for bbox in arrows[i + 1 :]
                if _shrunk(abox).overlaps(_shrunk(bbox))]
        out += [f"over an arrow: {t.get_text()!r}" for t, box in labels
                if _shrunk(abox).overlaps(_shrunk(box))]
    return out


def _check(fig: Any) -> None:
    try:
        assert layout_problems(fig) == []
    finally:
        plots._pyplot().close(fig)


@pytest.mark.parametrize("name", PROGRAM_EXAMPLES)
def test_program_pictures_of_every_example(name: str) -> None:
    s = rx.load_source(examples.path(name))
    p = s.program
    _check(plots.profile_figure(p.schedule, s.windows, s.lead_s, p.conc_ng_per_ul, title=s.label))
    _check(plots.reservoir_figure(p.schedule, p.conc_ng_per_ul, p.reservoir_nl, p.alarm_nl,
                                  start_s=s.fill_start_s or 0, title=s.label))


CROWDED = """
label = "five short windows close together"
fill_date = 2025-03-03
[drug]
name = "baclofen"
concentration = "500 mcg/mL"
[pump]
kind = "programmable"
reservoir = "20 mL"
alarm_volume = "2 mL"
min_step = "30 min"
internal_volume = "0.2 mL"
catheter_length = "50 cm"
[patient]
origin = "spinal"
age = 34
[dose]
base = "500 mcg/day"
phase = "transfer"
[start]
previous = "500 mcg/day"
reason = "pump replaced"
""" + "".join(f'[[window]]\neffect = "{e}"\nchange = "{c}"\n' for e, c in [
    ("06:00-07:00", "+10%"), ("07:30-08:30", "+20%"), ("09:00-10:00", "-10%"), ("10:30-11:30", "+30%"),
    ("23:00-23:45", "+25%"), ("00:30-01:00", "+10%"),
])  # fmt: skip


def test_lead_arrows_of_close_windows_stack_apart(tmp_path: Path) -> None:
    """A new user's finding: the 2 h lead arrows of windows 30 min apart joined into one line from 04:00 to
    10:30, with the labels of a second row on it. Arrows that would touch now take rows of their own."""
    f = tmp_path / "crowded.toml"
    f.write_text(CROWDED)
    s = rx.load_source(f)
    p = s.program
    fig = plots.profile_figure(p.schedule, s.windows, s.lead_s, p.conc_ng_per_ul, title=s.label)
    assert len({round(a.xy[1], 6) for a in fig.axes[0].texts if getattr(a, "arrow_patch", None)}) >= 2
    _check(fig)


def test_the_refused_example_has_no_picture() -> None:
    with pytest.raises(RefusedError):
        rx.load_source(examples.path("refused-titration"))


def test_the_forecast_shows_times_as_the_cli_does() -> None:
    s = rx.load_source(examples.path("night-boost"))
    p = s.program
    fig = plots.reservoir_figure(p.schedule, p.conc_ng_per_ul, p.reservoir_nl, p.alarm_nl,
                                 start_s=s.fill_start_s or 0)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    plots._pyplot().close(fig)
    alarm_s = 16 * 86_400 + 21 * 3600 + 20 * 60  # `itb program build`: alarm in 16 days 21 h 20 min
    assert f"low-reservoir alarm in {display.duration(alarm_s)}" in labels
    assert "low-reservoir alarm in 16 days 21 h 20 min" in labels


def _session(name: str, days: int, tmp: Path) -> BenchSession:
    src = rx.load_source(examples.path(name))
    with served(start_s=src.fill_start_s) as vr, client_for(vr) as c:
        session = BenchSession(c, src, days=days, out_dir=tmp, progress=False)
        assert session.run().passed
    return session


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BenchSession]]:
    runs = {"night-boost": 14, "initial": 14, "night-boost-year": 365}
    yield {k: _session(k.removesuffix("-year"), d, tmp_path_factory.mktemp(k)) for k, d in runs.items()}


@pytest.mark.parametrize("name", ["night-boost", "initial", "night-boost-year"])
def test_session_pictures(name: str, sessions: dict[str, BenchSession]) -> None:
    s = sessions[name]
    _check(plots_session.reservoir_figure(s))
    _check(plots_session.delivery_figure(s))


def test_the_session_reservoir_is_the_session_not_a_forecast(sessions: dict[str, BenchSession]) -> None:
    year, fortnight = sessions["night-boost-year"], sessions["night-boost"]
    assert len(year.refills) == 29
    fig = plots_session.reservoir_figure(year)
    ax = fig.axes[0]
    refills = next(line for line in ax.lines if line.get_label().startswith("refill (28)"))
    assert len(refills.get_xdata()) == 28
    measured = ax.lines[0].get_xydata()
    assert measured[-1][0] == pytest.approx(365)  # the whole run, not one fill
    other = plots_session.reservoir_figure(fortnight).axes[0].lines[0].get_xydata()
    assert len(other) != len(measured)
    plots._pyplot().close("all")


def test_an_alarm_is_marked(sessions: dict[str, BenchSession]) -> None:
    s = copy.copy(sessions["night-boost"])
    t = s.refills[1]["t_s"] - 3600
    s.alarms = [{"kind": "low", "t_s": t, "hour": 309, "seen_at_s": t, "host_predicted_t_s": t,
                 "reservoir_nl": 2_000_000}]
    fig = plots_session.reservoir_figure(s)
    assert any(line.get_label() == "low reservoir alarm (1)" for line in fig.axes[0].lines)
    _check(fig)


def test_the_check_sees_a_label_over_a_curve_past_an_edge_or_on_another() -> None:
    fig, ax = plots.figure()
    ax.plot([0, 10], [0, 10], label="curve")
    ax.text(5, 5, "on the curve")
    ax.text(9.5, 1, "past the right edge of the axes")
    ax.text(1, 8, "one label")
    ax.text(1.1, 8, "another")
    problems = layout_problems(fig)
    plots._pyplot().close(fig)
    assert any(p.startswith("over the curve 'curve': 'on the curve'") for p in problems), problems
    assert "past the axes' edge: 'past the right edge of the axes'" in problems
    assert any(p.startswith("labels overlap: 'one label'") for p in problems), problems
