"""Requirement -> code -> test traceability, from behaviour, and the `itb trace` command.

A requirement counts as implemented and tested only when a decision applied its rule ID at run time inside
a test. `tests/conftest.py` records every application while the suite runs (the code that applied it, as
`path:function`, and the test) into `build/trace.json`; `itb trace --update build/trace.json` (run by
`./dev trace --update`) makes that record the shipped matrix, `host_tools/data/trace.json`, and regenerates
`docs/requirements.md`. `itb trace` prints the shipped matrix, in a checkout and from an installed package
alike (the matrix is package data, recorded when the package was made); where it has no matrix recorded
from a test run, it says "not recorded" and never counts the requirements as untested. Exit 1 when a
requirement has no test.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from firmware_py.library import Rule, rules
from host_tools.errors import EXIT_OK, EXIT_REFUSED, UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent
LIBRARY_PATH = "firmware_py/library.py"
REQUIREMENTS_DOC = "docs/requirements.md"
MATRIX = "trace.json"  # in the package data of host_tools
MAX_TESTS_SHOWN = 12
RECORDED_FROM = "test run"  # the shipped matrix's "recorded_from": written by `update` only
NOT_RECORDED = ("not recorded: this installation has no traceability matrix recorded from a test run "
                "(host_tools/data/trace.json); it is recorded from the test suite in a source checkout "
                "with ./dev trace --update")


@dataclass
class Entry:
    """One requirement of the matrix with the code that applied it and the tests it was applied in."""

    req_id: str
    kind: str
    title: str
    source: str
    code: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    test_count: int = 0

    def as_json(self) -> dict[str, object]:
        return {"req_id": self.req_id, "kind": self.kind, "title": self.title, "source": self.source,
                "code": list(self.code), "tests": list(self.tests), "test_count": self.test_count}


def matrix_file() -> Path | None:
    """The shipped matrix (package data), or None when this installation has none."""
    path = Path(str(resources.files("host_tools") / "data" / MATRIX))
    return path if path.is_file() else None


def load_matrix(path: Path | None = None) -> dict[str, Any] | None:
    """The recorded matrix: {"rules": {id: {"code": [...], "tests": [...], "test_count": n}}}, or None."""
    path = path or matrix_file()
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a traceability matrix: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), dict):
        raise UsageError(f"{path}: not a traceability matrix (no 'rules' table)")
    return doc


def recorded(doc: dict[str, Any] | None) -> bool:
    """Whether a matrix was recorded from a test run (`update`), not an empty or hand-made placeholder."""
    return doc is not None and doc.get("recorded_from") == RECORDED_FROM and bool(doc["rules"])


def build_matrix(doc: dict[str, Any], lib: Sequence[Rule] | None = None) -> list[Entry]:
    """One entry per rule of the library, in table order, filled from a recorded matrix."""
    out = []
    for r in lib if lib is not None else rules():
        rec = doc["rules"].get(r.req_id, {})
        tests = list(rec.get("tests", []))
        out.append(Entry(r.req_id, r.kind, r.title, r.source, list(rec.get("code", [])), tests,
                         int(rec.get("test_count", len(tests)))))
    return out


def missing_tests(matrix: Sequence[Entry]) -> list[str]:
    return [e.req_id for e in matrix if not e.test_count]


def shipped(run: dict[str, Any]) -> dict[str, Any]:
    """The matrix to ship from a run's record (`build/trace.json`'s "rules"): tests capped per rule."""
    out = {}
    for rid, rec in sorted(run.items()):
        tests = sorted(rec["tests"])
        out[rid] = {"code": sorted(rec["code"]), "tests": tests[:MAX_TESTS_SHOWN], "test_count": len(tests)}
    return {"recorded_from": RECORDED_FROM, "rules": out}


def check_run(run: dict[str, Any]) -> list[str]:
    """Problems of a complete test run's record against the library and the shipped matrix."""
    problems = []
    tested = {rid for rid, rec in run.items() if rec["tests"]}
    for r in rules():
        if r.req_id not in tested:
            problems.append(f"{r.req_id} was applied by no test in this run")
    doc = load_matrix()
    if not recorded(doc):
        problems.append("host_tools/data/trace.json was not recorded from a test run: ./dev trace --update")
        return problems
    assert doc is not None
    for rid, rec in doc["rules"].items():
        if rec.get("test_count") and rid not in tested:
            problems.append(f"{rid}: the shipped matrix says tested, this run applied it in no test "
                            "(run ./dev trace --update)")
        missing = set(rec.get("code", [])) - set(run.get(rid, {}).get("code", []))
        if missing:
            problems.append(f"{rid}: the shipped matrix names code this run never saw apply it: "
                            f"{', '.join(sorted(missing))} (run ./dev trace --update)")
    return problems


def format_text(matrix: Sequence[Entry]) -> str:
    """The matrix for people: one block per requirement, then a summary."""
    out: list[str] = []
    for e in matrix:
        out.append(f"{e.req_id}  {e.kind:<4}  {e.title}")
        out.append("    source:  " + e.source)
        out.append("    applied: " + (", ".join(e.code) if e.code else "NOWHERE"))
        more = f" (and {e.test_count - len(e.tests)} more)" if e.test_count > len(e.tests) else ""
        out.append("    tests:   " + (", ".join(e.tests) + more if e.tests else "NONE"))
    no_test = missing_tests(matrix)
    n = len(matrix)
    out.append("")
    out.append(f"{n} requirements: {n - len(no_test)} applied in tests (recorded from the decisions)")
    if no_test:
        out.append("applied in no test: " + " ".join(no_test))
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _param_text(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def library_notes(text: str) -> dict[str, str]:
    """Requirement ID -> note, from the `# note:` comments directly above the rows of the library source."""
    notes: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith('("ITB-'):
            continue
        rid = stripped[2 : stripped.index('"', 2)]
        j = i
        while j > 0 and lines[j - 1].strip().startswith("#   "):
            j -= 1
        if j > 0 and lines[j - 1].strip().startswith("# note:"):
            parts = [lines[j - 1].strip()[len("# note:") :]] + [ln.strip()[1:] for ln in lines[j:i]]
            notes[rid] = " ".join(p.strip() for p in parts)
    return notes


def requirements_markdown(matrix: Sequence[Entry], notes: dict[str, str] | None = None) -> str:
    """docs/requirements.md: the library's rows, their notes and where each rule is applied."""
    if notes is None:
        notes = library_notes((REPO_ROOT / LIBRARY_PATH).read_text(encoding="utf-8"))
    head = [
        "# itb requirements",
        "",
        "Generated from `firmware_py/library.py` and the traceability matrix by `./dev trace --update`;",
        "do not edit by hand (`tests/test_traceability.py` checks it is current). Sources are the",
        "labeling texts in the project's shared folder beside the repository, `../shared/labeling/` (or",
        "`../shared/DESIGN.md` for pump facts). Kinds: **hard** refuses,",
        "**soft** warns and needs an override with a reason, **info** is applied by a calculation.",
        "*Applied by* lists the code that applied the rule while the test suite ran, recorded from the",
        "decisions themselves (`itb trace` lists the tests too): `firmware_py/envelope.py` is the one",
        "decision host and rig share (the rig calls it on COM, RF, BOL and at boot; the host on program",
        "build, load and bench).",
        "Parameters are in base units: ng, ng/day, nL, s, mm, permille (+10 % = 100), ppm, ng/uL (= mcg/mL).",
        "Bench and prototyping software, not for clinical use.",
        "",
        "| ID | kind | rule | parameters | source | note | applied by |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lib = {r.req_id: r for r in rules()}
    rows = []
    for e in matrix:
        r = lib[e.req_id]
        params = "<br>".join(f"`{k}` = {_param_text(v)}" for k, v in r.params.items())
        where = "<br>".join(f"`{c}`" for c in e.code) or "nowhere"
        rows.append(f"| {r.req_id} | {r.kind} | {_md(r.title)} | {params} | {_md(r.source)} | "
                    f"{_md(notes.get(r.req_id, ''))} | {where} |")
    return "\n".join(head + rows) + "\n"


def update(run_path: Path) -> list[str]:
    """Make a run's record the shipped matrix and regenerate docs/requirements.md; the files written."""
    if not (REPO_ROOT / "pyproject.toml").is_file() or not (REPO_ROOT / "docs").is_dir():
        raise UsageError(f"--update: {REPO_ROOT} is an installed package, not a source checkout")
    try:
        run = json.loads(run_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{run_path}: cannot be read: {exc}") from None
    if not run.get("complete"):
        raise UsageError(f"{run_path}: the record of a partial test run; run the whole suite first")
    doc = shipped(run["rules"])
    data = REPO_ROOT / "host_tools" / "data" / MATRIX
    data.parent.mkdir(exist_ok=True)
    data.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    req = REPO_ROOT / REQUIREMENTS_DOC
    req.write_text(requirements_markdown(build_matrix(doc)), encoding="utf-8")
    return [str(data), str(req)]


def _cmd_trace(args: argparse.Namespace) -> int:
    if args.update:
        for path in update(Path(args.update)):
            print(f"itb trace: wrote {path}")
        return EXIT_OK
    doc = load_matrix()
    if doc is None or not recorded(doc):
        raise UsageError(NOT_RECORDED)
    matrix = build_matrix(doc)
    if args.markdown:
        print(requirements_markdown(matrix), end="")
        return EXIT_OK
    if args.json:
        print(json.dumps({"requirements": [e.as_json() for e in matrix],
                          "missing_tests": missing_tests(matrix)}, indent=2))
    else:
        print(format_text(matrix), end="")
    return EXIT_REFUSED if missing_tests(matrix) else EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `itb trace [--json | --markdown | --update RUN.json]`."""
    p = subparsers.add_parser(
        "trace",
        help="requirement -> code -> test matrix, recorded from the test suite (exit 1 if one has no test)",
        description="Print the requirement -> code -> test matrix of the drug library rules, recorded from "
        "the decisions the test suite made. Exit 1 when any requirement was applied in no test.",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print the matrix as JSON")
    group.add_argument("--markdown", action="store_true", help="print docs/requirements.md")
    group.add_argument("--update", metavar="RUN_JSON",
                       help="ship the record of a complete test run (build/trace.json) and regenerate "
                       "docs/requirements.md (checkout only)")
    p.set_defaults(func=_cmd_trace)
