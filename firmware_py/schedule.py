# Periodic step schedules of dose rate (flex dosing), the 2 h lead shift, exact integrals.
#
# A Schedule is a step function of dose_ng_per_day over a period of one day (86 400 s) or one week
# (604 800 s, phase 0 = Monday 00:00). steps = [(start_s, dose_ng_per_day), ...], sorted, on whole minutes;
# a step lasts until the next start, the last one wraps round to the first (across midnight).
# Canonical form merges adjacent equal rates (also last -> first); a constant rate is [(0, D)].
#
# Integrals are exact ints in ng*s/day: a rate of D ng/day held for t s adds D * t, so one day at D is
# D * 86 400 and ng = integral // 86 400 (floor: never more drug than prescribed).
#
# Every rate is > 0: a zero-rate step would stop therapy, and baclofen must never stop abruptly
# (ITB-DIS-01, boxed warning, 000_bca09fe69b9ab955.txt).
#
# Hot paths (rate_at, integral_between, time_to_integral, next_change) allocate nothing of their own:
# the constructor precomputes segment bounds, rates and cumulative integrals over one period.

from firmware_py.errors import ScheduleError
from firmware_py.units import S_PER_DAY, S_PER_MIN, S_PER_WEEK, ceil_div, floor_div, hhmm, is_int

PERIODS_S = (S_PER_DAY, S_PER_WEEK)
WEEK_OFFSET_S = 3 * S_PER_DAY  # 1970-01-01 (t = 0) was a Thursday; weekly phase 0 is Monday 00:00
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")



_PERIOD_REASON = "must be " + str(S_PER_DAY) + " (daily) or " + str(S_PER_WEEK) + " (weekly)"

def require_int(field: str, value: object) -> int:
    if not is_int(value):
        raise ScheduleError(field, value, "must be an int")
    return value  # type: ignore[return-value]


def minutes(field: str, value: object, low: int, high: int) -> int:
    # An int on a whole minute, low <= value < high.
    v = require_int(field, value)
    if v < low or v >= high:
        raise ScheduleError(field, value, "must be in [" + str(low) + ", " + str(high) + ")")
    if v % S_PER_MIN:
        raise ScheduleError(field, value, "must be on a whole minute")
    return v


def _period(value: object) -> int:
    v = require_int("period_s", value)
    if v not in PERIODS_S:
        raise ScheduleError("period_s", value, _PERIOD_REASON)
    return v


def _step(i: int, st: object, period_s: int) -> tuple[int, int]:
    # Validates steps[i]: a (start_s, dose_ng_per_day) pair on a whole minute in [0, period_s), rate > 0.
    name = "steps[" + str(i) + "]"
    if not isinstance(st, (list, tuple)) or len(st) != 2:
        raise ScheduleError(name, st, "must be a (start_s, dose_ng_per_day) pair")
    start = minutes(name + ".start_s", st[0], 0, period_s)
    rate = require_int(name + ".dose_ng_per_day", st[1])
    if rate <= 0:
        # ITB-DIS-01: a zero or negative rate would stop therapy.
        raise ScheduleError(name + ".dose_ng_per_day", st[1], "must be > 0 (never stop therapy)")
    return (start, rate)


def phase_of(t_s: int, period_s: int) -> int:
    # Absolute time (s since 1970-01-01 00:00) -> phase within the period.
    if period_s == S_PER_DAY:
        return t_s % S_PER_DAY
    if period_s == S_PER_WEEK:
        return (t_s + WEEK_OFFSET_S) % S_PER_WEEK
    raise ScheduleError("period_s", period_s, _PERIOD_REASON)


def _canonical(period_s: int, steps: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # One pass over the steps: a plain (int, int) tuple that is in range is taken as is; anything else goes
    # through _step, which raises the same errors in the same order (or accepts a list pair or an int
    # subclass). The sort is skipped when the starts already increase strictly. Equal neighbours merge.
    if not isinstance(steps, (list, tuple)) or not steps:
        raise ScheduleError("steps", steps, "must be a non-empty list of (start_s, dose_ng_per_day)")
    raw = []
    prev = -1
    ordered = True
    for i, st in enumerate(steps):
        if (
            type(st) is tuple
            and len(st) == 2
            and type(st[0]) is int
            and type(st[1]) is int
            and 0 <= st[0] < period_s
            and not st[0] % S_PER_MIN
            and st[1] > 0
        ):
            pair = st
        else:
            pair = _step(i, st, period_s)
        if pair[0] <= prev:
            ordered = False
        prev = pair[0]
        raw.append(pair)
    if not ordered:
        raw.sort()
        for i in range(1, len(raw)):
            if raw[i][0] == raw[i - 1][0]:
                raise ScheduleError("steps", raw[i][0], "has two steps starting at the same time")
    # Merge equal neighbours (and last -> first: the last step runs on into the first one's time).
    first_rate = raw[0][1]
    last_rate = raw[-1][1]
    merged = []
    rate = 0
    for st in raw:
        if st[1] != rate:
            merged.append(st)
            rate = st[1]
    if len(merged) > 1 and last_rate == first_rate:
        merged.pop(0)
    if len(merged) == 1:
        merged = [(0, merged[0][1])]
    return merged


def _segments(period_s: int, merged: list[tuple[int, int]]) -> tuple[list[int], list[int], list[int]]:
    # Segments covering [0, period): bounds _b[i] .. _b[i + 1] at rate _r[i]; _c[i] = integral 0 .. _b[i].
    if merged[0][0]:
        b = [0]
        r = [merged[-1][1]]
    else:
        b = []
        r = []
    for st in merged:
        b.append(st[0])
        r.append(st[1])
    b.append(period_s)
    c = [0]
    acc = 0
    lo = 0
    for i in range(len(r)):
        hi = b[i + 1]
        acc += r[i] * (hi - lo)
        c.append(acc)
        lo = hi
    return b, r, c


class Schedule:
    __slots__ = ("_b", "_c", "_off", "_r", "_total", "period_s", "steps")

    def __init__(self, period_s: int, steps: list[tuple[int, int]]) -> None:
        if type(period_s) is not int or period_s not in PERIODS_S:
            period_s = _period(period_s)
        merged = _canonical(period_s, steps)
        self.period_s = period_s
        self.steps = merged
        self._off = WEEK_OFFSET_S if period_s == S_PER_WEEK else 0
        self._b, self._r, self._c = _segments(period_s, merged)
        self._total = self._c[-1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.period_s == other.period_s and self.steps == other.steps

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self.period_s, tuple(self.steps)))

    def __repr__(self) -> str:
        return "Schedule(" + str(self.period_s) + ", " + repr(self.steps) + ")"

    # -- lookups (no allocation beyond big-int arithmetic) --

    def _seg(self, p: int) -> int:
        # Index of the segment holding phase p (0 <= p < period): binary search on the bounds.
        b = self._b
        lo = 0
        hi = len(b) - 2
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            if b[mid] <= p:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _cum(self, t_s: int) -> int:
        # Integral from the period start at or before the epoch to absolute time t_s.
        u = t_s + self._off
        n = u // self.period_s
        p = u - n * self.period_s
        i = self._seg(p)
        return n * self._total + self._c[i] + self._r[i] * (p - self._b[i])

    def rate_at(self, t_s: int) -> int:
        if not is_int(t_s):
            raise ScheduleError("t_s", t_s, "must be an int")
        return self._r[self._seg((t_s + self._off) % self.period_s)]

    def next_change(self, t_s: int) -> int:
        # First absolute second > t_s at which the rate changes (t_s + period for a constant rate).
        if not is_int(t_s):
            raise ScheduleError("t_s", t_s, "must be an int")
        u = t_s + self._off
        p = u % self.period_s
        base = u - p - self._off
        if len(self.steps) == 1:
            return t_s + self.period_s
        for st in self.steps:
            if st[0] > p:
                return base + st[0]
        return base + self.period_s + self.steps[0][0]

    def integral_ng_s_per_day(self) -> int:
        # Exact integral over one period (a week for a weekly schedule), ng*s/day.
        return self._total

    def day_total(self, day_index: int = 0) -> tuple[int, int]:
        # (ng delivered over day day_index of the period, ng*s/day dropped by the floor). Weekly: 0 = Monday.
        n_days = self.period_s // S_PER_DAY
        if not is_int(day_index) or day_index < 0 or day_index >= n_days:
            raise ScheduleError("day_index", day_index, "must be an int in [0, " + str(n_days) + ")")
        t0 = day_index * S_PER_DAY - self._off
        return floor_div(self._cum(t0 + S_PER_DAY) - self._cum(t0), S_PER_DAY)

    def integral_between(self, t0_s: int, t1_s: int) -> int:
        # Exact integral of the rate over absolute times [t0_s, t1_s], ng*s/day. Any span.
        if not is_int(t0_s):
            raise ScheduleError("t0_s", t0_s, "must be an int")
        if not is_int(t1_s) or t1_s < t0_s:
            raise ScheduleError("t1_s", t1_s, "must be an int >= t0_s")
        return self._cum(t1_s) - self._cum(t0_s)

    def time_to_integral(self, t0_s: int, target: int) -> int:
        # First absolute second t with integral_between(t0_s, t) >= target (ceil per step). Used for alarm
        # and empty times: never later than the true instant, so alarms are never late.
        if not is_int(t0_s):
            raise ScheduleError("t0_s", t0_s, "must be an int")
        if not is_int(target) or target < 0:
            raise ScheduleError("target", target, "must be an int >= 0")
        goal = self._cum(t0_s) + target
        n = goal // self._total
        r = goal - n * self._total
        p = 0
        if r:
            c = self._c
            i = len(c) - 2
            while c[i] >= r:
                i -= 1
            p = self._b[i] + ceil_div(r - c[i], self._r[i])[0]
        return n * self.period_s + p - self._off

    def intervals(self) -> list[tuple[int, int, int]]:
        # [(start_s, end_s, dose_ng_per_day)] in phase; the wrapped step has end_s > period_s.
        out = []
        n = len(self.steps)
        for i in range(n):
            start, rate = self.steps[i]
            end = self.steps[i + 1][0] if i + 1 < n else self.steps[0][0] + self.period_s
            out.append((start, end, rate))
        return out

    def shifted(self, lead_s: int) -> "Schedule":
        # The same schedule moved lead_s earlier (negative: later). Totals are preserved exactly.
        lead_s = require_int("lead_s", lead_s)
        if lead_s % S_PER_MIN:
            raise ScheduleError("lead_s", lead_s, "must be on a whole minute")
        return Schedule(self.period_s, [((s - lead_s) % self.period_s, d) for s, d in self.steps])


def steps_per_day(sched: Schedule) -> list[int]:
    # Programmed steps per day on a pump whose day starts at 00:00: a step running across midnight
    # counts on both days (it has to be entered twice). One count per day of the period.
    starts = [st[0] for st in sched.steps]
    out = []
    for d in range(sched.period_s // S_PER_DAY):
        lo = d * S_PER_DAY
        hi = lo + S_PER_DAY
        n = 0
        for s in starts:
            if lo <= s < hi:
                n += 1
        if len(starts) > 1 and lo not in starts:
            n += 1  # the step carried in across midnight
        out.append(max(n, 1))
    return out


def _label(period_s: int, t_s: int) -> str:
    t_s = t_s % period_s
    if period_s == S_PER_DAY:
        return hhmm(t_s)
    return DAY_NAMES[t_s // S_PER_DAY] + " " + hhmm(t_s)


def rows(sched: Schedule) -> list[tuple[str, str, int]]:
    # Display rows: ("HH:MM", "HH:MM", dose_ng_per_day); weekly labels carry the day ("Fri 20:00").
    return [(_label(sched.period_s, a), _label(sched.period_s, b), d) for a, b, d in sched.intervals()]


def common_period(schedules: list[Schedule]) -> int:
    # A week when any schedule is weekly, else a day.
    for s in schedules:
        if s.period_s == S_PER_WEEK:
            return S_PER_WEEK
    return S_PER_DAY


def segments(schedules: list[Schedule]) -> list[tuple[int, int, list[int]]]:
    # Every instant of the common period, as (start, end, [rate of each schedule]) pieces on which every
    # schedule holds one rate. Times are phases of the common period (a week starts on Monday 00:00).
    period = common_period(schedules)
    off = WEEK_OFFSET_S if period == S_PER_WEEK else 0
    bounds = [0, period]
    for s in schedules:
        for k in range(period // s.period_s):
            for st in s.steps:
                bounds.append(k * s.period_s + st[0])
    bounds.sort()
    out = []
    prev = -1
    for b in bounds:
        if b == prev:
            continue
        if prev >= 0:
            out.append((prev, b, [s.rate_at(prev - off) for s in schedules]))
        prev = b
    return out


def phase_label(period_s: int, t_s: int) -> str:
    # "HH:MM" of a daily phase, "Fri 20:00" of a weekly one.
    return _label(period_s, t_s)
