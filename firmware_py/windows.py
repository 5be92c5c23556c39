# Desired-effect windows -> a programmed schedule (ITB-SCH-01): each flow change starts 2 h before the
# clinical effect it is for ("Changes in flow rate should be programmed to start 2 hrs before time of
# desired clinical effect", 002_2ca3bb212e8effd8.txt). Relative changes round the rate down.

from firmware_py import library
from firmware_py.decision import applied
from firmware_py.errors import ScheduleError
from firmware_py.schedule import DAY_NAMES, Schedule, minutes, require_int, steps_per_day
from firmware_py.units import PERMILLE, S_PER_DAY, S_PER_MIN, S_PER_WEEK, floor_div, hhmm, is_int


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
        self.start_s = minutes("start_s", start_s, 0, S_PER_DAY)
        self.end_s = minutes("end_s", end_s, 0, S_PER_DAY + 1)
        if self.length_s() == 0:
            raise ScheduleError("end_s", end_s, "window is empty or 24 h long (start " + hhmm(start_s) + ")")
        if (change_permille is None) == (dose_ng_per_day is None):
            raise ScheduleError(
                "change_permille", change_permille, "give exactly one of change_permille and dose_ng_per_day"
            )
        # ITB-DIS-01: -100 % or less would stop therapy.
        if change_permille is not None and require_int("change_permille", change_permille) <= -PERMILLE:
            raise ScheduleError("change_permille", change_permille, "must be > -1000 (never stop therapy)")
        if dose_ng_per_day is not None and require_int("dose_ng_per_day", dose_ng_per_day) <= 0:
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


def _check_windows(windows: object) -> None:
    if not isinstance(windows, (list, tuple)):
        raise ScheduleError("windows", windows, "must be a list of Window")
    for i in range(len(windows)):
        if not isinstance(windows[i], Window):
            raise ScheduleError("windows[" + str(i) + "]", windows[i], "must be a Window")


def build(
    base_dose_ng_per_day: int,
    windows: list[Window],
    lead_s: int | None = None,
    min_step_s: int | None = None,
    max_steps: int | None = None,
) -> Schedule:
    # Desired-effect windows -> programmed schedule. ITB-SCH-01: each step starts lead_s before its
    # window (002_2ca3bb212e8effd8.txt); a window on given weekdays belongs to the day its effect starts.
    if lead_s is None:
        lead_s = library.param("ITB-SCH-01", "lead_s")
    if min_step_s is None:
        min_step_s = library.param("ITB-PMP-04", "min_step_s")
    if max_steps is None:
        max_steps = library.param("ITB-SCH-02", "max_steps_per_day")
    base = require_int("base_dose_ng_per_day", base_dose_ng_per_day)
    if base <= 0:
        raise ScheduleError("base_dose_ng_per_day", base_dose_ng_per_day, "must be > 0 (never stop therapy)")
    lead_s = minutes("lead_s", lead_s, 0, S_PER_DAY)
    min_step_s = minutes("min_step_s", min_step_s, S_PER_MIN, S_PER_DAY + 1)
    max_steps = require_int("max_steps", max_steps)
    if max_steps < 1:
        raise ScheduleError("max_steps", max_steps, "must be >= 1")
    _check_windows(windows)
    weekly = any(w.days is not None for w in windows)
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
    applied("ITB-PMP-04", "ITB-SCH-02", *(("ITB-SCH-01",) if windows else ()))
    if any(w.change_permille == library.param("ITB-SCH-03", "night_increase_permille") for w in windows):
        applied("ITB-SCH-03")  # the labeling's own example (a +20 % window)
    if not pieces:
        return Schedule(period, [(0, base)])
    sched = Schedule(period, _steps(pieces, base, period, min_step_s))
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


def _steps(pieces: "list[tuple[int, int, int, Window]]", base: int, period: int, min_step_s: int
           ) -> list[tuple[int, int]]:
    # Programmed pieces (start, length, rate, window) -> steps, the base rate in the gaps between them.
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
    return steps
