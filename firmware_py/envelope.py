# The therapy envelope: the one decision on what the pump may do. Host (program build, load, bench) and
# rig (COM, RF, BOL, boot) call decide() with the same inputs and get the same Decision.
#
#   decide(history, running, proposal, config, now_s)
#     history   the rig's dose history (firmware_py/history.py)
#     running   the program the pump runs now, or None (a fresh rig, or after a confirmed stop)
#     proposal  Commit (a new program), Refill, Bolus or Boot (re-checking the stored program at boot)
#     config    the rig's own pump facts (firmware_py/config.py)
#
# "Dose" is defined once: every step's rate is a daily-dose rate, and every rule applies at every instant
# of the day or week (firmware_py/schedule.segments), comparing the proposed rate with the rate the
# running program, or the history, holds at the same instant. A rule that holds at every instant holds for
# every day's total too: the total is the integral of the rates, so a bound on every rate bounds it.
# Percent limits compare exactly in integers (new * 1000 <= old * (1000 + limit_permille)).

from firmware_py import library
from firmware_py.bridge import bolus_rate, bridge
from firmware_py.changes import (
    at_span,
    band,
    change,
    escalation,
    increase_interval,
    no_abrupt_cut,
    rises,
    spacing,
)
from firmware_py.config import Config
from firmware_py.decision import Decision, cm, mcg, ml, pct, span
from firmware_py.history import History, lookback_s
from firmware_py.program import Program, steps_text
from firmware_py.schedule import Schedule, phase_label, phase_of, steps_per_day
from firmware_py.screening import all_screening_doses, initial_daily_dose, initial_rule
from firmware_py.units import NL_PER_UL, PERMILLE, S_PER_DAY

P = PERMILLE


class Commit:
    __slots__ = ("program",)

    def __init__(self, program: Program) -> None:
        self.program = program


class Refill:
    __slots__ = ("added_nl", "residual_nl")

    def __init__(self, added_nl: int, residual_nl: int) -> None:
        self.added_nl = added_nl
        self.residual_nl = residual_nl


class Bolus:
    __slots__ = ("duration_s", "old_conc", "volume_nl")

    def __init__(self, volume_nl: int, duration_s: int, old_conc: int) -> None:
        self.volume_nl = volume_nl
        self.duration_s = duration_s
        self.old_conc = old_conc


class Boot:
    __slots__ = ()


def decide(
    history: History, running: Program | Schedule | None, proposal: object, config: Config, now_s: int
) -> Decision:
    # running: the running program, or only its schedule (a decision away from a rig, see stated_history).
    if isinstance(proposal, Commit):
        old = running if isinstance(running, Schedule) or running is None else running.schedule
        return _commit(history, old, proposal.program, config, now_s)
    prog = running if isinstance(running, Program) else None
    if isinstance(proposal, Refill):
        return _refill(proposal, config)
    if isinstance(proposal, Bolus):
        return _bolus(history, prog, proposal, config, now_s)
    if isinstance(proposal, Boot):
        return _boot(prog, config)
    raise TypeError("proposal")


def record(history: History, program: Program, start: bool, now_s: int) -> None:
    # The history after an accepted commit of `program` at now_s: the one place a commit changes it. A
    # transfer states the dose the other pump ran until now; it is kept as if it ran over the whole lookback,
    # so the rules over 24 h and 7 days (ITB-DIS-01, ITB-ESC-01) see it.
    if start and program.phase == library.TRANSFER:
        history.ran(now_s - lookback_s(), now_s, Schedule(S_PER_DAY, [(0, program.previous_ng_per_day)]))
    history.commit(now_s, program.schedule, start)
    if start:
        history.origin = program.origin
        history.age = program.age_years


def stated_history(now_s: int, previous: Schedule | None, since_change_s: int, since_start_s: int | None
                   ) -> History:
    # A history from what a prescription states, for a decision away from any rig (itb program build): the
    # previous schedule has run for since_change_s, the pump for since_start_s (unknown: since the last
    # change, the stricter reading). No previous schedule: a pump that never ran.
    h = History()
    if previous is not None:
        t_on = now_s - since_change_s
        h.entries = [(t_on, -1, previous.period_s, steps_text(previous))]
        h.t_start = t_on if since_start_s is None else min(t_on, now_s - since_start_s)
    return h


# -- what any program may run ---------------------------------------------------------------------------


def _facts(d: Decision, p: Program, cfg: Config) -> None:
    # ITB-PMP-01..04: the pump facts are the rig's; a program that disagrees names both values.
    for rid, what, mine, theirs in (
        ("ITB-PMP-01", "pump kind", p.pump_kind, cfg.pump_kind),
        ("ITB-PMP-01", "reservoir", p.reservoir_nl, cfg.reservoir_nl),
        ("ITB-PMP-03", "internal volume", p.internal_nl, cfg.internal_nl),
        ("ITB-PMP-02", "catheter length", p.catheter_mm, cfg.catheter_mm),
        ("ITB-PMP-04", "minimum step", p.min_step_s, cfg.min_step_s),
    ):
        d.apply(rid)
        if mine != theirs:
            d.refuse(rid, "program " + what + " " + _shown(rid, mine) + " differs from the rig's "
                     + _shown(rid, theirs))


def _shown(rid: str, value: object) -> str:
    # A pump fact in its display unit (mL, cm, min), exact, as the host shows it: never the base unit.
    if not isinstance(value, int):
        return str(value)
    n = value
    if rid == "ITB-PMP-02":
        return cm(n)
    if rid == "ITB-PMP-04":
        return span(n)
    return ml(n)


def _range(d: Decision, p: Program, ov: dict[str, str]) -> None:
    sched = p.schedule
    _range_rates(d, p.origin, p.age_years, period=sched.period_s, intervals=sched.intervals(), ov=ov)


def _range_rates(d: Decision, origin: str, age_years: int, *, period: int,
                 intervals: list[tuple[int, int, int]], ov: dict[str, str]) -> None:
    # ITB-RNG-01/02/03 at every instant; ITB-RNG-04 and -05 soft.
    rid = library.range_rule(origin, age_years)
    lo = library.param(rid, "low_ng_per_day")
    hi = library.param(rid, "high_ng_per_day")
    group = library.group_text(origin, age_years)
    d.apply(rid)
    for start, end, rate in intervals:
        if rate < lo or rate > hi:
            d.refuse(rid, mcg(rate) + " mcg/day" + at_span(period, start, end) + " is outside the " + group
                     + " range " + mcg(lo) + " to " + mcg(hi) + " mcg/day")
            break
    top = max([r for _s, _e, r in intervals])
    above = library.param("ITB-RNG-04", "above_ng_per_day")
    d.apply("ITB-RNG-04")
    if top > above:
        d.warn("ITB-RNG-04", mcg(top) + " mcg/day is above " + mcg(above) + " mcg/day: limited experience",
               ov)
    young = library.param("ITB-RNG-05", "below_age_years")
    d.apply("ITB-RNG-05")
    if age_years < young:
        d.warn("ITB-RNG-05", "age " + str(age_years) + " y: intrathecal safety not established under "
               + str(young) + " y", ov)


def dose_range(origin: str, age_years: int, dose_ng_per_day: int) -> Decision:
    # ITB-RNG-01..05 for one daily dose away from any program (a calculator's check): the decision the
    # range rules make on a constant program at this dose.
    d = Decision(mcg(dose_ng_per_day) + " mcg/day")
    _range_rates(d, origin, age_years, period=S_PER_DAY, intervals=[(0, S_PER_DAY, dose_ng_per_day)], ov={})
    return d


def _schedule_allowed(d: Decision, sched: Schedule, cfg: Config) -> None:
    # ITB-SCH-02: a schedule only on a programmable pump (the rig's kind), at most 13 steps a day.
    d.apply("ITB-SCH-02")
    most = library.param("ITB-SCH-02", "max_steps_per_day")
    n = max(steps_per_day(sched))
    if cfg.pump_kind != library.PROGRAMMABLE and len(sched.steps) > 1:
        d.refuse("ITB-SCH-02", "a " + cfg.pump_kind + " pump runs one constant rate, not "
                 + str(len(sched.steps)) + " steps")
    elif n > most:
        d.refuse("ITB-SCH-02", str(n) + " steps in a day is more than " + str(most))


def _overrides(p: Program) -> dict[str, str]:
    ov = {}
    for rid, reason in p.overrides:
        ov[rid] = reason
    return ov


def _commit(h: History, old: Schedule | None, p: Program, cfg: Config, now: int) -> Decision:
    d = Decision(p.phase + " " + _summary(old, p.schedule))
    ov = _overrides(p)
    _facts(d, p, cfg)
    _range(d, p, ov)
    _schedule_allowed(d, p.schedule, cfg)
    d.apply("ITB-STA-01")
    if old is None:
        _start(d, h, p, cfg, ov=ov, now=now)
    elif p.phase not in library.CHANGE_PHASES:
        d.refuse("ITB-STA-01", "phase " + p.phase + " starts a pump; a running pump changes in phase "
                 + ", ".join(library.CHANGE_PHASES))
    else:
        _same_patient(d, h, p, now)
        change(d, h, old, p, cfg, ov=ov, now=now)
    return d


def _same_patient(d: Decision, h: History, p: Program, now: int) -> None:
    # ITB-PAT-01: within a course the patient's origin stays that of its start, and the age grows at most
    # with the time since the start (a whole year more for a birthday in between). Unknown (a decision
    # from a prescription's stated previous dose): nothing to compare.
    if h.age < 0:
        return
    d.apply("ITB-PAT-01")
    if p.origin != h.origin:
        d.refuse("ITB-PAT-01", "the origin changed from " + h.origin + " to " + p.origin
                 + " within a course: the patient is the same (start a new course with a confirmed stop)")
    most = h.age + (now - h.t_start) // library.param("ITB-PAT-01", "year_s") + 1
    if p.age_years < h.age or p.age_years > most:
        d.refuse("ITB-PAT-01", "the age changed from " + str(h.age) + " to " + str(p.age_years)
                 + " y within a course: at most " + str(most) + " y by now")


def _summary(old: Schedule | None, new: Schedule) -> str:
    lo = min([r for _s, r in new.steps])
    hi = max([r for _s, r in new.steps])
    rates = mcg(lo) + (" to " + mcg(hi) if hi != lo else "") + " mcg/day"
    if old is None:
        return rates
    olo = min([r for _s, r in old.steps])
    ohi = max([r for _s, r in old.steps])
    return mcg(olo) + (" to " + mcg(ohi) if ohi != olo else "") + " -> " + rates


# -- starting a pump (ITB-STA-01) -------------------------------------------------------------------------


def _start(d: Decision, h: History, p: Program, cfg: Config, *, ov: dict[str, str], now: int) -> None:
    if p.phase not in library.START_PHASES:
        d.refuse("ITB-STA-01", "phase " + p.phase
                 + " cannot start a pump: a first program or a restart after a "
                 "confirmed stop is phase " + ", ".join(library.START_PHASES))
        return
    if p.phase == library.TRANSFER:
        # A change check from the other pump's stated dose at every instant (the titration band).
        prev = Schedule(S_PER_DAY, [(0, p.previous_ng_per_day)])
        d.note("ITB-STA-01", "transfer from " + mcg(p.previous_ng_per_day) + " mcg/day: " + p.reason)
        band(d, p, prev, p.schedule, library.TRANSFER)
        no_abrupt_cut(d, [prev], 0, p.schedule)
        last = h.window(now, increase_interval(cfg))[-1:]
        if last and rises([prev] + last, p.schedule):
            # Raising both the stated dose and the schedule this rig ran last (within the interval) is an
            # increase: a new course after a confirmed stop is bounded by the rig's own history as any
            # change is, one increase per interval and the 7-day escalation over what the pump ran.
            spacing(d, h, cfg, now)
            esc_w = library.param("ITB-ESC-01", "window_s")
            escalation(d, h.window(now, esc_w) + [prev], h.floor_in(now, esc_w), prev, p.schedule, ov=ov)
        return
    longer = p.effect_s > library.param("ITB-INI-02", "effect_longer_than_s")
    rid = initial_rule(longer)
    rules = [rid, "ITB-HOL-02"] if p.phase == library.RESTART else [rid]
    if p.screening_dose_ng not in all_screening_doses() or p.screening_dose_ng > library.param(
            "ITB-SCR-04", "max_test_dose_ng"):
        d.refuse("ITB-SCR-04", "screening dose " + mcg(p.screening_dose_ng)
                 + " mcg is not a labeled test dose")
        return
    effect = min(p.effect_s, library.param("ITB-SCR-01", "interval_s"))
    bound = initial_daily_dose(p.screening_dose_ng, effect)
    top = max([r for _s, r in p.schedule.steps])
    for r in rules:
        d.apply(r)
    if top > bound:
        for r in rules:
            article = "an " if p.phase[0] in "aeiou" else "a "
            d.refuse(r, article + p.phase + " dose of at most " + mcg(bound) + " mcg/day follows from the "
                     + mcg(p.screening_dose_ng) + " mcg screening dose; the program runs " + mcg(top)
                     + " mcg/day")


# -- changing a running pump ------------------------------------------------------------------------------


# -- refill, bolus, boot ----------------------------------------------------------------------------------


def _refill(r: Refill, cfg: Config) -> Decision:
    # ITB-PMP-01: a fill never exceeds the rig's reservoir.
    d = Decision("refill " + ml(r.added_nl))
    d.apply("ITB-PMP-01")
    for what, v in (("fill", r.added_nl), ("measured residual", r.residual_nl)):
        if v > cfg.reservoir_nl:
            d.refuse("ITB-PMP-01", "a " + what + " of " + ml(v) + " exceeds the rig's "
                     + ml(cfg.reservoir_nl) + " reservoir")
    return d


def _bolus(h: History, running: Program | None, b: Bolus, cfg: Config, now: int) -> Decision:
    # ITB-BRG-01: at most the rig's dead volume, and at every instant of the bolus at most the rate the
    # schedule runs then (the old drug is pushed no faster than the old flow); ITB-DIS-01: at no instant
    # more than 20 % below the highest rate the pump ran there within 24 h (a slow bolus is an abrupt cut).
    d = Decision("bridge bolus " + ml(b.volume_nl) + " over " + span(b.duration_s))
    d.apply("ITB-BRG-01")
    d.apply("ITB-DIS-01")
    if running is None:
        d.refuse("ITB-BRG-01", "no running program")
        return d
    sched = running.schedule
    dead = bridge(cfg.internal_nl, cfg.catheter_mm, b.old_conc, running.conc_ng_per_ul,
                  sched.rate_at(now)).dead_volume_nl
    if b.volume_nl > dead:
        d.refuse("ITB-BRG-01", ml(b.volume_nl) + " is more than the rig's dead volume " + ml(dead))
    rate = bolus_rate(b.volume_nl, b.old_conc, b.duration_s)
    drug = b.volume_nl * b.old_conc * S_PER_DAY  # the exact rate is drug / per (ng/day), compared exactly
    per = b.duration_s * NL_PER_UL
    most = library.param("ITB-DIS-01", "max_step_reduction_permille")
    dis_w = library.param("ITB-DIS-01", "window_s")
    refs = h.window(now, dis_w) + [sched]
    ceiling = h.ceil_in(now, dis_w)
    t = now
    while t < now + b.duration_s:
        r = sched.rate_at(t)
        top = max([x.rate_at(t) for x in refs] + [ceiling])
        at = " at " + phase_label(sched.period_s, phase_of(t, sched.period_s))
        if drug > r * per:
            d.refuse("ITB-BRG-01", "the bolus gives " + mcg(rate) + " mcg/day, more than the " + mcg(r)
                     + " mcg/day the schedule runs" + at + ": no faster than the old flow")
            break
        if drug * P < top * (P - most) * per:
            d.refuse("ITB-DIS-01", "the bolus gives " + mcg(rate) + " mcg/day, more than " + pct(most)
                     + " % below the " + mcg(top) + " mcg/day the pump ran" + at
                     + " within 24 h: an abrupt cut; a shorter bolus")
            break
        t = min([x.next_change(t) for x in refs])
    return d


def _boot(running: Program | None, cfg: Config) -> Decision:
    # The stored program against the rig's facts and the ranges, as at its commit.
    d = Decision("boot")
    if running is not None:
        _facts(d, running, cfg)
        _range(d, running, _overrides(running))
        _schedule_allowed(d, running.schedule, cfg)
    return d
