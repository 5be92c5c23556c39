"""docs/safety.md names its verification tests as `file::test`; every one must exist, and every test module
of tests/safety must appear in the table (so the table cannot silently fall behind the suite).

REQ: ITB-DIS-01
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "safety.md"
REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_test_named_in_the_hazard_table_exists() -> None:
    text = DOC.read_text()
    refs = REF.findall(text)
    assert len(refs) >= 30, refs
    missing = [f"{f}::{t}" for f, t in refs if not (ROOT / f).is_file() or t not in _tests_in(ROOT / f)]
    assert missing == [], missing


def test_every_hazard_row_has_cause_mitigation_and_verification() -> None:
    rows = [ln for ln in DOC.read_text().splitlines() if re.match(r"\| H\d+ \|", ln)]
    assert len(rows) >= 12
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 6, row[:60]
        assert all(cells[:3]) and (cells[3] not in ("", "—") or cells[4] not in ("", "—")), row[:60]
        assert REF.search(cells[5]), row[:60]


def test_every_safety_module_is_in_the_table() -> None:
    text = DOC.read_text()
    here = Path(__file__).resolve().parent
    for mod in sorted(here.glob("test_*.py")):
        if mod.name == Path(__file__).name:
            continue
        assert f"tests/safety/{mod.name}::" in text, mod.name
