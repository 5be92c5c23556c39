"""No number of the drug library is retyped in host_tools/ (issue 14): every rule parameter is read with
library.param. The scan (ast, docstrings skipped) flags

- a number with a unit, in code (``q(8, "h")``) or in text ("up to 2000 mcg/mL", "+20%"), whose quantity
  equals a parameter of the same dimension (8 h = ITB-INI-02's effect_longer_than_s);
- a bare number of 10 or more (in code, or in text without a unit) equal to a parameter's value in its base
  unit (13 = ITB-SCH-02's max_steps_per_day). Smaller bare numbers (indices, pairs, a factor 2) are too common
  to mean a rule.

True coincidences are listed in ALLOWED with the reason. firmware_py/ is scanned too, except the library
(where the numbers live) and units.py (where the unit facts live: 1000 ng per mcg is not a rule).
"""

from __future__ import annotations

import ast
import itertools
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from firmware_py import library
from host_tools import quantities as qt
from tests.host.conftest import ROOT

# Parameter suffix -> the unit its values are in.
SUFFIX_UNITS = (
    ("_ng_per_day", "ng/day"),
    ("_ng_per_ul", "ng/uL"),
    ("_nl_per_cm", "nL/cm"),
    ("_ng", "ng"),
    ("_nl", "nL"),
    ("_s", "s"),
    ("_mm", "mm"),
    ("_permille", "permille"),
    ("_ppm", "ppm"),
)
# (file, number as written): why it is not the rule's number.
ALLOWED: dict[tuple[str, str], str] = {
    ("host_tools/outfile.py", "0o022"): "a umask, not a dose",
    ("host_tools/calc/checks.py", "10"): "DECIMAL_SLIP: ten times (a decimal slip), no rule parameter",
    ("host_tools/quantities.py", "12"): "a regex repetition count (up to 12 decimals)",
    ("host_tools/qtext.py", "12"): "MAX_DECIMALS: the quantity pattern's 12 decimals (a text limit)",
    ("host_tools/trace.py", "12"): "MAX_TESTS_SHOWN: a display limit",
    ("host_tools/bench_report.py", "50"): "MAX_FAILURES_REPORTED: a report size",
    ("host_tools/trace.py", "100"): "the permille example in the requirement table text: a unit fact",
    ("host_tools/trace.py", "+10 %"): "the permille example in the requirement table text: a unit fact",
    ("firmware_py/commands.py", "100"): "the longest message text in a NAK (characters)",
    ("firmware_py/config.py", "500"): "BENCH_CATHETER_MM: the bench pump's catheter, a project choice",
    ("firmware_py/dilution.py", "100_000"): "the syringe's 0.1 mL graduation (a default resolution)",
    ("firmware_py/protocol.py", "12"): "a bit shift of the CRC-16 (12 bits)",
}
# Lead-owned modules mid-port (issue 14): what they still retype. The lead removes these when porting.
PENDING_PORT: dict[tuple[str, str], str] = {
    ("host_tools/plots.py", "24_000"): "per hour as a float /24_000: units.per_hour (ITB-RNG-03's low bound)",
    ("host_tools/plots.py", "1000"): "mcg per ng and similar factors: units.NG_PER_MCG",
    ("host_tools/plots.py", "400"): "a figure size or margin equal to ITB-MNT-01's 400 permille",
    ("host_tools/plots.py", "50"): "a figure size or margin equal to a 50 permille / 50 mcg/mL parameter",
}


def _params() -> list[tuple[str, Any, int]]:
    """(rule.param, pint quantity or None, raw value) for every integer parameter value of the library."""
    out = []
    for row in library.RULES:
        for name, value in row[5]:
            unit = next((u for suffix, u in SUFFIX_UNITS if name.endswith(suffix)), None)
            for v in value if isinstance(value, tuple) else (value,):
                out.append((f"{row[0]}.{name}", None if unit is None else qt.q(v, unit), v))
    return out


PARAMS = _params()
RAW = {v for _n, _q, v in PARAMS if v >= 10}
_NUM_UNIT = re.compile(r"(?<![\w.:])([+-]?\d+(?:\.\d+)?)(?![\d:])\s*(%|[A-Za-zµ]+(?:/[A-Za-zµ]+)?)?")
DAY = qt.q(1, "day")  # a day (and 24 h) is a unit fact, though some rules last exactly a day


def _quantity(number: str, unit: str) -> Any:
    try:
        reg = qt.registry()
        return reg.Quantity(Fraction(number), reg.parse_units("percent" if unit == "%" else unit))
    except Exception:  # not a unit
        return None


def _matches(q: Any) -> list[str]:
    if q.dimensionality == DAY.dimensionality and qt.exact(abs(q), "s") == qt.exact(DAY, "s"):
        return []
    hits = []
    for name, pq, _v in PARAMS:
        if pq is None or pq.dimensionality != q.dimensionality:
            continue
        if abs(q.magnitude) != 0 and qt.exact(abs(q), str(pq.units)) == qt.exact(pq, str(pq.units)):
            hits.append(name)
    return hits


def _raw(text: str) -> list[str]:
    value = Fraction(text.replace("_", ""))
    return [n for n, _q, v in PARAMS if value.denominator == 1 and value >= 10 and v == value]


def _docstrings(tree: ast.AST) -> set[int]:
    """Docstrings and f-string format specs ("{x:02d}"): not numbers of anything."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            ids |= {id(c) for c in ast.walk(node.format_spec)}
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def scan(path: Path) -> list[tuple[str, str, str]]:
    """(number as written, what it equals, line) for each suspicious literal of a module."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            args = node.args
            for a, b in itertools.pairwise(args):
                if (
                    isinstance(a, ast.Constant)
                    and isinstance(a.value, (int, float))
                    and not isinstance(a.value, bool)
                    and isinstance(b, ast.Constant)
                    and isinstance(b.value, str)
                ):
                    q = _quantity(str(a.value), b.value)
                    if q is not None and _matches(q):
                        found.append(
                            (ast.get_source_segment(source, a) or "", ",".join(_matches(q)), str(a.lineno))
                        )
        if not isinstance(node, ast.Constant) or id(node) in skip:
            continue
        if isinstance(node.value, bool):
            continue
        if isinstance(node.value, (int, float)):
            written = ast.get_source_segment(source, node) or str(node.value)
            hits = _raw(str(node.value)) if isinstance(node.value, int) else []
            if hits:
                found.append((written, ",".join(hits), str(node.lineno)))
        elif isinstance(node.value, str):
            for m in _NUM_UNIT.finditer(node.value):
                number, unit = m.group(1), m.group(2)
                q = _quantity(number, unit) if unit else None
                hits = _matches(q) if q is not None else _raw(number) if "." not in number else []
                if hits:
                    found.append((m.group(0).strip(), ",".join(hits), str(node.lineno)))
    return found


def _modules() -> list[Path]:
    return sorted(p for d in ("host_tools", "firmware_py") for p in (ROOT / d).rglob("*.py")
                  if p.name not in ("library.py", "units.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_rule_number_is_retyped(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    bad = [
        f"{rel}:{line}: {written} equals {what}"
        for written, what, line in scan(path)
        if (rel, written) not in ALLOWED and (rel, written) not in PENDING_PORT
    ]
    assert not bad, "\n".join(bad)


def test_the_scan_catches_what_issue_14_found(tmp_path: Path) -> None:
    """The literals issue 14 names: 200 (a permille bound), 8 h, 2000 mcg/mL, 0.0026 mL/cm, 13 in a
    message."""
    f = tmp_path / "calc.py"
    f.write_text(
        'def f():\n    a = 200\n    b = q(8, "h")\n    c = "up to 2000 mcg/mL"\n'
        '    d = q(Fraction(26, 10000), "mL/cm")\n    e = "more than 13 steps"\n    g = "0.0026 mL/cm"\n'
    )
    found = {w: what for w, what, _l in scan(f)}
    assert {"200", "8", "2000 mcg/mL", "13 steps", "0.0026 mL/cm"} <= set(found), found
    assert "ITB-INI-02.effect_longer_than_s" in found["8"] and "ITB-BRG-01" in found["0.0026 mL/cm"]
    assert "ITB-SCH-02.max_steps_per_day" in found["13 steps"]
