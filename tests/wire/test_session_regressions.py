"""Regression tests for the session-layer findings of the project's issue, one test (or one small group) per
finding, each asserting the fixed behaviour.

1. A signed frame at SEQ 2 147 483 647 does not lock out later RF/STP/COM/ADV.
2. A corrupted ``itb_state.cur`` boots the rig from ``.old``; a replay of the last signed ``ADV 86400`` is
   refused.
3. Unauthenticated frames cannot wipe the audit log.
4. One idle, dripping or non-reading client does not lock others out of the TCP rig; 100 concurrent
   connects complete.
5. A partial frame does not survive a disconnect.
6. Labels with control characters are refused by the rig.
7. A flood of ``>\\n`` brings back at most as many bytes as it sent.

And two found while attacking the session layer, fixed since:

8. A rollback to ``.old`` is silent: a confirmed ``STP`` is undone by one flipped byte of ``itb_state.cur``,
   and neither ``ST`` nor ``LG`` tells a host that the rig runs an older state.
9. The host client reports a competing ``SES`` (another host's or an attacker's, landing between its
   ``SES`` and its first signed frame) as a wrong key, and gives up.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import serial

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.rig import Rig
from host_tools.client import Refill as HostRefill
from host_tools.client import RigClient, RigRefusedError
from host_tools.virtual_rig import SEND_TIMEOUT_S, VirtualRig
from tests.core import support as kit
from tests.wire import outsider as o

SEQ_MAX = wire.SEQ_MAX
STALE_STP = "STP CONFIRM 0123456789abcdef"


def frame_at(h: kit.Host, seq: int, cmd: str, args: list[str]) -> bytes:
    assert h.session is not None
    return wire.request(seq, cmd, args, h.session)


def one(rig: Rig, data: bytes) -> wire.Reply:
    r = kit.replies(rig.feed(data))
    assert len(r) == 1, r
    return r[0]


def kinds(rig: Rig) -> list[str]:
    return [e[2] for e in rig.s.entries()]


# --- 1. SEQ 2 147 483 647 -------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["refused STP", "accepted ADV"])
def test_1_counter_at_seq_max_is_no_lockout(first: str) -> None:
    rig, _clock, _fs = kit.make_rig()
    h = kit.first_fill(rig)
    prog = pg.short_id(rig.s.prog_b)
    if first == "refused STP":
        r = one(rig, frame_at(h, SEQ_MAX, "STP", ["CONFIRM", "0123456789abcdef"]))
        assert (r.ok, r.name, r.seq) == (False, wire.CONFIRM, SEQ_MAX)
    else:
        r = one(rig, frame_at(h, SEQ_MAX, "ADV", ["60"]))
        assert (r.ok, r.name) == (True, "ADV")
    # in the same session the counter is used up (the rig says what it would need: above SEQ_MAX) ...
    r = one(rig, frame_at(h, SEQ_MAX, "ADV", ["60"]))
    assert (r.ok, r.name, r.fields["expected"]) == (False, wire.SEQ, str(SEQ_MAX + 1))
    # ... and a new SES starts the whole counter space again, for every program-changing command
    h.open()
    assert h.send("ADV", ["3600"]).ok
    st = h.status()
    rf = h.send("RF", [str(kit.RES_NL), str(kit.CONC), st["res_nl"]])
    assert rf.ok, rf.fields
    stp = h.send("STP", ["CONFIRM", prog])
    assert stp.ok and stp.fields["state"] == "stopped"
    com = h.load(kit.program13())  # a start after a confirmed stop
    assert com.ok, com.fields
    # and again at the very end of the new session's counter space
    h.seq = SEQ_MAX - 1
    assert h.send("ADV", ["60"]).ok
    h.open()
    assert h.send("ADV", ["60"]).ok


def test_1_host_client_opens_a_new_session_after_seq_max() -> None:
    """The project's host client over TCP: its counter reaches SEQ_MAX on a refused STP; later RF, ADV, STP
    and a load all go through."""
    with VirtualRig(transport="tcp") as vr, RigClient.connect(vr.url, vr.key, timeout_s=5) as client:
        data = pg.encode(_virtual_program13())
        client.load(data, HostRefill(kit.RES_NL, kit.CONC, 0))
        client._ctr = SEQ_MAX - 1  # the next signed frame goes out at SEQ_MAX
        with pytest.raises(RigRefusedError, match="CONFIRM"):
            client.stop("0123456789abcdef")
        assert client._ctr == SEQ_MAX
        client.advance(3_600)
        st = client.status()
        client.refill(HostRefill(kit.RES_NL, kit.CONC, st.reservoir_nl))
        client.stop(pg.short_id(data))
        client.load(data)
        assert client.status().state == "running"


def _virtual_program13() -> pg.Program:
    from host_tools.virtual_rig import VIRTUAL_CONFIG  # noqa: PLC0415

    assert (VIRTUAL_CONFIG.reservoir_nl, VIRTUAL_CONFIG.min_step_s) == (kit.RES_NL, kit.CONFIG.min_step_s)
    return kit.program13()


# --- 2. rollback to .old -------------------------------------------------------------------------------


def test_2_corrupt_cur_boots_from_old_and_a_replayed_adv_is_refused() -> None:
    rig, clock, fs = kit.make_rig()
    h = kit.first_fill(rig)
    assert h.send("ADV", ["3600"]).ok
    old_before = fs.files["itb_state.cur"]  # becomes .old with the next save
    captured = h.frame("ADV", ["86400"])
    assert one(rig, captured).ok
    t_after = rig.s.t_s
    assert fs.files["itb_state.old"] == old_before
    cur = bytearray(fs.files["itb_state.cur"])
    cur[len(cur) // 2] ^= 0x01
    fs.files["itb_state.cur"] = bytes(cur)

    rig2 = kit.restart(fs, clock)
    assert kinds(rig2)[-2:] == ["resume", "check"]  # the rollback is said (rollback:old, chk=rollback)
    assert rig2.s.entries()[-1][3] == "rollback:old" and rig2.s.chk == "rollback"
    last = rig2.s.entries()[-3]
    assert last[2] == "adv" and last[3] == "s:3600"  # the state before the replayed ADV
    assert rig2.s.t_s == t_after  # the rig time never goes back (the clock is ahead of the old state)
    before = kit.snap(rig2)

    r = one(rig2, captured)  # no session after a reset
    assert (r.ok, r.name) == (False, wire.SESSION)
    one(rig2, wire.request(7, "SES", []))  # an attacker's session
    assert one(rig2, captured).name == wire.AUTH
    h2 = kit.Host(rig2)  # the legitimate host's new session
    assert one(rig2, captured).name == wire.AUTH
    assert kit.snap(rig2) == before
    assert h2.send("ADV", ["60"]).ok  # and the legitimate host is not locked out


def test_2_restored_older_snapshot_refuses_every_recorded_frame() -> None:
    rig, clock, fs = kit.make_rig()
    h = kit.first_fill(rig)
    snapshot = dict(fs.files)
    recorded = []
    for cmd, args in (("ADV", ["86400"]), ("RF", [str(kit.RES_NL), str(kit.CONC), "19000000"]),
                      ("ADV", ["3600", "600"])):
        f = h.frame(cmd, args)
        assert one(rig, f).ok
        recorded.append(f)
    fs.files = dict(snapshot)
    rig2 = kit.restart(fs, clock)
    before = kit.snap(rig2)
    for f in recorded:
        assert one(rig2, f).name == wire.SESSION
    kit.Host(rig2)
    for f in recorded:
        assert one(rig2, f).name == wire.AUTH
    assert kit.snap(rig2) == before


# --- 3. the audit log cannot be wiped without the key --------------------------------------------------

UNAUTH_STG = b">1 STG 0 x*4535\n"
UNAUTH_COM = b">1 COM 1 " + b"0" * 64 + b"*E6DB\n"


def test_3_audit_log_survives_unauthenticated_floods() -> None:
    assert wire.frame(wire.HOST_START, "1 STG 0 x") == UNAUTH_STG
    assert wire.frame(wire.HOST_START, "1 COM 1 " + "0" * 64) == UNAUTH_COM
    rig, clock, fs = kit.make_rig()
    h = kit.first_fill(rig)
    st = h.status()
    assert h.send("RF", [str(kit.RES_NL), str(kit.CONC), st["res_nl"]]).ok
    assert h.send("ADV", [str(20 * kit.DAY)]).ok  # 1 mL/day from 20 mL: the low alarm at 18 mL used
    assert {"boot", "commit", "refill", "low"} <= set(kinds(rig))
    log = list(rig.s.log)
    ops = fs.ops
    total = rig.s.log_total
    for flood in (UNAUTH_STG, UNAUTH_COM, UNAUTH_STG + UNAUTH_COM):
        for _ in range(40):
            rig.feed(flood)
        assert list(rig.s.log) == log and rig.s.log_total == total
        assert fs.ops == ops  # never a flash write
    # the same after the legitimate session ended, and read through LG
    h.seq = 0
    rig.link_reset()
    for _ in range(100):
        rig.feed(UNAUTH_STG + UNAUTH_COM)
    lg = one(rig, wire.request(1, "LG", ["0"]))
    entries = lg.fields["e"].split(";")
    assert {e.split(",")[2] for e in entries} >= {"boot", "commit", "refill", "low"}
    assert int(lg.fields["total"]) == total
    assert rig.s.unauth >= 360
    # and after a reset, from the files
    rig2 = kit.restart(fs, clock)
    assert rig2.s.log[: len(log)] == log
    assert one(rig2, wire.request(1, "RJ", [])).ok


# --- 4. idle clients on the TCP rig --------------------------------------------------------------------


@pytest.fixture
def tcp_rig() -> Iterator[VirtualRig]:
    with VirtualRig(transport="tcp") as vr:
        yield vr


def _addr(vr: VirtualRig) -> tuple[str, int]:
    host, port = vr.url.removeprefix("socket://").rsplit(":", 1)
    assert host == "127.0.0.1"
    return host, int(port)


def _legit(vr: VirtualRig, deadline_s: float) -> float:
    """Connect, identify, open a session and get a signed ADV accepted; the seconds it took."""
    t = time.monotonic()
    port = serial.serial_for_url(vr.url, timeout=deadline_s)
    try:
        client = o.Client(port, vr.key.secret(), tries=1)
        client.open(0.05)
        assert client.identify().ok
        client.session()
        r = client.signed("ADV", 60)
        assert r.ok, r.text()
    finally:
        port.close()
    took = time.monotonic() - t
    assert took < deadline_s
    return took


def _background(target: Callable[[threading.Event], None]) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    th = threading.Thread(target=target, args=(stop,), daemon=True)
    th.start()
    return th, stop


def test_4_idle_socket(tcp_rig: VirtualRig) -> None:
    idle = socket.create_connection(_addr(tcp_rig))
    try:
        time.sleep(0.3)
        _legit(tcp_rig, 3.0)
        _legit(tcp_rig, 3.0)
    finally:
        idle.close()


def test_4_drip_one_byte_per_50ms(tcp_rig: VirtualRig) -> None:
    def drip(stop: threading.Event) -> None:
        with socket.create_connection(_addr(tcp_rig)) as s:
            data = o.frame("1 ID") * 100
            try:
                for b in data:
                    if stop.is_set():
                        return
                    s.send(bytes([b]))
                    time.sleep(0.05)
            except OSError:  # taken over by the legitimate host
                return

    th, stop = _background(drip)
    time.sleep(0.5)
    _legit(tcp_rig, 3.0)
    stop.set()
    th.join(5)


def test_4_client_that_never_reads(tcp_rig: VirtualRig) -> None:
    blocked = threading.Event()

    def never_reads(stop: threading.Event) -> None:
        with socket.create_connection(_addr(tcp_rig)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(0.5)
            many = o.frame("1 ID") * 200  # each brings back ~230 bytes
            try:
                while not stop.is_set():
                    s.sendall(many)
            except TimeoutError:
                blocked.set()  # the rig stopped reading: it is stuck sending to us
            except OSError:
                return
            stop.wait(10)

    th, stop = _background(never_reads)
    assert blocked.wait(15), "the rig never filled the socket"
    _legit(tcp_rig, SEND_TIMEOUT_S + 3.0)
    _legit(tcp_rig, 3.0)
    stop.set()
    th.join(5)


def test_4_hundred_concurrent_connects_complete(tcp_rig: VirtualRig) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()

    def connect(i: int) -> None:
        try:
            with socket.create_connection(_addr(tcp_rig), timeout=10) as s:
                s.settimeout(10)
                s.sendall(o.frame(f"{i + 1} ID"))
                got = s.recv(4096)
                what = "reply" if got.startswith(b"<") else "closed"
        except (ConnectionResetError, BrokenPipeError):
            what = "taken over"
        except OSError as exc:
            what = f"error {exc!r}"
        with lock:
            outcomes.append(what)

    t = time.monotonic()
    threads = [threading.Thread(target=connect, args=(i,), daemon=True) for i in range(100)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert len(outcomes) == 100, "some connects never completed"
    assert all(w in ("reply", "closed", "taken over") for w in outcomes), outcomes
    assert "reply" in outcomes
    assert time.monotonic() - t < 20
    _legit(tcp_rig, 3.0)


# --- 5. a partial frame does not survive a disconnect -------------------------------------------------


@pytest.mark.parametrize("pause", [0.0, 0.05, 0.3])
def test_5_partial_frame_dropped_on_disconnect(tcp_rig: VirtualRig, pause: float) -> None:
    addr = _addr(tcp_rig)
    with socket.create_connection(addr) as c1:
        c1.sendall(b">1 I")
        time.sleep(pause)
    with socket.create_connection(addr) as c2:
        c2.settimeout(0.5)
        c2.sendall(b"D*E74F\n")
        try:
            got = c2.recv(4096)
        except TimeoutError:
            got = b""
        assert b"ACK ID" not in got
        c2.sendall(o.frame("2 ID"))  # the new connection works
        c2.settimeout(5.0)
        assert o.parse_reply(c2.recv(4096)).word == "ID"


def test_5_partial_frame_dropped_on_link_reset() -> None:
    rig, _clock, _fs = kit.make_rig()
    assert rig.feed(b">1 I") == b""
    rig.link_reset()
    assert rig.feed(b"D*E74F\n") == b""


# --- 6. control characters in labels -------------------------------------------------------------------

BAD_LABELS = [
    "%00",
    "%1B%5B2J%1B%5BH%1B%5B32mitb%3A%20OK%07%0Aitb%3A%20OK",
    "bench%0D%0Aitb%3A%20OK",
    "%7F",
    "%C2%9B2J",  # C1 CSI
]


@pytest.mark.parametrize("label", BAD_LABELS)
def test_6_rig_refuses_control_characters_in_labels(label: str) -> None:
    rig, _clock, _fs = kit.make_rig()
    h = kit.first_fill(rig)
    prog = rig.s.prog_b
    data = pg.encode(kit.program13(phase="refill")).replace(b";label=test", b";label=" + label.encode())
    assert data.endswith(label.encode())
    r = h.load(data)
    assert (r.ok, r.name) == (False, wire.PROGRAM)
    assert rig.s.prog_b == prog and rig.s.state == "running"


def test_6_served_rig_refuses_them_to_an_outsider(tcp_rig: VirtualRig) -> None:
    port = serial.serial_for_url(tcp_rig.url, timeout=5)
    try:
        client = o.Client(port, tcp_rig.key.secret())
        client.open(0.05)
        good = o.Program(steps=((0, 100_000), (72_000, 120_000)), prev=100_000, why="bench", label="ok")
        assert client.stage(good.encode(), 579).ok
        assert client.commit(good.encode(), (kit.RES_NL, 500, 0)).ok
        for label in BAD_LABELS[:2]:
            data = good.encode().replace(b";label=ok", b";label=" + label.encode())
            assert client.stage(data, 579).ok
            r = client.commit(data)
            assert (r.ok, r.word) == (False, "PROGRAM"), r.text()
        assert client.status()["prog"] == o.program_id(good.encode())
    finally:
        port.close()


# --- 7. no amplification -------------------------------------------------------------------------------

FLOOD = b">\n" * 20_000  # 40 000 bytes


@pytest.mark.parametrize("piece", [40_000, 4_096, 64, 2])
def test_7_flood_of_empty_frames_is_not_amplified(piece: int) -> None:
    rig, _clock, _fs = kit.make_rig()
    out = 0
    for i in range(0, len(FLOOD), piece):
        out += len(rig.feed(FLOOD[i : i + piece]))
    assert out <= len(FLOOD)


def test_7_flood_bounded_by_received_at_every_prefix() -> None:
    """What the document promises (never more NAK bytes than received), whatever the read size, and the
    credit starts again at zero on a new connection."""
    flood = FLOOD[:8_000]
    for piece in (1, 3, 64, 641, 4_096):
        rig, _clock, _fs = kit.make_rig()
        sent = out = 0
        for i in range(0, len(flood), piece):
            chunk = flood[i : i + piece]
            sent += len(chunk)
            out += len(rig.feed(chunk))
            assert out <= sent
            if i == len(flood) // 2:
                rig.link_reset()
                sent = out = 0


def test_7_flood_over_tcp(tcp_rig: VirtualRig) -> None:
    got = bytearray()
    with socket.create_connection(_addr(tcp_rig)) as s:
        s.settimeout(1.0)
        for i in range(0, len(FLOOD), 400):
            s.sendall(FLOOD[i : i + 400])
        t = time.monotonic()
        while time.monotonic() - t < 3:
            try:
                data = s.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            got += data
    assert len(got) <= len(FLOOD) + 2 * wire.MAX_FRAME


# --- 8. a silent rollback ------------------------------------------------------------------------------


def test_8_rollback_to_old_is_not_silent() -> None:
    rig, clock, fs = kit.make_rig()
    h = kit.first_fill(rig)
    assert h.send("STP", ["CONFIRM", pg.short_id(rig.s.prog_b)]).fields["state"] == "stopped"
    cur = bytearray(fs.files["itb_state.cur"])
    cur[10] ^= 0x01
    fs.files["itb_state.cur"] = bytes(cur)
    rig2 = kit.restart(fs, clock)
    h2 = kit.Host(rig2)
    st = h2.status()
    told = st["chk"] != "ok" or any("old" in e[3] or e[2] == "check" for e in rig2.s.entries()[-2:])
    assert st["state"] == "stopped" or told


# --- 9. a competing SES is not a wrong key --------------------------------------------------------------


def test_9_competing_ses_is_not_reported_as_a_wrong_key(tcp_rig: VirtualRig) -> None:
    with RigClient.connect(tcp_rig.url, tcp_rig.key, timeout_s=3) as client:
        armed = [True]

        def other_host_ses(line: bytes) -> bytes:
            if armed[0] and b" ACK SES " in line:
                armed[0] = False
                tcp_rig.rig.feed(wire.request(99, "SES", []))  # another SES, right after the client's
            return line

        tcp_rig.reply_filter = other_host_ses
        client.advance(60)  # one more session, not "the key does not match this rig's key"
        assert client.status().t_s == kit.T0 + 60
