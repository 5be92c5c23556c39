"""No abrupt discontinuation (boxed warning, /work/shared/labeling/002_2ca3bb212e8effd8.txt: "Prevention of
abrupt discontinuation requires careful attention to programming and monitoring of infusion system, refill
scheduling and procedures, and pump alarms").

Therapy stops only through an explicitly confirmed STP naming the active program; a reduction beyond the
library's step only through a taper of allowed steps; the low-reservoir alarm fires before empty at the
time status announced; a simulated year with refills on the recommended date never runs dry, and a year
with a missed refill alarms (low) days before it empties.

REQ: ITB-DIS-01, ITB-HOL-01, ITB-REF-01
"""

from __future__ import annotations

from firmware_py import program as pg
from firmware_py import refill
from firmware_py.protocol import Reply
from tests.safety import kit

CONC = 2000  # mcg/mL
ALARM_DAYS = 72  # 18 mL usable to the 2 mL alarm at 0.25 mL/day (500 mcg/day at 2000 mcg/mL)
EMPTY_DAYS = 80  # 20 mL at 0.25 mL/day


def _st(h: kit.Host) -> dict[str, str]:
    r = h.send("ST", [])
    assert r.ok
    return r.fields


def _adv(h: kit.Host, s: int) -> Reply:
    r = h.send("ADV", [str(s)])
    assert r.ok, r.fields
    return r


def test_reduction_beyond_20_percent_needs_a_taper() -> None:
    """-20 % in one step is allowed, one ng/day more is refused (ITB-DIS-01); a taper of -20 % steps gets from
    500 to 131 mcg/day over 6 commits without ever stopping; an increase inside a taper is refused."""
    rig, clock, _fs = kit.make_rig()
    h = kit.first_fill(rig, kit.program(500_000, "transfer", CONC))
    clock.advance(kit.DAY)
    r = h.load(kit.program(399_999, "taper", CONC))
    assert (r.ok, r.name, r.fields.get("rules")) == (False, "TITRATION", "ITB-DIS-01")
    dose = 500_000
    for _ in range(6):
        dose = dose * 8 // 10
        assert h.load(kit.program(dose, "taper", CONC)).ok
        assert _st(h)["state"] == "running" and int(_st(h)["rate"]) == dose
        clock.advance(kit.DAY)
    assert dose == 131_072
    r = h.load(kit.program(dose + 1_000, "taper", CONC))
    assert (r.ok, r.fields.get("rules")) == (False, "ITB-HOL-01")


def test_stop_only_with_confirmation_naming_the_active_program() -> None:
    """STP without CONFIRM, with a wrong or another program's id, in lower/upper case variants: NAK CONFIRM
    and delivery goes on. STP CONFIRM <sha16> stops; only a new COM restarts (a second STP: NAK STATE)."""
    rig, clock, _fs = kit.make_rig()
    p = kit.program13()
    h = kit.first_fill(rig, p)
    sid = pg.short_id(pg.encode(p))
    other = pg.short_id(pg.encode(kit.program13(510_000)))
    for args in (["CONFIRM", other], ["CONFIRM", "0" * 16], ["confirm", sid], ["CONFIRM", sid.upper()],
                 ["YES", sid], ["CONFIRM", sid[:15] + "x"]):  # fmt: skip
        r = h.send("STP", args)
        assert (r.ok, r.name) == (False, "CONFIRM"), args
        assert _st(h)["state"] == "running"
    assert h.send("STP", ["CONFIRM", sid]).ok
    st = _st(h)
    assert (st["state"], st["rate"]) == ("stopped", "0")
    assert h.send("STP", ["CONFIRM", sid]).name == "STATE"
    clock.advance(kit.DAY)
    assert h.load(p).ok and _st(h)["state"] == "running"


def test_low_alarm_fires_before_empty_at_the_announced_times() -> None:
    """500 mcg/day at 2000 mcg/mL from 20 mL: status announces the low alarm at +72 d (18 mL used) and empty
    at +80 d, computed independently here; one second before each nothing has fired, at each second it has."""
    rig, _clock, _fs = kit.make_rig()
    h = kit.first_fill(rig, kit.program(500_000, "transfer", CONC))
    st = _st(h)
    t0 = int(st["t"])
    assert (int(st["t_alarm"]), int(st["t_empty"])) == (t0 + ALARM_DAYS * kit.DAY, t0 + EMPTY_DAYS * kit.DAY)
    _adv(h, ALARM_DAYS * kit.DAY - 1)
    st = _st(h)
    assert (st["alarm"], st["state"]) == ("none", "running") and int(st["res_nl"]) > kit.ALARM_NL
    _adv(h, 1)
    st = _st(h)
    assert (st["alarm"], st["state"], st["t_alarm"]) == ("low", "running", "none")
    assert int(st["res_nl"]) == kit.ALARM_NL and int(st["t_empty"]) == t0 + EMPTY_DAYS * kit.DAY
    _adv(h, (EMPTY_DAYS - ALARM_DAYS) * kit.DAY - 1)
    assert _st(h)["state"] == "running"
    _adv(h, 1)
    st = _st(h)
    assert (st["state"], st["alarm"], st["res_nl"]) == ("alarm", "empty", "0")


def _year(skip_refill: int | None) -> tuple[list[tuple[int, str]], int, list[tuple[int, int]]]:
    """A year on the 13-step program with refills on the date refill_forecast recommends (3 days before
    the alarm, ITB-REF-01); `skip_refill` = index of a refill that is missed (the patient does not come)."""
    rig, _clock, _fs = kit.make_rig()
    p = kit.program13(600_000, bump_permille=150, conc=CONC)
    h = kit.first_fill(rig, p)
    t_end = int(_st(h)["t"]) + 365 * kit.DAY
    refills = 0
    announced: list[tuple[int, int]] = []
    i = 0
    while True:
        st = _st(h)
        t = int(st["t"])
        if t >= t_end:
            break
        assert st["t_alarm"] != "none" and int(st["t_alarm"]) < int(st["t_empty"])
        announced.append((int(st["t_alarm"]), int(st["t_empty"])))
        f = refill.refill_forecast(int(st["res_nl"]), CONC, p.schedule, start_s=t, alarm_nl=kit.ALARM_NL)
        assert f.alarm_at_s == int(st["t_alarm"])  # host and rig: the same alarm time, to the second
        due = f.refill_at_s
        if i == skip_refill:
            due = int(st["t_empty"]) + 2 * kit.DAY  # missed: found empty two days later
        _adv(h, min(due, t_end) - t)
        if due >= t_end:
            break
        st = _st(h)
        r = h.send("RF", [str(kit.RES_NL), str(CONC), st["res_nl"]])  # residual measured = expected
        assert r.ok and r.fields["pocket"] == "0", r.fields
        assert _st(h)["state"] == "running"
        refills += 1
        i += 1
    log = [(e[1], e[2]) for e in rig.s.entries() if e[2] in ("low", "empty", "refill")]
    return log, refills, announced


def test_a_year_with_refills_on_the_recommended_date_never_runs_dry() -> None:
    """A year: every refill on the recommended date; no empty alarm ever, no low alarm either (refills come
    3 days before it), delivery never stops."""
    log, refills, _ann = _year(None)
    assert refills >= 5
    assert [k for _t, k in log if k in ("low", "empty")] == []


def test_a_year_with_a_missed_refill_alarms_before_empty() -> None:
    """The third refill is missed: the low alarm fires first, at the time status announced, days before
    empty (also at the announced second); the late refill restarts delivery."""
    log, _refills, announced = _year(2)
    lows = [t for t, k in log if k == "low"]
    empties = [t for t, k in log if k == "empty"]
    assert len(lows) == 1 and len(empties) == 1, log
    assert lows[0] < empties[0] - 3 * kit.DAY
    assert (lows[0], empties[0]) in announced
