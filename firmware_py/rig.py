# The rig: frames in, replies out, on any byte stream (docs/protocol.md). It checks each frame, the
# session and the counter, runs the command's handler (firmware_py/commands.py) on a copy of the state
# (firmware_py/state.py), persists the copy, and only then makes it the state. A refusal, an exception,
# a MemoryError or a failed save leaves the rig exactly as it was, and delivery (firmware_py/delivery.py)
# never stops because of a frame.

from firmware_py import envelope
from firmware_py import protocol as wire
from firmware_py.auth import Auth, Session, to_hex
from firmware_py.commands import HANDLERS, RECENT_UNAUTH, NakError, msg
from firmware_py.config import Config, bench_config
from firmware_py.delivery import Status, advance
from firmware_py.state import NONE, State
from firmware_py.store import Store

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable

    from firmware_py.clock import BenchClock, BoardClock

ROLLBACK = "rollback"  # in ST chk: the rig booted from the previous copy of its state
NAK_BUDGET_MAX = 2 * wire.MAX_FRAME  # the most credit for unauthenticated NAKs (bytes)
_NAK_MEMORY = wire.reply(0, "NAK", wire.MEMORY, [])  # built at import: answering must not allocate


def os_random() -> "Callable[[int], bytes] | None":
    # The port's random source: os.urandom (CPython, MicroPython unix, rp2, esp32, and the QEMU image's
    # semihosted one); None where the port has none.
    try:
        import os  # noqa: PLC0415

        return getattr(os, "urandom", None)
    except ImportError:
        return None


class Rig:
    # key: the per-rig HMAC key (bytes, never shown). clock: BenchClock or BoardClock. store: a Store or
    # None (no persistence). config: the rig's pump facts. random: n -> n random bytes, or None (the rig
    # then cannot open a session and cannot be programmed). On construction the rig resumes the newest
    # valid stored state and re-checks its program against its configuration.
    def __init__(
        self,
        key: bytes,
        clock: "BenchClock | BoardClock",
        store: Store | None = None,
        config: Config | None = None,
        random: "Callable[[int], bytes] | bool | None" = True,
    ) -> None:
        self._auth = Auth(key)
        self.clock = clock
        self.store = store
        self.config = config if config is not None else bench_config()
        self._random = os_random() if random is True else (random or None)
        self.parser = wire.FrameParser(wire.HOST_START)
        self.session: Session | None = None
        self.counter = 0
        self.recent: list[tuple[int, str, str]] = []
        self.nak_budget = 0  # credit for unauthenticated NAKs: earned by bytes received on this link
        s = None
        if store is not None:
            loaded = store.load(State.from_pairs)
            s = loaded if isinstance(loaded, State) else None
        now = clock.now_s()
        rolled = store is not None and store.rolled_back
        if s is None:
            s = State()
            s.t_s = now
            s.add_log(now, "boot", "damaged" if rolled else "fresh")
        else:
            s.t_s = max(s.t_s, now)
            s.add_log(
                s.t_s, "resume", "state:" + s.state + "/prog:" + (_short(s.prog_b) if s.prog_b else NONE)
            )
            if rolled:
                # The newest copy of the state was damaged: the rig runs the previous one, and the last
                # acknowledged change (a commit, a refill, a stop) may be lost. Said in the log and in ST's
                # chk until the next commit.
                s.add_log(s.t_s, "check", "rollback:old")
            flags = [ROLLBACK] if rolled or ROLLBACK in s.chk.split("+") else []
            d = envelope.decide(s.hist, s.running_program(), envelope.Boot(), self.config, s.t_s)
            s.chk = "+".join(flags + (d.rule_ids() if d.refusals else [])) or "ok"
            if d.refusals:
                # Delivery goes on (stopping is the hazard); the check is logged and shown in ST.
                s.add_log(s.t_s, "check", "rules:" + "+".join(d.rule_ids()))
        self.s = s
        self.poll()
        self._save_quietly(self.s)

    def __repr__(self) -> str:
        return "Rig(" + self.config.rig_id + " " + self.s.state + ")"

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
        try:
            return self._save(s)
        except MemoryError:  # a full heap must not stop delivery either; the next save retries
            return False

    def _save(self, s: State) -> bool:
        # False when the store failed; a MemoryError is raised (a command answers NAK MEMORY for it).
        if self.store is None:
            return True
        try:
            self.store.save(s.pairs())
            return True
        except MemoryError:
            raise
        except Exception:  # a failing flash must not stop delivery; the next save retries
            return False

    # -- sessions --------------------------------------------------------------------------------
    def open_session(self) -> str | None:
        # A fresh challenge ends any older session; None when the port has no random source.
        if self._random is None:
            return None
        sid = to_hex(self._random(16))
        self.session = Session(self._auth, sid)
        self.counter = 0
        return sid

    def link_reset(self) -> None:
        # A new connection (a new cable): no partial frame and no session carry over.
        self.parser.reset()
        self.session = None
        self.counter = 0
        self.nak_budget = 0

    # -- frames ----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        # Bytes in from any port, reply frames out (b"" when nothing is complete). Never raises.
        self.nak_budget = min(NAK_BUDGET_MAX, self.nak_budget + len(data))
        out = b""
        try:
            lines = self.parser.feed(data)
        except Exception:
            self.parser.reset()
            return self._unauth_nak(0, "-", wire.FORMAT, [msg("parser")])
        for line in lines:
            out += self.handle_line(line)
        return out

    def handle_line(self, line: bytes | None) -> bytes:
        try:
            if line is None:
                return self._unauth_nak(0, "-", wire.LENGTH, [("max", wire.MAX_FRAME)])
            return self._handle(line)
        except MemoryError:
            if len(_NAK_MEMORY) > self.nak_budget:
                return b""
            self.nak_budget -= len(_NAK_MEMORY)
            return _NAK_MEMORY
        except Exception as exc:
            # A bug must not escape, and must not leave half-applied state: handlers work on a copy.
            try:
                return self._nak(0, wire.FORMAT, [msg("internal " + type(exc).__name__)])
            except Exception:
                return b""

    def _unauth_nak(self, seq: int, cmd: str, code: str, pairs: list[tuple[str, object]]) -> bytes:
        # A frame refused before it could be authenticated: counted, the last few kept (RAM only), never
        # written to the audit log.
        self.s.unauth += 1
        self.recent.append((self.s.t_s, cmd[:8], code))
        if len(self.recent) > RECENT_UNAUTH:
            self.recent.pop(0)
        return self._nak(seq, code, pairs)

    def _nak(self, seq: int, code: str, pairs: list[tuple[str, object]]) -> bytes:
        # Every NAK is paid from the link's credit (docs/protocol.md section 3): with its fields, else its
        # code alone, else not sent. ACKs are not: a read or a change the rig made is always answered.
        r = wire.reply(seq, "NAK", code, pairs)
        if len(r) > self.nak_budget:
            r = wire.reply(seq, "NAK", code, [])
            if len(r) > self.nak_budget:
                return b""
        self.nak_budget -= len(r)
        return r

    def _handle(self, line: bytes) -> bytes:
        self.poll()
        now = self.s.t_s
        try:
            req = wire.parse_request(line)
        except wire.FrameError as exc:
            pairs: list[tuple[str, object]] = [msg(exc.field + ": " + exc.reason)]
            if exc.reason_code == wire.LENGTH:
                pairs = [("max", wire.MAX_FRAME)]
            return self._unauth_nak(exc.seq, "-", exc.reason_code, pairs)
        cmd = req.cmd
        signed = wire.COMMANDS[cmd][0]
        if signed:
            ses = self.session
            if ses is None:
                return self._unauth_nak(req.seq, cmd, wire.SESSION, [msg("open a session with SES")])
            if req.mac is None or not ses.check(req.signed.encode(), req.mac):
                return self._unauth_nak(req.seq, cmd, wire.AUTH, [])
            if req.seq <= self.counter:
                return self._nak(req.seq, wire.SEQ, [("expected", self.counter + 1)])
        last = self.counter
        if signed:
            self.counter = req.seq  # consumed, whatever the outcome: a refused change is never replayed
        r: NakError | None = None
        try:
            ns = self.s.copy()
            pairs = HANDLERS[cmd](self, ns, req.args, now)
            if signed and not self._save(ns):
                r = NakError(wire.STORE, [])
        except wire.FrameError as exc:
            r = NakError(exc.reason_code, [msg(exc.field + ": " + exc.reason)])
        except NakError as exc:
            r = exc
        except MemoryError:
            # Nothing ran: the state is as it was and the counter is not consumed, so the host resends the
            # identical frame once memory is free.
            self.counter = last
            r = NakError(wire.MEMORY, [])
        if r is not None:
            if signed and r.code not in (wire.ARG, wire.ORDER, wire.LENGTH, wire.MEMORY, wire.STORE):
                why = "cmd:" + cmd + "/why:" + r.code
                for k, v in r.pairs:
                    if k == "rules":
                        why += "/rules:" + str(v).replace(",", "+")
                self.s.add_log(now, "refused", why)
                self._save_quietly(self.s)
            return self._nak(req.seq, r.code, r.pairs)
        if signed:
            self.s = ns
            if cmd == "ADV":
                # the bench clock moves only once the new state is saved
                dt = ns.t_s - self.clock.now_s()
                if dt > 0:
                    self.clock.advance(dt)
        return wire.reply(req.seq, "ACK", cmd, pairs)


def _short(b: bytes) -> str:
    from firmware_py import program as pg  # noqa: PLC0415

    return pg.short_id(b)
