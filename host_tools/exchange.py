"""The exchange layer under `RigClient`: sessions, frame counters and the one retry loop.

- **Sessions.** Program-changing commands run in a session: `SES` gives the rig's fresh challenge, and the
  client numbers its frames from 1 within it. A new connection, a rig reset or another host's `SES` ends
  it; the client then opens a new one.
- **One retry loop** (`Exchange.call`): a frame that gets no reply within `timeout_s`, or a garbled one, is
  resent unchanged (same counter, same MAC) at most `retries` times. `NAK SEQ` to a resent frame means the
  first copy ran and only its reply was lost: the caller's `recover()` then reads the outcome back from the
  rig's audit log and status, so a command is never applied twice. `NAK MEMORY` (nothing ran) is resent
  after a pause.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from firmware_py import protocol
from firmware_py.auth import Session
from firmware_py.errors import ItbError
from host_tools.errors import CommError, UsageError
from host_tools.keys import RigKey
from host_tools.link import DEFAULT_TIMEOUT_S, Link, RigTimeoutError
from host_tools.replies import RigRefusedError, RigReplyError, _str

DEFAULT_RETRIES = 2
_GARBLED = (protocol.CRC, protocol.LENGTH, protocol.FORMAT)  # line noise: the frame never ran
MEMORY_WAIT_S = 0.05  # after NAK MEMORY (nothing ran), the identical frame is resent after this pause
_STALE = (protocol.SEQ, protocol.SESSION, protocol.AUTH)
A = TypeVar("A")

NEW_SESSION, RECOVER, REFUSED = "new session", "recover", "refused"


class _Tries:
    """What a NAK to a signed frame means, over the tries of one command."""

    def __init__(self, fresh: bool) -> None:
        self.fresh = fresh  # a session opened for this frame: an AUTH then means the wrong key
        self.other_session_tried = False
        self.refused_unread = False

    def after_nak(self, name: str, signed: bool, attempt: int) -> str:
        # An earlier copy of this frame may have run, unless the rig refused it unread (AUTH in a fresh
        # session: its MAC did not hold).
        lost = signed and attempt > 0 and not self.refused_unread and name in _STALE
        self.refused_unread = False
        # AUTH on the first frame of a new session: another host may have opened a session in between
        # (docs/protocol.md section 2), so one more session is tried; AUTH again means the wrong key.
        competing = name == protocol.AUTH and self.fresh and not self.other_session_tried
        stale = name in (protocol.SEQ, protocol.SESSION) or (
            name == protocol.AUTH and (not self.fresh or competing)
        )
        if competing:
            self.other_session_tried = True
            self.refused_unread = True
        if signed and stale and not lost:
            # out of step, or the rig's session ended (a reset, a reconnect, another host's SES)
            self.fresh = True
            return NEW_SESSION
        return RECOVER if lost else REFUSED


class Exchange:
    """Frames to and from one rig over a `Link`, in sessions when signed. `key` is needed for
    program-changing commands only. Use as a context manager, or call `close()`."""

    def __init__(self, link: Link, key: RigKey | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 retries: int = DEFAULT_RETRIES) -> None:
        if retries < 0 or timeout_s <= 0:
            raise UsageError(f"retries must be >= 0 and timeout > 0 (got {retries}, {timeout_s})")
        self.link = link
        self._auth = key.auth() if key is not None else None
        self.timeout_s = timeout_s
        self.retries = retries
        self.session: Session | None = None
        self._ctr = 0  # the last counter used in the session
        self._read_seq = 0
        self.changes_sent = 0  # signed (state-changing) frames sent on this connection
        self.retried = 0  # frames resent (for reports and tests)
        self.recovered = 0  # lost replies whose outcome was read back instead of resending

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.link.url!r}, key={'set' if self._auth else 'none'})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.link.close()

    def _wait(self, seq: int) -> protocol.Reply:
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RigTimeoutError(
                    f"timeout: no reply from the rig on {self.link.url} within {self.timeout_s:g} s"
                )
            reply = self.link.receive(left)
            unnumbered = reply.seq == 0 and not reply.ok and reply.name in (*_GARBLED, protocol.MEMORY)
            if reply.seq == seq or unnumbered:
                return reply
            # a late reply to an earlier, timed-out request: drop it

    def _frame(self, cmd: str, args: list[str]) -> tuple[int, bytes]:
        if not protocol.COMMANDS[cmd][0]:
            self._read_seq = self._read_seq % protocol.SEQ_MAX + 1
            return self._read_seq, protocol.request(self._read_seq, cmd, args)
        if self._auth is None:
            raise UsageError(
                f"{cmd} changes the rig and needs its key: pass --key-file or set ITB_RIG_KEY_FILE"
            )
        if self.session is None or self._ctr >= protocol.SEQ_MAX:
            self._open_session()
        self._ctr += 1
        return self._ctr, protocol.request(self._ctr, cmd, args, self.session)

    def _open_session(self) -> None:
        r = self.call("SES", [], lambda r: r)
        assert self._auth is not None  # checked by _frame (internal invariant)
        try:
            self.session = Session(self._auth, _str(r, "sid"))
        except ItbError as exc:
            raise RigReplyError(f"bad reply: SES {exc}") from None
        self._ctr = 0

    def _noise(self, cmd: str, reply: protocol.Reply) -> CommError | None:
        # A NAK that says the frame never ran: resend it unchanged.
        if not reply.ok and reply.name in _GARBLED:
            return RigReplyError(f"bad reply: the rig got garbled frames ({reply.name}) for {cmd}")
        if not reply.ok and reply.name == protocol.MEMORY:
            time.sleep(MEMORY_WAIT_S)
            return RigReplyError(f"the rig ran out of memory for {cmd} (nothing ran)")
        return None

    def call(self, cmd: str, args: list[str], parse: Callable[[protocol.Reply], A],
             recover: Callable[[], A | None] | None = None) -> A:
        """Send `cmd`, resend the same frame on a timeout or garble; `recover()` reads the outcome back when
        the rig says a resent frame already ran (None: it did not run after all; send it anew)."""
        signed = protocol.COMMANDS[cmd][0]
        tries = _Tries(fresh=self.session is None)
        seq, frame = self._frame(cmd, args)
        last: CommError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            if signed:
                self.changes_sent += 1
            try:
                self.link.send(frame)
                reply = self._wait(seq)
            except RigTimeoutError as exc:
                last = exc
                continue
            last = self._noise(cmd, reply)
            if last is not None:
                continue
            if reply.ok:
                return parse(reply)
            action = tries.after_nak(reply.name, signed, attempt)
            if action == RECOVER and recover is not None:
                self.session = None  # a new session may have followed the copy that ran
                got = recover()
                if got is not None:
                    self.recovered += 1
                    return got
            elif action == NEW_SESSION:
                self.session = None
            else:
                raise RigRefusedError(cmd, reply.name, reply.fields)
            last = RigReplyError(f"bad reply: {reply.name} for {cmd}")
            seq, frame = self._frame(cmd, args)
        assert last is not None
        if isinstance(last, RigTimeoutError):
            raise RigTimeoutError(f"timeout: no reply from the rig on {self.link.url} to {cmd} after "
                                  f"{self.retries + 1} tries of {self.timeout_s:g} s")
        raise last
