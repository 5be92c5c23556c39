"""The rig client: identify, status, stage, commit, read back, log, refill, advance, stop, bolus.

Frames are built and parsed by `firmware_py.protocol`, MACs by `firmware_py.auth` (through `RigKey.auth()`):
one implementation, shared with the rig. The client adds what a host needs:

- **Timeouts and bounded retries.** A request that gets no reply within `timeout_s` is retried at most
  `retries` times, each retry with a NEW sequence number. Before resending a program-changing command the
  client asks `ID` for the rig's `seq=` (read-only, changes nothing): if the rig's `last_seq` already covers
  the lost request, the first copy was processed (an authenticated frame consumes its SEQ whatever the
  outcome) and the client reads the outcome with `ST` instead of sending it again, so a refill or an `ADV`
  is never applied twice. `NAK SEQ expected=N` resynchronises the counter. Corrupt replies (CRC) are dropped.
- **One exception type for communication failures:** `host_tools.errors.CommError` (exit 3), raised as
  `PortOpenError`, `RigTimeoutError`, `RigDisconnectedError` or `RigReplyError`, whose one-line message says
  which failure it was and what the rig was left running (the last known active program, or "unknown").
- **Refusals:** a NAK becomes `RigRefusedError` (a `RefusedError`, exit 1) carrying the reason code, the
  rule IDs and the rig's message.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

from firmware_py import program as fw_program
from firmware_py import protocol
from firmware_py.errors import ItbError
from firmware_py.text import pct_decode, pct_encode
from host_tools.errors import CommError, RefusedError, UsageError, VerificationError
from host_tools.keys import RigKey
from host_tools.link import DEFAULT_TIMEOUT_S, Link, RigDisconnectedError, RigTimeoutError

DEFAULT_RETRIES = 2
PIPELINE_BYTES = 1024  # frames written before replies are read (fits any pty / USB CDC buffer)
_RETRY_NAKS = (protocol.CRC, protocol.LENGTH, protocol.FORMAT)  # line noise: the frame never ran


class RigReplyError(CommError):
    """The rig answered with something this host cannot use (missing or malformed field). Exit 3."""

    kind = "bad reply"


class RigRefusedError(RefusedError):
    """The rig refused a command (NAK). Exit 1. `reason_code` is the protocol's reason."""

    def __init__(self, command: str, reason_code: str, fields: dict[str, str], rig_state: str) -> None:
        msg = ""
        if "msg" in fields:
            try:
                msg = pct_decode("msg", fields["msg"])
            except ItbError:
                msg = fields["msg"]
        rules = [r for r in fields.get("rules", "").split(",") if r and r != "none"]
        text = f"rig refused {command}: {reason_code}"
        if reason_code == protocol.AUTH:
            text += " (the key does not match this rig's key: check --key-file / ITB_RIG_KEY_FILE)"
        if msg:
            text += f": {msg}"
        if rules:
            text += f" [{', '.join(rules)}]"
        extra = {k: v for k, v in fields.items() if k not in ("msg", "rules")}
        if extra:
            text += " (" + " ".join(f"{k}={v}" for k, v in extra.items()) + ")"
        text += f" (rig left running: {rig_state})"
        super().__init__(text, rules)
        self.command = command
        self.reason_code = reason_code
        self.fields = fields
        self.rig_state = rig_state


# -- replies as typed records ------------------------------------------------------------------------------


def _int(reply: protocol.Reply, key: str) -> int:
    text = reply.fields.get(key)
    if text is None or not text.isdigit() or len(text) > 15:
        raise RigReplyError(f"bad reply: {reply.name} field {key}={text!r} is not a whole number")
    return int(text)


def _opt_int(reply: protocol.Reply, key: str) -> int | None:
    return None if reply.fields.get(key) == "none" else _int(reply, key)


def _str(reply: protocol.Reply, key: str) -> str:
    text = reply.fields.get(key)
    if text is None:
        raise RigReplyError(f"bad reply: {reply.name} has no field {key}")
    return text


@dataclass(frozen=True)
class RigInfo:
    """What `ID` says about the rig."""

    fw: str
    proto: int
    rig: str
    seq: int
    caps: tuple[str, ...]
    maxframe: int
    chunk: int
    clock: str

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["caps"] = list(self.caps)
        return d


@dataclass(frozen=True)
class RigStatus:
    """What `ST` says. Every quantity is an int in the base unit its name states (docs/protocol.md)."""

    state: str
    t_s: int
    prog: str | None
    reservoir_nl: int
    conc_ng_per_ul: int
    rate_ng_per_day: int
    delivered_ng: int
    delivered_nl: int
    alarm: str
    t_alarm_s: int | None
    t_empty_s: int | None
    bolus_nl: int
    staged: int
    t_commit_s: int | None
    seq: int

    @classmethod
    def from_reply(cls, r: protocol.Reply) -> RigStatus:
        prog = _str(r, "prog")
        return cls(
            state=_str(r, "state"),
            t_s=_int(r, "t"),
            prog=None if prog == "none" else prog,
            reservoir_nl=_int(r, "res_nl"),
            conc_ng_per_ul=_int(r, "conc"),
            rate_ng_per_day=_int(r, "rate"),
            delivered_ng=_int(r, "del_ng"),
            delivered_nl=_int(r, "del_nl"),
            alarm=_str(r, "alarm"),
            t_alarm_s=_opt_int(r, "t_alarm"),
            t_empty_s=_opt_int(r, "t_empty"),
            bolus_nl=_int(r, "bolus_nl"),
            staged=_int(r, "staged"),
            t_commit_s=_opt_int(r, "t_com"),
            seq=_int(r, "seq"),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LogEntry:
    """One rig log entry: absolute index, rig time, kind, and its `k:v` details."""

    index: int
    t_s: int
    kind: str
    detail: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> LogEntry:
        parts = text.split(",", 3)
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            raise RigReplyError(f"bad reply: log entry {text[:40]!r} is not index,t,kind,detail")
        detail: dict[str, str] = {}
        if parts[3] not in ("", "-"):
            for item in parts[3].split("/"):
                k, _, v = item.partition(":")
                detail[k] = v
        return cls(int(parts[0]), int(parts[1]), parts[2], detail)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Refill:
    """A refill: `added_nl` of drug at `conc_ng_per_ul`, after withdrawing `measured_residual_nl`."""

    added_nl: int
    conc_ng_per_ul: int
    measured_residual_nl: int

    def args(self) -> list[str]:
        return [str(self.added_nl), str(self.conc_ng_per_ul), str(self.measured_residual_nl)]


@dataclass(frozen=True)
class LoadResult:
    """The outcome of `RigClient.load`: old and new program ids, the commit time, the verified read-back."""

    old_prog: str | None
    new_prog: str
    checksum: str
    t_commit_s: int
    reservoir_nl: int | None
    pocket: str
    readback: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "old_prog": self.old_prog,
            "new_prog": self.new_prog,
            "checksum": self.checksum,
            "t_commit_s": self.t_commit_s,
            "reservoir_nl": self.reservoir_nl,
            "pocket": self.pocket,
            "readback_verified": True,
        }


def describe(prog: str | None) -> str:
    """The rig-state text used in error messages: `program <sha16>`, `no program`."""
    return "no program" if prog is None else f"program {prog}"


def compare_programs(sent: bytes, back: bytes) -> list[str]:
    """Field-by-field differences between two program encodings (decoding both); [] when identical."""
    try:
        a = fw_program.decode(sent)
    except ItbError as exc:
        return [f"sent program does not decode: {exc}"]
    try:
        b = fw_program.decode(back)
    except ItbError as exc:
        return [f"read-back does not decode: {exc}"]
    diffs = []
    for name in fw_program.Program.__slots__:
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            diffs.append(f"{name}: sent {va!r}, read back {vb!r}")
    if not diffs and sent != back:
        diffs.append("encodings differ byte-wise although every field matches")
    return diffs


# -- the client -------------------------------------------------------------------------------------------


class RigClient:
    """A session with one rig over a `Link`.

    `key` is needed for program-changing commands only (read-only commands need none). Use as a context
    manager, or call `close()`.
    """

    def __init__(
        self,
        link: Link,
        key: RigKey | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        if retries < 0 or timeout_s <= 0:
            raise UsageError(f"retries must be >= 0 and timeout > 0 (got {retries}, {timeout_s})")
        self.link = link
        self._auth = key.auth() if key is not None else None
        self.timeout_s = timeout_s
        self.retries = retries
        self._seq: int | None = None  # last SEQ used or learnt from ID
        self.info: RigInfo | None = None
        self.known_prog: str | None = None
        self._prog_known = False
        self.last_status: RigStatus | None = None
        self.retried = 0  # number of retries so far (for reports and tests)
        self.recovered = 0  # lost replies whose outcome was read back with ST instead of resending

    @classmethod
    def connect(
        cls,
        url: str,
        key: RigKey | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
    ) -> RigClient:
        """Open `url` (any pyserial URL) and identify the rig. Raises `CommError` on failure."""
        link = Link.open(url)
        client = cls(link, key, timeout_s=timeout_s, retries=retries)
        try:
            client.identify()
        except BaseException:
            link.close()
            raise
        return client

    def __repr__(self) -> str:
        return f"RigClient({self.link.url!r}, key={'set' if self._auth else 'none'})"

    def __enter__(self) -> RigClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.link.close()

    # -- state shown in error messages --

    @property
    def rig_state(self) -> str:
        """What the rig was last known to run: `program <sha16>`, `no program`, or `unknown`."""
        return describe(self.known_prog) if self._prog_known else "unknown"

    def _learn(self, prog: str | None) -> None:
        self.known_prog = prog
        self._prog_known = True

    @contextmanager
    def _session(self) -> Iterator[None]:
        # Every public call: a CommError leaves with the last known rig state in its message.
        try:
            yield
        except CommError as exc:
            if exc.rig_state == "unknown":
                exc.rig_state = self.rig_state
            raise

    # -- sequence numbers --

    def _next_seq(self) -> int:
        if self._seq is None:
            self._identify_raw()
        assert self._seq is not None  # set by _identify_raw (internal invariant, not input checking)
        self._seq = self._seq + 1 if self._seq < protocol.SEQ_MAX else 1
        return self._seq

    def _identify_raw(self) -> RigInfo:
        # ID accepts any SEQ; use 1 when nothing is known yet.
        r = self._exchange_readonly("ID", [], seq_hint=self._seq)
        info = RigInfo(
            fw=_str(r, "fw"),
            proto=_int(r, "proto"),
            rig=_str(r, "rig"),
            seq=_int(r, "seq"),
            caps=tuple(c for c in _str(r, "caps").split(",") if c),
            maxframe=_int(r, "maxframe"),
            chunk=_int(r, "chunk"),
            clock=r.fields.get("clock", "unknown"),
        )
        if info.proto != protocol.PROTO_VERSION:
            raise RigReplyError(
                f"bad reply: rig speaks protocol {info.proto}, this host {protocol.PROTO_VERSION}"
            )
        self.info = info
        self._seq = max(self._seq or 0, info.seq)
        if info.seq > (self._seq or 0):
            self._seq = info.seq
        return info

    # -- one request, one reply --

    def _send_and_wait(self, frame: bytes, seq: int) -> protocol.Reply:
        self.link.send(frame)
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RigTimeoutError(
                    f"timeout: no reply from the rig on {self.link.url} within {self.timeout_s:g} s"
                )
            reply = self.link.receive(left)
            if reply.seq == seq:
                return reply
            if reply.seq == 0 and not reply.ok and reply.name in _RETRY_NAKS:
                return reply  # our frame was garbled on the way
            # a late reply to an earlier, timed-out request: drop it

    def _exchange_readonly(self, cmd: str, args: list[str], seq_hint: int | None = None) -> protocol.Reply:
        # Read-only commands never change the rig: retry freely (new SEQ each time).
        last_exc: CommError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            seq = (seq_hint or 0) + 1 + attempt if cmd == "ID" else self._next_seq()
            if seq > protocol.SEQ_MAX:
                seq = 1
            try:
                reply = self._send_and_wait(protocol.request(seq, cmd, args), seq)
            except RigTimeoutError as exc:
                last_exc = exc
                continue
            if not reply.ok and reply.name in _RETRY_NAKS:
                last_exc = RigReplyError(f"bad reply: the rig got garbled frames ({reply.name}) for {cmd}")
                continue
            if not reply.ok:
                raise RigRefusedError(cmd, reply.name, reply.fields, self.rig_state)
            return reply
        assert last_exc is not None
        raise self._final(last_exc, cmd)

    def _final(self, exc: CommError, cmd: str) -> CommError:
        if isinstance(exc, RigTimeoutError):
            return RigTimeoutError(
                f"timeout: no reply from the rig on {self.link.url} to {cmd} after "
                f"{self.retries + 1} tries of {self.timeout_s:g} s"
            )
        return exc

    def _exchange_auth(
        self, cmd: str, args: list[str], outcome: Callable[[RigStatus], protocol.Reply | None]
    ) -> protocol.Reply:
        """Send a program-changing command; on a lost reply, resync with ID and read the outcome from ST.

        `outcome(status)` returns a reply-equivalent when the status shows the command took effect, None when
        it shows it did not (then it counts as refused, and the log tells why).
        """
        if self._auth is None:
            raise UsageError(
                f"{cmd} changes the rig and needs its key: pass --key-file or set ITB_RIG_KEY_FILE"
            )
        last_exc: CommError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            seq = self._next_seq()
            try:
                reply = self._send_and_wait(protocol.request(seq, cmd, args, self._auth), seq)
            except RigTimeoutError as exc:
                last_exc = exc
                rig_seq = self._identify_raw().seq  # raises after its own retries if the rig is gone
                if rig_seq >= seq:
                    # The first copy was processed; its reply was lost. Never resend: read the outcome.
                    self.recovered += 1
                    st = self.status()
                    done = outcome(st)
                    if done is None:
                        why = pct_encode("its reply was lost and the status shows no effect; see itb log")
                        raise RigRefusedError(cmd, "UNKNOWN", {"msg": why}, self.rig_state) from None
                    return done
                continue
            if not reply.ok and reply.name == protocol.SEQ:
                expected = reply.fields.get("expected", "")
                if expected.isdigit() and int(expected) > 0:
                    self._seq = int(expected) - 1
                last_exc = RigReplyError(f"bad reply: sequence numbers out of step for {cmd}")
                continue
            if not reply.ok and reply.name in _RETRY_NAKS:
                last_exc = RigReplyError(f"bad reply: the rig got garbled frames ({reply.name}) for {cmd}")
                continue
            if not reply.ok:
                raise RigRefusedError(cmd, reply.name, reply.fields, self.rig_state)
            return reply
        assert last_exc is not None
        raise self._final(last_exc, cmd)

    # -- read-only commands --

    def identify(self) -> RigInfo:
        """`ID`: firmware, protocol, rig id, capabilities; resynchronises the sequence counter."""
        with self._session():
            return self._identify_raw()

    def status(self) -> RigStatus:
        """`ST`: the rig's state now."""
        with self._session():
            st = RigStatus.from_reply(self._exchange_readonly("ST", []))
            self._learn(st.prog)
            self.last_status = st
            return st

    def readback(self) -> bytes:
        """`RB`: the active program's canonical encoding, read in chunks, checked against its sha16."""
        with self._session():
            data = b""
            prog = ""
            while True:
                r = self._exchange_readonly("RB", [str(len(data))])
                off, total = _int(r, "off"), _int(r, "total")
                prog = _str(r, "prog")
                chunk = _str(r, "data").encode()
                if off != len(data) or not chunk or off + len(chunk) > total:
                    raise RigReplyError(f"bad reply: RB off={off} total={total} after {len(data)} bytes")
                data += chunk
                if len(data) == total:
                    break
            if fw_program.short_id(data) != prog:
                raise VerificationError(
                    f"read-back does not match the rig's own program id {prog} (rig left running: {prog})"
                )
            self._learn(prog)
            return data

    def read_program(self) -> fw_program.Program | None:
        """The active program, decoded, or None when the rig has none."""
        with self._session():
            st = self.status()
            if st.prog is None:
                return None
            return fw_program.decode(self.readback())

    def log(self, start: int = 0) -> list[LogEntry]:
        """`LG`: every log entry the rig still holds from absolute index `start`."""
        with self._session():
            out: list[LogEntry] = []
            nxt = start
            while True:
                r = self._exchange_readonly("LG", [str(nxt)])
                new_next, total = _int(r, "next"), _int(r, "total")
                text = r.fields.get("e", "")
                for item in text.split(";") if text and text != "none" else []:
                    out.append(LogEntry.parse(item))
                if new_next >= total or new_next <= nxt:
                    return out
                nxt = new_next

    # -- program-changing commands --

    def stage(self, data: bytes) -> None:
        """`STG`: stage `data` from offset 0, in chunks that fit the rig's frames."""
        with self._session():
            chunk = self.info.chunk if self.info else protocol.CHUNK
            off = 0
            while off < len(data) or off == 0:
                piece = data[off : off + chunk]
                end = off + len(piece)

                def staged_to(st: RigStatus, end: int = end) -> protocol.Reply | None:
                    ok = st.staged == end
                    return protocol.Reply(0, True, "STG", {"staged": str(end)}) if ok else None

                r = self._exchange_auth("STG", [str(off), piece.decode("ascii")], staged_to)
                if _int(r, "staged") != end:
                    raise RigReplyError(f"bad reply: STG staged={r.fields.get('staged')} expected {end}")
                off = end
                if not data:
                    break

    def commit(self, data: bytes, refill: Refill | None = None) -> protocol.Reply:
        """`COM`: make the staged `data` the active program (optionally with a refill, `rf=`)."""
        with self._session():
            new = fw_program.short_id(data)
            args = [str(len(data)), fw_program.checksum(data)]
            if refill is not None:
                args.append("rf=" + ",".join(refill.args()))

            def active(st: RigStatus) -> protocol.Reply | None:
                if st.prog == new and st.t_commit_s is not None:
                    fields = {"prog": new, "t": str(st.t_commit_s), "res_nl": str(st.reservoir_nl)}
                    fields["pocket"] = "none"
                    return protocol.Reply(0, True, "COM", fields)
                return None

            r = self._exchange_auth("COM", args, active)
            if _str(r, "prog") != new:
                raise VerificationError(f"rig committed program {r.fields.get('prog')}, not {new}")
            self._learn(new)
            return r

    def load(self, data: bytes, refill: Refill | None = None) -> LoadResult:
        """Stage, commit and read back `data`; compare field by field.

        Raises `VerificationError` on any read-back mismatch, `CommError` (saying whether the old or the new
        program is active, when the rig can still be asked) on a communication failure.
        """
        try:
            fw_program.decode(data)
        except ItbError as exc:
            raise UsageError(f"program does not decode: {exc}") from None
        with self._session():
            before = self.status()
            old = before.prog
            new = fw_program.short_id(data)
            try:
                self.stage(data)
                ack = self.commit(data, refill)
            except CommError as exc:
                exc.rig_state = self._state_after_failure(old, new)
                raise
            try:
                back = self.readback()
            except CommError as exc:
                exc.rig_state = self._state_after_failure(old, new)
                raise
            diffs = compare_programs(data, back)
            if diffs:
                raise VerificationError(
                    "read-back differs from the program sent: "
                    + "; ".join(diffs)
                    + f" (rig left running: {self.rig_state})"
                )
            res = ack.fields.get("res_nl")
            return LoadResult(
                old_prog=old,
                new_prog=new,
                checksum=fw_program.checksum(data),
                t_commit_s=_int(ack, "t"),
                reservoir_nl=int(res) if res and res.isdigit() else None,
                pocket=ack.fields.get("pocket", "none"),
                readback=back,
            )

    def _state_after_failure(self, old: str | None, new: str) -> str:
        # After a failed load: ask the rig (briefly) which program is active, if it still answers.
        if isinstance(sys.exc_info()[1], RigDisconnectedError):
            return "unknown (old program " + (old or "none") + " or new program " + new + ")"
        try:
            saved = self.retries
            self.retries = 0
            try:
                st = self.status()
            finally:
                self.retries = saved
        except (CommError, RefusedError):
            return "unknown (old program " + (old or "none") + " or new program " + new + ")"
        if st.prog == new:
            return f"new program {new}"
        if st.prog == old:
            return f"old program {old}" if old else "no program (nothing was loaded)"
        return describe(st.prog)

    def refill(self, refill: Refill) -> protocol.Reply:
        """`RF`: withdraw the measured residual and add `added_nl` at the active program's concentration."""
        with self._session():
            before = self.last_status

            def refilled(st: RigStatus) -> protocol.Reply | None:
                if before is not None and st.delivered_ng < before.delivered_ng:
                    return protocol.Reply(0, True, "RF", {"res_nl": str(st.reservoir_nl), "pocket": "none"})
                return None

            return self._exchange_auth("RF", refill.args(), refilled)

    def advance(self, seconds: int, t_before: int | None = None) -> int:
        """`ADV`: move a bench clock on by `seconds`; returns the rig time after."""
        with self._session():

            def advanced(st: RigStatus) -> protocol.Reply | None:
                if t_before is None or st.t_s == t_before + seconds:
                    return protocol.Reply(0, True, "ADV", {"t": str(st.t_s)})
                return None

            return _int(self._exchange_auth("ADV", [str(seconds)], advanced), "t")

    def advance_and_status(self, seconds: int, count: int, t_before: int) -> list[RigStatus]:
        """`count` times (`ADV seconds`, then `ST`), pipelined: up to `PIPELINE_BYTES` of frames go out in one
        write before the replies are read. Returns the statuses read, in time order (normally one per step).

        A lost status reply merges its step into the next one (the statuses are cumulative). If a batch makes
        no progress, the client resynchronises with `ID` and `ST` and goes on one request at a time with the
        usual bounded retries. An `ADV` is never resent blindly: progress is always read from the rig's time.
        """
        if self._auth is None:
            raise UsageError("ADV changes the rig and needs its key: pass --key-file or set ITB_RIG_KEY_FILE")
        with self._session():
            out: list[RigStatus] = []
            target = t_before + seconds * count
            t = t_before
            while t < target:
                frames = b""
                expect: list[tuple[int, int]] = []  # (ADV seq, ST seq)
                while t + seconds * len(expect) < target and len(frames) < PIPELINE_BYTES:
                    adv_seq = self._next_seq()
                    step = min(seconds, target - t - seconds * len(expect))
                    frames += protocol.request(adv_seq, "ADV", [str(step)], self._auth)
                    st_seq = self._next_seq()
                    frames += protocol.request(st_seq, "ST", [])
                    expect.append((adv_seq, st_seq))
                got = self._pipeline(frames, expect)
                for st in got:
                    if st.t_s > t:
                        out.append(st)
                        t = st.t_s
                if len(got) < len(expect):
                    self.retried += 1
                    self._identify_raw()  # resync the sequence counter
                    st = self.status()
                    if st.t_s > t:
                        out.append(st)
                        t = st.t_s
                    elif t < target:
                        self.advance(min(seconds, target - t), t_before=t)
                        st = self.status()
                        out.append(st)
                        t = st.t_s
            return out

    def _pipeline(self, frames: bytes, expect: list[tuple[int, int]]) -> list[RigStatus]:
        # Send a batch; return the status replies that arrive (in order). A refused ADV raises.
        self.link.send(frames)
        pending = {seq for pair in expect for seq in pair}
        replies: dict[int, protocol.Reply] = {}
        deadline = time.monotonic() + self.timeout_s * max(1, len(expect) // 8)
        try:
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r = self.link.receive(left)
                if r.seq in pending:
                    pending.discard(r.seq)
                    replies[r.seq] = r
        except RigTimeoutError:
            pass
        got: list[RigStatus] = []
        for adv_seq, st_seq in expect:
            adv = replies.get(adv_seq)
            if adv is not None and not adv.ok and adv.name not in (*_RETRY_NAKS, protocol.SEQ):
                raise RigRefusedError("ADV", adv.name, adv.fields, self.rig_state)
            st = replies.get(st_seq)
            if st is not None and st.ok:
                status = RigStatus.from_reply(st)
                self._learn(status.prog)
                self.last_status = status
                got.append(status)
        return got

    def stop(self, confirm_prog: str) -> protocol.Reply:
        """`STP CONFIRM <sha16>`: stop delivery of the active program (it must be named, ITB-DIS-01)."""
        with self._session():

            def stopped(st: RigStatus) -> protocol.Reply | None:
                ok = st.state == "stopped"
                return protocol.Reply(0, True, "STP", {"state": "stopped", "t": str(st.t_s)}) if ok else None

            return self._exchange_auth("STP", ["CONFIRM", confirm_prog], stopped)

    def bolus(self, volume_nl: int, duration_s: int) -> protocol.Reply:
        """`BOL`: a bridge bolus after a concentration change (ITB-BRG-01)."""
        with self._session():

            def started(st: RigStatus) -> protocol.Reply | None:
                return protocol.Reply(0, True, "BOL", {}) if st.bolus_nl > 0 else None

            return self._exchange_auth("BOL", [str(volume_nl), str(duration_s)], started)
