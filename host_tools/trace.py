"""Requirement -> code -> test traceability matrix, and the `itb trace` command.

For every row of the drug library (`firmware_py.library.RULES`) the matrix lists

- code: ``path:line`` of each line under ``firmware_py/`` and ``host_tools/`` that mentions the ID, except the
  library's own row (the ``Rule(...)`` call that defines it) and this module;
- tests: ``path::name`` of each test function under ``tests/`` whose source mentions the ID. A test's
  source is its decorators, signature, docstring and body, plus the ``#`` comment lines directly above it
  (found with :mod:`ast`, so a mention in another function or in a module docstring does not count).

An ID is written in full (``ITB-TIT-01``); ``ITB-INI-03/04`` also counts for ``ITB-INI-04``. Ranges such as
``ITB-RNG-01..05`` are not expanded: a test covers what it names.

``itb trace`` prints the matrix (``--json`` for machines, ``--markdown`` for the requirements table of
``docs/requirements.md``) and exits 1 when any requirement has no test.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from firmware_py.library import RULES, Rule
from host_tools.errors import EXIT_OK, EXIT_REFUSED, UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("firmware_py", "host_tools")
TEST_DIR = "tests"
LIBRARY_PATH = "firmware_py/library.py"
SELF_PATH = "host_tools/trace.py"
REQUIREMENTS_DOC = "docs/requirements.md"

# ITB-XXX-NN, optionally followed by /NN/NN (more numbers of the same group).
_ID_RE = re.compile(r"(?<![A-Za-z0-9-])ITB-([A-Z]{3})-(\d{2})((?:/\d{2})*)(?![0-9])")


def ids_in(text: str) -> list[str]:
    """Requirement IDs mentioned in ``text``, in order of appearance, without repeats."""
    out: list[str] = []
    for m in _ID_RE.finditer(text):
        group = m.group(1)
        numbers = [m.group(2)] + [n for n in m.group(3).split("/") if n]
        for num in numbers:
            rid = f"ITB-{group}-{num}"
            if rid not in out:
                out.append(rid)
    return out


@dataclass
class Entry:
    """One requirement of the matrix with its code locations and covering tests."""

    req_id: str
    kind: str
    title: str
    source: str
    code: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """A JSON-ready dict of this entry."""
        return {
            "req_id": self.req_id,
            "kind": self.kind,
            "title": self.title,
            "source": self.source,
            "code": list(self.code),
            "tests": list(self.tests),
        }


def _py_files(root: Path, top: str) -> list[Path]:
    base = root / top
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _parse(path: Path, text: str) -> ast.Module:
    try:
        return ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise UsageError(f"{path}: cannot parse for the traceability matrix: {exc}") from exc


def _rule_calls(tree: ast.Module) -> list[ast.Call]:
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                name = func.id
            else:
                name = func.attr if isinstance(func, ast.Attribute) else ""
            if name == "Rule":
                calls.append(node)
    return calls


_NOTE_HEAD = "# note:"
_NOTE_MORE = "#   "


def _note_start(lines: list[str], lineno: int) -> int:
    # 1-based first line of the "# note:" comment block directly above line `lineno` (== lineno if none):
    # a "# note:" line followed by "#   " continuation lines, with nothing in between.
    i = lineno - 1  # 0-based index of the row's first line
    j = i
    while j > 0 and lines[j - 1].strip().startswith("#"):
        j -= 1
        if lines[j].strip().startswith(_NOTE_HEAD):
            more = [ln.strip() for ln in lines[j + 1 : i]]
            return j + 1 if all(m.startswith(_NOTE_MORE) for m in more) else lineno
        if not lines[j].strip().startswith(_NOTE_MORE):
            return lineno
    return lineno


def _rule_row_lines(tree: ast.Module, text: str = "") -> set[int]:
    # Lines spanned by Rule(...) calls and their "# note:" comments: the library's rows, titles and notes
    # are the requirement, not code.
    lines: set[int] = set()
    source = text.splitlines()
    for node in _rule_calls(tree):
        lines.update(range(_note_start(source, node.lineno), (node.end_lineno or node.lineno) + 1))
    return lines


def library_notes(text: str) -> dict[str, str]:
    """Requirement ID -> note, from the ``# note:`` comments directly above the rows of a library source.

    The drug library keeps notes (which source a rule follows, project choices) as comments, not strings,
    so that they cost no RAM on the device; a note given as the ``Rule(..., note)`` argument also counts.
    """
    lines = text.splitlines()
    notes: dict[str, str] = {}
    for node in _rule_calls(ast.parse(text)):
        first = node.args[0] if node.args else None
        if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
            continue
        start = _note_start(lines, node.lineno)
        if start < node.lineno:
            parts = [ln.strip()[1:].strip() for ln in lines[start - 1 : node.lineno - 1]]
            notes[first.value] = " ".join(parts)[len(_NOTE_HEAD) - 1 :].strip()
    return notes


def code_locations(root: Path) -> dict[str, list[str]]:
    """Requirement ID -> ``path:line`` of each mention under firmware_py/ and host_tools/ (module doc)."""
    found: dict[str, list[str]] = {}
    for top in CODE_DIRS:
        for path in _py_files(root, top):
            rel = _rel(root, path)
            if rel == SELF_PATH:
                continue
            text = path.read_text(encoding="utf-8")
            skip = _rule_row_lines(_parse(path, text), text) if rel == LIBRARY_PATH else set()
            for lineno, line in enumerate(text.splitlines(), start=1):
                if lineno in skip:
                    continue
                for rid in ids_in(line):
                    found.setdefault(rid, []).append(f"{rel}:{lineno}")
    return found


_Func = ast.FunctionDef | ast.AsyncFunctionDef


def _test_functions(tree: ast.Module) -> Iterable[tuple[str, _Func]]:
    # (qualified name, node) of every test* function, at module level or inside classes.
    def walk(body: list[ast.stmt], prefix: str) -> Iterable[tuple[str, _Func]]:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                yield prefix + node.name, node
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, prefix + node.name + "::")

    return walk(tree.body, "")


def _function_text(lines: list[str], node: _Func) -> str:
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    last = node.end_lineno or node.lineno
    start = first - 1  # 0-based index of the first line
    # Comment lines directly above (no blank line in between) belong to the test: `# REQ: ITB-...`.
    while start > 0 and lines[start - 1].strip().startswith("#"):
        start -= 1
    return "\n".join(lines[start:last])


def covering_tests(root: Path) -> dict[str, list[str]]:
    """Requirement ID -> ``path::test_name`` of every test function whose source mentions it."""
    found: dict[str, list[str]] = {}
    for path in _py_files(root, TEST_DIR):
        if not path.name.startswith("test_"):
            continue
        rel = _rel(root, path)
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for qualname, node in _test_functions(_parse(path, text)):
            for rid in ids_in(_function_text(lines, node)):
                found.setdefault(rid, []).append(f"{rel}::{qualname}")
    return found


def build_matrix(root: Path = REPO_ROOT, rules: Sequence[Rule] = RULES) -> list[Entry]:
    """The matrix for ``rules`` over the tree at ``root``, one entry per rule in table order."""
    code = code_locations(root)
    tests = covering_tests(root)
    return [
        Entry(r.req_id, r.kind, r.title, r.source, code.get(r.req_id, []), tests.get(r.req_id, []))
        for r in rules
    ]


def missing_tests(matrix: Sequence[Entry]) -> list[str]:
    """IDs that no test mentions."""
    return [e.req_id for e in matrix if not e.tests]


def missing_code(matrix: Sequence[Entry]) -> list[str]:
    """IDs that no code (outside the library's own row) mentions."""
    return [e.req_id for e in matrix if not e.code]


def format_text(matrix: Sequence[Entry]) -> str:
    """The matrix for people: one block per requirement, then a summary."""
    out: list[str] = []
    for e in matrix:
        out.append(f"{e.req_id}  {e.kind:<4}  {e.title}")
        out.append("    source: " + e.source)
        out.append("    code:   " + (", ".join(e.code) if e.code else "MISSING"))
        out.append("    tests:  " + (", ".join(e.tests) if e.tests else "MISSING"))
    no_test = missing_tests(matrix)
    no_code = missing_code(matrix)
    n = len(matrix)
    out.append("")
    out.append(f"{n} requirements: {n - len(no_test)} with tests, {n - len(no_code)} with code")
    if no_test:
        out.append("missing tests: " + " ".join(no_test))
    if no_code:
        out.append("missing code: " + " ".join(no_code))
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _param_text(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def requirements_markdown(rules: Sequence[Rule] = RULES, notes: dict[str, str] | None = None) -> str:
    """The requirements table of docs/requirements.md, generated from the drug library rows.

    ``notes``: requirement ID -> note for rows whose ``note`` is empty; by default the ``# note:`` comments
    of ``firmware_py/library.py`` (see :func:`library_notes`).
    """
    if notes is None:
        notes = library_notes((REPO_ROOT / LIBRARY_PATH).read_text(encoding="utf-8"))
    head = [
        "# itb requirements",
        "",
        "Generated from `firmware_py/library.py` by `itb trace --markdown > docs/requirements.md`;",
        "do not edit by hand (`tests/test_traceability.py` checks it is current). Sources are the labeling",
        "texts in `shared/labeling/` (or `DESIGN.md` for pump facts). Kinds: **hard** refuses, **soft**",
        "warns and needs an override with a reason, **info** is applied elsewhere (the code that applies it",
        "cites the ID).",
        "Parameters are in base units: ng, ng/day, nL, s, permille (+20 % = 200), ng/uL (= mcg/mL).",
        "Bench and prototyping software, not for clinical use.",
        "",
        "| ID | kind | rule | parameters | source | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows = []
    for r in rules:
        params = "<br>".join(f"`{k}` = {_param_text(v)}" for k, v in r.params.items())
        note = r.note or notes.get(r.req_id, "")
        rows.append(f"| {r.req_id} | {r.kind} | {_md(r.title)} | {params} | {_md(r.source)} | {_md(note)} |")
    return "\n".join(head + rows) + "\n"


def _cmd_trace(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else REPO_ROOT
    if args.markdown:
        print(requirements_markdown(), end="")
        return EXIT_OK
    matrix = build_matrix(root)
    if args.json:
        doc = {
            "requirements": [e.as_json() for e in matrix],
            "missing_tests": missing_tests(matrix),
            "missing_code": missing_code(matrix),
        }
        print(json.dumps(doc, indent=2))
    else:
        print(format_text(matrix), end="")
    return EXIT_REFUSED if missing_tests(matrix) else EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``itb trace [--json | --markdown] [--root DIR]``."""
    p = subparsers.add_parser(
        "trace",
        help="requirement -> code -> test matrix (exit 1 if a requirement has no test)",
        description="Print the requirement -> code -> test matrix of the drug library rules. "
        "Exit 1 when any requirement has no test.",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print the matrix as JSON")
    group.add_argument(
        "--markdown", action="store_true", help="print the requirements table (docs/requirements.md)"
    )
    p.add_argument("--root", default=None, help="repository root to scan (default: this checkout)")
    p.set_defaults(func=_cmd_trace)
