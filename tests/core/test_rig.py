# The rig state machine over the wire: exact delivery, alarms, refill, stop, staging, sessions, hazards,
# persistence. Numbers are re-computed independently (plain integer arithmetic from first principles).
# REQ: ITB-REF-01 ITB-REF-02 ITB-DIS-01 ITB-TIT-01 ITB-TIT-04 ITB-RNG-01 ITB-CON-04 ITB-BRG-01

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth, Session
from firmware_py.clock import BenchClock
from firmware_py.rig import Rig
from firmware_py.store import Store
from tests.core.support import CONFIG, KEY, T0, Host, MemFs, PowerLoss, counter_random, program, replies

ML = 1_000_000


def make_prog(dose: int = 400_000, conc: int = 500, steps: object = None, phase: str = "refill") -> bytes:
    return pg.encode(program(steps if steps is not None else dose, phase, conc))


def new_rig(store: Store | None = None, clk: BenchClock | None = None) -> Rig:
    return Rig(KEY, clk or BenchClock(T0), store, CONFIG, counter_random())  # type: ignore[arg-type]


def fresh(store: Store | None = None, dose: int = 400_000) -> tuple[Rig, Host, BenchClock]:
    clk = BenchClock(T0)
    rig = new_rig(store, clk)
    h = Host(rig)
    r = h.load(make_prog(dose, phase="transfer"), (20 * ML, 500, 0))
    assert r.ok, (r.name, r.fields)
    return rig, h, clk


def test_exact_delivery_two_step_schedule() -> None:
    # 300 mcg/day 00:00-18:00, 360 mcg/day 18:00-24:00, conc 500 mcg/mL. Independent sum per segment.
    rig = new_rig()
    h = Host(rig)
    b = make_prog(steps=[(0, 300_000), (64800, 360_000)], phase="transfer")
    assert h.load(b, (20 * ML, 500, 0)).ok
    for elapsed in (1, 3599, 64800, 64801, 86400, 86400 * 3 + 70000, 86400 * 17 + 12345):
        h.send("ADV", [str(elapsed - (rig.status().t_s - T0))]) if elapsed > rig.status().t_s - T0 else None
        st = rig.status()
        # ng*s/day by whole days and the partial day
        days, rest = divmod(st.t_s - T0, 86400)
        integral = days * (300_000 * 64800 + 360_000 * 21600)
        integral += 300_000 * min(rest, 64800) + 360_000 * max(rest - 64800, 0)
        assert st.delivered_ng == integral // 86400, (elapsed, st.delivered_ng)
        assert st.delivered_nl == integral * 1000 // (500 * 86400)
        assert st.reservoir_nl == 20 * ML - st.delivered_nl


def test_delivery_identical_whatever_the_polling() -> None:
    # Polling every minute or once gives the same totals: nothing is accumulated per tick.
    rig1, h1, _ = fresh()
    rig2, h2, _ = fresh()
    for _ in range(200):
        h1.send("ADV", ["61"])
    h2.send("ADV", [str(200 * 61)])
    s1, s2 = rig1.status(), rig2.status()
    assert (s1.delivered_ng, s1.delivered_nl, s1.t_s) == (s2.delivered_ng, s2.delivered_nl, s2.t_s)
    assert s1.delivered_ng == 400_000 * 200 * 61 // 86400


def test_low_alarm_before_empty_at_exact_times() -> None:
    # REQ: ITB-REF-01. 400 mcg/day at 500 mcg/mL = 0.8 mL/day; 20 mL fill; alarm at 2 mL left.
    rig, h, _ = fresh()
    st = rig.status()
    flow_nl_per_day = 400_000 * 1000 // 500
    t_low = T0 + (18 * ML) * 86400 // flow_nl_per_day  # 18 mL used (exact here: 22.5 days)
    t_empty = T0 + (20 * ML) * 86400 // flow_nl_per_day
    assert (st.t_alarm_s, st.t_empty_s) == (t_low, t_empty)
    assert t_low < t_empty
    h.send("ADV", [str(t_low - 1 - T0)])
    assert rig.status().alarm == "none"
    h.send("ADV", ["1"])
    st = rig.status()
    assert (st.alarm, st.state) == ("low", "running") and st.reservoir_nl == 2 * ML
    h.send("ADV", [str(t_empty - 1 - st.t_s)])
    assert rig.status().state == "running"
    h.send("ADV", ["1"])
    st = rig.status()
    assert (st.state, st.alarm, st.reservoir_nl, st.rate_ng_per_day) == ("alarm", "empty", 0, 0)
    h.send("ADV", ["86400"])
    assert rig.status().delivered_nl == 20 * ML  # nothing after empty
    kinds = [e[2] for e in rig.s.entries()]
    assert kinds.index("low") < kinds.index("empty")
    assert [e[1] for e in rig.s.entries() if e[2] in ("low", "empty")] == [t_low, t_empty]


def test_refill_pocket_flag_and_resume_after_empty() -> None:
    # REQ: ITB-REF-02, 20 mL pump: flagged only when the residual differs by more than 1 mL.
    rig, h, _ = fresh()
    h.send("ADV", [str(10 * 86400)])  # 8 mL used
    exp = rig.status().reservoir_nl
    assert exp == 12 * ML
    r = h.send("RF", ["15000000", "500", str(exp + ML)])
    assert r.ok and r.fields["pocket"] == "0" and r.fields["expected_nl"] == str(exp)
    assert rig.status().reservoir_nl == 15 * ML and rig.status().delivered_nl == 0
    h.send("ADV", [str(86400 * 5)])
    exp = rig.status().reservoir_nl
    r = h.send("RF", ["15000000", "500", str(exp - ML - 1)])
    assert r.ok and r.fields["pocket"] == "1"
    assert any(e[2] == "refill" and e[3].endswith("pocket:1") for e in rig.s.entries())
    assert h.send("RF", ["15000000", "1000", "0"]).name == "CONC"  # a new strength needs COM rf=
    h.send("ADV", [str(40 * 86400)])
    assert rig.status().state == "alarm"
    assert h.send("RF", ["20000000", "500", "0"]).ok
    st = rig.status()
    assert (st.state, st.alarm) == ("running", "none")


def test_stop_only_with_confirmation() -> None:
    # REQ: ITB-DIS-01
    rig, h, _ = fresh()
    sid = rig.status().prog
    assert sid is not None
    assert h.send("STP", ["CONFIRM", "0" * 16]).name == "CONFIRM"
    assert h.send("STP", ["confirm", sid]).name == "CONFIRM"
    assert rig.status().state == "running"
    r = h.send("STP", ["CONFIRM", sid])
    assert r.ok and rig.status().state == "stopped" and rig.status().rate_ng_per_day == 0
    before = rig.status().delivered_ng
    h.send("ADV", ["86400"])
    assert rig.status().delivered_ng == before


def test_interrupted_staging_never_changes_or_stops_delivery() -> None:
    rig, h, _ = fresh()
    active = rig.s.prog_b
    new = make_prog(440_000)
    for cut in range(10, len(new), 50):
        for off in range(0, cut, 50):
            assert h.send("STG", [str(off), new[off : min(off + 50, cut)].decode()]).ok
        r = h.send("COM", [str(len(new)), pg.checksum(new)[:32]])
        assert r.name == "INCOMPLETE" and r.fields["staged"] == str(cut)
        st = rig.status()
        assert rig.s.prog_b == active and st.state == "running" and st.rate_ng_per_day == 400_000
    assert h.send("STG", ["5", "x"]).name in ("ORDER",)
    assert h.send("STG", ["0", new.decode()]).ok
    assert h.send("COM", [str(len(new)), "0" * 32]).name == "CHECKSUM"
    assert h.send("COM", [str(len(new)), pg.checksum(new)]).name == "CHECKSUM"  # 32 hex digits, not 64
    assert rig.s.prog_b == active


def test_hazards_refused_with_rule_ids() -> None:
    # REQ: ITB-MNT-01 (+10..40 % at refill), ITB-RNG-01 (12..2003 mcg/day), per-hour slip, 10x slip,
    # wrong conc.
    rig, h, clk = fresh(dose=100_000)
    clk.advance(2 * 86400)
    active = rig.s.prog_b
    per_hour = h.load(make_prog(100_000 * 24))  # 100 mcg/h entered where mcg/day was meant
    assert per_hour.name in ("TITRATION", "LIMIT") and not per_hour.ok
    assert "ITB-" in per_hour.fields["rules"]
    ten_x = h.load(make_prog(1_000_000))
    assert ten_x.name == "TITRATION" and "ITB-MNT-01" in ten_x.fields["rules"]
    over = h.load(make_prog(2_100_000))
    assert over.name == "LIMIT" and "ITB-RNG-01" in over.fields["rules"]
    conc = h.load(make_prog(120_000, conc=1000))
    assert conc.name == "CONC" and conc.fields["res"] == "500"
    assert rig.s.prog_b == active and rig.status().state == "running"
    ok = h.load(make_prog(130_000))  # +30 %: the top of the spinal band
    assert ok.ok, ok.fields
    too_soon = h.load(make_prog(140_000))  # another increase within 24 h
    assert too_soon.name == "TITRATION" and "ITB-TIT-04" in too_soon.fields["rules"]


def test_sessions_forged_replayed_and_reordered_frames() -> None:
    rig, h, _ = fresh()
    seq = h.seq
    b = make_prog(440_000)
    forged = wire.request(seq + 1, "STP", ["CONFIRM", str(rig.status().prog)],
                          Session(Auth(b"\x01" * 32), h.session.sid))  # type: ignore[union-attr]
    assert b" NAK AUTH" in rig.feed(forged)
    unsigned = wire.request(seq + 1, "STG", ["0", "x"])
    assert b" NAK AUTH" in rig.feed(unsigned)
    good = wire.request(seq + 1, "STG", ["0", b.decode()], h.session)
    assert b" ACK STG" in rig.feed(good)
    assert b" NAK SEQ expected=" + str(seq + 2).encode() in rig.feed(good)  # replay
    later = wire.request(seq + 5, "ST", [])
    assert b" ACK ST" in rig.feed(later)  # read-only: any SEQ, does not move the counter
    early = wire.request(seq + 1, "COM", [str(len(b)), pg.checksum(b)[:32]], h.session)
    assert b" NAK SEQ" in rig.feed(early)  # reordered
    # tampering with a signed frame breaks the MAC even with a fixed CRC
    f = wire.request(seq + 2, "ADV", ["60"], h.session).decode()
    body = f[1 : f.index("*")].replace("ADV 60", "ADV 99")
    assert b" NAK AUTH" in rig.feed(wire.frame(wire.HOST_START, body))
    # a frame of the session before is never valid in the next one, whatever its counter
    old = h.session
    h.open()
    assert b" NAK AUTH" in rig.feed(wire.request(seq + 10, "ADV", ["60"], old))
    assert h.send("ADV", ["60"]).ok  # the new session starts at counter 1
    # a new connection ends the session: signed frames need a new SES
    rig.link_reset()
    assert replies(rig.feed(wire.request(h.seq + 1, "ADV", ["60"], h.session)))[0].name == "SESSION"


def test_a_used_up_counter_never_locks_the_rig_out() -> None:
    # The top counter in one session is answered; the next session has the whole counter space again.
    rig, h, _ = fresh()
    h.seq = wire.SEQ_MAX - 1
    assert h.send("STP", ["CONFIRM", "0123456789abcdef"]).name == "CONFIRM"
    assert replies(rig.feed(wire.request(wire.SEQ_MAX, "ADV", ["60"], h.session)))[0].name == "SEQ"
    h.open()
    assert h.send("RF", ["20000000", "500", str(rig.status().reservoir_nl)]).ok


def test_no_random_source_no_session() -> None:
    rig = Rig(KEY, BenchClock(T0), None, CONFIG, None)
    assert replies(rig.feed(wire.request(1, "ID", [])))[0].ok
    r = replies(rig.feed(wire.request(1, "SES", [])))[0]
    assert r.name == "STATE"  # the code alone: the bytes received so far earn no more NAK credit
    for _ in range(8):
        rig.feed(wire.request(1, "ST", []))
    r = replies(rig.feed(wire.request(1, "SES", [])))[0]
    assert r.name == "STATE" and "random" in r.fields["msg"]
    assert replies(rig.feed(wire.request(1, "ST", [])))[0].ok


def test_refused_change_consumes_its_counter_so_it_cannot_be_replayed() -> None:
    rig, h, clk = fresh(dose=100_000)
    b = make_prog(125_000)  # +25 %: allowed after 24 h, refused now
    h.send("STG", ["0", b.decode()])
    h.seq += 1
    com = wire.request(h.seq, "COM", [str(len(b)), pg.checksum(b)[:32]], h.session)
    assert b" NAK TITRATION" in rig.feed(com)
    clk.advance(2 * 86400)
    assert b" NAK SEQ" in rig.feed(com)
    h.open()
    assert b" NAK AUTH" in rig.feed(com)  # nor in a later session
    assert rig.status().rate_ng_per_day == 100_000


def test_every_nak_reason_leaves_delivery_unchanged() -> None:
    rig, h, _ = fresh()
    active = rig.s.prog_b
    seen = set()
    bad = [b">1 ID*0000\n", b">1 ID\n", wire.frame(wire.HOST_START, "1 FOO"),
           b">" + b"1" * 700 + b"\n", wire.frame(wire.HOST_START, "1 RB x")]
    for f in bad:
        seen.add(wire.parse_reply(rig.feed(f)[1:-1]).name)
    seen.add(h.send("STG", ["0", "x"], sign=False).name)
    seen.add(h.send("STG", ["9", "x"]).name)
    seen.add(h.send("STG", ["0", "x" * 600]).name)
    for _ in range(7):
        h.send("STG", [str(rig.status().staged), "x" * 500])
    seen.add(h.send("STG", [str(rig.status().staged), "x" * 500]).name)
    h.send("STG", ["0", "ITB2;x"])
    seen.add(h.send("COM", ["6", pg.checksum(b"ITB2;x")[:32]]).name)
    seen.add(h.send("COM", ["7", "0" * 32]).name)
    seen.add(h.send("COM", ["6", "0" * 32]).name)
    seen.add(h.send("BOL", ["1000", "600"]).name)
    seen.add(h.send("STP", ["CONFIRM", "x"]).name)
    seen.add(h.send("RF", ["1000", "2000", "0"]).name)
    h.seq -= 3
    seen.add(h.send("ADV", ["1"]).name)
    rig.link_reset()
    seen.add(h.send("ADV", ["1"]).name)
    assert seen >= {"CRC", "FORMAT", "COMMAND", "LENGTH", "ARG", "AUTH", "ORDER", "PROGRAM", "INCOMPLETE",
                    "CHECKSUM", "STATE", "CONFIRM", "CONC", "SEQ", "SESSION"}, seen
    st = rig.status()
    assert rig.s.prog_b == active and st.state == "running" and st.rate_ng_per_day == 400_000


def test_feed_never_raises_on_garbage() -> None:
    rig, _h, _ = fresh()
    x = 12345
    for _ in range(300):
        chunk = bytearray()
        for _ in range(40):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            chunk.append(b">< *@0123ABCSTGCOM\n\r\x00\xff"[x % 22])
        rig.feed(bytes(chunk))
    assert rig.status().state == "running" and rig.status().rate_ng_per_day == 400_000


def test_commit_atomic_when_store_fails() -> None:
    fs = MemFs()
    rig, h, _ = fresh(Store("s", fs), dose=100_000)
    active = rig.s.prog_b
    b = pg.encode(program(100_000, label="renamed"))  # no change of dose: allowed
    h.send("STG", ["0", b.decode()])
    fs.files["s.cur"] = b""  # no store can replace a file it cannot read back as good
    fs.fail_at = fs.ops  # the save's first write fails
    fs.failure = OSError(28)  # ENOSPC: the rig handles it (a PowerLoss would reset the board)
    r = h.send("COM", [str(len(b)), pg.checksum(b)[:32]])
    fs.fail_at = None
    assert r.name == "STORE" and rig.s.prog_b == active


def test_persistence_and_resume_at_every_reset_point() -> None:
    fs = MemFs()
    rig, h, clk = fresh(Store("s", fs))
    h.send("ADV", ["86400"])
    delivered = rig.status().delivered_ng
    sid = rig.status().prog
    hist = rig.s.hist.text()
    # a reset at every step of the next save (an RF) leaves either the old or the new state
    for k in range(4):
        fs2 = MemFs(fs.files)
        rig2 = new_rig(Store("s", fs2), BenchClock(clk.now_s()))
        h2 = Host(rig2)
        fs2.fail_at = fs2.ops + k
        try:  # noqa: SIM105 (MicroPython has no contextlib)
            h2.send("RF", ["20000000", "500", str(rig2.status().reservoir_nl)])
        except PowerLoss:
            pass
        fs2.fail_at = None
        rig3 = new_rig(Store("s", fs2), BenchClock(clk.now_s()))
        st = rig3.status()
        assert st.prog == sid and st.state == "running" and rig3.s.hist.text() == hist
        assert st.delivered_ng in (delivered, 0)
    # plain resume: same program and history, delivery continues exactly, resume logged
    rig4 = new_rig(Store("s", fs), BenchClock(clk.now_s() + 3600))
    st = rig4.status()
    assert st.prog == sid and rig4.s.hist.text() == hist and st.chk == "ok"
    assert st.delivered_ng == 400_000 * (86400 + 3600) // 86400
    assert rig4.s.entries()[-1][2] == "resume"


def test_bridge_bolus_after_concentration_change() -> None:
    # REQ: ITB-BRG-01: one bridge after a concentration change, bounded by the dead volume and old flow.
    rig, h, clk = fresh(dose=400_000)
    clk.advance(3 * 86400)
    assert h.send("BOL", ["1000", "600"]).name == "STATE"  # no concentration change pending
    b = make_prog(400_000, conc=1000, phase="refill")
    r = h.load(b, (20 * ML, 1000, rig.status().reservoir_nl))
    assert r.ok, r.fields
    dead = 200_000 + 500 * 2600 // 10  # internal + 50 cm of catheter at 2.6 uL/cm
    old_flow = 400_000 * 1000 // 500  # nL/day at the old 500 mcg/mL
    assert h.send("BOL", [str(dead + 1), "86400"]).name == "LIMIT"
    fast = dead * 86400 // old_flow - 60
    assert h.send("BOL", [str(dead), str(fast)]).name == "LIMIT"
    dur = -(-dead * 86400 // old_flow)
    r = h.send("BOL", [str(dead), str(dur)])
    assert r.ok, r.fields
    h.send("ADV", [str(dur)])
    st = rig.status()
    assert st.bolus_nl == 0 and st.delivered_nl == dead
    assert h.send("BOL", [str(dead), str(dur)]).name == "STATE"  # only one bridge
