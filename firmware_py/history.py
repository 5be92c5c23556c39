# The rig's dose history: what the pump ran and when, bounded, persisted atomically with the program.
#
# An entry is one schedule the pump ran: (t_on, t_off, period_s, steps text), t_off = -1 while it runs.
# A commit that changes the dose (the schedule as a rate function, not its label or concentration) closes
# the running entry and opens a new one; a confirmed stop closes it. Entries that ended more than the
# longest window the rules look back (ITB-ESC-01, 7 days) are dropped. At most MAX_ENTRIES are kept: when
# more changes than that fall within the window, the oldest is folded into two conservative summaries, its
# lowest rate (the floor, for ITB-ESC-01) and its highest (the ceiling, for ITB-DIS-01), each kept until
# that entry leaves the window. A summary makes a check stricter, never looser.

from firmware_py import library
from firmware_py.errors import InputError
from firmware_py.schedule import Schedule, segments

MAX_ENTRIES = 8


def _steps_text(sched: Schedule) -> str:
    return ",".join([str(s) + ":" + str(d) for s, d in sched.steps])


def schedule_of(entry: tuple[int, int, int, str]) -> Schedule:
    # The schedule of a history entry.
    return _schedule(entry[2], entry[3])


def _schedule(period: int, text: str) -> Schedule:
    steps = []
    for item in text.split(","):
        a, b = item.split(":")
        steps.append((int(a), int(b)))
    return Schedule(period, steps)


def same_dose(a: Schedule, b: Schedule) -> bool:
    return all(r[0] == r[1] for _t0, _t1, r in segments([a, b]))


def lookback_s() -> int:
    # The longest window any rule reads the history over.
    return library.param("ITB-ESC-01", "window_s")


NO_ORIGIN = "-"


class History:
    __slots__ = ("age", "ceil_rate", "ceil_until", "entries", "floor_rate", "floor_until", "origin",
                 "t_start")

    def __init__(self) -> None:
        # (t_on, t_off, period_s, steps text), oldest first
        self.entries: list[tuple[int, int, int, str]] = []
        self.floor_rate = 0  # lowest rate of folded entries (0: none)
        self.floor_until = -1  # t_off of the newest folded entry
        self.ceil_rate = 0  # highest rate of folded entries
        self.ceil_until = -1
        self.t_start = -1  # the last start (first program, or the first after a confirmed stop)
        self.origin = NO_ORIGIN  # the course's patient, as its start stated it (unknown: "-", -1)
        self.age = -1

    def copy(self) -> "History":
        h = History()
        h.entries = list(self.entries)
        h.floor_rate = self.floor_rate
        h.floor_until = self.floor_until
        h.ceil_rate = self.ceil_rate
        h.ceil_until = self.ceil_until
        h.t_start = self.t_start
        h.origin = self.origin
        h.age = self.age
        return h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.text() == other.text()

    __hash__ = None  # type: ignore[assignment]  # mutable: equal by value, never a dict key

    def running(self) -> bool:
        return bool(self.entries) and self.entries[-1][1] < 0

    def t_change(self) -> int:
        # The last change of the dose (the newest entry's start; a stop is a reduction, not counted here);
        # -1 when the pump never ran.
        return self.entries[-1][0] if self.entries else -1

    def window(self, t: int, w: int) -> list[Schedule]:
        # Every schedule the pump ran at any instant of (t - w, t], newest last.
        return [_schedule(e[2], e[3]) for e in self.entries if e[1] < 0 or e[1] > t - w]

    def floor_in(self, t: int, w: int) -> int:
        # The folded floor rate when it still falls within (t - w, t], else 0.
        return self.floor_rate if self.floor_until > t - w else 0

    def ceil_in(self, t: int, w: int) -> int:
        return self.ceil_rate if self.ceil_until > t - w else 0

    def ran(self, t_on: int, t_off: int, sched: Schedule) -> None:
        # A schedule that ran until t_off before the pump took over (a transfer's stated dose), from t_on or
        # from the end of the newest entry, whichever is later. Only on a pump that is not running.
        if self.entries:
            last = self.entries[-1]
            t_on = max(t_on, last[0], last[1])
        self.entries.append((min(t_on, t_off), t_off, sched.period_s, _steps_text(sched)))

    def commit(self, t: int, sched: Schedule, start: bool) -> None:
        # A new program at t. A start (first program, or after a confirmed stop) opens a course.
        if start:
            self.t_start = t
        text = _steps_text(sched)
        if self.running():
            last = self.entries[-1]
            if same_dose(_schedule(last[2], last[3]), sched):
                return  # the same dose at every instant: a label, an override or a refill, not a change
            self.entries[-1] = (last[0], t, last[2], last[3])
        self.entries.append((t, -1, sched.period_s, text))
        self._prune(t)

    def stop(self, t: int) -> None:
        if self.running():
            last = self.entries[-1]
            self.entries[-1] = (last[0], t, last[2], last[3])
            self._prune(t)

    def _prune(self, t: int) -> None:
        keep = lookback_s()
        self.entries = [e for e in self.entries if e[1] < 0 or e[1] > t - keep]
        while len(self.entries) > MAX_ENTRIES:
            e = self.entries.pop(0)
            rates = [int(item.split(":")[1]) for item in e[3].split(",")]
            low = min(rates)
            high = max(rates)
            self.floor_rate = low if self.floor_rate == 0 else min(self.floor_rate, low)
            self.ceil_rate = max(self.ceil_rate, high)
            self.floor_until = max(self.floor_until, e[1])
            self.ceil_until = max(self.ceil_until, e[1])

    # -- persistence (firmware_py/state.py) and the HIS reply ---------------------------------------
    def text(self) -> str:
        # "t_start/floor_rate/floor_until/ceil_rate/ceil_until/origin/age;t_on/t_off/period/steps;..."
        head = "/".join([str(x) for x in (self.t_start, self.floor_rate, self.floor_until, self.ceil_rate,
                                          self.ceil_until, self.origin, self.age)])
        return ";".join([head] + ["/".join([str(e[0]), str(e[1]), str(e[2]), e[3]]) for e in self.entries])


def parse(text: str) -> History:
    # Raises InputError (or ValueError) on anything that does not make sense.
    h = History()
    parts = text.split(";")
    fields = parts[0].split("/")
    if len(fields) != 7 or (fields[5] != NO_ORIGIN and fields[5] not in library.ORIGINS):
        raise InputError("history", parts[0], "must have 7 summary fields")
    head = [int(x) for x in fields[:5] + fields[6:]]
    h.t_start, h.floor_rate, h.floor_until, h.ceil_rate, h.ceil_until, h.age = head
    h.origin = fields[5]
    prev = -1
    for item in parts[1:]:
        f = item.split("/")
        if len(f) != 4:
            raise InputError("history", item, "must be t_on/t_off/period/steps")
        e = (int(f[0]), int(f[1]), int(f[2]), f[3])
        if e[0] < prev or (e[1] >= 0 and e[1] < e[0]):
            raise InputError("history", item, "is out of order")
        _schedule(e[2], e[3])  # validates the schedule
        prev = e[0]
        h.entries.append(e)
    if len(h.entries) > MAX_ENTRIES or any(e[1] < 0 for e in h.entries[:-1]):
        raise InputError("history", len(h.entries), "has more than one running entry or too many entries")
    return h
