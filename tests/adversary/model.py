"""The adversary's own model of an ITB rig: what the pump ran, and the seven invariants it must keep.

Nothing here imports `firmware_py` (not the envelope, the decision, the history, the schedule, the program
codec or the library): the rule numbers are typed from the labeling (`/work/shared/labeling/000..004`),
schedules are evaluated and integrated by `Steps` below, and programs are encoded by `Spec.encode` from
`docs/protocol.md` section 7. The model is fed only what the rig acknowledged (its ACKs) and checked
against what the rig shows (`ST`, its audit log, the `ADV ... every` readings) by
`tests/adversary/machine.py`.

The pump's dose rate, as this model defines it (and as `ST rate` reports it): the committed program's
step rate at the instant, in place of it the bridge bolus's rate while a bolus runs (the old drug at the
bolus flow), and 0 while stopped or empty. "Every rule applies at every instant": two schedules are
compared phase by phase over their common period (a day, or a week from Monday 00:00 when either is
weekly), so a night boost is compared with the night rate, not with the day rate.

The invariants (numbers as in the project's issue; the readings of ambiguous rules are listed in
`tests/adversary/machine.py`'s docstring):

1. range: every step rate of every program the pump ran lies in its group's range (ITB-RNG-01/02/03); a
   rate above 1000 mcg/day (ITB-RNG-04) or a patient under 4 y (ITB-RNG-05) needs the program's override;
   a bridge bolus's rate is never above the range either.
2. band: a change of a running pump raises no instant by more than its phase's band over the rate the
   pump ran at that instant just before (titration +30 % adult spinal, +15 % cerebral and under 18 y;
   refill +40 % / +20 %; side-effects, taper and a start phase never raise); and no instant rises more than
   +50 % over the lowest rate it had within 7 days without the ITB-ESC-01 override.
3. spacing: an increase (at any instant) comes at least 24 h (programmable) or 48 h (constant-flow pump,
   the rig's configuration) after the last change of any kind, the start counting as a change; across a
   confirmed stop too (the stop is a change, and a transfer above its stated previous dose an increase).
4. no abrupt cut: no instant's rate falls more than 20 % below the highest rate that instant had within the
   last 24 h of the same course; a course ends only with an ACKed `STP CONFIRM <id of the active program>`.
   A bridge bolus's rate counts (it replaces the schedule), and so does a transfer's stated previous dose
   until the start. The empty reservoir is not a change of the program (it is checked separately: the
   rig must not declare it empty before the model's volume runs out).
5. starts: a course starts (first program, or the first after a confirmed stop) only in phase initial or
   restart, with a labeled screening dose (25, 50, 75 or 100 mcg) and every instant at most twice it
   (once when the effect lasted more than 8 h), or in phase transfer, every instant within the titration
   band above and 20 % below the stated previous dose; a running pump is never changed in a start phase.
6. bolus: a bridge bolus needs a change of concentration since the last bolus; its volume is at most the
   dead volume of the rig's configuration (internal + catheter at 2.6 uL/cm, rounded up), its flow at most
   the old concentration's flow for the lowest scheduled rate during the bolus.
7. reservoir: no fill above the rig's reservoir, and `ST res_nl` never above it.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from fractions import Fraction

DAY = 86_400
WEEK = 7 * DAY
WEEK_OFF = 3 * DAY  # rig second 0 (1970-01-01) was a Thursday; weekly phase 0 is Monday 00:00
H = 3_600
P = 1_000  # permille

# -- the rules, typed from the labeling ---------------------------------------------------------------
# 000 "Maintenance dosage for long term continuous infusion: 12 to 2003 mcg/day" (spinal), "22 to 1400"
# (cerebral; pediatric 12 years and older), "less than 12 years ... 24 to 1199 mcg/day".
RANGES = {"ITB-RNG-01": (12_000, 2_003_000), "ITB-RNG-02": (22_000, 1_400_000),
          "ITB-RNG-03": (24_000, 1_199_000)}  # fmt: skip
CHILD_BELOW_Y = 12
PEDIATRIC_BELOW_Y = 18  # the labeling does not define "pediatric"; the project reads under 18 y
SOFT_HIGH = 1_000_000  # 000 "limited experience with daily doses greater than 1000 mcg/day"
SOFT_YOUNG_BELOW_Y = 4  # 000 "below the age of 4 years have not been established" (intrathecal)
TITRATION_BAND = (300, 150)  # 000: spinal 10-30 %, cerebral (and pediatric) 5-15 %, once every 24 h
REFILL_BAND = (400, 200)  # 000: at refills spinal "no more than 40 %", cerebral/pediatric "no more than 20 %"
MAX_CUT = 200  # the project's 20 % within 24 h (000 "reduced slowly"; the side-effect reduction 10-20 %)
CUT_WINDOW_S = DAY
# 000 "once every 24 hours in patients with programmable pumps and every 48 hours ... nonprogrammable pumps"
INCREASE_INTERVAL_S = {"programmable": DAY, "constant-flow": 2 * DAY}
ESC_RISE = 500  # project choice: > +50 % within 7 days is a "sudden large requirement for dose escalation"
ESC_WINDOW_S = 7 * DAY
SCREENING_DOSES = (25_000, 50_000, 75_000, 100_000)  # 000: 25-50, 75, 100 mcg test doses
LONG_EFFECT_S = 8 * H  # 000 "efficacy ... maintained for more than 8 hours": the screening dose, not twice it
CATH_NL_PER_MM = 260  # 2.6 uL/cm (DESIGN.md, Prometra catheter)
START_PHASES = ("initial", "restart", "transfer")
CHANGE_PHASES = ("titration", "refill", "side-effects", "taper")
PHASES = START_PHASES + CHANGE_PHASES
SOFT_RULES = ("ITB-ESC-01", "ITB-RNG-04", "ITB-RNG-05")
INVARIANTS = (1, 2, 3, 4, 5, 6, 7)


def group(origin: str, age: int) -> tuple[str, int, int]:
    # (range rule, lowest, highest ng/day) of a patient group.
    if age < CHILD_BELOW_Y:
        rid = "ITB-RNG-03"
    elif origin == "spinal" and age >= PEDIATRIC_BELOW_Y:
        rid = "ITB-RNG-01"
    else:
        rid = "ITB-RNG-02"
    lo, hi = RANGES[rid]
    return rid, lo, hi


def adult_spinal(origin: str, age: int) -> bool:
    return origin == "spinal" and age >= PEDIATRIC_BELOW_Y


def band(phase: str, origin: str, age: int) -> int:
    # The most a change in this phase may raise an instant, permille (0: it may not raise at all).
    k = 0 if adult_spinal(origin, age) else 1
    if phase in ("titration", "transfer"):
        return TITRATION_BAND[k]
    if phase == "refill":
        return REFILL_BAND[k]
    return 0


def dead_volume_nl(internal_nl: int, catheter_mm: int) -> int:
    return internal_nl + catheter_mm * CATH_NL_PER_MM


# -- schedules ----------------------------------------------------------------------------------------


class Steps:
    """A periodic step function of dose rate (ng/day): `steps` = [(start_s, rate)], canonical, in phase."""

    __slots__ = ("_b", "_c", "_r", "off", "period", "steps", "total")

    def __init__(self, period: int, steps: list[tuple[int, int]]) -> None:
        self.period = period
        self.steps = list(steps)
        self.off = WEEK_OFF if period == WEEK else 0
        b: list[int] = []
        r: list[int] = []
        if steps[0][0] != 0:
            b.append(0)
            r.append(steps[-1][1])  # before the first start the last step still runs (across midnight)
        for s, v in steps:
            b.append(s)
            r.append(v)
        b.append(period)
        c = [0]
        for i in range(len(r)):
            c.append(c[-1] + r[i] * (b[i + 1] - b[i]))
        self._b = b
        self._r = r
        self._c = c
        self.total = c[-1]

    def __repr__(self) -> str:
        return f"Steps({self.period}, {self.steps})"

    def _seg(self, p: int) -> int:
        lo, hi = 0, len(self._r) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._b[mid] <= p:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def rate(self, t: int) -> int:
        # The rate at absolute rig time t.
        return self._r[self._seg((t + self.off) % self.period)]

    def rates(self) -> list[int]:
        return [v for _s, v in self.steps]

    def cum(self, t: int) -> int:
        # The integral (ng*s/day) from a period boundary at or before 0 to absolute time t.
        n, p = divmod(t + self.off, self.period)
        i = self._seg(p)
        return n * self.total + self._c[i] + self._r[i] * (p - self._b[i])

    def integral(self, t0: int, t1: int) -> int:
        return self.cum(t1) - self.cum(t0)

    def solve(self, t0: int, amount: Fraction) -> Fraction:
        # The exact instant t >= t0 at which the integral from t0 reaches amount (> 0).
        goal = self.cum(t0) + amount
        n = goal // self.total
        rem = goal - n * self.total
        if rem == 0:
            return Fraction(n * self.period - self.off)
        i = len(self._r) - 1
        while self._c[i] >= rem:
            i -= 1
        return n * self.period + self._b[i] + (rem - self._c[i]) / self._r[i] - self.off

    def next_change(self, t: int) -> int:
        # The first absolute second after t at which the rate may change.
        p = (t + self.off) % self.period
        base = t - p
        for b in self._b[1:]:
            if b > p:
                return base + b
        return base + self.period

    def low_between(self, t0: int, t1: int) -> int:
        # The lowest rate at any instant of [t0, t1).
        low = self.rate(t0)
        t = self.next_change(t0)
        while t < t1:
            low = min(low, self.rate(t))
            t = self.next_change(t)
        return low


def common(scheds: list[Steps]) -> int:
    return WEEK if any(s.period == WEEK for s in scheds) else DAY


def pieces(scheds: list[Steps]) -> list[tuple[int, int, list[int]]]:
    # Every instant of the common period as (start, end, [rate of each schedule]) pieces.
    period = common(scheds)
    off = WEEK_OFF if period == WEEK else 0
    cuts = {0, period}
    for s in scheds:
        for k in range(period // s.period):
            for st, _v in s.steps:
                cuts.add(k * s.period + st)
    order = sorted(cuts)
    return [(a, b, [s.rate(a - off) for s in scheds]) for a, b in itertools.pairwise(order)]


def canonical(period: int, raw: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # docs/protocol.md section 7: neighbours with equal rates merged (the last with the first too), a
    # constant rate is 0:<rate>.
    raw = sorted(raw)
    merged: list[tuple[int, int]] = []
    for st in raw:
        if not merged or merged[-1][1] != st[1]:
            merged.append(st)
    if len(merged) > 1 and merged[-1][1] == merged[0][1]:
        merged.pop(0)
    if len(merged) == 1:
        merged = [(0, merged[0][1])]
    return merged


def steps_per_day(s: Steps) -> list[int]:
    # Steps a pump whose day starts at 00:00 has to be given each day (a step across midnight counts twice).
    starts = [st for st, _v in s.steps]
    out = []
    for d in range(s.period // DAY):
        n = sum(1 for st in starts if d * DAY <= st < (d + 1) * DAY)
        if len(starts) > 1 and d * DAY not in starts:
            n += 1
        out.append(max(n, 1))
    return out


def shortest_step(s: Steps) -> int:
    starts = [st for st, _v in s.steps]
    if len(starts) == 1:
        return s.period
    ends = starts[1:] + [starts[0] + s.period]
    return min(e - a for a, e in zip(starts, ends))


# -- programs -----------------------------------------------------------------------------------------

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~")


def pct(text: str) -> str:
    return "".join(chr(c) if c in _UNRESERVED else f"%{c:02X}" for c in text.encode("utf-8"))


def sha_hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def prog_id(b: bytes) -> str:
    return sha_hex(b)[:16]


@dataclass
class Spec:
    """A program as the adversary sends it (docs/protocol.md section 7), in base units."""

    conc: int
    origin: str
    age: int
    pump: str
    res: int
    alarm: int
    minstep: int
    internal: int
    cath: int
    phase: str
    scr: int
    eff: int
    prev: int
    why: str
    base: int
    period: int
    steps: list[tuple[int, int]]
    ovr: list[tuple[str, str]] = field(default_factory=list)
    label: str = ""
    drug: str = "baclofen"

    def encode(self) -> bytes:
        vals = [
            ("drug", self.drug), ("conc", self.conc), ("origin", self.origin), ("age", self.age),
            ("pump", self.pump), ("res", self.res), ("alarm", self.alarm), ("minstep", self.minstep),
            ("internal", self.internal), ("cath", self.cath), ("phase", self.phase), ("scr", self.scr),
            ("eff", self.eff), ("prev", self.prev), ("why", pct(self.why)), ("base", self.base),
            ("period", self.period), ("steps", ",".join(f"{s}:{r}" for s, r in self.steps)),
            ("ovr", "|".join(rid + ":" + pct(why) for rid, why in self.ovr)), ("label", pct(self.label)),
        ]  # fmt: skip
        return ("ITB2;" + ";".join(f"{k}={v}" for k, v in vals)).encode()

    def sched(self) -> Steps:
        return Steps(self.period, self.steps)

    def overridden(self) -> set[str]:
        return {rid for rid, _why in self.ovr}

    def short(self) -> str:
        rates = self.sched().rates()
        return (f"{self.phase} {self.origin} {self.age}y conc={self.conc} period={self.period} "
                f"{len(self.steps)} steps {min(rates)}..{max(rates)} ng/day ovr={sorted(self.overridden())}")


@dataclass
class Facts:
    """The rig's own pump facts (its configuration), the only ones the invariants read."""

    pump: str
    res: int
    internal: int
    cath: int
    minstep: int


# -- the model ----------------------------------------------------------------------------------------


@dataclass
class Break:
    inv: int  # 1..7; 0 for a model-consistency break (the rig shows something the model cannot explain)
    tag: str  # the kind of break; known rig breaks are listed by (inv, tag)
    t: int
    text: str


@dataclass
class Entry:
    t_on: int
    t_off: int | None  # None while it runs
    sched: Steps
    virtual: bool = False  # a transfer's stated previous dose (on the other pump, until the start)


@dataclass
class Course:
    t_start: int
    origin: str
    age: int
    entries: list[Entry] = field(default_factory=list)
    last_change: int = 0

    def window(self, t: int, w: int) -> list[Entry]:
        # The schedules the patient had at some instant of (t - w, t].
        return [e for e in self.entries if e.t_off is None or e.t_off > t - w]


@dataclass
class Bolus:
    t0: int
    t1: int
    vol: int
    old_conc: int
    rate: Fraction  # ng/day of old drug at the bolus flow
    low: int = 0  # the schedule's lowest rate during [t0, t1)


class Model:
    """What the pump ran, from the rig's ACKs; the invariants checked at every event."""

    def __init__(self, facts: Facts, t: int) -> None:
        self.facts = facts
        self.t = t
        self.state = "stopped"  # running / stopped / alarm (empty)
        self.alarm = "none"
        self.prog: Spec | None = None
        self.prog_b = b""
        self.sched: Steps | None = None
        self.course: Course | None = None
        self.courses = 0
        self.last_dose_change: int | None = None  # this rig's last commit of a new dose (any course)
        self.fill = 0  # nL at the last fill
        self.conc = 0
        self.used = Fraction(0)  # nL out of the reservoir since the last fill
        self.pending_old = 0  # the concentration before the last change of it (a bridge bolus is due)
        self.bolus: Bolus | None = None
        self.log: list[tuple[str, int, str]] = []  # expected audit-log events (kind, t, detail)
        self.tubing: list[list[Fraction | int]] = []  # [[nL, conc]], the tip first
        self._tip_seen: set[str] = set()
        self.breaks: list[Break] = []
        self.findings: list[Break] = []  # things worth reporting that are not one of the seven

    # -- helpers --
    def _break(self, inv: int, tag: str, text: str) -> None:
        self.breaks.append(Break(inv, tag, self.t, text))

    def _finding(self, tag: str, text: str) -> None:
        self.findings.append(Break(0, tag, self.t, text))

    def rate_now(self) -> Fraction:
        if self.state != "running" or self.sched is None:
            return Fraction(0)
        b = self.bolus
        if b is not None and self.t < b.t1:
            return b.rate
        return Fraction(self.sched.rate(self.t))

    def used_capped(self) -> Fraction:
        return min(self.used, Fraction(self.fill))

    def delivered(self) -> tuple[int, int]:
        # (ng, nL) out of the reservoir since the last fill, floored as ST shows them.
        u = self.used_capped()
        return int(u * self.conc // 1000), int(u // 1)

    def reservoir_nl(self) -> int:
        return self.fill - int(self.used_capped() // 1)

    def _nl_of_integral(self, integral: int) -> Fraction:
        # nL out of the reservoir for a schedule integral (ng*s/day) at the reservoir's concentration.
        return Fraction(integral, DAY * self.conc) * 1000

    def _use(self, a: int, b: int) -> Fraction:
        # nL out of the reservoir over [a, b) while running (pushed through the tubing to the tip).
        if b <= a or self.sched is None:
            return Fraction(0)
        out = Fraction(0)
        bol = self.bolus
        if bol is not None and a < bol.t1:
            e = min(b, bol.t1)
            v = Fraction(bol.vol * (e - a), bol.t1 - bol.t0)
            self._tip(v, bol)
            out += v
            a = e
        if a < b:
            v = self._nl_of_integral(self.sched.integral(a, b))
            self._tip(v, None)
            out += v
        return out

    def _tip(self, v: Fraction, bol: Bolus | None) -> None:
        # The tubing (pump internal volume and catheter, the rig's dead volume) as a first-in first-out
        # column: v nL of the reservoir's drug go in, v nL of whatever was in front reach the patient. Not
        # one of the seven invariants (the rig's ST rate does not model it): a finding when the drug at the
        # tip is not the one the rate assumes, i.e. the schedule runs at the new flow on old drug after a
        # change of concentration without a (full) bridge bolus, or a bolus pushes drug other than the old.
        if v <= 0 or not self.tubing:
            return
        last = self.tubing[-1]
        if last[1] == self.conc:
            last[0] += v
        else:
            self.tubing.append([v, self.conc])
        need = v
        while need > 0 and self.tubing:
            front = self.tubing[0]
            take = min(need, front[0])
            c = int(front[1])
            need -= take
            front[0] -= take
            if front[0] <= 0:
                self.tubing.pop(0)
            expect = bol.old_conc if bol is not None else self.conc
            if c == expect or take <= 0 or self.sched is None or self.prog is None:
                continue
            rates = self.sched.rates()
            if bol is not None:
                tag = "tip-bolus-drug"
                what = (f"a bridge bolus pushes {c} ng/uL drug at the tip where the rig shows the old "
                        f"{expect} ng/uL ({float(bol.rate * c / expect):.0f} ng/day, "
                        f"shown {float(bol.rate):.0f})")
            else:
                tag = "tip-over" if c > expect else "tip-under"
                _rid, _lo, hi = group(self.prog.origin, self.prog.age)
                top = max(rates) * c // expect
                what = (f"{float(take):.0f} nL of {c} ng/uL drug reach the patient at the {expect} ng/uL "
                        f"flow: {min(rates) * c // expect}..{top} ng/day where the program runs "
                        f"{min(rates)}..{max(rates)}" + (f" (above the range top {hi})" if top > hi else ""))
            if tag not in self._tip_seen:
                self._tip_seen.add(tag)
                self._finding(tag, what)

    def _time_to(self, target_nl: int) -> int:
        # The whole second (the last one not after the exact instant) at which use reaches target_nl.
        need = Fraction(target_nl) - self.used
        if need <= 0:
            return self.t
        assert self.sched is not None
        a = self.t
        bol = self.bolus
        if bol is not None and a < bol.t1:
            part = Fraction(bol.vol * (bol.t1 - a), bol.t1 - bol.t0)
            if need <= part:
                exact = a + need * (bol.t1 - bol.t0) / bol.vol
                return int(exact // 1)
            need -= part
            a = bol.t1
        exact = self.sched.solve(a, need * DAY * self.conc / 1000)
        return int(exact // 1)

    def next_event(self) -> tuple[int, int] | None:
        # (time, kind): 0 bolus end, 1 low alarm, 2 empty; None when none is due.
        if self.state != "running" or self.prog is None:
            return None
        ev = []
        if self.bolus is not None:
            ev.append((self.bolus.t1, 0))
        if self.alarm == "none":
            ev.append((self._time_to(max(self.fill - self.prog.alarm, 0)), 1))
        ev.append((self._time_to(self.fill), 2))
        return min(ev)

    def advance(self, t_new: int) -> None:
        while True:
            ev = self.next_event()
            if ev is None or ev[0] > t_new:
                break
            te, kind = ev
            self.used += self._use(self.t, te)
            self.t = max(self.t, te)
            if kind == 0:
                b = self.bolus
                assert b is not None
                self._end_bolus(te)
                self.log.append(("bolus_end", te, f"nl:{b.vol}"))
            elif kind == 1:
                self.alarm = "low"
                self.log.append(("low", te, ""))
            else:
                self.used = Fraction(self.fill)
                self._end_bolus(te)
                self.state = "alarm"
                self.alarm = "empty"
                self.log.append(("empty", te, ""))
        if self.state == "running":
            self.used += self._use(self.t, t_new)
        self.t = max(self.t, t_new)

    def _set_alarm(self) -> None:
        assert self.prog is not None
        if self.used >= self.fill:
            if self.state == "running":
                self.state = "alarm"
            self.alarm = "empty"
        elif self.used >= max(self.fill - self.prog.alarm, 0):
            if self.alarm != "low":
                self.log.append(("low", self.t, ""))
            self.alarm = "low"
        else:
            self.alarm = "none"

    def _fill(self, added: int, conc: int) -> None:
        if added > self.facts.res:
            self._break(7, "fill", f"a fill of {added} nL into the rig's {self.facts.res} nL reservoir")
        dead = dead_volume_nl(self.facts.internal, self.facts.cath)
        if not self.tubing and dead > 0:
            self.tubing = [[Fraction(dead), conc]]  # the first fill primes the tubing
        if self.conc and conc != self.conc:
            self.pending_old = self.conc
            self._tip_seen = set()
        self.conc = conc
        self.fill = added
        self.used = Fraction(0)
        self.log.append(("refill", self.t, f"nl:{added}/conc:{conc}"))

    def _end_bolus(self, t: int) -> None:
        # A bolus ends (its time is up, a commit, a stop or the empty reservoir): invariant 4 over what ran.
        b = self.bolus
        if b is None:
            return
        self.bolus = None
        self._bolus_cut(b, min(t, b.t1))

    # -- what the rig acknowledged --
    def commit(self, spec: Spec, data: bytes, rf: tuple[int, int, int] | None) -> None:
        t = self.t
        new = spec.sched()
        self._range(spec)
        self._extras(spec)
        if self.course is None or self.state == "stopped":
            self._start(spec, t)
            self._start_spacing(spec, t)
            self.last_dose_change = t
            c = Course(t, spec.origin, spec.age, last_change=t)
            if spec.phase == "transfer" and spec.prev > 0:
                c.entries.append(Entry(-ESC_WINDOW_S, t, Steps(DAY, [(0, spec.prev)]), virtual=True))
            c.entries.append(Entry(t, None, new))
            self.course = c
            self.courses += 1
        else:
            c = self.course
            cur = c.entries[-1]
            old = cur.sched
            up = down = False
            for _a, _b, r in pieces([old, new]):
                up = up or r[1] > r[0]
                down = down or r[1] < r[0]
            if up or down:
                if spec.phase in START_PHASES:
                    self._break(5, "start-phase-on-running",
                                f"a running pump changed in start phase {spec.phase}: {spec.short()}")
                if up:
                    self._increase(spec, old, new)
                self._cut(new)
                cur.t_off = t
                c.entries.append(Entry(t, None, new))
                c.last_change = t
                self.last_dose_change = t
            if (spec.origin, spec.age) != (c.origin, c.age):
                self._finding("patient-change", f"the course's patient {c.origin} {c.age} y is now "
                              f"{spec.origin} {spec.age} y")
        if self.state == "running":
            self._end_bolus(t)
        self.bolus = None
        self.prog = spec
        self.prog_b = data
        self.sched = new
        if rf is not None:
            self._fill(rf[0], rf[1])
        self.state = "running"
        self._set_alarm()
        self.log.append(("commit", t, "prog:" + prog_id(data)))

    def refill(self, added: int, conc: int) -> None:
        self._fill(added, conc)
        if self.state == "alarm":
            self.state = "running"
        self._set_alarm()

    def stop(self, confirmed: bool) -> None:
        if not confirmed:
            self._break(4, "stop-unconfirmed", "STP acknowledged without the active program's id")
        if self.state == "running":
            self._end_bolus(self.t)
        self.bolus = None
        self.state = "stopped"
        if self.course is not None:
            self.course.entries[-1].t_off = self.t
        self.log.append(("stop", self.t, "prog:" + prog_id(self.prog_b)))

    def start_bolus(self, vol: int, dur: int) -> None:
        t = self.t
        old = self.pending_old
        assert self.sched is not None and self.prog is not None
        if not old:
            self._break(6, "no-concentration-change", f"a bolus of {vol} nL with no change of concentration")
            old = self.conc
        else:
            dead = dead_volume_nl(self.facts.internal, self.facts.cath)
            if vol > dead:
                self._break(6, "volume", f"a bolus of {vol} nL is above the dead volume {dead} nL")
            low = self.sched.low_between(t, t + dur)
            if vol * DAY * old > low * 1000 * dur:
                self._break(6, "flow", f"a bolus of {vol} nL over {dur} s at {old} ng/uL is faster than the "
                            f"old flow for {low} ng/day")
        rate = Fraction(vol * old * DAY, dur * 1000)
        _rid, _lo, hi = group(self.prog.origin, self.prog.age)
        if rate > hi:
            self._break(1, "bolus-range", f"a bolus runs {float(rate):.0f} ng/day, above {hi}")
        self.bolus = Bolus(t, t + dur, vol, old, rate, self.sched.low_between(t, t + dur))
        self.pending_old = 0
        self.log.append(("bolus", t, f"nl:{vol}/s:{dur}/old:{old}"))

    # -- the invariants --
    def _range(self, spec: Spec) -> None:
        rid, lo, hi = group(spec.origin, spec.age)
        rates = spec.sched().rates()
        ov = spec.overridden()
        if max(rates) > hi:
            self._break(1, "range-high", f"{max(rates)} ng/day above the {rid} range {lo}..{hi}: "
                        + spec.short())
        if min(rates) < lo:
            self._break(1, "range-low", f"{min(rates)} ng/day below the {rid} range {lo}..{hi}: "
                        + spec.short())
        if max(rates) > SOFT_HIGH and "ITB-RNG-04" not in ov:
            self._break(1, "soft-RNG-04", f"{max(rates)} ng/day above 1000 mcg/day without the override")
        if spec.age < SOFT_YOUNG_BELOW_Y and "ITB-RNG-05" not in ov:
            self._break(1, "soft-RNG-05", f"age {spec.age} y without the ITB-RNG-05 override")

    def _start(self, spec: Spec, t: int) -> None:
        rates = spec.sched().rates()
        if spec.phase not in START_PHASES:
            self._break(5, "start-phase", f"a pump started in phase {spec.phase}: {spec.short()}")
        elif spec.phase in ("initial", "restart"):
            if spec.scr not in SCREENING_DOSES:
                self._break(5, "screening-dose", f"screening dose {spec.scr} ng is not a labeled test dose")
            else:
                bound = spec.scr * (1 if spec.eff > LONG_EFFECT_S else 2)
                if max(rates) > bound:
                    self._break(5, "initial-dose", f"{spec.phase} at {max(rates)} ng/day, above {bound} from "
                                f"the {spec.scr} ng screening dose (effect {spec.eff} s)")
        else:
            b = band("transfer", spec.origin, spec.age)
            if spec.prev <= 0:
                self._break(5, "transfer-prev", "a transfer without a previous dose")
            elif max(rates) * P > spec.prev * (P + b):
                self._break(5, "transfer-band", f"transfer from {spec.prev} to {max(rates)} ng/day, "
                            f"above +{b} permille")
            elif min(rates) * P < spec.prev * (P - MAX_CUT):
                self._break(5, "transfer-cut", f"transfer from {spec.prev} to {min(rates)} ng/day, "
                            "below -20 %")

    def _start_spacing(self, spec: Spec, t: int) -> None:
        # Invariant 3 across a stop: a transfer that raises any instant above its stated previous dose is an
        # increase; within 24 h (48 h) of this rig's own last commit of a new dose it is a second change
        # within the interval (the stop does not reset the patient's titration clock).
        if spec.phase != "transfer" or self.last_dose_change is None or spec.prev <= 0:
            return
        interval = INCREASE_INTERVAL_S[self.facts.pump]
        # An instant rises only above the stated dose AND above the schedule this rig ran last, if within
        # the interval (restarting the dose the patient just had is not an increase).
        ran = [] if self.course is None else [e.sched for e in self.course.window(t, interval)][-1:]
        new = spec.sched()
        flat = Steps(DAY, [(0, spec.prev)])
        if not any(r[-1] > max(r[:-1]) for _a, _b, r in pieces([flat, *ran, new])):
            return
        since = t - self.last_dose_change
        if since < interval:
            self._break(3, "spacing-transfer-after-stop", f"a transfer raising {spec.prev} to "
                        f"{max(spec.sched().rates())} ng/day {since} s after this rig's last change of the "
                        f"dose (needs {interval} s)")

    def _increase(self, spec: Spec, old: Steps, new: Steps) -> None:
        t = self.t
        c = self.course
        assert c is not None
        b = band(spec.phase, spec.origin, spec.age)
        for a, _e, r in pieces([old, new]):
            if r[1] * P > r[0] * (P + b):
                self._break(2, "band-" + spec.phase, f"{r[0]} -> {r[1]} ng/day at phase {a} in phase "
                            f"{spec.phase} (band +{b} permille): {spec.short()}")
                break
        interval = INCREASE_INTERVAL_S[self.facts.pump]
        since = t - c.last_change
        if since < interval:
            what = "after the start" if c.last_change == c.t_start else "after the last change"
            self._break(3, "spacing", f"an increase {since} s {what} (needs {interval} s): {spec.short()}")
        if "ITB-ESC-01" in spec.overridden():
            return
        win = c.window(t, ESC_WINDOW_S)
        real = [e.sched for e in win if not e.virtual]
        virt = [e.sched for e in win if e.virtual]
        for a, _e, r in pieces([old, new] + real + virt):
            if r[1] <= r[0]:
                continue
            low_real = min(r[2 : 2 + len(real)] + [r[0]])
            low = min(r[2:] + [r[0]])
            if r[1] * P > low * (P + ESC_RISE):
                tag = "soft-ESC-01" if r[1] * P > low_real * (P + ESC_RISE) else "soft-ESC-01-transfer-prev"
                self._break(2, tag, f"{low} -> {r[1]} ng/day at phase {a} within 7 days without the "
                            f"ITB-ESC-01 override: {spec.short()}")
                break

    def _cut(self, new: Steps) -> None:
        c = self.course
        assert c is not None
        win = c.window(self.t, CUT_WINDOW_S)
        real = [e.sched for e in win if not e.virtual]
        virt = [e.sched for e in win if e.virtual]
        for a, _e, r in pieces([new] + real + virt):
            top_real = max(r[1 : 1 + len(real)])
            top = max(r[1:])
            if r[0] * P < top * (P - MAX_CUT):
                tag = "cut" if r[0] * P < top_real * (P - MAX_CUT) else "cut-transfer-prev"
                self._break(4, tag, f"{top} -> {r[0]} ng/day at phase {a} within 24 h")
                break

    def _bolus_cut(self, b: Bolus, t_end: int) -> None:
        # Invariant 4 at every instant of [t0, t_end) of a bolus: its rate against the highest rate each
        # instant had within 24 h (the schedule it replaces included).
        c = self.course
        if c is None or t_end <= b.t0:
            return
        a = b.t0
        while a < t_end:
            nxt = t_end
            top = 0
            for e in c.entries:
                if e.t_on > a or (e.t_off is not None and e.t_off <= a - CUT_WINDOW_S):
                    continue  # not yet, or no longer, within 24 h of the instant a
                top = max(top, e.sched.rate(a))
                nxt = min(nxt, e.sched.next_change(a))
                if e.t_off is not None:
                    nxt = min(nxt, e.t_off + CUT_WINDOW_S)  # it leaves the window there (> a)
            if b.rate * P < top * (P - MAX_CUT):
                # bolus-slow: slower than the schedule's lowest rate during it (the rig bounds a bolus only
                # from above); bolus-cut: at that lowest rate, where the schedule (or the last 24 h) ran more.
                low = b.low if b.low else top
                tag = "bolus-slow" if b.rate * P < low * (P - MAX_CUT) else "bolus-cut"
                self._break(4, tag, f"a bridge bolus runs {float(b.rate):.1f} ng/day where the pump ran "
                            f"{top} ng/day within 24 h; the schedule's lowest during it is {low} ng/day "
                            f"({b.vol} nL over {b.t1 - b.t0} s at {b.old_conc} ng/uL)")
                return
            a = nxt

    def _extras(self, spec: Spec) -> None:
        # Not one of the seven: the rig's facts, its schedule limits (ITB-PMP, ITB-SCH-02).
        f = self.facts
        mine = (spec.pump, spec.res, spec.internal, spec.cath, spec.minstep)
        theirs = (f.pump, f.res, f.internal, f.cath, f.minstep)
        if mine != theirs:
            self._finding("facts", f"a program with pump facts {mine} on a rig {theirs}")
        s = spec.sched()
        if max(steps_per_day(s)) > 13:
            self._finding("steps-per-day", f"{max(steps_per_day(s))} steps in a day")
        if f.pump != "programmable" and len(s.steps) > 1:
            self._finding("constant-flow-schedule", f"{len(s.steps)} steps on a constant-flow pump")
        if shortest_step(s) < f.minstep:
            self._finding("min-step", f"a step of {shortest_step(s)} s under the rig's {f.minstep} s")
