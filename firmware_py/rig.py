# The rig: state machine (stopped / running / alarm), staged and active program, reservoir, exact delivery
# engine, alarms, event log, persistence. Wire commands per docs/protocol.md.
#
# Delivery is never accumulated per tick. Reservoir use since the last fill is kept in "q" units:
#   q = nL * conc * 864 = 10 * schedule integral (ng*s/day)
# which are exact integers for both the schedule (q = 10 * Schedule.integral_between) and a bridge bolus,
# so no rounding builds up across commits. Shown values are floors: del_nl = q // (conc * 864),
# del_ng = q // 864000, res_nl = fill_nl - del_nl. Alarm and empty times come from Schedule.time_to_integral
# (the first second at which the use reaches the threshold), so alarms are never late.
# Every command works on a copy of the state; the copy replaces the state only after every check passed and
# the store saved it: a refusal, an exception or a failed save leaves the rig exactly as it was.

from firmware_py import library
from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth, same
from firmware_py.errors import ItbError
from firmware_py.store import Store
from firmware_py.text import pct_encode
from firmware_py.units import S_PER_DAY, ceil_div

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from firmware_py.clock import BenchClock, BoardClock

FW = "itb-0.1"
LOG_SIZE = 64
ADV_MAX_S = 31_622_400
BOLUS_MIN_S = 60
Q_PER_NL_CONC = 864  # q per (nL * ng/uL)
Q_PER_NG = 864_000
RUNNING = "running"
STOPPED = "stopped"
ALARM = "alarm"
NONE = "none"
LOW = "low"
EMPTY = "empty"
BRG_01 = "ITB-BRG-01"
REF_02 = "ITB-REF-02"


class NakError(Exception):
    # A NAK from a command handler: reason code and the reply's k=v pairs.
    def __init__(self, code: str, pairs: list[tuple[str, object]]) -> None:
        super().__init__(code)
        self.code = code
        self.pairs = pairs


def _msg(text: str) -> tuple[str, object]:
    # msg= value: percent-encoded and short, so a reply always fits a frame.
    return ("msg", pct_encode(text[:120]))


def _refuse_error(code: str, exc: ItbError) -> NakError:
    return NakError(code, [_msg(exc.field + ": " + exc.reason)])


class State:
    # Everything the rig knows. Persisted: all but staged and prog (prog is decoded from prog_b).
    __slots__ = ("alarm", "anchor_s", "bolus", "conc", "fill_nl", "log", "log_total", "prev_conc", "prog",
                 "prog_b", "seq", "staged", "state", "t_com", "t_first", "t_s", "used_q")

    def __init__(self) -> None:
        self.state = STOPPED
        self.alarm = NONE
        self.prog: pg.Program | None = None
        self.prog_b = b""
        self.staged = b""
        self.seq = 0
        self.conc = 0  # reservoir concentration, ng/uL (0: never filled)
        self.fill_nl = 0  # volume at the last fill
        self.used_q = 0  # use since the last fill, up to anchor_s (q units)
        self.anchor_s = 0
        self.bolus: tuple[int, int, int] | None = None  # (t0_s, t1_s, volume_nl); anchor_s == t0_s
        self.prev_conc = 0  # concentration before the last change of concentration (bridge pending)
        self.t_com = -1  # last commit (-1: none)
        self.t_first = -1  # first commit: the rig's stand-in for the implant time
        self.t_s = 0  # latest rig time seen
        self.log: list[tuple[int, int, str, str, int]] = []  # (index, t_s, kind, detail, count)
        self.log_total = 0

    def copy(self) -> "State":
        n = State()
        for name in State.__slots__:
            setattr(n, name, getattr(self, name))
        n.log = list(self.log)
        return n

    def add_log(self, t: int, kind: str, detail: str) -> None:
        last = self.log[-1] if self.log else None
        if kind == "refused" and last is not None and last[2] == kind and last[3] == detail:
            self.log[-1] = (last[0], t, kind, detail, last[4] + 1)
            return
        self.log.append((self.log_total, t, kind, detail, 1))
        self.log_total += 1
        if len(self.log) > LOG_SIZE:
            self.log.pop(0)

    def pairs(self) -> list[tuple[str, str]]:
        b = self.bolus
        bol = NONE if b is None else str(b[0]) + "," + str(b[1]) + "," + str(b[2])
        log = ";".join([",".join([str(x) for x in e]) for e in self.log])
        return [
            ("v", "1"), ("state", self.state), ("alarm", self.alarm), ("seq", str(self.seq)),
            ("conc", str(self.conc)), ("fill_nl", str(self.fill_nl)), ("used_q", str(self.used_q)),
            ("anchor_s", str(self.anchor_s)), ("bolus", bol),
            ("prev_conc", str(self.prev_conc)), ("t_com", str(self.t_com)), ("t_first", str(self.t_first)),
            ("t_s", str(self.t_s)), ("log_total", str(self.log_total)), ("log", log),
            ("prog_sha", pg.checksum(self.prog_b) if self.prog_b else NONE), ("prog", self.prog_b.decode()),
        ]  # fmt: skip

    @staticmethod
    def from_pairs(d: dict[str, str]) -> "State":
        # Raises (KeyError, ValueError, ItbError) on anything that does not make sense.
        s = State()
        if d["v"] != "1" or d["state"] not in (RUNNING, STOPPED, ALARM) or d["alarm"] not in (NONE, LOW,
                                                                                                EMPTY):
            raise ValueError("state")
        s.state = d["state"]
        s.alarm = d["alarm"]
        for name in ("seq", "conc", "fill_nl", "used_q", "anchor_s", "prev_conc", "t_com", "t_first", "t_s",
                     "log_total"):
            setattr(s, name, int(d[name]))
        if d["bolus"] != NONE:
            b = [int(x) for x in d["bolus"].split(",")]
            s.bolus = (b[0], b[1], b[2])
        if d["log"]:
            for e in d["log"].split(";"):
                f = e.split(",")
                s.log.append((int(f[0]), int(f[1]), f[2], f[3], int(f[4])))
        s.prog_b = d["prog"].encode()
        if s.prog_b:
            if pg.checksum(s.prog_b) != d["prog_sha"]:
                raise ValueError("prog_sha")
            s.prog = pg.decode(s.prog_b)
        elif s.state != STOPPED:
            raise ValueError("state without program")
        return s


# ---------------------------------------------------------------------------------------------
# Delivery engine: pure functions of a State and a time t >= anchor_s.


def used_q(s: State, t: int) -> int:
    # Reservoir use since the last fill at time t (q units), before the empty cap.
    p = s.prog
    if s.state != RUNNING or p is None or t <= s.anchor_s:
        return s.used_q
    b = s.bolus
    if b is None:
        return s.used_q + 10 * p.schedule.integral_between(s.anchor_s, t)
    bq = b[2] * s.conc * Q_PER_NL_CONC
    if t <= b[1]:
        return s.used_q + bq * (t - b[0]) // (b[1] - b[0])
    return s.used_q + bq + 10 * p.schedule.integral_between(b[1], t)


def time_at_q(s: State, target_q: int) -> int | None:
    # First second t >= anchor_s with used_q(s, t) >= target_q; None when delivery never gets there.
    p = s.prog
    if s.state != RUNNING or p is None:
        return None
    need = target_q - s.used_q
    if need <= 0:
        return s.anchor_s
    t0 = s.anchor_s
    b = s.bolus
    if b is not None:
        bq = b[2] * s.conc * Q_PER_NL_CONC
        if need <= bq:
            return b[0] + ceil_div(need * (b[1] - b[0]), bq)[0]
        need -= bq
        t0 = b[1]
    if p.schedule.integral_ng_s_per_day() == 0:
        return None
    return p.schedule.time_to_integral(t0, ceil_div(need, 10)[0])


def thresholds_q(s: State) -> tuple[int, int]:
    # (low-alarm q, empty q). ITB-REF-01: low fires when res_nl <= alarm_nl, before empty.
    unit = s.conc * Q_PER_NL_CONC
    alarm_nl = s.prog.alarm_nl if s.prog is not None else 0
    return max(s.fill_nl - alarm_nl, 0) * unit, s.fill_nl * unit


def reservoir_nl(s: State, t: int) -> int:
    if s.conc == 0:
        return 0
    q = min(used_q(s, t), s.fill_nl * s.conc * Q_PER_NL_CONC)
    return s.fill_nl - q // (s.conc * Q_PER_NL_CONC)


def close_segment(s: State, t: int) -> None:
    # Fold the use up to t into used_q and re-anchor at t (a bolus in progress ends here).
    q = used_q(s, t)
    if s.bolus is not None and t < s.bolus[1]:
        s.bolus = None
    s.used_q = min(q, s.fill_nl * s.conc * Q_PER_NL_CONC)
    s.anchor_s = t


def advance(s: State, now: int) -> bool:
    # Fire every event due up to now at its exact time: bolus end, low alarm, empty. True if any fired.
    fired = False
    while s.state == RUNNING:
        low_q, empty_q = thresholds_q(s)
        ev = []
        if s.bolus is not None:
            ev.append((s.bolus[1], 0))
        if s.alarm == NONE:
            t = time_at_q(s, low_q)
            if t is not None:
                ev.append((t, 1))
        t = time_at_q(s, empty_q)
        if t is not None:
            ev.append((t, 2))
        if not ev:
            break
        ev.sort()
        t, kind = ev[0]
        if t > now:
            break
        fired = True
        if kind == 0:
            b = s.bolus
            if b is not None:
                s.used_q += b[2] * s.conc * Q_PER_NL_CONC
                s.anchor_s = b[1]
                s.bolus = None
                s.add_log(t, "bolus_end", "nl:" + str(b[2]))
        elif kind == 1:
            s.alarm = LOW
            s.add_log(t, "low", "res_nl:" + str(reservoir_nl(s, t)))
        else:
            s.used_q = empty_q
            s.anchor_s = t
            s.bolus = None
            s.state = ALARM
            s.alarm = EMPTY
            s.add_log(t, "empty", "res_nl:0")
    return fired


def set_alarm(s: State, t: int) -> None:
    # After a fill or a new program: the alarm from the reservoir as it is now.
    low_q, empty_q = thresholds_q(s)
    if s.used_q >= empty_q:
        if s.state == RUNNING:
            s.state = ALARM
        s.alarm = EMPTY
    elif s.used_q >= low_q:
        if s.alarm != LOW:
            s.add_log(t, "low", "res_nl:" + str(reservoir_nl(s, t)))
        s.alarm = LOW
    else:
        s.alarm = NONE


def day_totals(p: pg.Program) -> list[int]:
    sch = p.schedule
    return [sch.day_total(d)[0] for d in range(sch.period_s // S_PER_DAY)]


# ---------------------------------------------------------------------------------------------


class Status:
    __slots__ = ("alarm", "bolus_nl", "conc_ng_per_ul", "delivered_ng", "delivered_nl", "last_seq", "prog",
                 "rate_ng_per_day", "reservoir_nl", "staged", "state", "t_alarm_s", "t_com_s", "t_empty_s",
                 "t_s")

    def __init__(self, s: State, t: int) -> None:
        unit = s.conc * Q_PER_NL_CONC
        q = min(used_q(s, t), s.fill_nl * unit)
        self.state = s.state
        self.alarm = s.alarm
        self.t_s = t
        self.prog = pg.short_id(s.prog_b) if s.prog_b else None
        self.conc_ng_per_ul = s.conc
        self.delivered_nl = q // unit if unit else 0
        self.delivered_ng = q // Q_PER_NG
        self.reservoir_nl = s.fill_nl - self.delivered_nl
        self.rate_ng_per_day = 0
        b = s.bolus
        if s.state == RUNNING and s.prog is not None:
            if b is not None and t < b[1]:
                self.rate_ng_per_day = b[2] * s.conc * S_PER_DAY // ((b[1] - b[0]) * 1000)
            else:
                self.rate_ng_per_day = s.prog.schedule.rate_at(t)
        self.bolus_nl = 0
        if b is not None:
            self.bolus_nl = b[2] - b[2] * (min(t, b[1]) - b[0]) // (b[1] - b[0])
        low_q, empty_q = thresholds_q(s)
        self.t_alarm_s = time_at_q(s, low_q) if s.alarm == NONE else None
        self.t_empty_s = time_at_q(s, empty_q)
        self.staged = len(s.staged)
        self.t_com_s = s.t_com if s.t_com >= 0 else None
        self.last_seq = s.seq

    def pairs(self) -> list[tuple[str, object]]:
        def v(x: object) -> object:
            return NONE if x is None else x

        return [
            ("state", self.state), ("t", self.t_s), ("prog", v(self.prog)), ("res_nl", self.reservoir_nl),
            ("conc", self.conc_ng_per_ul), ("rate", self.rate_ng_per_day), ("del_ng", self.delivered_ng),
            ("del_nl", self.delivered_nl), ("alarm", self.alarm), ("t_alarm", v(self.t_alarm_s)),
            ("t_empty", v(self.t_empty_s)), ("bolus_nl", self.bolus_nl), ("staged", self.staged),
            ("t_com", v(self.t_com_s)), ("seq", self.last_seq),
        ]  # fmt: skip


class Rig:
    # key: the per-rig HMAC key (bytes, never shown). clock: BenchClock or BoardClock. store: a Store or
    # None (no persistence). On construction the rig resumes the newest valid stored state.
    def __init__(
        self, key: bytes, clock: "BenchClock | BoardClock", store: Store | None = None, rig_id: str = "rig0"
    ) -> None:
        self._auth = Auth(key)
        self.clock = clock
        self.store = store
        self.rig_id = rig_id
        self.parser = wire.FrameParser(wire.HOST_START)
        s = None
        if store is not None:
            d = store.load(State.from_pairs)
            if d is not None:
                s = State.from_pairs(d)
        now = clock.now_s()
        if s is None:
            s = State()
            s.t_s = now
            s.add_log(now, "boot", "fresh")
        else:
            s.t_s = max(s.t_s, now)
            s.add_log(s.t_s, "resume", "state:" + s.state + "/prog:" + (pg.short_id(s.prog_b) if s.prog_b
                                                                          else NONE))
        self.s = s
        self.poll()
        self._save_quietly(self.s)

    def __repr__(self) -> str:
        return "Rig(" + self.rig_id + " " + self.s.state + ")"

    # -- time ------------------------------------------------------------------------------------
    def now_s(self) -> int:
        return max(self.clock.now_s(), self.s.t_s)

    def poll(self) -> None:
        # Bring alarms and bolus ends up to the clock's time (each at its exact second); persist if any fired.
        now = self.now_s()
        self.s.t_s = now
        if advance(self.s, now):
            self._save_quietly(self.s)

    def status(self) -> Status:
        self.poll()
        return Status(self.s, self.s.t_s)

    def save(self) -> bool:
        # Persist the current state now (main.py's heartbeat). False when the store failed.
        return self._save_quietly(self.s)

    def _save_quietly(self, s: State) -> bool:
        if self.store is None:
            return True
        try:
            self.store.save(s.pairs())
            return True
        except Exception:  # a failing flash must not stop delivery; the next save retries
            return False

    # -- frames ----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        # Bytes in from any port, reply frames out (b"" when nothing is complete). Never raises.
        out = b""
        try:
            lines = self.parser.feed(data)
        except Exception:
            self.parser.reset()
            return wire.reply(0, "NAK", wire.FORMAT, [_msg("parser")])
        for line in lines:
            out += self.handle_line(line)
        return out

    def handle_line(self, line: bytes | None) -> bytes:
        try:
            if line is None:
                return wire.reply(0, "NAK", wire.LENGTH, [("max", wire.MAX_FRAME)])
            return self._handle(line)
        except Exception as exc:
            # A bug must not escape, and must not leave half-applied state: handlers work on a copy.
            try:
                self.s.add_log(self.s.t_s, "refused", "why:FORMAT/err:" + type(exc).__name__)
            except Exception:  # the log itself failed: still answer
                return wire.reply(0, "NAK", wire.FORMAT, [])
            return wire.reply(0, "NAK", wire.FORMAT, [_msg("internal " + type(exc).__name__)])

    def _handle(self, line: bytes) -> bytes:
        self.poll()
        now = self.s.t_s
        try:
            req = wire.parse_request(line)
        except wire.FrameError as exc:
            pairs: list[tuple[str, object]] = [_msg(exc.field + ": " + exc.reason)]
            if exc.reason_code == wire.LENGTH:
                pairs = [("max", wire.MAX_FRAME)]
            return wire.reply(exc.seq, "NAK", exc.reason_code, pairs)
        cmd = req.cmd
        if wire.COMMANDS[cmd][0]:
            if req.mac is None or not self._auth.check(req.signed.encode(), req.mac):
                self.s.add_log(now, "refused", "cmd:" + cmd + "/why:AUTH")
                return wire.reply(req.seq, "NAK", wire.AUTH, [])
            if req.seq <= self.s.seq:
                self.s.add_log(now, "refused", "cmd:" + cmd + "/why:SEQ")
                return wire.reply(req.seq, "NAK", wire.SEQ, [("expected", self.s.seq + 1)])
        ns = self.s.copy()
        r: NakError | None = None
        try:
            pairs = getattr(self, "_c_" + cmd.lower())(ns, req.args, now)
        except wire.FrameError as exc:
            r = NakError(exc.reason_code, [_msg(exc.field + ": " + exc.reason)])
        except NakError as exc:
            r = exc
        if r is not None:
            if wire.COMMANDS[cmd][0]:
                # the fresh SEQ is consumed: a refused change cannot be replayed later
                self.s.seq = req.seq
                if r.code not in (wire.ARG, wire.ORDER, wire.LENGTH):
                    self.s.add_log(now, "refused", "cmd:" + cmd + "/why:" + r.code)
                self._save_quietly(self.s)
            return wire.reply(req.seq, "NAK", r.code, r.pairs)
        if wire.COMMANDS[cmd][0]:
            ns.seq = req.seq
            if not self._save_quietly(ns):
                return wire.reply(req.seq, "NAK", wire.STORE, [])
            self.s = ns
            if cmd == "ADV":
                # the bench clock moves only once the new state is saved
                dt = ns.t_s - self.clock.now_s()
                if dt > 0:
                    self.clock.advance(dt)
        return wire.reply(req.seq, "ACK", cmd, pairs)

    # -- read-only commands --------------------------------------------------------------------
    def _c_id(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        caps = [c for c in wire.CAPS if c != "ADV" or self.clock.bench]
        return [("fw", FW), ("proto", wire.PROTO_VERSION), ("rig", self.rig_id), ("seq", s.seq),
                ("caps", ",".join(caps)), ("maxframe", wire.MAX_FRAME), ("chunk", wire.CHUNK),
                ("clock", "bench" if self.clock.bench else "board")]

    def _c_st(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        return Status(s, now).pairs()

    def _c_rb(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        if not s.prog_b:
            raise NakError(wire.STATE, [("state", s.state), _msg("no active program")])
        total = len(s.prog_b)
        off = wire.uint("offset", a[0], 0, total) if a else 0
        head: list[tuple[str, object]] = [("off", off), ("total", total), ("prog", pg.short_id(s.prog_b))]
        head.append(("data", ""))
        used = len(wire.reply(wire.SEQ_MAX, "ACK", "RB", head))
        head[-1] = ("data", s.prog_b[off : off + wire.MAX_FRAME - used].decode())
        return head

    def _c_lg(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        start = wire.uint("from", a[0], 0, wire.SEQ_MAX) if a else 0
        big = wire.SEQ_MAX
        room = wire.MAX_FRAME - len(wire.reply(big, "ACK", "LG", [("next", big), ("total", big), ("e", "")]))
        parts: list[str] = []
        nxt = max(start, s.log[0][0] if s.log else 0)
        size = 0
        for e in s.log:
            if e[0] < nxt:
                continue
            d = e[3] + ("/n:" + str(e[4]) if e[4] > 1 else "")
            text = str(e[0]) + "," + str(e[1]) + "," + e[2] + "," + (d or "-")
            if size + len(text) + 1 > room:
                break
            size += len(text) + 1
            parts.append(text)
            nxt = e[0] + 1
        return [("next", nxt), ("total", s.log_total), ("e", ";".join(parts))]

    # -- program-changing commands -------------------------------------------------------------
    def _c_stg(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        off = wire.uint("offset", a[0], 0, wire.STAGE_MAX)
        data = a[1].encode()
        if off != 0 and off != len(s.staged):
            raise NakError(wire.ORDER, [("expected", len(s.staged))])
        base = b"" if off == 0 else s.staged
        if len(base) + len(data) > wire.STAGE_MAX:
            raise NakError(wire.LENGTH, [("max", wire.STAGE_MAX)])
        s.staged = base + data
        return [("staged", len(s.staged))]

    def _c_com(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        length = wire.uint("length", a[0], 1, wire.STAGE_MAX)
        sha = a[1]
        rf = self._rf_args(a[2]) if len(a) > 2 else None
        if length != len(s.staged):
            raise NakError(wire.INCOMPLETE, [("staged", len(s.staged))])
        if not same(sha, pg.checksum(s.staged)):
            raise NakError(wire.CHECKSUM, [])
        try:
            p = pg.decode(s.staged)
            pg.validate(p)
        except ItbError as exc:
            raise _refuse_error(wire.PROGRAM, exc) from None
        conc = rf[1] if rf is not None else s.conc
        if p.conc_ng_per_ul != conc:
            raise NakError(wire.CONC, [("res", conc), _msg("program " + str(p.conc_ng_per_ul) + " ng/uL")])
        self._check_limits(s, p, now)
        first = s.prog is None
        if s.state == RUNNING:
            close_segment(s, now)
        s.prog = p
        s.prog_b = s.staged
        s.staged = b""
        pocket: object = NONE
        if rf is not None:
            pocket = self._refill(s, p, rf, now)
        s.state = RUNNING
        s.anchor_s = now
        s.bolus = None
        s.t_com = now
        if first:
            s.t_first = now
        set_alarm(s, now)
        sid = pg.short_id(s.prog_b)
        s.add_log(now, "commit", "prog:" + sid + "/rf:" + ("0" if rf is None else "1"))
        return [("prog", sid), ("t", now), ("res_nl", reservoir_nl(s, now)), ("pocket", pocket)]

    def _check_limits(self, s: State, p: pg.Program, now: int) -> None:
        # Defense in depth: the drug library again, on the rig, with the rig's own record of time.
        ov = {}
        for rid, reason in p.overrides:
            ov[rid] = reason
        totals = day_totals(p)
        try:
            for total in sorted(set(totals)):
                _decide(library.check_dose_range(p.origin, p.age_years, total, ov))
            old = s.prog
            restart = old is None or s.state == STOPPED
            if p.phase == "initial":
                if not restart:
                    why = "phase initial only for a first program or a restart"
                    raise NakError(wire.PROGRAM, [_msg(why)])
                return
            if restart or old is None:
                return
            implant = now - s.t_first if s.t_first >= 0 else None
            d = library.check_change(p.origin, p.age_years, p.pump_kind, max(day_totals(old)), max(totals),
                                     now - s.t_com, p.phase, implant, ov)
            _decide(d)
        except ItbError as exc:
            raise _refuse_error(wire.PROGRAM, exc) from None

    def _rf_args(self, text: str) -> tuple[int, int, int]:
        if not text.startswith("rf="):
            raise NakError(wire.ARG, [_msg("third COM argument must be rf=added_nl,conc,residual_nl")])
        f = text[3:].split(",")
        if len(f) != 3:
            raise NakError(wire.ARG, [_msg("rf= takes added_nl,conc,residual_nl")])
        return (wire.uint("added_nl", f[0], 1, 10**9), wire.uint("conc", f[1], 1, pg.CONC_MAX_NG_PER_UL),
                wire.uint("residual_nl", f[2], 0, 10**9))

    def _refill(self, s: State, p: pg.Program, rf: tuple[int, int, int], now: int) -> int:
        # ITB-REF-02: compare the measured residual with the rig's expected volume; flag a pocket fill.
        added, conc, measured = rf
        cap = p.reservoir_nl
        if added > cap or measured > cap:
            raise NakError(wire.ARG, [_msg("added and residual must be <= reservoir " + str(cap) + " nL")])
        expected = reservoir_nl(s, now)
        pocket = 0
        if s.fill_nl > 0:
            # dosing is imported only by the refill and bridge-bolus commands: it is not needed to run a
            # program, and a module loaded from .mpy keeps its bytecode in RAM (about 12 KiB).
            from firmware_py import dosing  # noqa: PLC0415

            try:
                pocket = 1 if dosing.residual_check(cap, min(expected, cap), measured).flagged else 0
            except ItbError as exc:
                raise _refuse_error(wire.ARG, exc) from None
        if s.conc and conc != s.conc:
            s.prev_conc = s.conc
        s.conc = conc
        s.fill_nl = added
        s.used_q = 0
        s.anchor_s = now
        s.add_log(now, "refill", "nl:" + str(added) + "/conc:" + str(conc) + "/exp:" + str(expected)
                  + "/meas:" + str(measured) + "/pocket:" + str(pocket))
        return pocket

    def _c_rf(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        rf = (wire.uint("added_nl", a[0], 1, 10**9), wire.uint("conc", a[1], 1, pg.CONC_MAX_NG_PER_UL),
              wire.uint("residual_nl", a[2], 0, 10**9))
        p = s.prog
        if p is None:
            raise NakError(wire.STATE, [("state", s.state), _msg("no active program: use COM with rf=")])
        if s.bolus is not None:
            raise NakError(wire.STATE, [("state", s.state), _msg("bolus running")])
        if rf[1] != p.conc_ng_per_ul:
            raise NakError(wire.CONC, [("res", p.conc_ng_per_ul), _msg("a new concentration needs COM rf=")])
        expected = reservoir_nl(s, now)
        if s.state == RUNNING:
            close_segment(s, now)
        pocket = self._refill(s, p, rf, now)
        if s.state == ALARM:
            s.state = RUNNING
        set_alarm(s, now)
        return [("res_nl", reservoir_nl(s, now)), ("expected_nl", expected), ("pocket", pocket)]

    def _c_stp(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        # ITB-DIS-01: therapy stops only with an explicit confirmation naming the active program.
        if not s.prog_b or a[0] != "CONFIRM" or not same(a[1], pg.short_id(s.prog_b)):
            raise NakError(wire.CONFIRM, [_msg("STP CONFIRM <sha16 of the active program>")])
        if s.state == STOPPED:
            raise NakError(wire.STATE, [("state", s.state)])
        if s.state == RUNNING:
            close_segment(s, now)
        s.bolus = None
        s.state = STOPPED
        s.add_log(now, "stop", "prog:" + pg.short_id(s.prog_b))
        return [("state", s.state), ("t", now)]

    def _c_bol(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        vol = wire.uint("volume_nl", a[0], 1, 10**9)
        dur = wire.uint("duration_s", a[1], BOLUS_MIN_S, S_PER_DAY)
        p = s.prog
        if p is None or s.state != RUNNING or s.bolus is not None or not s.prev_conc:
            why = "bridge bolus only after a concentration change"
            raise NakError(wire.STATE, [("state", s.state), _msg(why)])
        from firmware_py import dosing  # noqa: PLC0415 (see _refill)

        try:
            br = dosing.bridge(p.internal_nl, p.catheter_mm, s.prev_conc, s.conc, p.base_dose_ng_per_day)
        except ItbError as exc:
            raise _refuse_error(wire.ARG, exc) from None
        # ITB-BRG-01: no more than the dead volume, no faster than the old concentration's flow.
        if vol > br.bridge_volume_nl or vol * S_PER_DAY > br.bridge_flow_nl_per_day * dur:
            raise NakError(wire.LIMIT, [("rules", BRG_01), _msg("max " + str(br.bridge_volume_nl) + " nL at "
                                                            + str(br.bridge_flow_nl_per_day) + " nL/day")])
        close_segment(s, now)
        s.bolus = (now, now + dur, vol)
        s.prev_conc = 0
        s.add_log(now, "bolus", "nl:" + str(vol) + "/s:" + str(dur))
        rate = vol * s.conc * S_PER_DAY // (dur * 1000)
        return [("t_end", now + dur), ("rate", rate)]

    def _c_adv(self, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        secs = wire.uint("seconds", a[0], 1, ADV_MAX_S)
        if not self.clock.bench:
            raise NakError(wire.STATE, [("state", s.state), _msg("ADV needs a bench clock")])
        t = now + secs
        advance(s, t)
        s.t_s = t
        s.add_log(t, "adv", "s:" + str(secs))
        return [("t", t)]


def _decide(d: "library.Decision") -> None:
    code = d.reason_code()
    if code is not None:
        rules = [r[0] for r in d.refusals] or list(d.needs_override)
        raise NakError(code, [("rules", ",".join(rules)), _msg(d.message)])

