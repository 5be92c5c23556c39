"""Traceability from behaviour: the shipped matrix, the recorder, and `itb trace`.

The matrix says a rule is implemented and tested only where a decision applied it inside a test
(`tests/conftest.py` records it). These tests check the shipped matrix covers every rule of the library,
that docs/requirements.md is generated from it, that the recorder records what the code applies (a decision
made here must show up), and the command on synthetic matrices (fake IDs would never pass as real ones).
"""

import json
from pathlib import Path

import pytest

from firmware_py import decision, envelope, library
from firmware_py.history import History
from host_tools import cli, trace
from host_tools.errors import UsageError
from tests.core.support import CONFIG, T0, program


def test_the_shipped_matrix_covers_every_rule_with_code_and_tests() -> None:
    doc = trace.load_matrix()
    assert doc is not None, "host_tools/data/trace.json is missing: run ./dev trace --update"
    matrix = trace.build_matrix(doc)
    assert [e.req_id for e in matrix] == [r.req_id for r in library.rules()]
    assert trace.missing_tests(matrix) == [], trace.format_text(matrix)
    for e in matrix:
        assert e.code and all(c.startswith(("firmware_py/", "host_tools/")) for c in e.code), e
        assert all("::" in t for t in e.tests), e


def test_requirements_doc_is_current() -> None:
    doc = trace.load_matrix()
    assert doc is not None
    want = trace.requirements_markdown(trace.build_matrix(doc))
    assert (trace.REPO_ROOT / trace.REQUIREMENTS_DOC).read_text(encoding="utf-8") == want, (
        "docs/requirements.md is stale: run ./dev trace --update"
    )
    for r in library.rules():
        rows = [line for line in want.splitlines() if line.startswith(f"| {r.req_id} |")]
        assert len(rows) == 1 and r.source in rows[0], r.req_id
        assert rows[0].count(" | ") == 6  # seven columns: no unescaped pipe in a title or note


def test_the_recorder_sees_what_a_decision_applies() -> None:
    # REQ: ITB-RNG-01. A refused start records the range rule as applied by the envelope's range check.
    seen: list[str] = []
    saved = decision.recorder
    decision.recorder = seen.append
    try:
        d = envelope.decide(History(), None, envelope.Commit(program(11_999, "transfer")), CONFIG, T0)
    finally:
        decision.recorder = saved
    assert not d.allowed and "ITB-RNG-01" in seen and "ITB-STA-01" in seen


def test_library_notes_are_read_from_the_comments() -> None:
    notes = trace.library_notes((trace.REPO_ROOT / trace.LIBRARY_PATH).read_text(encoding="utf-8"))
    assert "project choice" in notes["ITB-ESC-01"]
    assert notes["ITB-CON-01"].startswith("002 lists 500 and 2000 only")
    assert "ITB-RNG-01" not in notes  # a row without a note


def _fake(tmp_path: Path, rules: dict[str, object]) -> Path:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps({"rules": rules}))
    return path


def test_matrix_and_text_on_a_synthetic_record(tmp_path: Path) -> None:
    rid = library.rules()[0].req_id
    doc = trace.load_matrix(_fake(tmp_path, {rid: {"code": ["firmware_py/x.py:f"], "tests": ["t::a"],
                                                  "test_count": 3}}))
    assert doc is not None
    matrix = trace.build_matrix(doc)
    assert matrix[0].test_count == 3 and matrix[0].code == ["firmware_py/x.py:f"]
    missing = trace.missing_tests(matrix)
    assert rid not in missing and len(missing) == len(matrix) - 1
    text = trace.format_text(matrix)
    assert "(and 2 more)" in text and f"{len(matrix)} requirements: 1 applied in tests" in text
    with pytest.raises(UsageError, match="not a traceability matrix"):
        trace.load_matrix(_fake(tmp_path, "x"))  # type: ignore[arg-type]


def test_check_run_flags_rules_no_test_applied() -> None:
    rid = library.rules()[0].req_id
    problems = trace.check_run({rid: {"code": ["firmware_py/x.py:f"], "tests": ["t::a"]}})
    assert any(p.startswith(library.rules()[1].req_id + " was applied by no test") for p in problems)
    assert not any(p.startswith(rid + " was applied by no test") for p in problems)


def test_cli_prints_the_matrix_and_says_when_it_has_none(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["trace"]) == 0
    out = capsys.readouterr().out
    n = len(library.rules())
    assert f"{n} requirements: {n} applied in tests" in out
    assert cli.main(["trace", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing_tests"] == []
    monkeypatch.setattr(trace, "matrix_file", lambda: None)
    assert cli.main(["trace"]) == 2
    err = capsys.readouterr().err
    assert "no traceability matrix" in err and "0 " not in err
