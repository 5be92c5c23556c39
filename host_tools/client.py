"""The rig client: identify, status, read back, log, history; load, refill, advance, stop, bolus.

Frames are built and parsed by `firmware_py.protocol`, MACs by `firmware_py.auth`: one implementation,
shared with the rig. The client adds what a host needs:

- **Sessions and one retry loop**, in `host_tools.exchange`: a lost reply is read back from the rig's
  audit log and status (`recovered=True` on the acknowledgement), never applied twice.
- **The envelope before sending.** `load` makes the same decision the rig will make
  (`firmware_py.envelope.decide`) from the rig's own configuration (`ID`), history (`HIS`) and time (`ST`),
  and refuses with its full text before a byte of the program is sent. The rig decides again on `COM`.
- **Verification by checksum and sample.** `COM`'s acknowledgement names the program the rig now runs
  (the first 16 hex digits of its SHA-256); `load` compares it and reads back a random slice with `RB`.
- **Errors.** Communication failures are `CommError`s (exit 3) that say, where a change was attempted, which
  program the rig runs as far as the host knows; refusals are `RigRefusedError`s (exit 1).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from firmware_py import envelope, program_checks, protocol
from firmware_py import history as fw_history
from firmware_py import program as fw_program
from firmware_py.decision import Decision
from firmware_py.errors import ItbError
from firmware_py.schedule import Schedule
from host_tools.errors import CommError, RefusedError, UsageError, VerificationError
from host_tools.exchange import DEFAULT_RETRIES, Exchange
from host_tools.keys import RigKey
from host_tools.link import DEFAULT_TIMEOUT_S, Link, RigDisconnectedError
from host_tools.replies import (
    AdvanceAck,
    BolusAck,
    CommitAck,
    LogEntry,
    Refill,
    RefillAck,
    RigInfo,
    RigRefusedError,
    RigReplyError,
    RigStatus,
    StopAck,
    _int,
    _str,
)

__all__ = ["DEFAULT_RETRIES", "LoadResult", "Refill", "RigClient", "RigRefusedError", "RigReplyError",
           "describe"]

SAMPLE_BYTES = 32  # bytes of a load read back at a random offset, beside the checksum


@dataclass(frozen=True)
class LoadResult:
    """The outcome of `RigClient.load`: old and new program ids, the commit, and how it was verified."""

    old_prog: str | None
    new_prog: str
    checksum: str
    t_commit_s: int
    reservoir_nl: int
    pocket: bool | None
    decision: str
    sample_offset: int
    recovered: bool

    def to_json(self) -> dict[str, Any]:
        return {"old_prog": self.old_prog, "new_prog": self.new_prog, "checksum": self.checksum,
                "t_commit_s": self.t_commit_s, "reservoir_nl": self.reservoir_nl, "pocket": self.pocket,
                "decision": self.decision, "readback_verified": True, "sample_offset": self.sample_offset,
                "recovered": self.recovered}


def describe(prog: str | None) -> str:
    """`program <sha16>` or `no program`."""
    return "no program" if prog is None else f"program {prog}"


class RigClient(Exchange):
    """A connection to one rig over a `Link` (sessions and retries: `Exchange`). `key` is needed for
    program-changing commands only. Use as a context manager, or call `close()`."""

    def __init__(self, link: Link, key: RigKey | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 retries: int = DEFAULT_RETRIES) -> None:
        super().__init__(link, key, timeout_s=timeout_s, retries=retries)
        self.info: RigInfo | None = None
        self.known_prog: str | None = None
        self.last_status: RigStatus | None = None

    @classmethod
    def connect(cls, url: str, key: RigKey | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                retries: int = DEFAULT_RETRIES) -> RigClient:
        """Open `url` (any pyserial URL) and identify the rig. Raises `CommError` on failure."""
        link = Link.open(url)
        client = cls(link, key, timeout_s=timeout_s, retries=retries)
        try:
            client.identify()
        except BaseException:
            link.close()
            raise
        return client

    # -- read-only commands -------------------------------------------------------------------------------

    def identify(self) -> RigInfo:
        """`ID`: firmware, protocol, frame sizes, clock and the rig's pump configuration."""
        self.info = self.call("ID", [], RigInfo.from_reply)
        return self.info

    def status(self) -> RigStatus:
        """`ST`: the rig's state now."""
        st = self.call("ST", [], RigStatus.from_reply)
        self.known_prog = st.prog
        self.last_status = st
        return st

    def _page(self, cmd: str, first: list[str] | None = None) -> tuple[protocol.Reply, str]:
        data = ""
        while True:
            r = self.call(cmd, (first or []) + [str(len(data))], lambda r: r)
            off, total = _int(r, "off"), _int(r, "total")
            chunk = _str(r, "data")
            if off != len(data) or (not chunk and total) or off + len(chunk) > total:
                raise RigReplyError(f"bad reply: {cmd} off={off} total={total} after {len(data)} bytes")
            data += chunk
            if len(data) == total:
                return r, data

    def readback(self) -> bytes:
        """`RB`: the active program's whole encoding, checked against the program id the rig reports."""
        r, text = self._page("RB")
        data = text.encode()
        if fw_program.short_id(data) != _str(r, "prog"):
            raise VerificationError(f"read-back does not match the rig's own program id {_str(r, 'prog')}")
        self.known_prog = _str(r, "prog")
        return data

    def read_program(self) -> fw_program.Program | None:
        """The active program, decoded, or None when the rig has none."""
        if self.status().prog is None:
            return None
        return fw_program.decode(self.readback())

    def history(self) -> fw_history.History:
        """`HIS`: the rig's dose history, as the rig's envelope reads it."""
        _r, text = self._page("HIS")
        try:
            return fw_history.parse(text)
        except (ItbError, ValueError) as exc:
            raise RigReplyError(f"bad reply: HIS {exc}") from None

    def log(self, start: int = 0) -> list[LogEntry]:
        """`LG`: every audit-log entry the rig still holds from sequence number `start`."""
        out: list[LogEntry] = []
        nxt = start
        while True:
            r = self.call("LG", [str(nxt)], lambda r: r)
            new_next, total = _int(r, "next"), _int(r, "total")
            text = r.fields.get("e", "")
            out += [LogEntry.parse(item) for item in text.split(";") if item]
            if new_next >= total or new_next <= nxt:
                return out
            nxt = new_next

    def _logged(self, kind: str, **match: str) -> LogEntry | None:
        # After a lost reply: the newest audit event of `kind` whose details match, not older than the rig
        # time last seen before the command was sent (the log holds the last LOG_SIZE events).
        t0 = self.last_status.t_s if self.last_status else 0
        total = self.status().events
        for e in reversed(self.log(max(0, total - 16))):
            if e.kind == kind and e.t_s >= t0 and all(e.detail.get(k) == v for k, v in match.items()):
                return e
        return None

    # -- the envelope on the host -------------------------------------------------------------------------

    def decide(self, program: fw_program.Program, st: RigStatus | None = None,
               refill: Refill | None = None) -> Decision:
        """The decision the rig will make on committing `program` now (with `refill`, when the commit
        carries one): from its configuration, history, running program and time, by the same function the
        rig runs (`firmware_py.envelope.decide`), in the rig's order: the commit, then the refill."""
        program_checks.validate(program)  # as the rig does before it decides (ProgramError)
        info = self.info or self.identify()
        st = st or self.status()
        hist = self.history()
        running: Schedule | None = None
        if st.state != "stopped" and hist.running():
            e = hist.entries[-1]
            running = fw_history.schedule_of(e)
        d = envelope.decide(hist, running, envelope.Commit(program), info.config, st.t_s)
        if refill is None or d.reply() is not None:
            return d
        rd = envelope.decide(hist, running, envelope.Refill(refill.added_nl, refill.measured_residual_nl),
                             info.config, st.t_s)
        return d if rd.reply() is None else rd

    # -- program-changing commands ------------------------------------------------------------------------

    def stage(self, data: bytes) -> None:
        """`STG`: stage `data` from offset 0, in chunks that fit the rig's frames."""
        chunk = self.info.chunk if self.info else protocol.CHUNK
        off = 0
        while off < len(data):
            end = min(off + chunk, len(data))

            def staged(end: int = end) -> int | None:
                return end if self.status().staged == end else None

            got = self.call(
                "STG", [str(off), data[off:end].decode("ascii")], lambda r: _int(r, "staged"), staged
            )
            if got != end:
                raise RigReplyError(f"bad reply: STG staged={got}, expected {end}")
            off = end

    def commit(self, data: bytes, refill: Refill | None = None) -> CommitAck:
        """`COM`: make the staged `data` the active program (optionally with a refill, `rf=`)."""
        new = fw_program.short_id(data)
        args = [str(len(data)), fw_program.checksum(data)[: protocol.SHA_LEN]]
        if refill is not None:
            args.append("rf=" + ",".join(refill.args()))

        def committed() -> CommitAck | None:
            e = self._logged("commit", prog=new)
            if e is None:
                refused = self._logged("refused", cmd="COM")
                if refused is not None:
                    raise RigRefusedError("COM", refused.detail.get("why", "?"),
                                          {"rules": refused.detail.get("rules", "").replace("+", ",")})
                return None
            fill = self._logged("refill", nl=str(refill.added_nl)) if refill is not None else None
            pocket = None if fill is None else fill.detail.get("pocket") == "1"
            return CommitAck(new, e.t_s, self.status().reservoir_nl, pocket, recovered=True)

        ack = self.call("COM", args, CommitAck.from_reply, committed)
        if ack.prog != new:
            raise VerificationError(f"rig committed program {ack.prog}, not {new}")
        self.known_prog = new
        return ack

    def load(self, data: bytes, refill: Refill | None = None, *, check: bool = True) -> LoadResult:
        """Decide, stage, commit and verify `data`.

        Refuses (`RefusedError` with the envelope's full text) before sending when the rig's envelope would
        refuse. Raises `VerificationError` when the rig runs anything but `data`, and `CommError` saying which
        program runs, as far as the host knows, on a communication failure.
        """
        try:
            program = fw_program.decode(data)
        except ItbError as exc:
            raise UsageError(f"program does not decode: {exc}") from None
        new = fw_program.short_id(data)
        try:
            before = self.status()
            decision = self.decide(program, before, refill) if check else None
        except CommError as exc:
            known = self.last_status.prog if self.last_status else None
            what = describe(known) if self.last_status else "its program"
            raise type(exc)(exc.detail, f"{what}, unchanged: nothing was sent") from None
        old = before.prog
        if decision is not None and not decision.allowed:
            raise RefusedError("", None, decision.message(), decision.rule_ids())
        try:
            self.stage(data)
            ack = self.commit(data, refill)
            off = secrets.randbelow(max(1, len(data) - SAMPLE_BYTES))
            r = self.call("RB", [str(off), str(SAMPLE_BYTES)], lambda r: r)
        except CommError as exc:
            raise type(exc)(exc.detail, self.state_after_failure(old, new)) from None
        if _str(r, "prog") != new or _str(r, "data").encode() != data[off : off + SAMPLE_BYTES]:
            raise VerificationError(
                f"read-back of {SAMPLE_BYTES} bytes at offset {off} differs from the program "
                f"sent (rig left running: {describe(_str(r, 'prog'))})"
            )
        return LoadResult(old, new, fw_program.checksum(data), ack.t_s, ack.reservoir_nl, ack.pocket,
                          decision.message() if decision else "not checked on the host", off, ack.recovered)

    def left_running(self) -> str:
        """After a failure outside a load: what the rig runs as far as this client knows."""
        known = self.known_prog if self.known_prog is not None else (
            self.last_status.prog if self.last_status else None)
        shown = describe(known) if self.known_prog is not None or self.last_status else "its program"
        return shown + (", unchanged: nothing was sent" if not self.changes_sent else "")

    def state_after_failure(self, old: str | None, new: str) -> str:
        # After a failed load: ask the rig (briefly) which program is active, if it still answers.
        unknown = (
            "unknown (" + (f"old program {old}" if old else "no program") + " or new program " + new + ")"
        )
        if not self.link.is_open:
            return unknown
        saved, self.retries = self.retries, 0
        try:
            st = self.status()
        except (CommError, RefusedError, RigDisconnectedError):
            return unknown
        finally:
            self.retries = saved
        if st.prog == new:
            return f"new program {new}"
        if st.prog == old:
            return f"old program {old}" if old else "no program (nothing was loaded)"
        return describe(st.prog)

    def refill(self, refill: Refill) -> RefillAck:
        """`RF`: withdraw the measured residual and add `added_nl` at the active program's concentration."""

        def refilled() -> RefillAck | None:
            e = self._logged("refill", nl=str(refill.added_nl), conc=str(refill.conc_ng_per_ul),
                             meas=str(refill.measured_residual_nl))
            if e is None:
                return None
            return RefillAck(int(e.detail["nl"]), int(e.detail["exp"]), e.detail.get("pocket") == "1",
                             recovered=True)

        return self.call("RF", refill.args(), RefillAck.from_reply, refilled)

    def advance(self, seconds: int, every: int | None = None, t_before: int | None = None) -> AdvanceAck:
        """`ADV`: move a bench clock on by `seconds`; with `every`, one reading per interval."""
        args = [str(seconds)] + ([str(every)] if every else [])
        start = t_before if t_before is not None else (self.last_status.t_s if self.last_status else None)

        def advanced() -> AdvanceAck | None:
            t = self.status().t_s
            return AdvanceAck(t, None, recovered=True) if start is not None and t >= start + seconds else None

        return self.call("ADV", args, AdvanceAck.from_reply, advanced)

    def stop(self, confirm_prog: str) -> StopAck:
        """`STP CONFIRM <sha16>`: stop delivery of the active program (it must be named, ITB-DIS-01)."""

        def stopped() -> StopAck | None:
            e = self._logged("stop", prog=confirm_prog)
            return None if e is None else StopAck(e.t_s, recovered=True)

        return self.call("STP", ["CONFIRM", confirm_prog], lambda r: StopAck(_int(r, "t")), stopped)

    def bolus(self, volume_nl: int, duration_s: int) -> BolusAck:
        """`BOL`: a bridge bolus after a concentration change (ITB-BRG-01)."""

        def started() -> BolusAck | None:
            from firmware_py.bridge import bolus_rate  # noqa: PLC0415 (the rig's own formula)

            e = self._logged("bolus", nl=str(volume_nl), s=str(duration_s))
            if e is None:
                return None
            t_end = e.t_s + duration_s
            return BolusAck(
                t_end, bolus_rate(volume_nl, int(e.detail["old"]), duration_s), recovered=True
            )

        return self.call("BOL", [str(volume_nl), str(duration_s)],
                          lambda r: BolusAck(_int(r, "t_end"), _int(r, "rate")), started)
