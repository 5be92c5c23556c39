"""The one day-start conversion of the host: a calendar date <-> rig seconds (seconds since 1970-01-01 00:00
rig local time, the time base of every schedule; weekly phase 0 is a Monday 00:00)."""

from __future__ import annotations

import datetime as dt

from firmware_py.units import S_PER_DAY
from host_tools.quantities import bad

EPOCH = dt.date(1970, 1, 1)


def day_start_s(day: dt.date) -> int:
    """The rig seconds of ``day``'s midnight."""
    return (day - EPOCH).days * S_PER_DAY


def date_of(t_s: int) -> dt.date:
    """The calendar date on which rig second ``t_s`` falls."""
    return EPOCH + dt.timedelta(days=t_s // S_PER_DAY)


def parse_date(field: str, value: object) -> dt.date:
    """A TOML date or ISO text "YYYY-MM-DD" (a date-time is refused: a fill is dated, not timed)."""
    if isinstance(value, dt.datetime):
        raise bad(field, value.isoformat(), "is a date and time; give the date alone, YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise bad(field, value, "is not a date YYYY-MM-DD")
