"""A TOML prescription that does not parse, in the prescription's words: the field (``dose.lead``,
``window[1].change``, a table ``[dose]``), the value as written, and the line.

tomllib reports only a message and a position ("Cannot overwrite a value (at line 31, column 13)"); the field
is read back from the text: the line's key and the table header above it.
"""

from __future__ import annotations

import re
import tomllib

from host_tools.errors import UsageError
from host_tools.quantities import bad

_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_BARE = r"[A-Za-z0-9_-]+"
_KEY_PART = rf"(?:{_BARE}|\"[^\"]*\"|'[^']*')"
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER = re.compile(rf"\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"\s*({_DOTTED})\s*=\s*(.*?)\s*$")


def _key(text: str) -> str:
    parts = re.findall(_KEY_PART, text)
    return ".".join(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _value(raw: str) -> str:
    raw = raw.split(" #", 1)[0].strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _tables(lines: list[str], upto: int) -> tuple[str, dict[str, int]]:
    # The table the line ``upto`` (0-based) is in ("dose", "window[1]", "" for the top level), and how many
    # times each array of tables was opened before it.
    table, counts = "", dict[str, int]()
    for line in lines[:upto]:
        m = _HEADER.match(line)
        if m is None:
            continue
        name = _key(m.group(2))
        if m.group(1) == "[[":
            counts[name] = counts.get(name, -1) + 1
            table = f"{name}[{counts[name]}]"
        else:
            table = name
    return table, counts


def _first_line(lines: list[str], upto: int, key: str) -> int | None:
    # The line (1-based) where ``key`` was first set in the same table as line ``upto``.
    start = upto
    while start > 0 and _HEADER.match(lines[start - 1]) is None:
        start -= 1
    for i in range(start, upto):
        m = _ASSIGN.match(lines[i])
        if m is not None and _key(m.group(1)) == key:
            return i + 1
    return None


def decode_error(text: str, source: str, exc: tomllib.TOMLDecodeError) -> UsageError:
    """The one-line refusal for a TOML syntax error: the field and the line when the text shows them."""
    message = str(exc).splitlines()[0]
    pos = _POSITION.search(message)
    if pos is None:
        return bad(source, message, "is malformed TOML")
    reason, line_no = message[: pos.start()], int(pos.group(1))
    lines = text.splitlines()
    line = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
    where = f"{source} line {line_no}"
    header, assign = _HEADER.match(line), _ASSIGN.match(line)
    if header is not None and reason.startswith("Cannot declare"):
        name = _key(header.group(2))
        first = next(
            (i + 1 for i, x in enumerate(lines) if (h := _HEADER.match(x)) and _key(h.group(2)) == name), None
        )
        also = f"; first at line {first}" if first is not None and first != line_no else ""
        return bad(name, line.strip(), f"is declared twice ({where}{also}); a table is given once")
    if assign is None:
        return bad(source, reason, f"is malformed TOML at line {line_no}: '{line.strip()}'")
    table = _tables(lines, line_no - 1)[0]
    key = _key(assign.group(1))
    field = f"{table}.{key}" if table else key
    value = _value(assign.group(2))
    if reason.startswith("Cannot overwrite"):
        first = _first_line(lines, line_no - 1, key)
        also = f"; first at line {first}" if first is not None else ""
        return bad(field, value, f"is a second value for the same key ({where}{also}); a field is given once")
    raw = assign.group(2).strip()
    hint = "" if raw[:1] in "\"'[{" else f'; quote text: {key} = "{value}"'
    return bad(field, value, f"is malformed TOML ({where}): {reason[:1].lower()}{reason[1:]}{hint}")
