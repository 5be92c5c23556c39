"""Defense in depth: frames with a valid CRC and a valid MAC that bypass the host (no rx.py, no calc.py, no
pint) and carry a program the host would have refused. The rig re-runs the drug library and refuses each
with a reason code and the rule IDs; the active program, delivery and reservoir are untouched.

REQ: ITB-RNG-01, ITB-RNG-04, ITB-TIT-01, ITB-TIT-04, ITB-INI-03, ITB-DIS-01, ITB-CON-04, ITB-SCR-05,
ITB-SCH-02, ITB-REF-01, ITB-PMP-01
"""

from __future__ import annotations

from firmware_py import program as pg
from firmware_py.clock import BenchClock
from firmware_py.protocol import Reply
from firmware_py.rig import Rig
from firmware_py.state import RUNNING
from tests.safety import kit

KEYS = ("prog_b", "state", "conc", "fill_nl", "used_q", "anchor_s", "hist")

H = 3600


def _running(base: int = 500_000) -> tuple[Rig, kit.Host, kit.MemFs, BenchClock]:
    rig, clock, fs = kit.make_rig()
    h = kit.first_fill(rig, kit.program(base, "transfer"))
    return rig, h, fs, clock


def _refused(rig: Rig, h: kit.Host, p: pg.Program | bytes, code: str, rules: tuple[str, ...] = (),
             *, rf: tuple[int, int, int] | None = None) -> Reply:  # fmt: skip
    before = kit.snap(rig)
    r = h.load(p, rf=rf)
    assert not r.ok and r.name == code, (r.name, r.fields)
    got = set(r.fields.get("rules", "").split(","))
    assert set(rules) <= got, (rules, r.fields)
    after = kit.snap(rig)
    assert [after[k] for k in KEYS] == [before[k] for k in KEYS]
    assert after["state"] == RUNNING or before["prog_b"] == b""
    return r


def test_per_day_dose_entered_per_hour_is_refused_by_range() -> None:
    """500 mcg/day typed as 500 mcg/h is 12 000 mcg/day (24x): outside 12-2003 mcg/day (ITB-RNG-01)."""
    rig, h, _fs, clock = _running(500_000)
    clock.advance(2 * kit.DAY)
    _refused(rig, h, kit.program(500_000 * 24), "LIMIT", ("ITB-RNG-01",))
    # even as a first program on a fresh rig
    rig2, _c, _f = kit.make_rig()
    _refused(rig2, kit.Host(rig2), kit.program(500_000 * 24, "transfer"), "LIMIT",
             ("ITB-RNG-01",), rf=(kit.RES_NL, kit.CONC, 0))  # fmt: skip


def test_per_hour_slip_inside_the_range_with_an_override_is_refused_by_the_step_limit() -> None:
    """80 mcg/day x 24 = 1920 mcg/day is inside the spinal range; even with the ITB-RNG-04 override recorded
    in the program, the rig refuses the +2300 % step (ITB-TIT-01)."""
    rig, h, _fs, clock = _running(80_000)
    clock.advance(2 * kit.DAY)
    p = kit.program(80_000 * 24, "titration", overrides=[("ITB-RNG-04", "bench")])
    _refused(rig, h, p, "TITRATION", ("ITB-TIT-01",))


def test_ten_fold_slips_both_ways() -> None:
    """500 -> 5000 mcg/day is out of range (ITB-RNG-01); 500 -> 50 mcg/day is a 90 % cut (ITB-DIS-01)."""
    rig, h, _fs, clock = _running(500_000)
    clock.advance(2 * kit.DAY)
    _refused(rig, h, kit.program(5_000_000), "LIMIT", ("ITB-RNG-01",))
    _refused(rig, h, kit.program(50_000), "TITRATION", ("ITB-DIS-01",))
    _refused(rig, h, kit.program13(5_000_000, phase="titration"), "LIMIT", ("ITB-RNG-01",))


def test_concentration_not_matching_the_reservoir() -> None:
    """Program at 1000 mcg/mL on a reservoir of 500: NAK CONC res=500; a refill that names one strength
    and a program of another: NAK CONC; RF at another strength: NAK CONC. Above 2000 mcg/mL and the 50 mcg/mL
    screening strength: NAK PROGRAM (ITB-CON-04, ITB-SCR-05)."""
    rig, h, _fs, clock = _running(500_000)
    clock.advance(2 * kit.DAY)
    r = _refused(rig, h, kit.program(500_000, conc=1000), "CONC")
    assert r.fields["res"] == "500"
    _refused(rig, h, kit.program(500_000, conc=1000), "CONC", rf=(kit.RES_NL, 500, 0))
    before = kit.snap(rig)
    r = h.send("RF", [str(kit.RES_NL), "1000", "0"])
    assert (r.ok, r.name) == (False, "CONC") and kit.snap(rig)["fill_nl"] == before["fill_nl"]
    for conc in (2001, 50):
        enc = pg.encode(kit.program(500_000)).replace(b"conc=500", b"conc=" + str(conc).encode())
        _refused(rig, h, enc, "PROGRAM", rf=(kit.RES_NL, conc if conc <= 2000 else 2000, 0))


def test_titration_step_limit_boundary() -> None:
    """Adult spinal titration: +30 % is allowed, one ng/day more is refused (ITB-TIT-01)."""
    rig, h, _fs, clock = _running(500_000)
    clock.advance(kit.DAY)
    _refused(rig, h, kit.program(650_001, "titration"), "TITRATION", ("ITB-TIT-01",))
    r = h.load(kit.program(650_000, "titration"))
    assert r.ok, r.fields


def test_one_increase_per_24_hours_and_none_in_the_first_24_hours() -> None:
    """An increase 1 s before 24 h after the last change is refused (ITB-TIT-04); at 24 h it is allowed.
    Right after the pump started (the first commit) an increase is refused by ITB-INI-03 as well."""
    rig, h, _fs, clock = _running(500_000)
    clock.advance(kit.DAY - 1)
    _refused(rig, h, kit.program(550_000, "titration"), "TITRATION", ("ITB-INI-03", "ITB-TIT-04"))
    clock.advance(1)
    assert h.load(kit.program(550_000)).ok
    clock.advance(12 * H)
    _refused(rig, h, kit.program(600_000), "TITRATION", ("ITB-TIT-04",))
    clock.advance(12 * H)
    assert h.load(kit.program(600_000)).ok


def test_structurally_invalid_programs_crafted_by_hand() -> None:
    """Encodings no host would produce: zero rate step, alarm >= reservoir, 14 steps a day, a non-canonical
    number: NAK PROGRAM; a program for another kind of pump than the rig's (ITB-PMP-01): NAK LIMIT."""
    rig, h, _fs, clock = _running(500_000)
    clock.advance(2 * kit.DAY)
    good = pg.encode(kit.program13(500_000, phase="titration"))
    steps = ",".join(f"{i * 6000}:{500_000 + (i % 2) * 10_000}" for i in range(14))
    head, _, tail = good.partition(b";steps=")
    tail = tail[tail.index(b";") :]
    crafted = [
        head + b";steps=0:500000,3600:0" + tail,
        good.replace(b"alarm=2000000", b"alarm=20000000"),
        good.replace(b"alarm=2000000", b"alarm=0"),
        head + b";steps=" + steps.encode() + tail,
        good.replace(b"base=500000", b"base=0500000"),
    ]
    for enc in crafted:
        _refused(rig, h, enc, "PROGRAM")
    _refused(rig, h, good.replace(b"pump=programmable", b"pump=constant-flow"), "LIMIT", ("ITB-PMP-01",))
