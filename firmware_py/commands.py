# The rig's command handlers (docs/protocol.md). HANDLERS names the handler of every command of
# protocol.COMMANDS (which says whether it needs a MAC). A handler gets the rig, a copy of the state, the
# arguments and the rig time; it returns the ACK's pairs or raises NakError, and the rig keeps the copy
# only when the handler returned and the save succeeded.

from firmware_py import __version__, envelope, program_checks
from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import same
from firmware_py.bridge import bolus_rate
from firmware_py.delivery import (
    Q_PER_NG,
    Status,
    advance,
    close_segment,
    reservoir_nl,
    set_alarm,
    used_q,
)
from firmware_py.errors import ItbError
from firmware_py.refill import Q_PER_NL_CONC
from firmware_py.state import ALARM, NONE, RUNNING, STOPPED, State
from firmware_py.text import pct_encode
from firmware_py.units import S_PER_DAY

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable

    from firmware_py.decision import Decision
    from firmware_py.rig import Rig

FW = "itb-" + __version__
ADV_MAX_S = 31_622_400
BOLUS_MIN_S = 60
RECENT_UNAUTH = 4  # unauthenticated refusals kept (RAM only) for RJ


class NakError(Exception):
    # A NAK from a command handler: reason code and the reply's k=v pairs.
    def __init__(self, code: str, pairs: list[tuple[str, object]]) -> None:
        super().__init__(code)
        self.code = code
        self.pairs = pairs


def msg(text: str) -> tuple[str, object]:
    # msg= value: percent-encoded and cut at a word, so a reply always fits a frame.
    if len(text) > 100:
        cut = text.rfind(" ", 0, 100)
        text = text[: cut if cut > 0 else 100] + " ..."
    return ("msg", pct_encode(text))


def refuse_error(code: str, exc: ItbError) -> NakError:
    return NakError(code, [msg(exc.field + ": " + exc.reason)])


def decide_or_nak(d: "Decision") -> None:
    # The rig's NAK carries the rule IDs; the host prints the full text from its own identical decision.
    code = d.reply()
    if code is not None:
        raise NakError(code, [("rules", ",".join(d.rule_ids()))])


def _rule_detail(d_rules: str) -> str:
    return d_rules.replace(",", "+")


# -- read-only commands ------------------------------------------------------------------------------------


def c_id(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    caps = [c for c in wire.CAPS if c != "ADV" or rig.clock.bench]
    out: list[tuple[str, object]] = [("fw", FW), ("proto", wire.PROTO_VERSION), ("caps", ",".join(caps)),
                                     ("maxframe", wire.MAX_FRAME), ("chunk", wire.CHUNK),
                                     ("clock", "bench" if rig.clock.bench else "board")]
    return out + rig.config.pairs()


def c_st(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    return Status(s, now).pairs()


def _page(name: str, text: str, a: list[str]) -> list[tuple[str, object]]:
    # A slice of text from offset a[0] (default 0), a[1] bytes at most (default: as much as fits).
    total = len(text)
    off = wire.uint("offset", a[0], 0, total) if a else 0
    want = wire.uint("length", a[1], 1, wire.MAX_FRAME) if len(a) > 1 else wire.MAX_FRAME
    head: list[tuple[str, object]] = [("off", off), ("total", total), ("data", "")]
    room = wire.MAX_FRAME - len(wire.reply(wire.SEQ_MAX, "ACK", name, head))
    head[-1] = ("data", text[off : off + min(room, want)])
    return head


def c_rb(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    if not s.prog_b:
        raise NakError(wire.STATE, [("state", s.state), msg("no active program")])
    return [("prog", pg.short_id(s.prog_b))] + _page("RB", s.prog_b.decode(), a)


def c_his(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    return _page("HIS", s.hist.text(), a)


def _index(log_line: str) -> int:
    return int(log_line[: log_line.index(",")])


def c_lg(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    start = wire.uint("from", a[0], 0, wire.SEQ_MAX) if a else 0
    big = wire.SEQ_MAX
    room = wire.MAX_FRAME - len(wire.reply(big, "ACK", "LG", [("next", big), ("total", big), ("e", "")]))
    parts: list[str] = []
    nxt = max(start, _index(s.log[0]) if s.log else 0)
    size = 0
    for text in s.log:
        i = _index(text)
        if i < nxt:
            continue
        if size + len(text) + 1 > room:
            break
        size += len(text) + 1
        parts.append(text)
        nxt = i + 1
    return [("next", nxt), ("total", s.log_total), ("e", ";".join(parts))]


def c_rj(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    # Unauthenticated refusals: how many ever, and the last few (t, command, reason).
    e = ";".join([str(t) + "," + c + "," + w for t, c, w in rig.recent])
    return [("n", s.unauth), ("e", e)]


def c_ses(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    sid = rig.open_session()
    if sid is None:
        raise NakError(
            wire.STATE, [("state", s.state), msg("no random source: this rig cannot be programmed")]
        )
    return [("sid", sid), ("t", now)]


# -- program-changing commands ---------------------------------------------------------------------------


def c_stg(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    off = wire.uint("offset", a[0], 0, wire.STAGE_MAX)
    data = a[1].encode()
    if off != 0 and off != len(s.staged):
        raise NakError(wire.ORDER, [("expected", len(s.staged))])
    base = b"" if off == 0 else s.staged
    if len(base) + len(data) > wire.STAGE_MAX:
        raise NakError(wire.LENGTH, [("max", wire.STAGE_MAX)])
    s.staged = base + data
    return [("staged", len(s.staged))]


def _rf_args(a: list[str]) -> tuple[int, int, int]:
    big = 10**9
    return (wire.uint("added_nl", a[0], 1, big), wire.uint("conc", a[1], 1, big),
            wire.uint("residual_nl", a[2], 0, big))


def c_com(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    length = wire.uint("length", a[0], 1, wire.STAGE_MAX)
    sha = a[1]
    rf = None
    if len(a) > 2:
        if not a[2].startswith("rf="):
            raise NakError(wire.ARG, [msg("third COM argument must be rf=added_nl,conc,residual_nl")])
        f = a[2][3:].split(",")
        if len(f) != 3:
            raise NakError(wire.ARG, [msg("rf= takes added_nl,conc,residual_nl")])
        rf = _rf_args(f)
    if length != len(s.staged):
        raise NakError(wire.INCOMPLETE, [("staged", len(s.staged))])
    if len(sha) != wire.SHA_LEN or not same(sha, pg.checksum(s.staged)[: wire.SHA_LEN]):
        raise NakError(wire.CHECKSUM, [])
    try:
        p = pg.decode(s.staged)
        program_checks.validate(p)
    except ItbError as exc:
        raise refuse_error(wire.PROGRAM, exc) from None
    conc = rf[1] if rf is not None else s.conc
    if p.conc_ng_per_ul != conc:
        raise NakError(wire.CONC, [("res", conc), msg("program " + str(p.conc_ng_per_ul) + " ng/uL")])
    running = s.running_program()
    decide_or_nak(envelope.decide(s.hist, running, envelope.Commit(p), rig.config, now))
    if rf is not None:
        decide_or_nak(envelope.decide(s.hist, running, envelope.Refill(rf[0], rf[2]), rig.config, now))
    if s.state == RUNNING:
        close_segment(s, now)
    envelope.record(s.hist, p, running is None, now)
    s.prog = p
    s.prog_b = s.staged
    s.staged = b""
    pocket: object = NONE
    if rf is not None:
        pocket = _refill(rig, s, rf, now)
    s.state = RUNNING
    s.anchor_s = now
    s.bolus = None
    s.t_com = now
    s.chk = "ok"
    set_alarm(s, now)
    sid = pg.short_id(s.prog_b)
    s.add_log(now, "commit", "prog:" + sid + "/rf:" + ("0" if rf is None else "1"))
    return [("prog", sid), ("t", now), ("res_nl", reservoir_nl(s, now)), ("pocket", pocket)]


def _refill(rig: "Rig", s: State, rf: tuple[int, int, int], now: int) -> int:
    # ITB-REF-02: compare the measured residual with the rig's expected volume; flag a pocket fill.
    added, conc, measured = rf
    cap = rig.config.reservoir_nl
    expected = reservoir_nl(s, now)
    pocket = 0
    if s.fill_nl > 0:
        from firmware_py.refill import residual_check  # noqa: PLC0415 (only a refill needs it)

        pocket = 1 if residual_check(cap, min(expected, cap), measured).flagged else 0
    if s.conc and conc != s.conc:
        s.prev_conc = s.conc
    s.conc = conc
    s.fill_nl = added
    s.used_q = 0
    s.anchor_s = now
    s.add_log(now, "refill", "nl:" + str(added) + "/conc:" + str(conc) + "/exp:" + str(expected)
              + "/meas:" + str(measured) + "/pocket:" + str(pocket))
    return pocket


def c_rf(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    rf = _rf_args(a)
    p = s.prog
    if p is None:
        raise NakError(wire.STATE, [("state", s.state), msg("no active program: use COM with rf=")])
    if s.bolus is not None:
        raise NakError(wire.STATE, [("state", s.state), msg("bolus running")])
    if rf[1] != p.conc_ng_per_ul:
        raise NakError(wire.CONC, [("res", p.conc_ng_per_ul), msg("a new concentration needs COM rf=")])
    decide_or_nak(
        envelope.decide(s.hist, s.running_program(), envelope.Refill(rf[0], rf[2]), rig.config, now)
    )
    expected = reservoir_nl(s, now)
    if s.state == RUNNING:
        close_segment(s, now)
    pocket = _refill(rig, s, rf, now)
    if s.state == ALARM:
        s.state = RUNNING
    set_alarm(s, now)
    return [("res_nl", reservoir_nl(s, now)), ("expected_nl", expected), ("pocket", pocket)]


def c_stp(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    # ITB-DIS-01: therapy stops only with an explicit confirmation naming the active program.
    if not s.prog_b or a[0] != "CONFIRM" or not same(a[1], pg.short_id(s.prog_b)):
        raise NakError(wire.CONFIRM, [msg("STP CONFIRM <sha16 of the active program>")])
    if s.state == STOPPED:
        raise NakError(wire.STATE, [("state", s.state)])
    if s.state == RUNNING:
        close_segment(s, now)
    s.bolus = None
    s.state = STOPPED
    s.hist.stop(now)
    s.add_log(now, "stop", "prog:" + pg.short_id(s.prog_b))
    return [("state", s.state), ("t", now)]


def c_bol(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    vol = wire.uint("volume_nl", a[0], 1, 10**9)
    dur = wire.uint("duration_s", a[1], BOLUS_MIN_S, S_PER_DAY)
    if s.prog is None or s.state != RUNNING or s.bolus is not None or not s.prev_conc:
        raise NakError(
            wire.STATE, [("state", s.state), msg("bridge bolus only after a concentration change")]
        )
    decide_or_nak(envelope.decide(s.hist, s.prog, envelope.Bolus(vol, dur, s.prev_conc), rig.config, now))
    close_segment(s, now)
    s.bolus = (now, now + dur, vol, s.prev_conc)
    s.add_log(now, "bolus", "nl:" + str(vol) + "/s:" + str(dur) + "/old:" + str(s.prev_conc))
    s.prev_conc = 0
    return [("t_end", now + dur), ("rate", bolus_rate(vol, s.bolus[3], dur))]


def c_adv(rig: "Rig", s: State, a: list[str], now: int) -> list[tuple[str, object]]:
    # ADV <seconds> [<every>]: move the bench clock; with <every>, one reading per <every> seconds: the ng
    # and nL delivered in that interval, and "L" / "E" where the low / empty alarm fired in it.
    secs = wire.uint("seconds", a[0], 1, ADV_MAX_S)
    if not rig.clock.bench:
        raise NakError(wire.STATE, [("state", s.state), msg("ADV needs a bench clock")])
    out: list[tuple[str, object]] = []
    if len(a) > 1:
        every = wire.uint("every", a[1], 1, secs)
        if secs % every:
            raise NakError(wire.ARG, [msg("seconds must be a multiple of every")])
        out.append(("d", _readings(rig, s, now, secs // every, every)))
    t = now + secs
    advance(s, t)
    s.t_s = t
    s.add_log(t, "adv", "s:" + str(secs))
    return [("t", t)] + out


def _delivered(s: State, t: int) -> tuple[int, int]:
    unit = s.conc * Q_PER_NL_CONC
    q = min(used_q(s, t), s.fill_nl * unit)
    return q // Q_PER_NG, (q // unit if unit else 0)


def _readings(rig: "Rig", s: State, now: int, n: int, every: int) -> str:
    parts = []
    size = 0
    room = wire.MAX_BODY - 40
    ng0, nl0 = _delivered(s, now)
    t = now
    for _ in range(n):
        t += every
        low = s.alarm
        state = s.state
        advance(s, t)
        ng1, nl1 = _delivered(s, t)
        mark = ("L" if s.alarm != low and s.alarm == "low" else "") + ("E" if s.state != state else "")
        item = str(ng1 - ng0) + ":" + str(nl1 - nl0) + mark
        size += len(item) + 1
        if size > room:
            raise NakError(wire.ARG, [msg("too many readings for one frame: ask for fewer")])
        parts.append(item)
        ng0, nl0 = ng1, nl1
    return ",".join(parts)


HANDLERS: "dict[str, Callable[[Rig, State, list[str], int], list[tuple[str, object]]]]" = {
    "ID": c_id, "ST": c_st, "RB": c_rb, "LG": c_lg, "RJ": c_rj, "HIS": c_his, "SES": c_ses,
    "STG": c_stg, "COM": c_com, "RF": c_rf, "ADV": c_adv, "STP": c_stp, "BOL": c_bol,
}  # fmt: skip
