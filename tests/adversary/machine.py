"""Model-based adversary: a hypothesis `RuleBasedStateMachine` that drives a real `firmware_py.rig.Rig` with
correctly signed STG/COM, RF, BOL, STP and ADV frames (sessions reopened, the link reset, the rig restarted
from its store) and checks, after every step, the seven invariants of `tests/adversary/model.py`, computed
from what the rig acknowledged, shows (`ST`), logs and reads out (`ADV ... every`), never from the envelope.

Each sequence gets a random rig configuration (pump kind, reservoir, internal volume, catheter, shortest
step), a patient, and a start time anywhere in a week. Programs are daily or weekly, 1 to 13 steps a day,
in any phase, with random overrides (soft and hard rule IDs), pump facts (mostly the rig's, sometimes not),
screening / previous-dose fields (mostly consistent, sometimes not), concentrations and alarm volumes. Most
rates are aimed at the edges the rules draw, relative to what the pump runs now: the increase band of the
phase (+/- a few ng/day), 20 % below the highest rate of the last 24 h, the initial dose, the range.
Refills (any volume and concentration), bridge boluses (at their cap, slow, or anything), stops (with the
right and wrong confirmation) and time advances (seconds to months, to the 24 h / 48 h boundary and to the
next alarm, with hourly readings) come in between.

The model is checked against the rig after every step: state, program id, reservoir, concentration, rate,
delivered ng and nL, alarm, the forecast alarm and empty times, the bolus left, the audit log's commit /
refill / bolus / stop / low / empty events with their times, and every `ADV` reading. The first
disagreement is a model break (invariant 0) and ends checking in that sequence (the model no longer knows
what the pump ran); the rig stopping on its own, a reservoir above capacity or a rate above the range seen
there are breaks of invariants 4, 7 and 1.

Readings of rules the labeling leaves open (a careful clinician's; the model follows them):

- Group: each program's stated origin and age pick the range and the band. A change of origin or age within
  a course is not an invariant break (the rig cannot know the patient), but it is reported as a finding
  (`patient-change`): it lets a program pick a looser band.
- Range: a programmed rate below the range is a break of invariant 1 as well as one above it (000 gives the
  range as "12 to 2003"); a bridge bolus is checked only against the top of the range (it may run slower).
- Increase band, 20 % limit, 7-day escalation: at every instant of the common period, against the rates
  each instant had (a night boost is compared with the night). The band is against the schedule running just
  before; the cut against every schedule of the course that ran within the last 24 h; ESC-01 against the
  lowest within 7 days. The soft rules (ITB-RNG-04, -05, ESC-01) break only without their override.
- A transfer's stated previous dose is what the patient had until the start: it counts in the 24 h cut and
  the 7-day escalation windows after the start (a transfer at -20 % and a second -20 % an hour later is a
  -36 % cut within 24 h).
- A bridge bolus replaces the schedule: the patient gets the old drug at the bolus flow. Its rate counts at
  every instant for invariant 4, so a bolus much slower than the scheduled rate is an abrupt cut.
- One increase per 24 h: timed from the last change of the dose at any instant (a program with the same rate
  at every instant, a refill or a new label is not a change); the start is a change; an empty reservoir and a
  bolus are not. The rig's configured pump kind picks 24 h or 48 h.
- A course starts with the first program, or the first after an ACKed `STP CONFIRM <id>`; only that ends a
  course. An empty reservoir does not: its refill resumes the same program (the labeling's "restoration ...
  at or near the same dosage"; a long empty spell is not modelled as a drug holiday).
- The 24 h spacing runs across a stop: it counts from this rig's last commit of a dose (a stop is a
  reduction, not an increase), and a transfer that raises any instant above both its stated previous dose
  and the schedule this rig ran last (within the interval) is an increase, so a stop and a transfer above
  the dose the pump was raised to minutes ago is a second increase within minutes. As written, though, the
  rules let a start after a confirmed stop state any previous dose (a transfer) or run the initial dose even
  above what the pump ran a minute before (a restart): the adversary does not count these (they follow the
  start rules) and the report names them.
- The tubing (the rig's dead volume) is modelled as a first-in first-out column for findings only: after a
  change of concentration the schedule runs at the new concentration's flow while the tubing still holds
  the old drug, so the patient gets old/new times the programmed rate until the dead volume is through,
  unless a full bridge bolus runs first (`tip-over`, `tip-under`); a bolus can also push drug other than
  the old one (`tip-bolus-drug`). The rig's ST rate does not model this, so it is not one of the seven.
- Bolus cap: the dead volume and the old flow are the rig configuration's (`rig.config`), whatever the
  program states; the cap applies to the one bolus after each change of concentration, and a bolus with no
  change of concentration since the last one is above its cap.
- The reservoir holds the volume added at the last fill (the measured residual is withdrawn).
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from firmware_py import protocol as wire
from firmware_py.clock import BenchClock
from firmware_py.config import Config
from firmware_py.rig import Rig
from firmware_py.store import Store
from tests.adversary import model as mdl
from tests.adversary.model import (
    DAY,
    WEEK,
    Break,
    Facts,
    H,
    Model,
    P,
    Spec,
    Steps,
    canonical,
    pieces,
    prog_id,
    sha_hex,
)
from tests.core.support import KEY, T0, Host, MemFs, PowerLoss, counter_random
from tests.seeded import fixed_constants

if TYPE_CHECKING:
    from tests.adversary.differential import Agreement, HostCheck

# Breaks of the rig the adversary found, by (invariant, tag): each has a plain reproduction in
# tests/adversary/test_breaks.py (xfail strict). A known break is counted and reported, never hidden; the
# bounded suite fails only on a break that is not one of these.
KNOWN: dict[tuple[int, str], str] = {}


# -- statistics ---------------------------------------------------------------------------------------


@dataclass
class Stats:
    sequences: int = 0
    steps: int = 0
    frames: int = 0
    acks: dict[str, int] = field(default_factory=dict)
    naks: dict[str, int] = field(default_factory=dict)  # "CMD REASON"
    rules: dict[str, int] = field(default_factory=dict)  # rule IDs named by LIMIT / TITRATION / OVERRIDE
    breaks: dict[tuple[int, str], int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    examples: dict[tuple[int, str], str] = field(default_factory=dict)
    finding_examples: dict[str, str] = field(default_factory=dict)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    diverged: int = 0
    commits: int = 0
    starts: int = 0
    changes: int = 0
    boluses: int = 0
    empties: int = 0
    restarts: int = 0
    power_cuts: int = 0
    cuts_mid_command: int = 0  # the power failed inside the command (before its reply)
    cuts_took_effect: int = 0  # ... and the rig resumed with the command done
    seconds: float = 0.0

    def reply(self, cmd: str, r: wire.Reply) -> None:
        self.frames += 1
        if r.ok:
            self.acks[cmd] = self.acks.get(cmd, 0) + 1
            return
        key = cmd + " " + r.name
        self.naks[key] = self.naks.get(key, 0) + 1
        for rid in r.fields.get("rules", "").split(","):
            if rid:
                self.rules[rid] = self.rules.get(rid, 0) + 1

    def add_break(self, b: Break) -> None:
        key = (b.inv, b.tag)
        self.breaks[key] = self.breaks.get(key, 0) + 1
        self.examples.setdefault(key, f"t={b.t}: {b.text}"[:600])

    def add_finding(self, b: Break) -> None:
        self.findings[b.tag] = self.findings.get(b.tag, 0) + 1
        self.finding_examples.setdefault(b.tag, f"t={b.t}: {b.text}"[:400])

    def by_invariant(self) -> dict[int, int]:
        out = {i: 0 for i in (0, *mdl.INVARIANTS)}
        for (inv, _tag), n in self.breaks.items():
            out[inv] += n
        return out

    def total_breaks(self) -> int:
        return sum(self.breaks.values())

    def unknown_breaks(self) -> int:
        return sum(n for k, n in self.breaks.items() if k not in KNOWN)

    def summary(self) -> str:
        def fmt(d: dict[str, int]) -> str:
            return " ".join(f"{k.replace(' ', ':')}={d[k]}" for k in sorted(d)) or "-"

        acc = sum(self.acks.values())
        ref = sum(self.naks.values())
        inv = self.by_invariant()
        lines = [
            f"sequences:                 {self.sequences}",
            f"steps:                     {self.steps}",
            f"frames:                    {self.frames} (accepted {acc}, refused {ref})",
            f"accepted by command:       {fmt(self.acks)}",
            f"refused by command:reason: {fmt(self.naks)}",
            f"refusing rules:            {fmt(self.rules)}",
            "courses / changes / boluses / empties / restarts (power cuts): "
            f"{self.starts} / {self.changes} / {self.boluses} / {self.empties} / {self.restarts} "
            f"({self.power_cuts}; {self.cuts_mid_command} inside a command, {self.cuts_took_effect} of them "
            "done at the restart)",
            "invariant breaks:          " + " ".join(f"{i}={inv[i]}" for i in mdl.INVARIANTS)
            + f" (total {sum(inv[i] for i in mdl.INVARIANTS)}; model disagreements {inv[0]})",
            f"breaks not known:          {self.unknown_breaks()}",
            f"sequences no longer checked after a disagreement: {self.diverged}",
            f"errors in the adversary:   {self.errors}",
            f"findings (not invariants): {fmt(self.findings)}",
            f"time (s):                  {self.seconds:.1f}",
        ]
        for key in sorted(self.breaks):
            known = KNOWN.get(key)
            note = f" [known: {known}]" if known else ""
            lines.append(f"break {key[0]}/{key[1]} x{self.breaks[key]}{note}: {self.examples[key]}")
        for tag in sorted(self.findings):
            lines.append(f"finding {tag} x{self.findings[tag]}: {self.finding_examples[tag]}")
        lines += ["error: " + e for e in self.error_examples[:5]]
        return "\n".join(lines)


@dataclass
class Context:
    stats: Stats = field(default_factory=Stats)
    strict: bool = False  # raise on a break that is not KNOWN (hypothesis then shrinks it)
    steps_per_sequence: int = 30
    progress: bool = False  # a line on stderr every 1000 sequences
    host_rig: Agreement | None = None  # when set: the host's decision is compared with the rig's at each load


# -- the generator ------------------------------------------------------------------------------------

SOFT = mdl.SOFT_RULES
HARD_IDS = ("ITB-RNG-01", "ITB-TIT-01", "ITB-TIT-04", "ITB-DIS-01", "ITB-BRG-01", "ITB-PMP-01", "ITB-INI-01")
REASONS = ("clinician reviewed", "bench", "consent-on-file", "x", "limited experience, accepted")


def _pick(rnd: random.Random, table: list[tuple[float, str]]) -> str:
    x = rnd.random() * sum(w for w, _ in table)
    for w, v in table:
        x -= w
        if x < 0:
            return v
    return table[-1][1]


def _delta(rnd: random.Random, scale: int) -> int:
    k = rnd.random()
    if k < 0.35:
        return 0
    if k < 0.5:
        return -1
    if k < 0.7:
        return 1
    if k < 0.8:
        return rnd.randint(2, 50)
    if k < 0.9:
        return -rnd.randint(2, 50)
    return rnd.randint(-scale // 20 - 1, scale // 20 + 1)


def random_config(rnd: random.Random) -> Config:
    pump = "programmable" if rnd.random() < 0.85 else "constant-flow"
    res = rnd.choice((20_000_000, 20_000_000, 40_000_000))
    internal = rnd.choice((0, 200_000, 200_000, rnd.randint(0, 1_000_000), 1_000_000))
    cath = rnd.choice((500, 500, 100, 1500, rnd.randint(100, 1500)))
    minstep = rnd.choice((1800, 1800, 1800, 3600, 2700, 7200, 14400))
    return Config(pump, res, internal, cath, minstep, "adv")


def random_patient(rnd: random.Random) -> tuple[str, int]:
    origin = rnd.choice(("spinal", "spinal", "cerebral"))
    age = rnd.choice((40, 34, 67, 18, 17, 12, 11, 8, 4, 3, rnd.randint(0, 90)))
    return origin, age


class Gen:
    """Random programs, fills, boluses, stops and advances, aimed at the rules' edges."""

    def __init__(self, rnd: random.Random, m: Model, cfg: Config, patient: tuple[str, int]) -> None:
        self.rnd = rnd
        self.m = m
        self.cfg = cfg
        self.patient = patient

    # -- schedules --
    def _starts(self, period: int) -> list[int]:
        r = self.rnd
        g = self.cfg.min_step_s
        if self.cfg.pump_kind != "programmable" and r.random() < 0.85:
            return [0]
        per_day = DAY // g
        out: set[int] = set()
        days = period // DAY
        for d in range(days):
            k = r.choice((1, 1, 2, 3, 4, 6, 12, 13)) if d == 0 or days == 1 else r.choice((0, 0, 1, 2, 12))
            k = min(k, per_day, 12 if days > 1 else 13)
            for i in r.sample(range(per_day), k):
                out.add(d * DAY + i * g)
        if not out:
            out.add(0)
        starts = sorted(out)
        if r.random() < 0.05:  # off the grid by a minute: may break the shortest step
            i = r.randrange(len(starts))
            starts[i] = max(0, starts[i] + r.choice((-60, 60)))
            starts = sorted(set(starts))
        return starts

    def _per_step(self, starts: list[int], period: int, refs: list[Steps]) -> list[tuple[int, int]]:
        # For each new step, (lowest, highest) rate the reference schedules hold during it.
        skel = Steps(period, [(s, i + 1) for i, s in enumerate(starts)])
        lo = [10**15] * len(starts)
        hi = [0] * len(starts)
        for _a, _b, rates in pieces([*refs, skel]):
            i = rates[-1] - 1
            for v in rates[:-1]:
                lo[i] = min(lo[i], v)
                hi[i] = max(hi[i], v)
        return list(zip(lo, hi))

    def _wild(self) -> int:
        return max(1, int(10 ** self.rnd.uniform(3.5, 6.7)))

    def _rates(self, phase: str, origin: str, age: int, starts: list[int], period: int, *,
               mode: str | None = None) -> list[int]:
        r = self.rnd
        m = self.m
        n = len(starts)
        _rid, lo, hi = mdl.group(origin, age)
        running = m.course is not None and m.state != "stopped" and m.sched is not None
        if running and m.sched is not None and m.course is not None:
            old = m.sched
            win = [e.sched for e in m.course.window(m.t, DAY)]
            olds = self._per_step(starts, period, [old])
            tops = self._per_step(starts, period, win)
            b = mdl.band(phase, origin, age)
            mode = mode or _pick(r, [(0.3, "band"), (0.25, "cut"), (0.15, "mix"), (0.1, "same"),
                                     (0.1, "small"), (0.05, "wild"), (0.05, "range")])
            out = []
            for i in range(n):
                k = mode if mode != "mix" else r.choice(("band", "cut", "same"))
                omin, omax = olds[i]
                if k == "band":
                    v = omin * (P + b) // P + _delta(r, omin)
                elif k == "cut":
                    top = tops[i][1]
                    v = -(-top * (P - mdl.MAX_CUT) // P) + _delta(r, top)
                elif k == "same":
                    v = omin if r.random() < 0.5 else omax
                elif k == "small":
                    v = omin + r.randint(-omin // 10, omin // 10)
                elif k == "wild":
                    v = self._wild()
                else:
                    v = r.choice((hi, lo, mdl.SOFT_HIGH)) + _delta(r, 1000)
                out.append(max(1, v))
            return out
        if phase in ("initial", "restart"):
            return []  # filled in by program() from the screening dose
        base = self._wild() if r.random() < 0.3 else r.randint(lo, hi)
        return [max(1, base + _delta(r, base)) for _ in range(n)]

    # -- programs --
    def _phase(self) -> str:
        if self.m.course is not None and self.m.state != "stopped":
            return _pick(self.rnd, [(0.3, "titration"), (0.25, "refill"), (0.12, "side-effects"),
                                    (0.12, "taper"), (0.06, "initial"), (0.05, "restart"),
                                    (0.05, "transfer")])
        return _pick(self.rnd, [(0.35, "initial"), (0.2, "restart"), (0.35, "transfer"), (0.04, "titration"),
                                (0.03, "refill"), (0.015, "side-effects"), (0.015, "taper")])

    def program(self, conc: int | None = None, same_dose: bool = False, phase: str | None = None,
                mode: str | None = None) -> Spec:
        r = self.rnd
        m = self.m
        cfg = self.cfg
        origin, age = self.patient
        if r.random() < 0.08:
            origin, age = random_patient(r)
        phase = phase or self._phase()
        if same_dose and m.sched is not None and r.random() < 0.85:
            period = m.sched.period
            steps = list(m.sched.steps)
            phase = r.choice(("refill", "refill", "titration", "taper"))
        else:
            period = WEEK if cfg.pump_kind == "programmable" and r.random() < 0.25 else DAY
            starts = self._starts(period)
            rates = self._rates(phase, origin, age, starts, period, mode=mode)
            steps = []
        scr = eff = prev = 0
        why = ""
        if phase in ("initial", "restart"):
            scr = r.choice((*mdl.SCREENING_DOSES, *mdl.SCREENING_DOSES, 30_000, 125_000, 150_000))
            eff = r.choice((4 * H, 8 * H, 8 * H + 1, 6 * H, 12 * H, DAY, r.randint(1, DAY)))
            if not steps:
                bound = scr * (1 if eff > mdl.LONG_EFFECT_S else 2)
                rates = [max(1, bound + _delta(r, bound)) if r.random() < 0.6
                         else r.randint(bound // 3, bound) for _ in starts]
        elif phase == "transfer":
            last = m.sched.rates() if m.sched is not None else []
            _rid, lo, hi = mdl.group(origin, age)
            prev = r.choice(last) if last and r.random() < 0.6 else r.randint(lo, hi)
            why = r.choice(("from the bench pump", "pump replaced", "x"))
            if not steps:
                b = mdl.band("transfer", origin, age)
                rates = []
                for _ in starts:
                    k = r.random()
                    if k < 0.35:
                        v = prev * (P + b) // P + _delta(r, prev)
                    elif k < 0.7:
                        v = -(-prev * (P - mdl.MAX_CUT) // P) + _delta(r, prev)
                    else:
                        v = prev + r.randint(-prev // 5, prev // 5)
                    rates.append(max(1, v))
        if not steps:
            steps = canonical(period, list(zip(starts, rates)))
        if r.random() < 0.06:  # inconsistent start fields (the program must be refused)
            scr, eff, prev = r.choice(((0, 0, 100_000), (100_000, 3600, 0), (50_000, 0, 0), (0, 0, 0)))
            why = r.choice(("", "x"))
        rates_now = [v for _s, v in steps]
        base = min(rates_now) if r.random() < 0.9 else r.choice(rates_now)
        if r.random() < 0.02:
            base += 1
        ovr: dict[str, str] = {}
        if max(rates_now) > mdl.SOFT_HIGH and r.random() < 0.8:
            ovr["ITB-RNG-04"] = r.choice(REASONS)
        if age < mdl.SOFT_YOUNG_BELOW_Y and r.random() < 0.8:
            ovr["ITB-RNG-05"] = r.choice(REASONS)
        if r.random() < 0.3:
            ovr["ITB-ESC-01"] = r.choice(REASONS)
        if r.random() < 0.08:
            ovr[r.choice(SOFT)] = r.choice(REASONS)
        if r.random() < 0.04:
            ovr[r.choice(HARD_IDS)] = r.choice(REASONS)
        if r.random() < 0.01:
            ovr["ITB-XYZ-99"] = "bogus"
        facts = (cfg.pump_kind, cfg.reservoir_nl, cfg.internal_nl, cfg.catheter_mm, cfg.min_step_s)
        if r.random() < 0.1:
            pk, res, internal, cath, minstep = facts
            k = r.randrange(5)
            if k == 0:
                pk = "constant-flow" if pk == "programmable" else "programmable"
            elif k == 1:
                res = 60_000_000 - res
            elif k == 2:
                internal = max(0, internal + r.choice((-1, 1, 100_000)))
            elif k == 3:
                cath = cath + r.choice((-1, 1, 100))
            else:
                minstep = max(60, minstep + r.choice((-60, 60, 1800)))
            facts = (pk, res, internal, cath, minstep)
        alarm = 2_000_000 if r.random() < 0.8 else r.randint(1, facts[1] - 1)
        if r.random() < 0.02:
            alarm = r.choice((0, facts[1]))
        c = conc if conc is not None else (m.conc or 500)
        return Spec(conc=c, origin=origin, age=age, pump=facts[0], res=facts[1], alarm=alarm,
                    minstep=facts[4], internal=facts[2], cath=facts[3], phase=phase, scr=scr, eff=eff,
                    prev=prev, why=why, base=base, period=period, steps=steps, ovr=sorted(ovr.items()),
                    label=f"adv-{r.randrange(10**6)}")

    def fill(self, conc: int) -> tuple[int, int, int]:
        r = self.rnd
        cap = self.cfg.reservoir_nl
        k = r.random()
        if k < 0.5:
            added = cap
        elif k < 0.85:
            added = r.randint(1, cap)
        elif k < 0.9:
            added = cap + r.choice((1, 1000, cap // 5))
        else:
            added = r.randint(1, 3_000_000)
        residual = self.m.reservoir_nl() + r.choice((0, 0, 1, -1, 1_000_001, -1_000_001, 500_000))
        if r.random() < 0.2:
            residual = r.randint(0, cap + 10)
        return added, conc, max(0, residual)

    def new_conc(self) -> int:
        cur = self.m.conc
        return self.rnd.choice([c for c in (500, 1000, 2000, 250, 750, 1500, 2000, 500) if c != cur]
                               + [50, 2001, 3000][: 1 if self.rnd.random() < 0.1 else 0])

    def bolus(self) -> tuple[int, int]:
        r = self.rnd
        m = self.m
        dead = mdl.dead_volume_nl(self.cfg.internal_nl, self.cfg.catheter_mm)
        old = m.pending_old
        if not old or m.sched is None or r.random() < 0.1:
            return r.randint(1, max(2, 2 * dead)), r.randint(60, DAY)
        k = r.random()
        if k < 0.35:  # the natural bridge: the dead volume at the old flow, or at the cap
            low = m.sched.low_between(m.t, m.t + DAY)
            dur = min(DAY, max(60, -(-dead * DAY * old // (low * 1000)) + r.choice((0, 0, 1, -1, 600))))
            low = m.sched.low_between(m.t, m.t + dur)
            vol = min(dead, low * 1000 * dur // (DAY * old)) + r.choice((0, 0, 0, 1, -1))
        elif k < 0.55:  # at the cap for a random duration
            dur = r.randint(60, DAY)
            low = m.sched.low_between(m.t, m.t + dur)
            vol = min(dead, low * 1000 * dur // (DAY * old)) + r.choice((0, 0, 1, -1))
        elif k < 0.75:  # slow: far below the old flow
            dur = r.randint(3600, DAY)
            vol = r.randint(1, max(1, dead // 50))
        else:
            dur = r.randint(60, DAY)
            vol = r.randint(1, max(2, 2 * dead))
        return max(1, vol), dur

    def stop_args(self, old_ids: list[str]) -> tuple[list[str], bool]:
        r = self.rnd
        pid = prog_id(self.m.prog_b) if self.m.prog_b else "0" * 16
        k = r.random()
        if k < 0.55:
            return ["CONFIRM", pid], True
        if k < 0.7 and old_ids:
            other = r.choice(old_ids)
            return ["CONFIRM", other], other == pid
        if k < 0.9:
            return ["CONFIRM", f"{r.getrandbits(64):016x}"], False
        return [r.choice(("STOP", "confirm", "CONFIRM!")), pid], False

    def advance(self) -> tuple[int, int | None]:
        # (seconds, every or None)
        r = self.rnd
        m = self.m
        if r.random() < 0.3:
            every = r.choice((60, 600, 3600, 3600, 7200))
            return every * r.randint(1, 24), every
        k = _pick(r, [(0.2, "short"), (0.2, "hours"), (0.2, "boundary"), (0.15, "day"), (0.1, "days"),
                      (0.1, "event"), (0.05, "long")])
        if k == "boundary" and m.course is not None:
            interval = mdl.INCREASE_INTERVAL_S[self.cfg.pump_kind]
            target = m.course.last_change + r.choice((interval, DAY)) + r.choice((-1, 0, 1, -60, 60, 0))
            if target > m.t:
                return target - m.t, None
        if k == "event":
            ev = m.next_event()
            if ev is not None and ev[0] + 1 > m.t:
                return max(1, ev[0] - m.t + r.choice((-1, 0, 1))), None
        if k == "short":
            return r.randint(1, 900), None
        if k == "hours":
            return r.randint(3600, 23 * 3600), None
        if k == "day":
            return DAY + r.choice((-1, 0, 1, 0)), None
        if k == "days":
            return r.randint(2 * DAY, 14 * DAY), None
        return r.randint(30 * DAY, 200 * DAY), None


# -- the state machine ---------------------------------------------------------------------------------

LOGGED = ("commit", "refill", "bolus", "bolus_end", "stop", "low", "empty")
RANDOMS = st.randoms(use_true_random=True)  # each step's own stream, seeded by hypothesis


class Adversary(RuleBasedStateMachine):
    """One sequence: a rig, its host, the model; rules send signed commands; `observe` checks."""

    ctx = Context()

    def __init__(self) -> None:
        super().__init__()
        self.stats = self.ctx.stats
        self.stats.sequences += 1
        if self.ctx.progress and self.stats.sequences % 1000 == 0:
            s = self.stats
            print(f"  {s.sequences} sequences, {s.steps} steps, {s.total_breaks()} breaks", file=sys.stderr)
        self.dead = False
        self.diverged = False
        self.seen_breaks = 0
        self.seen_findings = 0
        self.log_seen = -1  # the last audit-log index compared
        self.old_ids: list[str] = []

    # -- plumbing --
    def _send(self, cmd: str, args: list[str]) -> wire.Reply:
        r = self.host.send(cmd, args)
        self.stats.reply(cmd, r)
        return r

    def _load(self, spec: Spec, rf: tuple[int, int, int] | None, glitch: bool = False) -> wire.Reply | None:
        data = spec.encode()
        host = self.host_check.before(data, rf) if self.host_check is not None else None
        for off in range(0, len(data), wire.CHUNK):
            r = self._send("STG", [str(off), data[off : off + wire.CHUNK].decode()])
            if not r.ok:
                return None
        args = [str(len(data)), sha_hex(data)[:32]]
        if glitch:  # a wrong length or checksum: must be refused
            if self.rnd.random() < 0.5:
                args[0] = str(len(data) + 1)
            else:
                args[1] = "0" * 32
        if rf is not None:
            args.append("rf=" + ",".join(str(x) for x in rf))
        r = self._send("COM", args)
        if self.host_check is not None and not glitch:
            self.host_check.after(host, data, r)
        if r.ok:
            if glitch:
                self.m._break(0, "com-glitch", "COM with a wrong length or checksum was acknowledged")
                self.diverged = True
                return r
            if r.fields.get("prog") != prog_id(data):
                self.m._break(0, "com-id", f"COM ACK prog={r.fields.get('prog')} for {prog_id(data)}")
                self.diverged = True
            self.m.commit(spec, data, rf)
            self.stats.commits += 1
            self.old_ids.append(prog_id(data))
        return r

    def _guard(self) -> bool:
        return not self.dead

    def _fail(self, exc: BaseException) -> None:
        if self.ctx.strict:
            raise exc
        self.stats.errors += 1
        self.stats.error_examples.append("".join(traceback.format_exception(exc))[-1500:])
        self.dead = True

    # -- rules --
    @initialize(data=st.data())
    def setup(self, data: st.DataObject) -> None:
        self.rnd = data.draw(st.randoms(use_true_random=True), label="rnd")
        self.cfg = random_config(self.rnd)
        self.patient = random_patient(self.rnd)
        self.fs = MemFs()
        self.clock = BenchClock(T0 + self.rnd.randrange(WEEK))
        self.rig = Rig(KEY, self.clock, Store("itb_state", self.fs), self.cfg, counter_random())  # type: ignore[arg-type]
        self.host = Host(self.rig)
        facts = Facts(self.cfg.pump_kind, self.cfg.reservoir_nl, self.cfg.internal_nl, self.cfg.catheter_mm,
                      self.cfg.min_step_s)
        self.m = Model(facts, self.rig.s.t_s)
        self.gen = Gen(self.rnd, self.m, self.cfg, self.patient)
        self.log_seen = self.rig.s.log_total - 1
        self.host_check: HostCheck | None = None
        if self.ctx.host_rig is not None:
            from tests.adversary.differential import HostCheck  # noqa: PLC0415 (host_tools only when asked)

            self.host_check = HostCheck(lambda: self.rig, self.ctx.host_rig)

    def _run(self, fn: object, rnd: random.Random) -> None:
        if self.dead:
            return
        self.rnd = rnd
        self.gen.rnd = rnd
        self.stats.steps += 1
        try:
            fn()  # type: ignore[operator]
        except AssertionError:
            raise
        except Exception as exc:  # a bug in the adversary, or an exception out of the rig
            self._fail(exc)

    @rule(rnd=RANDOMS)
    def load(self, rnd: random.Random) -> None:
        self._run(self._do_load, rnd)

    @rule(rnd=RANDOMS)
    def load_again(self, rnd: random.Random) -> None:
        self._run(self._do_load, rnd)

    def _do_load(self) -> None:
        m = self.m
        spec = self.gen.program()
        rf = None
        if m.conc == 0 or self.rnd.random() < 0.15:
            rf = self.gen.fill(spec.conc)
        if self.rnd.random() < 0.03:
            self._load(spec, rf, glitch=True)
            return
        r = self._load(spec, rf)
        if r is not None and r.ok:
            self.stats.changes += 1

    @rule(rnd=RANDOMS)
    def titrate(self, rnd: random.Random) -> None:
        self._run(self._do_titrate, rnd)

    def _do_titrate(self) -> None:
        # Wait for the 24 h / 48 h boundary (or a second either side of it), then raise at the band's edge:
        # chains of increases reach the 7-day escalation rule and the spacing rule's boundary.
        m = self.m
        if m.course is None or m.state == "stopped":
            self._do_load()
            return
        interval = mdl.INCREASE_INTERVAL_S[self.cfg.pump_kind]
        target = m.course.last_change + interval + self.rnd.choice((0, 0, 0, 1, -1, 3600))
        if target > m.t:
            r = self._send("ADV", [str(min(target - m.t, 31_622_400))])
            if not r.ok:
                return
            m.advance(target)
        phase = self.rnd.choice(("titration", "titration", "refill"))
        r2 = self._load(self.gen.program(phase=phase, mode="band"), None)
        if r2 is not None and r2.ok:
            self.stats.changes += 1

    @rule(rnd=RANDOMS)
    def stop_and_start(self, rnd: random.Random) -> None:
        self._run(self._do_stop_and_start, rnd)

    def _do_stop_and_start(self) -> None:
        # A confirmed stop and at once a new start (mostly a transfer from the dose the pump just ran).
        m = self.m
        if m.state != "stopped" and m.prog_b:
            r = self._send("STP", ["CONFIRM", prog_id(m.prog_b)])
            if r.ok:
                m.stop(True)
        if self.rnd.random() < 0.5:
            r2 = self._send("ADV", [str(self.rnd.choice((1, 60, 3600, DAY - 1, DAY)))])
            if r2.ok:
                m.advance(m.t + int(r2.fields["t"]) - m.t)
        phase = _pick(self.rnd, [(0.6, "transfer"), (0.25, "restart"), (0.15, "initial")])
        r3 = self._load(self.gen.program(phase=phase), None)
        if r3 is not None and r3.ok:
            self.stats.changes += 1

    @rule(rnd=RANDOMS)
    def change_concentration(self, rnd: random.Random) -> None:
        self._run(self._do_conc, rnd)

    def _do_conc(self) -> None:
        conc = self.gen.new_conc()
        spec = self.gen.program(conc=conc, same_dose=True)
        r = self._load(spec, self.gen.fill(conc))
        if r is not None and r.ok and self.rnd.random() < 0.6:
            self._do_bolus()  # the bridge bolus, right after the change of concentration

    @rule(rnd=RANDOMS)
    def refill(self, rnd: random.Random) -> None:
        self._run(self._do_refill, rnd)

    def _do_refill(self) -> None:
        m = self.m
        conc = (m.conc or 500) if self.rnd.random() < 0.85 else self.gen.new_conc()
        added, conc, residual = self.gen.fill(conc)
        r = self._send("RF", [str(added), str(conc), str(residual)])
        if r.ok:
            m.refill(added, conc)

    @rule(rnd=RANDOMS)
    def bolus(self, rnd: random.Random) -> None:
        self._run(self._do_bolus, rnd)

    def _do_bolus(self) -> None:
        vol, dur = self.gen.bolus()
        r = self._send("BOL", [str(vol), str(dur)])
        if r.ok:
            self.m.start_bolus(vol, dur)
            self.stats.boluses += 1

    @rule(rnd=RANDOMS)
    def stop(self, rnd: random.Random) -> None:
        self._run(self._do_stop, rnd)

    def _do_stop(self) -> None:
        args, confirmed = self.gen.stop_args(self.old_ids)
        r = self._send("STP", args)
        if r.ok:
            self.m.stop(confirmed)

    @rule(rnd=RANDOMS)
    def advance(self, rnd: random.Random) -> None:
        self._run(self._do_advance, rnd)

    @rule(rnd=RANDOMS)
    def advance_again(self, rnd: random.Random) -> None:
        self._run(self._do_advance, rnd)

    def _do_advance(self) -> None:
        secs, every = self.gen.advance()
        secs = max(1, min(secs, 31_622_400))
        args = [str(secs)] if every is None else [str(secs), str(every)]
        r = self._send("ADV", args)
        if not r.ok:
            return
        m = self.m
        if every is None:
            m.advance(m.t + secs)
            return
        expected = []
        plain = []  # the intervals with no bridge bolus in them
        for _i in range(secs // every):
            ng0, nl0, alarm0, state0 = self._delivered()
            plain.append(m.bolus is None)  # a bolus never starts inside an ADV
            m.advance(m.t + every)
            ng1, nl1, alarm1, state1 = self._delivered()
            mark = ("L" if alarm1 != alarm0 and alarm1 == "low" else "") + ("E" if state1 != state0 else "")
            expected.append(f"{ng1 - ng0}:{nl1 - nl0}{mark}")
        got = r.fields.get("d", "")
        if not self.diverged and got != ",".join(expected):
            m._break(0, "readings", f"ADV {secs} {every}: rig d={got[:200]}, "
                     f"model {','.join(expected)[:200]}")
            self.diverged = True
        if not self.diverged:
            items = got.split(",")
            self._check_reading_rates([it for it, ok in zip(items, plain) if ok], every)

    def _delivered(self) -> tuple[int, int, str, str]:
        m = self.m
        ng, nl = m.delivered()
        return ng, nl, m.alarm, m.state

    def _check_reading_rates(self, items: list[str], every: int) -> None:
        # Invariant 1 on what the pump delivered: no interval's ng above the range at the top rate (plus
        # the floor's 1 ng). Intervals with a bridge bolus are left out (the reservoir's drug is not the
        # patient's then).
        m = self.m
        if m.prog is None:
            return
        _rid, _lo, hi = mdl.group(m.prog.origin, m.prog.age)
        for it in items:
            ng = int(it.split(":")[0])
            if ng > hi * every // DAY + 1:
                m._break(1, "delivered", f"{ng} ng in {every} s is above {hi} ng/day")
                return

    @rule(rnd=RANDOMS)
    def session(self, rnd: random.Random) -> None:
        self._run(self._do_session, rnd)

    def _do_session(self) -> None:
        k = self.rnd.random()
        if k < 0.4:
            self.host.open()
        elif k < 0.6:
            self.rig.link_reset()
            self.host.open()
        else:
            self._restart()

    @rule(rnd=RANDOMS)
    def power_cut(self, rnd: random.Random) -> None:
        self._run(self._do_power_cut, rnd)

    def _do_power_cut(self) -> None:
        # The power fails at one of the next few writes or renames of the store (a partial write, or none),
        # during a COM, an RF or an ADV; the rig restarts from its store. The command took effect or it did
        # not, as a whole: the model learns which from the rig's log and clock, and goes on checking.
        m = self.m
        rig = self.rig
        if self.rnd.random() < 0.5:
            self._do_load()  # half the time (hypothesis picks rules evenly): a cut is a rarer event
            return
        t0, log0 = rig.s.t_s, rig.s.log_total
        k = self.rnd.random()
        spec = None
        data = b""
        rf = None
        fill: tuple[int, int, int] | None = None
        secs = 0
        self.fs.fail_at = self.fs.ops + self.rnd.randrange(0, 6)
        self.fs.truncate_to = self.rnd.choice((None, 0, 17, 200))
        try:
            if k < 0.5:
                spec = self.gen.program()
                data = spec.encode()
                rf = self.gen.fill(spec.conc) if m.conc == 0 or self.rnd.random() < 0.2 else None
                self._load(spec, rf)
            elif k < 0.75:
                fill = self.gen.fill(m.conc or 500)
                r = self._send("RF", [str(x) for x in fill])
                if r.ok:
                    m.refill(fill[0], fill[1])
            else:
                secs, _every = self.gen.advance()
                secs = max(1, min(secs, 31_622_400))
                r = self._send("ADV", [str(secs)])
                if r.ok:
                    m.advance(m.t + secs)
            cut = False
        except PowerLoss:
            cut = True
        finally:
            self.fs.fail_at = None
            self.fs.truncate_to = None
        self._restart()
        self.stats.power_cuts += 1
        if not cut:
            return
        new = [e for e in self.rig.s.entries() if e[0] >= log0]
        took = False
        if spec is not None:
            if any(e[2] == "commit" and "prog:" + prog_id(data) in e[3] for e in new):
                m.commit(spec, data, rf)
                self.stats.commits += 1
                self.old_ids.append(prog_id(data))
                took = True
        elif fill is not None:
            if any(e[2] == "refill" for e in new):
                m.refill(fill[0], fill[1])
                took = True
        elif self.rig.s.t_s >= t0 + secs:
            m.advance(t0 + secs)
            took = True
        self.stats.cuts_mid_command += 1
        self.stats.cuts_took_effect += took

    def _restart(self) -> None:
        self.rig = Rig(KEY, self.clock, Store("itb_state", self.fs), self.cfg, counter_random())  # type: ignore[arg-type]
        self.host = Host(self.rig)
        self.stats.restarts += 1

    # -- observation --
    @invariant()
    def observe(self) -> None:
        if self.dead:
            return
        try:
            self._observe()
        except AssertionError:
            raise
        except Exception as exc:
            self._fail(exc)
        self._flush()

    def _observe(self) -> None:
        m = self.m
        rig = self.rig
        if self.diverged:
            return
        m.advance(m.t)  # events due this second fire now, as the rig's poll fires them
        st_ = rig.status()
        _rid, _lo, hi = mdl.group(m.prog.origin, m.prog.age) if m.prog is not None else ("", 0, 10**15)
        if st_.reservoir_nl > self.cfg.reservoir_nl:
            m._break(7, "status", f"ST res_nl={st_.reservoir_nl} above the rig's {self.cfg.reservoir_nl} nL")
        if st_.rate_ng_per_day > hi:
            m._break(1, "status-rate", f"ST rate={st_.rate_ng_per_day} above the range top {hi}")
        if m.state == "running" and st_.state != "running":
            m._break(4, "rig-stopped", f"the rig is {st_.state} (alarm {st_.alarm}) while the model runs, "
                     f"{m.reservoir_nl()} nL left")
            self.diverged = True
            return
        exp = {
            "t": m.t, "state": m.state, "prog": prog_id(m.prog_b) if m.prog_b else None,
            "res_nl": m.reservoir_nl(), "conc": m.conc, "rate": int(m.rate_now() // 1),
            "del_ng": m.delivered()[0], "del_nl": m.delivered()[1],
            "alarm": m.alarm, "bolus_nl": self._bolus_left(),
            "t_alarm": self._forecast(low=True), "t_empty": self._forecast(low=False),
            "bridge_due": m.pending_old,
        }  # fmt: skip
        got = {
            "t": st_.t_s, "state": st_.state, "prog": st_.prog, "res_nl": st_.reservoir_nl,
            "conc": st_.conc_ng_per_ul, "rate": st_.rate_ng_per_day, "del_ng": st_.delivered_ng,
            "del_nl": st_.delivered_nl, "alarm": st_.alarm, "bolus_nl": st_.bolus_nl,
            "t_alarm": st_.t_alarm_s, "t_empty": st_.t_empty_s,
            "bridge_due": rig.s.prev_conc,  # not in ST: the concentration a bridge bolus would clear
        }  # fmt: skip
        diff = {k: (got[k], exp[k]) for k in exp if got[k] != exp[k]}
        if diff:
            m._break(0, "status", f"rig vs model (rig, model): {diff}")
            self.diverged = True
            return
        self._check_log()

    def _bolus_left(self) -> int:
        b = self.m.bolus
        if b is None:
            return 0
        return b.vol - b.vol * (min(self.m.t, b.t1) - b.t0) // (b.t1 - b.t0)

    def _forecast(self, low: bool) -> int | None:
        m = self.m
        if m.state != "running" or m.prog is None:
            return None
        if low:
            if m.alarm != "none":
                return None
            return m._time_to(max(m.fill - m.prog.alarm, 0))
        return m._time_to(m.fill)

    def _check_log(self) -> None:
        m = self.m
        new = [e for e in self.rig.s.entries() if e[0] > self.log_seen]
        if new:
            self.log_seen = new[-1][0]
        got = []
        for e in new:
            if e[2] == "check":
                m._finding("boot-check", f"the rig's boot check failed its stored program: {e[3]}")
            if e[2] in LOGGED:
                got.append((e[2], e[1], e[3]))
        exp = m.log
        m.log = []
        ok = len(got) == len(exp)
        for (gk, gt, gd), (ek, et, ed) in zip(got, exp):
            if gk != ek or gt != et or not all(part in gd.split("/") for part in ed.split("/") if part):
                ok = False
        if not ok:
            m._break(0, "log", f"audit log {got} where the model expects {exp}")
            self.diverged = True
        for kind, _t, _d in got:
            if kind == "empty":
                self.stats.empties += 1

    def _flush(self) -> None:
        m = self.m
        new = m.breaks[self.seen_breaks :]
        self.seen_breaks = len(m.breaks)
        for f in m.findings[self.seen_findings :]:
            self.stats.add_finding(f)
        self.seen_findings = len(m.findings)
        if self.diverged and not getattr(self, "_counted_divergence", False):
            self._counted_divergence = True
            self.stats.diverged += 1
        for b in new:
            self.stats.add_break(b)
        for b in new:
            if self.ctx.strict and (b.inv, b.tag) not in KNOWN:
                raise AssertionError(f"invariant {b.inv} ({b.tag}) broken at t={b.t}: {b.text}")

    def teardown(self) -> None:
        if not self.dead:
            self.stats.starts += self.m.courses


CHUNK = 1000  # sequences per hypothesis run: its record of the choices made grows with every example


def run(n: int, seed: int = 20_260_105, strict: bool = False, steps: int = 30, *,
        progress: bool = False, host_rig: Agreement | None = None) -> Stats:
    """Run at least n sequences of up to `steps` steps each (hypothesis runs of CHUNK sequences, seeds
    seed, seed + 1, ...): the statistics. Breaks are counted, or raised when strict. With `host_rig`, the
    host's decision is compared with the rig's at every load, into that tally (tests/adversary/
    differential.py)."""
    ctx = Context(strict=strict, steps_per_sequence=steps, progress=progress, host_rig=host_rig)
    Adversary.ctx = ctx
    t = time.perf_counter()
    k = 0
    try:
        with fixed_constants():  # a seed is the sequence, whatever the process imported before
            while ctx.stats.sequences < n:
                factory = hypothesis_seed(seed + k)(Adversary)
                k += 1
                run_state_machine_as_test(factory, settings=settings(
                    max_examples=min(CHUNK, n - ctx.stats.sequences), stateful_step_count=steps,
                    deadline=None, database=None,
                    phases=[Phase.generate, Phase.shrink] if strict else [Phase.generate],
                    suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False))
    finally:
        ctx.stats.seconds = time.perf_counter() - t
    return ctx.stats
