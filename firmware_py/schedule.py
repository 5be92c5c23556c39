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

LEAD_S = 2 * 3600  # ITB-SCH-01: "programmed to start 2 hrs before time of desired clinical effect" (002)
MIN_STEP_S = 1800
MAX_STEPS_PER_DAY = 13  # SynchroMed II flex dosing: up to 13 steps a day (DESIGN.md)
PERMILLE = 1000


def _int(field: str, value: object) -> int:
    if not is_int(value):
        raise ScheduleError(field, value, "must be an int")
    return value  # type: ignore[return-value]


def _minutes(field: str, value: object, low: int, high: int) -> int:
    # An int on a whole minute, low <= value < high.
    v = _int(field, value)
    if v < low or v >= high:
        raise ScheduleError(field, value, "must be in [" + str(low) + ", " + str(high) + ")")
    if v % S_PER_MIN:
        raise ScheduleError(field, value, "must be on a whole minute")
    return v


def _period(value: object) -> int:
    v = _int("period_s", value)
    if v not in PERIODS_S:
        raise ScheduleError("period_s", value, "must be 86400 (daily) or 604800 (weekly)")
    return v


def _step(i: int, st: object, period_s: int) -> tuple[int, int]:
    # Validates steps[i]: a (start_s, dose_ng_per_day) pair on a whole minute in [0, period_s), rate > 0.
    name = "steps[" + str(i) + "]"
    if not isinstance(st, (list, tuple)) or len(st) != 2:
        raise ScheduleError(name, st, "must be a (start_s, dose_ng_per_day) pair")
    start = _minutes(name + ".start_s", st[0], 0, period_s)
    rate = _int(name + ".dose_ng_per_day", st[1])
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
    raise ScheduleError("period_s", period_s, "must be 86400 (daily) or 604800 (weekly)")


class Schedule:
    __slots__ = ("_b", "_c", "_off", "_r", "_total", "period_s", "steps")

    def __init__(self, period_s: int, steps: list[tuple[int, int]]) -> None:
        # One pass over the steps: a plain (int, int) tuple that is in range is taken as is; anything
        # else goes through _step, which raises the same errors in the same order (or accepts a list pair
        # or an int subclass). The sort is skipped when the starts already increase strictly.
        if type(period_s) is not int or period_s not in PERIODS_S:
            period_s = _period(period_s)
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
        self.period_s = period_s
        self.steps = merged
        self._off = WEEK_OFFSET_S if period_s == S_PER_WEEK else 0
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
        self._b = b
        self._r = r
        self._c = c
        self._total = acc

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
        lead_s = _int("lead_s", lead_s)
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


class Window:
    # A desired clinical effect: time of day start_s .. end_s (end < start crosses midnight; end 86400 is
    # 24:00), a relative change (permille of the base, +20 % = 200) or an absolute rate, optional weekdays.
    __slots__ = ("change_permille", "days", "dose_ng_per_day", "end_s", "start_s")

    def __init__(
        self,
        start_s: int,
        end_s: int,
        change_permille: int | None = None,
        dose_ng_per_day: int | None = None,
        days: list[int] | tuple[int, ...] | None = None,
    ) -> None:
        self.start_s = _minutes("start_s", start_s, 0, S_PER_DAY)
        self.end_s = _minutes("end_s", end_s, 0, S_PER_DAY + 1)
        if self.length_s() == 0:
            raise ScheduleError("end_s", end_s, "window is empty or 24 h long (start " + hhmm(start_s) + ")")
        if (change_permille is None) == (dose_ng_per_day is None):
            raise ScheduleError(
                "change_permille", change_permille, "give exactly one of change_permille and dose_ng_per_day"
            )
        # ITB-DIS-01: -100 % or less would stop therapy.
        if change_permille is not None and _int("change_permille", change_permille) <= -PERMILLE:
            raise ScheduleError("change_permille", change_permille, "must be > -1000 (never stop therapy)")
        if dose_ng_per_day is not None and _int("dose_ng_per_day", dose_ng_per_day) <= 0:
            raise ScheduleError("dose_ng_per_day", dose_ng_per_day, "must be > 0 (never stop therapy)")
        self.change_permille = change_permille
        self.dose_ng_per_day = dose_ng_per_day
        if days is None:
            self.days = None
        else:
            if not isinstance(days, (list, tuple, set)) or not days:
                raise ScheduleError("days", days, "must be a non-empty list of weekdays 0..6 (0 = Monday)")
            ds = []
            for d in days:
                if not is_int(d) or d < 0 or d > 6:
                    raise ScheduleError("days", days, "weekdays are ints 0..6 (0 = Monday)")
                if d in ds:
                    raise ScheduleError("days", days, "lists a weekday twice")
                ds.append(d)
            ds.sort()
            self.days = tuple(ds)

    def length_s(self) -> int:
        return (self.end_s - self.start_s) % S_PER_DAY

    def rate(self, base_dose_ng_per_day: int) -> int:
        # Relative changes round down (never more drug than prescribed); absolute rates are taken as given.
        if self.dose_ng_per_day is not None:
            return self.dose_ng_per_day
        change = self.change_permille if self.change_permille is not None else 0
        rate = floor_div(base_dose_ng_per_day * (PERMILLE + change), PERMILLE)[0]
        if rate <= 0:
            raise ScheduleError("change_permille", self.change_permille, "rounds the rate to zero")
        return rate

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Window):
            return NotImplemented
        return repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        c = self.change_permille
        if c is None:
            what = str(self.dose_ng_per_day) + "ng/day"
        else:
            what = ("+" if c >= 0 else "") + str(c) + "permille"
        days = "" if self.days is None else " " + ",".join([DAY_NAMES[d] for d in self.days])
        return "Window(" + hhmm(self.start_s) + "-" + hhmm(self.end_s) + " " + what + days + ")"


def build(
    base_dose_ng_per_day: int,
    windows: list[Window],
    lead_s: int = LEAD_S,
    min_step_s: int = MIN_STEP_S,
    max_steps: int = MAX_STEPS_PER_DAY,
) -> Schedule:
    # Desired-effect windows -> programmed schedule. ITB-SCH-01: each step starts lead_s before its
    # window (002_2ca3bb212e8effd8.txt); a window on given weekdays belongs to the day its effect starts.
    base = _int("base_dose_ng_per_day", base_dose_ng_per_day)
    if base <= 0:
        raise ScheduleError("base_dose_ng_per_day", base_dose_ng_per_day, "must be > 0 (never stop therapy)")
    lead_s = _minutes("lead_s", lead_s, 0, S_PER_DAY)
    min_step_s = _minutes("min_step_s", min_step_s, S_PER_MIN, S_PER_DAY + 1)
    max_steps = _int("max_steps", max_steps)
    if max_steps < 1:
        raise ScheduleError("max_steps", max_steps, "must be >= 1")
    if not isinstance(windows, (list, tuple)):
        raise ScheduleError("windows", windows, "must be a list of Window")
    for i in range(len(windows)):
        if not isinstance(windows[i], Window):
            raise ScheduleError("windows[" + str(i) + "]", windows[i], "must be a Window")
    weekly = False
    for w in windows:
        if w.days is not None:
            weekly = True
    period = S_PER_WEEK if weekly else S_PER_DAY
    # Programmed pieces in phase: (start, length, rate, window), one per window and weekday.
    pieces = []
    for w in windows:
        rate = w.rate(base)
        if w.length_s() < min_step_s:
            raise ScheduleError("windows", w, "is shorter than the minimum step of " + str(min_step_s) + " s")
        days = (0,) if not weekly else (w.days if w.days is not None else (0, 1, 2, 3, 4, 5, 6))
        for d in days:
            pieces.append(((d * S_PER_DAY + w.start_s - lead_s) % period, w.length_s(), rate, w))
    if not pieces:
        return Schedule(period, [(0, base)])
    pieces.sort(key=lambda pc: pc[0])
    steps = []
    n = len(pieces)
    for i in range(n):
        start, length, rate, w = pieces[i]
        nxt = pieces[(i + 1) % n]
        dist = (nxt[0] - start) % period if n > 1 else period
        if dist < length:
            raise ScheduleError("windows", repr(w) + " and " + repr(nxt[3]), "overlap")
        gap = dist - length
        if 0 < gap < min_step_s:
            raise ScheduleError(
                "windows",
                repr(w) + " and " + repr(nxt[3]),
                "leave a base-rate gap of " + str(gap) + " s, under the minimum step " + str(min_step_s),
            )
        steps.append((start, rate))
        if gap:
            steps.append(((start + length) % period, base))
    sched = Schedule(period, steps)
    if weekly and sched.shifted(S_PER_DAY) == sched:
        # The same every day: the daily form is simpler for the pump.
        sched = Schedule(S_PER_DAY, [st for st in sched.steps if st[0] < S_PER_DAY])
    counts = steps_per_day(sched)
    for d in range(len(counts)):
        if counts[d] > max_steps:
            raise ScheduleError(
                "steps_per_day", counts[d], "day " + str(d) + " needs more than " + str(max_steps) + " steps"
            )
    return sched
