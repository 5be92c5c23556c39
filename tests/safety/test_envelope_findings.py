"""The therapy envelope's findings, each a regression test on the rig (signed frames that bypass every host
check) and on the host (the decision `RigClient` makes before it sends a byte), with daily and weekly
programs where the finding has a schedule.

Findings (the review of the first landing): 1 a short flex step at x10 / x24; 2 a bolus hidden in a first
program; 3 a restart jump after a confirmed stop; 4 pump facts taken from the program; 5 flex windows past
the titration and refill bands; 6 an initial dose above the screening rule; 7 chained reductions; 8 an
escalation over 7 days; 9 a taper that ends early; 10 a dilution short of its target; 11 host and rig alarm
times 1 s apart.

REQ: ITB-RNG-01 ITB-TIT-01 ITB-TIT-02 ITB-MNT-02 ITB-INI-01 ITB-STA-01 ITB-HOL-02 ITB-PMP-01 ITB-PMP-02
ITB-PMP-04 ITB-BRG-01 ITB-DIS-01 ITB-ESC-01 ITB-HOL-01 ITB-DIL-01 ITB-REF-01
"""

from __future__ import annotations

import random

import pytest

from firmware_py import dilution, refill, taper
from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.errors import RefusedError
from firmware_py.schedule import Schedule
from host_tools.client import RigClient
from host_tools.keys import RigKey
from host_tools.link import Link
from tests.core.support import DAY, MCG, WEEK_DAY_SAT, H, daily_or_weekly
from tests.safety import kit
from tests.safety.test_interrupted_programming import CutPort

SHAPES = ["daily", "weekly"]


def _running(base: int, *, phase: str = "transfer", conc: int = 500, origin: str = "spinal",
             age: int = 34, days: int = 2) -> tuple[kit.Host, RigClient]:
    """A rig running `base` ng/day for `days` days, the host's signing driver, and a RigClient on it."""
    rig, clock, _fs = kit.make_rig()
    h = kit.first_fill(rig, kit.program(base, phase, conc, origin=origin, age_years=age,
                                        previous_ng_per_day=base))
    clock.advance(days * DAY)
    return h, _client(rig)


def _client(rig: object) -> RigClient:
    c = RigClient(Link(CutPort(rig), "cut://rig"), RigKey(kit.KEY), timeout_s=0.5)  # type: ignore[arg-type]
    c.identify()
    return c


def _both_refuse(h: kit.Host, c: RigClient, p: pg.Program, rules: tuple[str, ...],
                 rf: tuple[int, int, int] | None = None) -> wire.Reply:
    """The host's decision and the rig's NAK refuse `p`, naming the same rules; nothing changes."""
    d = c.decide(p)
    assert not d.allowed, d.message()
    before = kit.snap(h.rig)
    r = h.load(p, rf)
    assert not r.ok and r.name in ("LIMIT", "TITRATION", "OVERRIDE"), (r.name, r.fields)
    assert r.fields["rules"].split(",") == d.rule_ids(), (r.fields, d.rule_ids())
    for rid in rules:
        assert rid in d.rule_ids(), (rid, d.message())
    after = kit.snap(h.rig)
    assert [after[k] for k in ("prog_b", "state", "hist", "fill_nl")] == [
        before[k] for k in ("prog_b", "state", "hist", "fill_nl")]
    assert "msg" not in r.fields  # the rig sends the rule IDs; the host prints its own whole text
    return r


@pytest.mark.parametrize("shape", SHAPES)
def test_1_a_short_flex_step_at_ten_or_24_times(shape: str) -> None:
    # 500 mcg/day with a 30 min step at 6000 mcg/day, 48 h after the last change: the day total is +23 %,
    # that half hour +1100 %. A 15 min step at 14 400 mcg/day with minstep 900 as well.
    h, c = _running(500 * MCG)
    step = daily_or_weekly(shape, 500 * MCG, [(20 * H, 6_000 * MCG, 1800)])
    _both_refuse(h, c, kit.program(step, "titration", overrides=[("ITB-RNG-04", "bench")]),
                 ("ITB-RNG-01", "ITB-TIT-01"))
    short = daily_or_weekly(shape, 500 * MCG, [(20 * H, 14_400 * MCG, 900)])
    _both_refuse(h, c, kit.program(short, "titration", min_step_s=900, overrides=[("ITB-RNG-04", "x")]),
                 ("ITB-PMP-04", "ITB-RNG-01", "ITB-TIT-01"))


@pytest.mark.parametrize("shape", SHAPES)
def test_2_a_bolus_hidden_in_a_first_program(shape: str) -> None:
    # A fresh rig: base 12 mcg/day with 30 min at 40 000 mcg/day (833 mcg in 30 min): refused however it is
    # labeled; and a 1-min step at 1 g/day with minstep 60.
    rig, _clock, _fs = kit.make_rig()
    h, c = kit.Host(rig), _client(rig)
    fill = (kit.RES_NL, 500, 0)
    bolus = daily_or_weekly(shape, 12 * MCG, [(0, 40_000_000 * MCG // 1000, 1800)])
    for phase in ("refill", "initial", "transfer"):
        _both_refuse(h, c, kit.program(bolus, phase, overrides=[("ITB-RNG-04", "x")]), ("ITB-RNG-01",), fill)
    one_min = daily_or_weekly(shape, 12 * MCG, [(0, 1_000_000_000, 60)])
    _both_refuse(h, c, kit.program(one_min, "initial", min_step_s=60, overrides=[("ITB-RNG-04", "x")]),
                 ("ITB-PMP-04", "ITB-INI-01"), fill)
    assert rig.s.prog_b == b"" and rig.s.state == "stopped"


def test_3_a_restart_after_a_confirmed_stop_is_the_initial_dose() -> None:
    # Right after STP CONFIRM, 2000 mcg/day with the ITB-RNG-04 override in phase initial: refused (at most
    # 2 x 100 mcg); in phase restart (ITB-HOL-02) likewise; at 200 mcg/day it starts.
    h, c = _running(500 * MCG)
    assert h.send("STP", ["CONFIRM", pg.short_id(h.rig.s.prog_b)]).ok
    big = kit.program(2_000 * MCG, "initial", overrides=[("ITB-RNG-04", "bench")])
    _both_refuse(h, c, big, ("ITB-INI-01",))
    _both_refuse(h, c, big.replace(phase="restart"), ("ITB-INI-01", "ITB-HOL-02"))
    _both_refuse(h, c, kit.program(500 * MCG, "titration"), ("ITB-STA-01",))
    assert h.load(kit.program(200 * MCG, "restart")).ok
    assert h.rig.s.state == "running"


def test_4_pump_facts_come_from_the_rig() -> None:
    # cath=100000 (100 m), res=99999999999, res=40 mL on a 20 mL rig, minstep=60: all refused, both values
    # named; a 40 mL fill is refused; after 500 -> 2000 mcg/mL the bridge bolus is capped by the rig's own
    # dead volume (0.2 mL + 50 cm of catheter), not a program's 100 m.
    h, c = _running(500 * MCG)
    for change, rid, shown in (
        (dict(catheter_mm=100_000), "ITB-PMP-02", "10000 cm differs from the rig's 50 cm"),
        (dict(reservoir_nl=99_999_999_999), "ITB-PMP-01", "99999.999999 mL differs from the rig's 20 mL"),
        (dict(reservoir_nl=40_000_000), "ITB-PMP-01", "40 mL differs from the rig's 20 mL"),
        (dict(min_step_s=60), "ITB-PMP-04", "1 min differs from the rig's 30 min"),
    ):
        p = kit.program(500 * MCG, "refill", **change)
        _both_refuse(h, c, p, (rid,))
        assert shown in c.decide(p).message()  # both values, in display units
    r = h.send("RF", ["40000000", "500", "0"])
    assert (r.ok, r.name, r.fields.get("rules")) == (False, "LIMIT", "ITB-PMP-01")
    assert h.load(kit.program(500 * MCG, "refill", 2000), (kit.RES_NL, 2000, h.rig.status().reservoir_nl)).ok
    dead = 200_000 + 500 * 2600 // 10
    assert "ITB-BRG-01" in h.send("BOL", [str(dead + 1), "86400"]).fields["rules"].split(",")
    two_mg = 2_000 * MCG * 1000 // 2000  # 2000 mcg of 2000 mcg/mL: 1 mL
    assert not h.send("BOL", [str(two_mg), "86400"]).ok


@pytest.mark.parametrize("shape", SHAPES)
def test_5_flex_windows_within_the_titration_and_refill_bands(shape: str) -> None:
    # Cerebral adult, 500 -> 500 with a 16 h window at +80 % (900) in titration: +80 % at those instants.
    h, c = _running(500 * MCG, origin="cerebral")
    wide = daily_or_weekly(shape, 500 * MCG, [(6 * H, 900 * MCG, 16 * H)])
    _both_refuse(h, c, kit.program(wide, "titration", origin="cerebral"), ("ITB-TIT-02",))
    # The reverse: from 500, base 600 with 10:00-06:00 at +30 % (780): +56 % in the window at refill, refused
    # on both sides alike.
    rev = daily_or_weekly(shape, 600 * MCG, [(10 * H, 780 * MCG, 20 * H)])
    _both_refuse(h, c, kit.program(rev, "refill", origin="cerebral"), ("ITB-MNT-02",))


def test_6_an_initial_dose_follows_the_screening_dose() -> None:
    rig, _clock, _fs = kit.make_rig()
    h, c = kit.Host(rig), _client(rig)
    fill = (kit.RES_NL, 500, 0)
    _both_refuse(h, c, kit.program(1_000 * MCG, "initial"), ("ITB-INI-01",), fill)
    _both_refuse(h, c, kit.program(101 * MCG, "initial", effect_s=9 * H), ("ITB-INI-02",), fill)
    assert h.load(kit.program(200 * MCG, "initial"), fill).ok


def test_7_chained_reductions_are_bounded_over_24_h() -> None:
    # 482 mcg/day, then -20 % loads at the same rig second: the first passes, the second is -36 % within 24 h.
    h, c = _running(482 * MCG)
    assert h.load(kit.program(482 * MCG * 8 // 10, "side-effects")).ok
    _both_refuse(h, c, kit.program(482 * MCG * 64 // 100, "side-effects"), ("ITB-DIS-01",))
    for _ in range(14):
        assert not h.load(kit.program(20 * MCG, "taper")).ok
    assert h.rig.status().rate_ng_per_day == 482 * MCG * 8 // 10


def test_8_escalation_over_7_days_needs_an_override() -> None:
    # 500 -> 650 -> 845 within 48 h: +69 %: ITB-ESC-01 asks for an override with a reason.
    h, c = _running(500 * MCG, days=2)
    assert h.load(kit.program(650 * MCG, "titration")).ok
    h.rig.clock.advance(DAY)
    r = _both_refuse(h, c, kit.program(845 * MCG, "titration"), ("ITB-ESC-01",))
    assert r.name == "OVERRIDE"
    ok = kit.program(845 * MCG, "titration", overrides=[("ITB-ESC-01", "planned titration; catheter imaged")])
    assert c.decide(ok).allowed and h.load(ok).ok


def test_9_a_taper_spans_its_whole_duration_on_the_rig() -> None:
    # 100 -> 95 mcg/day over 14 days: one change a day, each accepted by the rig, 95 on the 14th day.
    h, _c = _running(100 * MCG, origin="cerebral")
    plan = taper.taper_plan(100 * MCG, 95 * MCG, 14 * DAY)
    t0 = h.rig.s.t_s
    for offset, dose in plan:
        h.rig.clock.advance(t0 + offset - h.rig.s.t_s) if t0 + offset > h.rig.s.t_s else None
        r = h.load(kit.program(dose, "taper", origin="cerebral"))
        assert r.ok, (offset, dose, r.fields)
    assert plan[-1] == (13 * DAY, 95 * MCG) and h.rig.status().rate_ng_per_day == 95 * MCG


def test_10_a_dilution_short_of_its_target_is_refused() -> None:
    with pytest.raises(RefusedError) as exc:
        dilution.dilute(2_000, 150, 2_000_000)
    assert exc.value.rule_ids == ["ITB-DIL-01"]
    assert dilution.dilute(2_000, 150, 20_000_000).achieved_conc_ng_per_ul == 150


def test_11_host_and_rig_alarm_times_agree_to_the_second() -> None:
    # 300 random programs (daily and weekly, 1 to 13 steps, odd rates and concentrations): the host's
    # forecast and the rig's ST give the same low-alarm and empty seconds.
    rnd = random.Random(11)
    for i in range(300):
        conc = rnd.choice((333, 500, 750, 1000, 1500, 2000))
        period = rnd.choice((DAY, 7 * DAY))
        n = rnd.randrange(1, 8)
        base = rnd.randrange(12_000, 800_000)
        starts = sorted(rnd.sample(range(0, period // 1800), n))
        steps = [(s * 1800, base + base * rnd.randrange(0, 250) // 1000) for s in starts]
        sched = Schedule(period, steps)
        p = kit.program(sched, "transfer", conc, previous_ng_per_day=min(r for _s, r in sched.steps),
                        alarm_nl=rnd.randrange(1, kit.RES_NL))
        rig, _clock, _fs = kit.make_rig(persist=False)
        h = kit.Host(rig)
        r = h.load(p, (kit.RES_NL, conc, 0))
        assert r.ok, (i, r.fields)
        st = h.status()
        f = refill.refill_forecast(kit.RES_NL, conc, p.schedule, start_s=int(st["t"]), alarm_nl=p.alarm_nl)
        assert (f.alarm_at_s, f.empty_at_s) == (int(st["t_alarm"]), int(st["t_empty"])), i


def test_weekly_day_is_saturday() -> None:
    # The weekly shapes above put their step on Saturday (weekly phase 0 is Monday 00:00).
    assert WEEK_DAY_SAT == 5 * DAY
