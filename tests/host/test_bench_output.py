"""What a bench session leaves behind: report.json with consistent JSON types, the CSV marking a refill on
the hour the log names, event lines written through the progress bar's own write, and without matplotlib
no traceback, a report and one line saying the plots were skipped and how to get them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from host_tools import plots
from host_tools.progress import Progress
from tests.host.conftest import Itb

INT_KEYS = ("_s", "_ng", "_nl", "hour", "days", "hours", "batch_hours", "conc_ng_per_ul", "failure_count",
            "retries", "lost_replies_recovered", "added_nl", "period_s")
RATIONALS = {"exact_ng", "exact_mg_pint", "rounding_dropped_ng", "hour_bucket_ng"}


def _walk(obj: Any, path: str = "") -> list[tuple[str, str, Any]]:
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in [(path, k, v), *_walk(v, f"{path}.{k}")]]
    if isinstance(obj, list):
        return [x for v in obj for x in _walk(v, path + "[]")]
    return []


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from tests.host.rig_support import run_cli  # noqa: PLC0415

    out = tmp_path_factory.mktemp("bench")
    rc, _out, err = run_cli(["bench", "--out", str(out)])
    assert rc == 0, err
    return out, err


def test_report_json_types_are_consistent(session: tuple[Path, str]) -> None:
    report = json.loads((session[0] / "report.json").read_text())
    wrong = []
    for where, key, value in _walk(report):
        if key in RATIONALS:
            ok = isinstance(value, str) and all(p.lstrip("-").isdigit() for p in value.split("/"))
        elif key == "pocket":
            ok = isinstance(value, bool) or value is None
        elif key.endswith(INT_KEYS) and key != "host_predicted_t_s":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            continue
        if not ok:
            wrong.append(f"{where}.{key} = {value!r}")
    assert not wrong, wrong
    refill = report["refills"][1]
    assert isinstance(refill["rig_expected_nl"], int) and refill["pocket"] is False


def test_the_csv_marks_the_refill_on_the_hour_the_log_names(session: tuple[Path, str]) -> None:
    out, err = session
    logged = [int(line.split("hour ")[1].split(":")[0]) for line in err.splitlines() if "refilled" in line]
    with (out / "delivery.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    marked = [int(r["hour"]) for r in rows if "refill" in r["event"]]
    assert logged == marked == [310]
    refilled = next(r for r in rows if r["hour"] == "310")
    assert int(refilled["reservoir_nl"]) > int(rows[309]["reservoir_nl"])  # the row starts with the refill


def test_event_lines_go_through_the_progress_bars_write() -> None:
    pytest.importorskip("tqdm")
    seen: list[str] = []
    p = Progress(10, enabled=True)
    calls: list[str] = []
    real = p.bar.external_write_mode

    def spy(**kw: Any) -> Any:
        calls.append("write mode")
        return real(**kw)

    p.bar.external_write_mode = spy
    p.wrap(seen.append)("hour 3: refilled")
    p.close()
    assert seen == ["hour 3: refilled"] and calls == ["write mode"]
    quiet: list[str] = []
    Progress(10, enabled=False).wrap(quiet.append)("x")
    assert quiet == ["x"]


def test_without_matplotlib_the_bench_says_so_once(
    itb: Itb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots, "available", lambda: False)
    r = itb("bench", "--days", "1", "--out", str(tmp_path))
    assert r.rc == 0 and "Traceback" not in r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["delivery.csv", "report.json"]
    line = f"plots skipped: matplotlib is not installed ({plots.INSTALL_HINT} to get them)"
    assert r.out.count(line) == 1 and line not in r.err
    assert json.loads((tmp_path / "report.json").read_text())["plots_skipped"] == line
    r = itb("bench", "--days", "1", "--out", str(tmp_path / "j"), "--json")
    assert json.loads(r.out)["plots_skipped"] == line and line not in r.err



def test_itb_plot_without_matplotlib_says_how_to_get_it(
    itb: Itb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.host.conftest import EXAMPLES  # noqa: PLC0415

    monkeypatch.setattr(plots, "available", lambda: False)
    r = itb("plot", str(EXAMPLES / "night-boost.toml"), "-o", str(tmp_path))
    r.one_line_error(2, "matplotlib is not installed", plots.INSTALL_HINT)
    assert list(tmp_path.iterdir()) == []
