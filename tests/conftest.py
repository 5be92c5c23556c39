"""Traceability from behaviour: every rule a decision applies while a test runs is recorded.

`firmware_py.decision.recorder` is set for the whole session; each call records the rule ID, the code that
applied it (the first frame outside `firmware_py/decision.py` and `firmware_py/errors.py`, as
`path:function`) and the test that was running. At the end of the session the record goes to
`build/trace.json`; `./dev trace --update` turns it into the shipped matrix (`host_tools/data/trace.json`).

With `ITB_TRACE_CHECK=1` (set by `./dev test`), a complete run must show every rule of the drug library
applied by at least one test, and every rule the shipped matrix calls tested applied in this run; the
session fails otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_py import decision

ROOT = Path(__file__).resolve().parent.parent
RUN_FILE = ROOT / "build" / "trace.json"
_RECORD: dict[str, dict[str, set[str]]] = {}
_CURRENT: list[str | None] = [None]
_SKIP = ("decision.py", "errors.py")


def _where() -> str:
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.endswith(_SKIP):
        f = f.f_back  # type: ignore[assignment]
    if f is None:
        return "?"
    path = Path(f.f_code.co_filename)
    try:
        rel = path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        rel = path.name
    return f"{rel}:{f.f_code.co_name}"


def _record(rid: str) -> None:
    entry = _RECORD.setdefault(rid, {"code": set(), "tests": set()})
    entry["code"].add(_where())
    if _CURRENT[0] is not None:
        entry["tests"].add(_CURRENT[0])


def pytest_configure(config: pytest.Config) -> None:
    decision.recorder = _record


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _CURRENT[0] = item.nodeid


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _CURRENT[0] = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run: dict[str, Any] = {
        rid: {"code": sorted(v["code"]), "tests": sorted(v["tests"])} for rid, v in sorted(_RECORD.items())
    }
    RUN_FILE.parent.mkdir(exist_ok=True)
    RUN_FILE.write_text(json.dumps({"complete": not session.config.args or _whole(session), "rules": run},
                                   indent=1) + "\n")
    if os.environ.get("ITB_TRACE_CHECK") != "1" or not _whole(session) or session.testsfailed:
        return
    from host_tools import trace  # noqa: PLC0415

    problems = trace.check_run(run)
    if problems:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        for p in problems:
            if tr is not None:
                tr.write_line("traceability: " + p, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _whole(session: pytest.Session) -> bool:
    # The whole suite ran: no test selection, every collected test executed.
    opt = session.config.option
    return not (opt.keyword or opt.markexpr or getattr(opt, "lf", False)) and session.testscollected > 0 and \
        set(session.config.args) <= {str(ROOT / "tests"), "tests", str(ROOT)}

