"""The one precision policy of the text output (docs/cli.md, "Precision"), and shared display pieces.

Every quantity kind has one display unit and a number of decimals that holds the core's base unit exactly,
so text shows exactly what the core computed: a dose per day in mcg/day to 0.001 (1 ng/day), a flow per day
in mL/day to 0.000001 (1 nL/day), a volume in mL to 0.000001 (1 nL), a concentration in mcg/mL. Per-hour
figures come from the per-day value through the one conversion, ``firmware_py.units.per_hour`` (rounded
down: never more drug than the per-day value), and are shown to 1 ng/h or 1 nL/h; a non-zero rate below that
shows as "< 0.001 mcg/h", never rounded up. Durations are truncated to the minute ("18 days 4 h 32 min": an
alarm is never shown later than it sounds); one under a minute but not zero is "< 1 min". Trailing zeros are
dropped.

Everything here works on the core's integers, so the rig commands can call it without pint:
:func:`dose`, :func:`flow`, :func:`step_rows` and :func:`program_rows` (the side-by-side view), and
:func:`program_json` (a program as `itb readback --json` and `itb load --json` write it, its quantities
``{"value", "unit"}`` in the display units, as ``host_tools.quantities.to_json`` writes them).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from firmware_py import decision, library, units
from firmware_py import program as fw_program
from firmware_py.flow import flow_nl_per_day
from firmware_py.schedule import rows as schedule_rows
from firmware_py.units import NG_PER_MCG, NL_PER_ML, NL_PER_UL, S_PER_DAY, S_PER_H, S_PER_MIN

if TYPE_CHECKING:
    from host_tools.quantities import Quantity

END_OF_DAY = "24:00"  # a constant rate's one step runs 00:00-24:00


_fixed = units.fmt_exact  # value / scale exactly, trailing zeros dropped (the core's, for rig and host alike)


def shown(text: str, keep: str = "") -> str:
    """Text from a file or a rig, safe on a terminal: each control character (C0, DEL, C1) other than
    those in ``keep`` as a Python escape (``\\x1b``), so no byte of it can move the cursor or recolour the
    screen."""
    out = []
    for ch in text:
        c = ord(ch)
        if (c < 0x20 or 0x7F <= c < 0xA0) and ch not in keep:
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def plural(n: int, word: str) -> str:
    """ "1 day", "18 days", "0 days"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def mcg(ng: int) -> str:
    return _fixed(ng, NG_PER_MCG) + " mcg"


def mcg_per_day(ng_per_day: int) -> str:
    return _fixed(ng_per_day, NG_PER_MCG) + " mcg/day"


def mcg_range(low_ng_per_day: int, high_ng_per_day: int) -> str:
    """ "12 to 2003 mcg/day"."""
    return f"{_fixed(low_ng_per_day, NG_PER_MCG)} to {mcg_per_day(high_ng_per_day)}"


def mcg_per_hour(ng_per_day: int) -> str:
    per_h = units.per_hour(ng_per_day)[0]
    if per_h == 0 and ng_per_day > 0:
        return "< 0.001 mcg/h"
    return _fixed(per_h, NG_PER_MCG) + " mcg/h"


def dose(ng_per_day: int) -> str:
    """A dose rate per day and per hour: "500 mcg/day (20.833 mcg/h)"."""
    return f"{mcg_per_day(ng_per_day)} ({mcg_per_hour(ng_per_day)})"


def ml(nl: int) -> str:
    """ "20 mL", "0.25 mL": the core's text (firmware_py.decision), which the rig's messages use too."""
    return decision.ml(nl)


def ml_per_day(nl_per_day: int) -> str:
    return _fixed(nl_per_day, NL_PER_ML) + " mL/day"


def ul_per_hour(nl_per_day: int) -> str:
    per_h = units.per_hour(nl_per_day)[0]
    if per_h == 0 and nl_per_day > 0:
        return "< 0.001 uL/h"
    return _fixed(per_h, NL_PER_UL) + " uL/h"


def flow(nl_per_day: int) -> str:
    """A flow per day and per hour: "1 mL/day (41.666 uL/h)"."""
    return f"{ml_per_day(nl_per_day)} ({ul_per_hour(nl_per_day)})"


def conc(ng_per_ul: int) -> str:
    return f"{ng_per_ul} mcg/mL"


def percent(permille: int) -> str:
    return _fixed(permille, units.PERMILLE // units.PERCENT) + " %"


def cm(mm: int) -> str:
    """ "50 cm", "45.5 cm": the core's text (firmware_py.decision)."""
    return decision.cm(mm)


def duration(seconds: int) -> str:
    """Truncated to the minute: "18 days 4 h 32 min", "2 h", "45 min", "0 min"; a non-zero duration under a
    minute is "< 1 min" (an alarm due within the minute is not "in 0 min", nor shown late)."""
    if 0 < seconds < S_PER_MIN:
        return "< 1 min"
    days, rest = divmod(max(seconds, 0), S_PER_DAY)
    hours, rest = divmod(rest, S_PER_H)
    minutes = rest // S_PER_MIN
    parts = []
    if days:
        parts.append(plural(days, "day"))
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


# -- quantities (pint) in the policy's units ----------------------------------------------------------------


def base(qty: Quantity, kind: str) -> int:
    """``qty`` in the core's base unit for ``kind``, rounded down (display never shows more than there is)."""
    from host_tools import quantities as qt  # noqa: PLC0415

    value = qt.exact(qty, qt.KINDS[kind].base_unit)
    return value.numerator // value.denominator


def show(qty: Quantity, kind: str) -> str:
    """A pint quantity as text in the policy's unit for ``kind`` (per day and per hour for a rate)."""
    value = base(qty, kind)
    if kind == "dose rate":
        return dose(value)
    if kind == "flow":
        return flow(value)
    if kind == "duration":
        return duration(value)
    return {"mass": mcg, "volume": ml, "concentration": conc, "length": cm}[kind](value)


# -- programs: the rows a side-by-side view shows ------------------------------------------------------------


def step_rows(schedule: object, conc_ng_per_ul: int) -> list[tuple[str, str, str, str]]:
    """(start, end, dose per day and per hour, flow per day and per hour) for each step of a schedule."""
    out = []
    for a, b, d in schedule_rows(schedule):  # type: ignore[arg-type]
        out.append((a, END_OF_DAY if a == b else b, dose(d), flow(flow_nl_per_day(d, conc_ng_per_ul)[0])))
    return out


def _start_row(p: fw_program.Program) -> tuple[str, str] | None:
    if p.phase in (library.INITIAL, library.RESTART):
        return ("start", f"screening dose {mcg(p.screening_dose_ng)}, effect {duration(p.effect_s)}")
    if p.phase == library.TRANSFER:
        return ("start", f"transfer from {mcg_per_day(p.previous_ng_per_day)}: {p.reason}")
    return None


def program_rows(p: fw_program.Program | None, data: bytes | None = None) -> list[tuple[str, str]]:
    """(field, value) rows describing a program: every step with dose and flow, per day and per hour."""
    if p is None:
        return [("program", "none")]
    data = fw_program.encode(p) if data is None else data
    out = [
        ("program", fw_program.short_id(data)),
        ("label", p.label or "-"),
        ("drug", f"{p.drug} {conc(p.conc_ng_per_ul)}"),
        ("patient", f"{library.group_text(p.origin, p.age_years)}, {plural(p.age_years, 'year')}"),
        ("pump", f"{p.pump_kind}, {ml(p.reservoir_nl)}, alarm at {ml(p.alarm_nl)}"),
        ("phase", p.phase),
    ]
    start = _start_row(p)
    if start:
        out.append(start)
    out.append(
        (
            "base",
            f"{dose(p.base_dose_ng_per_day)}, "
            f"{flow(flow_nl_per_day(p.base_dose_ng_per_day, p.conc_ng_per_ul)[0])}",
        )
    )
    for i, (a, b, d, f) in enumerate(step_rows(p.schedule, p.conc_ng_per_ul)):
        out.append((f"step {i + 1}", f"{a}-{b} {d}, {f}"))
    n_days = p.schedule.period_s // S_PER_DAY
    totals = [p.schedule.day_total(i)[0] for i in range(n_days)]
    out.append(("daily total" if n_days == 1 else "daily totals", ", ".join(mcg(t) for t in totals)))
    for rid, reason in p.overrides:
        out.append((f"override {rid}", reason))
    out.append(("checksum", fw_program.checksum(data)))
    return out


def side_by_side(
    old: list[tuple[str, str]],
    new: list[tuple[str, str]],
    *,
    old_title: str = "old (on the rig)",
    new_title: str = "new (to load)",
) -> str:
    """Two programs in two columns; ``*`` marks a row that changes."""
    names: list[str] = []
    for k, _ in old + new:
        if k not in names:
            names.append(k)
    o, n = dict(old), dict(new)
    width = max(len(k) for k in names)
    col = max([len(old_title)] + [len(v) for v in o.values()])
    lines = [f"  {'':<{width}}  {old_title:<{col}}  {new_title}"]
    for k in names:
        a, b = o.get(k, "-"), n.get(k, "-")
        lines.append(f"{'*' if a != b else ' '} {k:<{width}}  {a:<{col}}  {b}")
    return "\n".join(lines)


# -- programs as JSON (`itb readback`, `itb load`) -----------------------------------------------------------


def quantity_json(value: int, per: int, unit: str) -> dict[str, Any]:
    """``{"value": value / per, "unit": unit}``, as ``quantities.to_json`` writes it without pint: exact when
    a whole number of ``unit``, otherwise the nearest double."""
    v = Fraction(value, per)
    return {"value": v.numerator if v.denominator == 1 else float(v), "unit": unit}


def rate_json(ng_per_day: int) -> dict[str, Any]:
    """A dose rate per day and per hour (the per-day value over 24 h, rounded down), in mcg/day and mcg/h."""
    return {"per_day": quantity_json(ng_per_day, NG_PER_MCG, "mcg/day"),
            "per_hour": quantity_json(units.per_hour(ng_per_day)[0], NG_PER_MCG, "mcg/h")}


def program_json(p: fw_program.Program | None, data: bytes | None) -> dict[str, Any] | None:
    """A program read from a rig or to be loaded (docs/cli.md, `itb readback`): its ids, the encoding, and
    every step as the program file states it (a constant rate 00:00-24:00)."""
    if p is None or data is None:
        return None
    return {
        "id": fw_program.short_id(data),
        "checksum": fw_program.checksum(data),
        "encoding": data.decode("ascii"),
        "label": p.label,
        "concentration": quantity_json(p.conc_ng_per_ul, 1, "mcg/mL"),
        "phase": p.phase,
        "steps": [
            {"start": a, "end": END_OF_DAY if a == b else b, "dose_ng_per_day": d, **rate_json(d)}
            for a, b, d in schedule_rows(p.schedule)
        ],
        "daily_total_ng": [p.schedule.day_total(i)[0] for i in range(p.schedule.period_s // S_PER_DAY)],
    }
