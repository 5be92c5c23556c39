"""Desired-effect windows -> the programmed schedule, through the core's ``windows.build`` (ITB-SCH-01/02,
ITB-PMP-04), with every refusal in the user's words: the window as typed, durations in h and min.

Used by ``itb schedule`` (host_tools.calc) and by prescriptions (host_tools.rx), so both build alike.
"""

from __future__ import annotations

import re

from firmware_py import library
from firmware_py import windows as core_windows
from firmware_py.errors import ScheduleError
from firmware_py.schedule import DAY_NAMES, Schedule
from firmware_py.units import S_PER_DAY, S_PER_MIN
from host_tools import display
from host_tools.parsing import WindowSpec
from host_tools.quantities import Arg, bad


def lead_s(lead: Arg) -> int:
    """The lead (ITB-SCH-01): whole minutes, less than a day."""
    s = lead.base()
    if s >= S_PER_DAY:
        raise bad(lead.name, lead.text, "is not less than 24 h")
    if s % S_PER_MIN:
        raise bad(lead.name, lead.text, "is not a whole number of minutes")
    return s


def min_step_s(min_step: Arg) -> int:
    """The pump's shortest step: whole minutes, at least ITB-PMP-04's, at most a day."""
    s = min_step.base()
    least = library.param("ITB-PMP-04", "min_step_s")
    if s < least:
        raise bad(
            min_step.name,
            min_step.text,
            f"is shorter than the {display.duration(least)} a step may last",
            ["ITB-PMP-04"],
        )
    if s > S_PER_DAY or s % S_PER_MIN:
        raise bad(min_step.name, min_step.text, "is not a whole number of minutes up to 24 h")
    return s


def build(base_ng_per_day: int, specs: list[WindowSpec], lead: Arg, min_step: Arg) -> Schedule:
    """The schedule for a base daily dose and desired-effect windows, each step ``lead`` early."""
    lead_v, step_v = lead_s(lead), min_step_s(min_step)
    for spec in specs:
        length = spec.window.length_s()
        if length < step_v:
            raise bad(
                spec.field,
                spec.text,
                f"lasts {display.duration(length)}, shorter than the minimum step "
                f"{min_step.name} '{min_step.text}'",
                ["ITB-PMP-04"],
            )
    try:
        return core_windows.build(base_ng_per_day, [s.window for s in specs], lead_v, step_v)
    except ScheduleError as exc:
        raise _translated(exc, specs, lead, min_step) from None


def _pair(value: object, specs: list[WindowSpec]) -> list[WindowSpec]:
    by_repr = {repr(s.window): s for s in specs}
    return [by_repr[p] for p in str(value).split(" and ") if p in by_repr]


def _translated(exc: ScheduleError, specs: list[WindowSpec], lead: Arg, min_step: Arg) -> Exception:
    field = specs[0].field if specs else "window"
    pair = _pair(exc.value, specs)
    shown = " and ".join(f"'{s.text}'" for s in pair)
    if exc.field == "windows" and exc.reason == "overlap" and len(pair) == 2:
        return bad(
            field,
            pair[0].text,
            f"and '{pair[1].text}' overlap once each step starts {lead.name} '{lead.text}' early",
        )
    gap = re.match(r"leave a base-rate gap of (\d+) s", exc.reason)
    if exc.field == "windows" and gap and len(pair) == 2:
        return bad(
            field,
            pair[0].text,
            f"and '{pair[1].text}' leave a base-rate gap of "
            f"{display.duration(int(gap.group(1)))}, shorter than the minimum step {min_step.name} "
            f"'{min_step.text}'",
            ["ITB-PMP-04"],
        )
    day = re.match(r"day (\d+) needs more than (\d+) steps", exc.reason)
    if exc.field == "steps_per_day" and day:
        name = DAY_NAMES[int(day.group(1))] if any(s.window.days for s in specs) else "each day"
        return bad(
            field,
            f"{len(specs)} windows",
            f"need {exc.value} steps on {name}, more than the {day.group(2)} a pump takes in a day",
            ["ITB-SCH-02"],
        )
    if exc.field == "change_permille":
        for s in specs:
            if s.window.change_permille == exc.value:
                return bad(s.field, s.text, "rounds the rate to zero")
    if pair:
        return bad(pair[0].field, shown, exc.reason)
    return exc
