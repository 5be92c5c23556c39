"""Traceability: every drug-library requirement has code that applies it and a test that covers it.

The matrix builder itself is tested on a small synthetic tree (fake IDs ITB-ZZZ-nn, so this file covers no
real requirement by accident).
"""

import json
import textwrap
from pathlib import Path

import pytest

from firmware_py.library import RULES, Rule
from host_tools import cli, trace
from host_tools.errors import UsageError


def test_every_requirement_has_a_test() -> None:
    matrix = trace.build_matrix()
    assert len(matrix) == len(RULES)
    assert trace.missing_tests(matrix) == [], "requirements without a test:\n" + trace.format_text(matrix)


def test_every_requirement_has_code() -> None:
    matrix = trace.build_matrix()
    assert trace.missing_code(matrix) == [], "requirements without code:\n" + trace.format_text(matrix)


def test_requirements_doc_is_current() -> None:
    doc = trace.REPO_ROOT / trace.REQUIREMENTS_DOC
    assert doc.read_text(encoding="utf-8") == trace.requirements_markdown(), (
        "docs/requirements.md is stale: run `itb trace --markdown > docs/requirements.md`"
    )


def test_requirements_doc_has_one_row_per_rule() -> None:
    text = trace.requirements_markdown()
    for r in RULES:
        rows = [line for line in text.splitlines() if line.startswith(f"| {r.req_id} |")]
        assert len(rows) == 1, r.req_id
        assert r.source in rows[0]
        assert rows[0].count(" | ") == 5  # six columns: no unescaped pipe in a title or note


def test_ids_in() -> None:
    assert trace.ids_in("x ITB-ZZZ-01 y ITB-ZZZ-01") == ["ITB-ZZZ-01"]
    assert trace.ids_in("ITB-ZZZ-03/04/05") == ["ITB-ZZZ-03", "ITB-ZZZ-04", "ITB-ZZZ-05"]
    assert trace.ids_in('"ITB-ZZZ-07",') == ["ITB-ZZZ-07"]
    # Not an ID: a longer number, a prefix glued on, a range (not expanded), lower case.
    assert trace.ids_in("ITB-ZZZ-011 XITB-ZZZ-01 itb-zzz-01") == []
    assert trace.ids_in("ITB-ZZZ-01..05") == ["ITB-ZZZ-01"]


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


FAKE_RULES = [
    Rule(f"ITB-ZZZ-0{n}", "hard", f"fake rule {n}", "DESIGN.md", {}) for n in range(1, 9)
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _write(tmp_path, "firmware_py/library.py", '''
        RULES = (
            Rule("ITB-ZZZ-01", "hard", "title",
                 "DESIGN.md", {}, "note citing ITB-ZZZ-02"),
        )
        APPLIED = "ITB-ZZZ-01"
    ''')
    _write(tmp_path, "firmware_py/mod.py", '''
        # applies ITB-ZZZ-02/03
        X = 1
    ''')
    _write(tmp_path, "host_tools/tool.py", "Y = 'ITB-ZZZ-04'\n")
    _write(tmp_path, "host_tools/trace.py", "# example: ITB-ZZZ-08\n")
    _write(tmp_path, "tests/sub/helpers.py", '''
        def test_not_in_a_test_file():
            return "ITB-ZZZ-08"
    ''')
    _write(tmp_path, "tests/sub/test_a.py", '''
        """Module docstring naming ITB-ZZZ-08 covers nothing."""
        import pytest


        def test_docstring():
            """Covers ITB-ZZZ-01."""
            assert True


        # REQ: ITB-ZZZ-02
        # (continued comment)
        def test_comment_above():
            assert True

        # REQ: ITB-ZZZ-06

        def test_comment_separated_by_blank_line():
            assert True


        def helper():
            return "ITB-ZZZ-07"


        class TestGroup:
            @pytest.mark.parametrize("rid", ["ITB-ZZZ-03"])
            def test_decorated(self, rid):
                assert rid

            def test_body(self):
                x = "ITB-ZZZ-01"
                assert x
    ''')
    return tmp_path


def test_matrix_on_synthetic_tree(tree: Path) -> None:
    matrix = {e.req_id: e for e in trace.build_matrix(tree, FAKE_RULES)}
    assert list(matrix) == [r.req_id for r in FAKE_RULES]
    # Code: the library's row (and the note inside it) does not count; its use as a constant does.
    assert matrix["ITB-ZZZ-01"].code == ["firmware_py/library.py:6"]
    assert matrix["ITB-ZZZ-02"].code == ["firmware_py/mod.py:2"]
    assert matrix["ITB-ZZZ-03"].code == ["firmware_py/mod.py:2"]
    assert matrix["ITB-ZZZ-04"].code == ["host_tools/tool.py:1"]
    assert matrix["ITB-ZZZ-08"].code == []  # trace.py itself is not code that applies a rule
    # Tests: docstring, body, decorator, comment lines directly above.
    assert matrix["ITB-ZZZ-01"].tests == [
        "tests/sub/test_a.py::test_docstring",
        "tests/sub/test_a.py::TestGroup::test_body",
    ]
    assert matrix["ITB-ZZZ-02"].tests == ["tests/sub/test_a.py::test_comment_above"]
    assert matrix["ITB-ZZZ-03"].tests == ["tests/sub/test_a.py::TestGroup::test_decorated"]
    # Not tests: a comment cut off by a blank line, a helper, a module docstring, a non-test file.
    for rid in ("ITB-ZZZ-06", "ITB-ZZZ-07", "ITB-ZZZ-08"):
        assert matrix[rid].tests == [], rid
    values = list(matrix.values())
    assert trace.missing_tests(values) == [f"ITB-ZZZ-0{n}" for n in (4, 5, 6, 7, 8)]
    assert trace.missing_code(values) == ["ITB-ZZZ-05", "ITB-ZZZ-06", "ITB-ZZZ-07", "ITB-ZZZ-08"]
    text = trace.format_text(values)
    assert "8 requirements: 3 with tests, 4 with code" in text
    assert "missing tests: ITB-ZZZ-04 ITB-ZZZ-05" in text


def test_unparsable_test_file_is_an_error(tree: Path) -> None:
    _write(tree, "tests/test_broken.py", "def test_x(:\n")
    with pytest.raises(UsageError, match=r"test_broken\.py"):
        trace.build_matrix(tree, FAKE_RULES)


def test_cli_exit_code_follows_missing_tests(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The synthetic tree cites none of the real IDs: every requirement lacks a test -> exit 1.
    assert cli.main(["trace", "--root", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "missing tests: " + " ".join(r.req_id for r in RULES) in out
    assert cli.main(["trace", "--json", "--root", str(tree)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["missing_tests"] == [r.req_id for r in RULES]
    assert [e["req_id"] for e in doc["requirements"]] == [r.req_id for r in RULES]
    # The real tree: exit code 0 exactly when nothing is missing a test.
    code = cli.main(["trace", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == (1 if doc["missing_tests"] else 0)


def test_cli_markdown_is_the_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["trace", "--markdown"]) == 0
    assert capsys.readouterr().out == trace.requirements_markdown()
