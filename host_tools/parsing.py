"""Strict readers for what people type besides quantities: weekdays, desired-effect windows, percent changes,
overrides. Every refusal names the flag or field and quotes the token as typed (``quantities.bad``).

- Weekdays are whole names ("Monday") or the standard three-letter forms ("Mon"), in any case. A range
  ("Mon-Fri", "Fri-Mon" wraps over the weekend) and a list ("Sat,Sun", "Sat Sun") cover every day they
  name. Anything else ("Monkey", "Tues", "Tuesdayyy"), a day named twice, and an empty list are refused.
- A window is ``[DAYS ]HH:MM-HH:MM=CHANGE``; a percent CHANGE carries its sign ("+20%", "-10%"): "80%" is
  refused, since "+80%" and "-80%" are both plausible and far apart. An absolute CHANGE is a dose rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from fractions import Fraction

from firmware_py import library, units
from firmware_py.errors import ItbError
from firmware_py.schedule import DAY_NAMES
from firmware_py.units import PERCENT, PERMILLE, S_PER_DAY
from firmware_py.windows import Window
from host_tools import qtext
from host_tools import quantities as qt
from host_tools.quantities import bad

FULL_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PER_PERCENT = PERMILLE // PERCENT


def day_index(field: str, token: str) -> int:
    """0 (Monday) .. 6 (Sunday) for a whole day name or its three-letter form, any case; else refused."""
    key = token.casefold()
    for i in range(len(DAY_NAMES)):
        if key in (DAY_NAMES[i].casefold(), FULL_DAY_NAMES[i].casefold()):
            return i
    raise bad(
        field,
        token,
        "is not a weekday; write Mon..Sun or Monday..Sunday, a range 'Mon-Fri' or a list 'Sat,Sun'",
    )


def _expand(field: str, token: str) -> list[int]:
    if "-" not in token:
        return [day_index(field, token)]
    parts = token.split("-")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise bad(field, token, "is not a weekday range; write it as 'Mon-Fri'")
    a, b = day_index(field, parts[0]), day_index(field, parts[1])
    if a == b:
        raise bad(
            field, token, "starts and ends on the same day; write the day alone, or 'Mon-Sun' for every day"
        )
    n = len(DAY_NAMES)
    return [(a + i) % n for i in range((b - a) % n + 1)]


def parse_days(field: str, text: str) -> tuple[int, ...]:
    """Weekdays named by ``text`` ("Mon-Fri", "Sat,Sun", "Sat Sun", "Monday"), sorted; strict."""
    norm = re.sub(r"\s*-\s*", "-", text.strip())
    tokens = re.split(r"\s*,\s*|\s+", norm) if norm else []
    if not tokens or any(not t for t in tokens):
        raise bad(field, text, "is not a list of weekdays; write 'Mon-Fri', 'Sat,Sun' or 'Sat Sun'")
    seen: dict[int, str] = {}
    for token in tokens:
        for d in _expand(field, token):
            if d in seen:
                raise bad(field, token, f"names {DAY_NAMES[d]} again (already in '{seen[d]}')")
            seen[d] = token
    return tuple(sorted(seen))


def days_text(days: tuple[int, ...] | None) -> str:
    """Weekdays as the shortest text: "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri"; "" for every day."""
    if days is None:
        return ""
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(
        DAY_NAMES[r[0]]
        if len(r) == 1
        else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}"
        if len(r) > 2
        else f"{DAY_NAMES[r[0]]},{DAY_NAMES[r[1]]}"
        for r in runs
    )


def _hhmm(field: str, text: str) -> int:
    try:
        return units.parse_hhmm(field, text)
    except ItbError:
        raise bad(field, text, "is not a time of day HH:MM between 00:00 and 24:00") from None


_PERCENT_RE = re.compile(r"\s*([+-]?)\s*([0-9]{1,6}(?:\.[0-9]{1,6})?)\s*%\s*")
_PCT_RE = re.compile(r"\s*([+-]?)\s*([0-9.]+)\s*(?:pct|percent|per\s*cent)\s*", re.IGNORECASE)


def percent_permille(field: str, text: str, *, signed: bool) -> int:
    """ "+20%" -> 200, "-12.5%" -> -125; ``signed``: the sign is required (a change), else refused (a
    size)."""
    digit = qtext.non_ascii_digit(text)
    if digit is not None:
        raise bad(field, text, digit)
    m = _PERCENT_RE.fullmatch(text)
    pct = _PCT_RE.fullmatch(text) if m is None else None
    if pct is not None:
        sign, number = pct.groups()
        written = f"'{sign}{number}%'" if sign or not signed else f"'+{number}%' or '-{number}%'"
        raise bad(field, text, f"is not a percentage; write {written}")
    if m is None:
        example = "'+25%' or '-12%'" if signed else "'12%'"
        raise bad(field, text, f"is not a percentage; write {example}")
    sign, number = m.groups()
    if signed and not sign:
        raise bad(field, text, f"has no sign; write '+{number}%' for more or '-{number}%' for less")
    if not signed and sign:
        raise bad(field, text, f"is a size, without a sign; write '{number}%'")
    permille = Fraction(number) * _PER_PERCENT * (-1 if sign == "-" else 1)
    if permille.denominator != 1:
        raise bad(field, text, "is finer than 0.1 %")
    if permille == 0:
        raise bad(field, text, "is zero")
    return permille.numerator


@dataclass(frozen=True)
class WindowSpec:
    """A desired-effect window as typed (``text``, for messages) and as the core's Window."""

    field: str
    text: str
    window: Window
    dose: qt.Arg | None = dc_field(default=None, compare=False, repr=False)  # a dose rate as typed

    def to_json(self) -> dict[str, object]:
        """Structured, so a program file is read back without re-parsing text (``window_from_json``)."""
        w = self.window
        out: dict[str, object] = {"effect": f"{units.hhmm(w.start_s)}-{_end_text(w.end_s)}"}
        if w.change_permille is not None:
            out["change"] = change_text(w.change_permille)
        else:
            out["dose"] = qt.to_json(qt.q(w.dose_ng_per_day or 0, "ng/day"), "mcg/day")
        if w.days is not None:
            out["days"] = [DAY_NAMES[d] for d in w.days]
        return out


def _end_text(end_s: int) -> str:
    return "24:00" if end_s == S_PER_DAY else units.hhmm(end_s)


def change_text(permille: int) -> str:
    whole, tenth = divmod(abs(permille), _PER_PERCENT)
    return ("+" if permille > 0 else "-") + str(whole) + (f".{tenth}" if tenth else "") + "%"


_SPAN_RE = re.compile(r"([0-9]{1,2}:[0-9]{2})\s*-\s*([0-9]{1,2}:[0-9]{2})\s*$")


def parse_window(field: str, text: str) -> WindowSpec:
    """``[DAYS ]HH:MM-HH:MM=CHANGE`` (CHANGE "+20%", "-10%" or a dose rate "600 mcg/day")."""
    if not isinstance(text, str) or "=" not in text:
        raise bad(
            field,
            text,
            "is not a window; write HH:MM-HH:MM=+25%, HH:MM-HH:MM=600 mcg/day or Mon-Fri HH:MM-HH:MM=+12%",
        )
    digit = qtext.non_ascii_digit(text)
    if digit is not None:
        raise bad(field, text, digit)
    left, change = text.split("=", 1)
    m = _SPAN_RE.search(left)
    if m is None:
        raise bad(field, text, "has no time span HH:MM-HH:MM before '='")
    day_part = left[: m.start()].strip()
    days = parse_days(field, day_part) if day_part else None
    return window(field, text, (m.group(1), m.group(2)), change.strip(), days=days)


def window(
    field: str,
    text: str,
    span: tuple[str, str],
    change: object,
    *,
    days: tuple[int, ...] | None,
    dose: bool | None = None,
    span_field: str | None = None,
) -> WindowSpec:
    """A WindowSpec from its parts: ``span`` ("HH:MM", "HH:MM"); ``dose`` True: ``change`` is a dose rate,
    None: decide from the text; ``span_field`` names the span where it has its own field (``effect``)."""
    at = field if span_field is None else span_field
    start_s, end_s = _hhmm(at, span[0]), _hhmm(at, span[1])
    span_text = text if span_field is None else f"{span[0]}-{span[1]}"
    if start_s == S_PER_DAY:
        raise bad(at, span_text, "starts at 24:00; a window starts between 00:00 and 23:59")
    if start_s == end_s % S_PER_DAY:
        raise bad(at, span_text, "is empty or a whole day long; a window is shorter than 24 h")
    is_percent = isinstance(change, str) and change.rstrip().endswith("%") if dose is None else not dose
    if dose is None and isinstance(change, str) and _PCT_RE.fullmatch(change):
        is_percent = True  # "+20pct": refused as a percentage, not read as pico-carat
    permille, rate, typed = None, None, None
    if is_percent:
        permille = percent_permille(field, str(change), signed=True)
        if permille <= -PERMILLE:
            raise bad(field, text, "would stop therapy: a change must be above -100 %", ["ITB-DIS-01"])
    else:
        typed = qt.arg(field, change, "dose rate")
        rate = typed.base()
    return WindowSpec(
        field, text.strip(), Window(start_s, end_s, permille, rate, list(days) if days else None), typed
    )


def window_from_json(field: str, obj: object) -> WindowSpec:
    """Inverse of :meth:`WindowSpec.to_json` (and the reader of a TOML ``[[window]]``'s keys)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("effect"), str):
        raise bad(field, obj, "is not a window {effect, change | dose, days}")
    return window_table(field, obj)


def window_table(field: str, item: dict[str, object]) -> WindowSpec:
    """A window from its keys: effect "HH:MM-HH:MM", change "+20%" or dose "600 mcg/day", days [names]."""
    effect = str(item["effect"])
    m = re.fullmatch(r"\s*([0-9]{1,2}:[0-9]{2})\s*-\s*([0-9]{1,2}:[0-9]{2})\s*", effect)
    if m is None and qtext.non_ascii_digit(effect):
        raise bad(f"{field}.effect", effect, str(qtext.non_ascii_digit(effect)))
    if m is None:
        raise bad(f"{field}.effect", effect, "is not a time span HH:MM-HH:MM")
    if ("change" in item) == ("dose" in item):
        raise bad(field, effect, "needs exactly one of change (e.g. '+25%') and dose (e.g. '600 mcg/day')")
    days = _days_list(f"{field}.days", item.get("days"))
    if "change" in item:
        change = item["change"]
        if not isinstance(change, str):
            raise bad(f"{field}.change", change, "is not a signed percentage such as '+25%'")
        return window(
            f"{field}.change",
            effect + "=" + change,
            (m.group(1), m.group(2)),
            change,
            days=days,
            dose=False,
            span_field=f"{field}.effect",
        )
    dose = item["dose"]
    if isinstance(dose, dict) and set(dose) == {"value", "unit"}:  # a program file's {value, unit}
        dose = f"{dose['value']} {dose['unit']}"
    return window(
        f"{field}.dose",
        f"{effect}={dose}",
        (m.group(1), m.group(2)),
        dose,
        days=days,
        dose=True,
        span_field=f"{field}.effect",
    )


def _days_list(field: str, value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad(field, value, 'is not a list of weekday names such as ["Mon-Fri"] or ["Sat", "Sun"]')
    return parse_days(field, ",".join(value))


def overrides(field: str, items: list[tuple[str, str]]) -> dict[str, str]:
    """(rule ID, reason) pairs -> the library's checked dict; refusals name ``field`` and the rule."""
    out: dict[str, str] = {}
    for rid, reason in items:
        if rid in out:
            raise bad(field, rid, "is overridden twice")
        out[rid] = reason.strip()
    for rid, reason in out.items():
        try:
            library.validate_overrides({rid: reason})
        except ItbError as exc:
            raise bad(field, f"{rid}={reason}", exc.reason) from None
    return out


def override_items(field: str, texts: list[str]) -> list[tuple[str, str]]:
    """ "RULE-ID=reason" texts (the --override flag) -> pairs."""
    out = []
    for text in texts:
        rid, sep, reason = text.partition("=")
        if not sep or not rid.strip() or not reason.strip():
            raise bad(field, text, "is not RULE-ID=reason, e.g. 'ITB-RNG-04=stable on it for 6 months'")
        out.append((rid.strip(), reason.strip()))
    return out
