"""The JSON shapes docs/cli.md states, read from its `json shape` blocks, and a checker of a command's real
`--json` output against them (keys at every level and the kind of every value).

The notation (docs/cli.md, "JSON output"): a shape is
- a kind, or kinds joined by `|`: `string`, `integer`, `number` (integer or not), `boolean`, `null`,
  `quantity` (exactly `{"value": number, "unit": string}`) and `@name`, a named shape of the "JSON output"
  section;
- an object `{"key": shape, ...}`: exactly these keys, a key ending in `?` may be absent, `"*": shape` stands
  for any further keys (a map);
- a list `[shape]`: every item has that shape.
"""

from __future__ import annotations

import json
import re
from typing import Any

BLOCK = re.compile(r"^```json shape\n(.*?)^```$", re.S | re.M)
HEADING = re.compile(r"^#+ (.*)$", re.M)
KINDS = ("string", "integer", "number", "boolean", "null", "quantity")


def blocks(text: str) -> dict[str, Any]:
    """Each `json shape` block, parsed, by the title of the section it is in (`itb rate`, `JSON output`)."""
    out: dict[str, Any] = {}
    for m in BLOCK.finditer(text):
        titles = HEADING.findall(text[: m.start()])
        title = titles[-1] if titles else ""
        assert title not in out, f"docs/cli.md: two json shape blocks in section '{title}'"
        try:
            out[title] = json.loads(m.group(1))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"docs/cli.md: section '{title}': json shape block: {exc}") from None
    return out


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "quantity" if _is_quantity(value) else "object"
    return type(value).__name__


def _is_quantity(value: dict[str, Any]) -> bool:
    v = value.get("value")
    return (set(value) == {"value", "unit"} and isinstance(v, (int, float)) and not isinstance(v, bool)
            and isinstance(value["unit"], str))


def _leaf(value: object, kind: str) -> bool:
    actual = _kind_of(value)
    return actual == kind or (kind == "number" and actual == "integer")


def check(value: object, shape: object, named: dict[str, Any], path: str = "$") -> list[str]:
    """Every place where ``value`` does not have ``shape``, as `path: what`; empty when it has."""
    if isinstance(shape, str):
        alternatives = shape.split("|")
        for alt in alternatives:
            if alt.startswith("@"):
                assert alt[1:] in named, f"docs/cli.md: no named shape {alt}"
                if not check(value, named[alt[1:]], named, path):
                    return []
            else:
                assert alt in KINDS, f"docs/cli.md: unknown kind {alt!r} at {path}"
                if _leaf(value, alt):
                    return []
        objects = [a for a in alternatives if a.startswith("@") and isinstance(value, (dict, list))]
        if len(objects) == 1:  # one structured alternative: say where inside it the value differs
            return check(value, named[objects[0][1:]], named, path)
        return [f"{path}: {_kind_of(value)} {_short(value)}, documented {shape}"]
    if isinstance(shape, list):
        assert len(shape) == 1, f"docs/cli.md: a list shape has one item shape ({path})"
        if not isinstance(value, list):
            return [f"{path}: {_kind_of(value)} {_short(value)}, documented a list"]
        return [p for i, item in enumerate(value) for p in check(item, shape[0], named, f"{path}[{i}]")]
    assert isinstance(shape, dict), f"docs/cli.md: bad shape at {path}: {shape!r}"
    if not isinstance(value, dict) or (_is_quantity(value) and "value" not in shape):
        return [f"{path}: {_kind_of(value)} {_short(value)}, documented an object"]
    keys = {k.rstrip("?"): v for k, v in shape.items() if k != "*"}
    out = [f"{path}: no key '{k}'" for k in shape if not k.endswith("?") and k != "*" and k not in value]
    for k, v in value.items():
        if k in keys:
            out += check(v, keys[k], named, f"{path}.{k}")
        elif "*" in shape:
            out += check(v, shape["*"], named, f"{path}.{k}")
        else:
            out.append(f"{path}: key '{k}' is not documented")
    return out


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def quantities(value: object, path: str = "$", key: str = "") -> list[tuple[str, str, str]]:
    """(path, key, unit) of every quantity in ``value``."""
    if isinstance(value, dict):
        if _is_quantity(value):
            return [(path, key, value["unit"])]
        return [q for k, v in value.items() for q in quantities(v, f"{path}.{k}", k)]
    if isinstance(value, list):
        return [q for i, v in enumerate(value) for q in quantities(v, f"{path}[{i}]", key)]
    return []
