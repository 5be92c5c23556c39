"""A stateful fuzz of the rig's session layer (hypothesis ``RuleBasedStateMachine``).

One rig (``firmware_py.rig.Rig`` on a ``MemFs`` store, bench clock) is driven by random interleavings of:

- handshakes: ``SES`` from the legitimate host (who has the key) and from an attacker (who has not);
- fresh signed frames from the host (counter gaps of 1, 2, 1 000, or straight to 2 147 483 647);
- stale frames: verbatim replays of any frame recorded earlier (this session, earlier sessions, before or
  after resets and rollbacks), reordered counters (two fresh frames sent in reverse order, a counter at or
  below the last one), frames of the host's old session after someone else's ``SES``;
- forgeries: the attacker's frames under its own challenge, or a recorded MAC on another counter;
- partial frames left in the parser;
- reconnects (``Rig.link_reset()``), rig resets (a new ``Rig`` on the same files), and rollbacks of the
  state file (a byte of ``itb_state.cur`` flipped so that the rig boots from ``.old``; an older snapshot of
  the files restored).

The oracle is independent of the rig's code: frames and MACs come from ``tests/wire/outsider.py`` (the
standard library's ``hmac``), and the model of the rig's session is kept from what the rig says (a ``SES``
reply starts a session; a reconnect or reset ends it). A signed frame is *fresh* when it was signed with the
key under the rig's current challenge and its counter is above the last one accepted in that session.

Invariants, checked at every frame:

- **0 stale frames accepted**: a signed frame that is not fresh never passes the session checks (its reply
  is ``NAK SESSION``, ``NAK AUTH``, ``NAK SEQ`` or nothing); a frame that passes them is an ACK or a
  command's own NAK;
- a fresh frame is never refused by the session layer;
- **0 lockouts**: whatever came before, the legitimate host opens a session and gets a signed ``ADV 1``
  accepted within ``RECOVERY_FRAMES`` frames (checked as a rule, and at the end of every sequence);
- at most one reply per frame, each a valid rig frame; ``Rig.feed`` never raises.

``COUNTS`` accumulates over every sequence run in the process (``./dev sessions`` prints it).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from firmware_py.clock import BenchClock
from firmware_py.rig import Rig
from firmware_py.store import Store
from tests.core import support as kit
from tests.seeded import fixed_constants
from tests.wire import outsider as o

SEQ_MAX = o.MAX_SEQ
RECOVERY_FRAMES = 4  # SES + a signed ADV, twice at most
SESSION_REFUSALS = frozenset({"SESSION", "AUTH", "SEQ"})
STATE_FILE = "itb_state"
ATTACKER_KEY = bytes(range(0x80, 0xA0))
COUNTS: Counter[str] = Counter()

# The legitimate host's signed commands: every outcome (ACK, or the command's own NAK) consumes a counter.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ADV", ("60",)),
    ("ADV", ("3600", "600")),
    ("STP", ("CONFIRM", "0123456789abcdef")),  # refused (NAK CONFIRM): never stops therapy
    ("STG", ("0", "x")),
    ("COM", ("1", "0" * 32)),  # refused (INCOMPLETE or CHECKSUM)
    ("RF", (str(kit.RES_NL), str(kit.CONC), "0")),
    ("BOL", ("1000", "3600")),  # refused (STATE)
)


@dataclass(frozen=True)
class Signed:
    """A signed frame as sent: its bytes, the challenge and counter it was signed with, and by whom."""

    raw: bytes
    sid: str
    seq: int
    cmd: str
    legit: bool  # signed with the rig's key
    epoch: int  # the session (numbered by the model, in order of the rig's SES replies) it was signed for


def sign(key: bytes, sid: str, seq: int, cmd: str, args: tuple[str, ...]) -> bytes:
    return o.frame(o.signed_body(key, sid, " ".join([str(seq), cmd, *args])))


class SessionMachine(RuleBasedStateMachine):
    frames = Bundle("frames")
    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        COUNTS["sequences"] += 1
        self.fs = kit.MemFs()
        self.clock = BenchClock(kit.T0)
        self.rig = self._boot()
        kit.first_fill(self.rig)  # a running 13-step program and a full reservoir (support.Host)
        self.rig.link_reset()
        # the model of the rig's session, kept from the rig's own replies
        self.sid: str | None = None
        self.epoch = 0  # the rig's current session, 0 for none
        self.epochs = 0
        self.ctr = 0
        self.seen_sids: set[str] = set()
        # the legitimate host's view (it can be out of date: someone else's SES, a reset)
        self.host_sid: str | None = None
        self.host_epoch = 0
        self.host_ctr = 0
        self.seq_ro = 0
        self.t_seen = self.rig.s.t_s

    # -- the rig and the link ---------------------------------------------------------------------------

    def _boot(self) -> Rig:
        self.fs.fail_at = None
        rnd = kit.counter_random()
        return Rig(kit.KEY, self.clock, Store(STATE_FILE, self.fs), kit.CONFIG, rnd)  # type: ignore[arg-type]

    def _feed(self, data: bytes) -> list[o.Reply]:
        COUNTS["frames"] += data.count(b"\n")
        try:
            out = self.rig.feed(data)
        except Exception as exc:  # the rig promises never to raise
            COUNTS["exceptions"] += 1
            raise AssertionError(f"Rig.feed raised {exc!r} on {data[:80]!r}") from exc
        lines = out.splitlines(keepends=True)
        assert len(lines) <= max(1, data.count(b"\n")), out
        return [o.parse_reply(line) for line in lines]

    def _read_only(self, cmd: str) -> o.Reply | None:
        self.seq_ro = self.seq_ro % SEQ_MAX + 1
        got = self._feed(o.frame(f"{self.seq_ro} {cmd}"))
        return got[0] if got else None

    def _ses(self) -> tuple[str, int]:
        r = self._read_only("SES")
        assert r is not None and r.ok and r.word == "SES", r
        sid = r["sid"]
        if sid in self.seen_sids:  # a repeated challenge would make old frames valid again
            COUNTS["repeated_challenges"] += 1
            raise AssertionError(f"challenge {sid} repeated")
        self.seen_sids.add(sid)
        self.epochs += 1
        self.sid, self.epoch, self.ctr = sid, self.epochs, 0  # any SES ends the session before it
        return sid, self.epoch

    def _send_signed(self, f: Signed) -> bool:
        """Send one signed frame and check it against the model; True when it passed the session checks."""
        fresh = f.legit and self.epoch != 0 and f.epoch == self.epoch and f.seq > self.ctr
        got = self._feed(f.raw)
        COUNTS["signed"] += 1
        passed = bool(got) and not (not got[0].ok and got[0].word in SESSION_REFUSALS)
        if passed:
            assert got[0].seq == f.seq
        if passed and not fresh:
            COUNTS["stale_accepted"] += 1
            raise AssertionError(f"stale frame accepted: {f} -> {got[0].text()}")
        if fresh and not passed:
            COUNTS["fresh_refused"] += 1
            raise AssertionError(f"fresh frame refused: {f} -> {got[0].text() if got else 'no reply'}")
        if fresh:
            self.ctr = f.seq
            COUNTS["fresh_accepted"] += 1
        else:
            COUNTS["stale_refused"] += 1
        return passed

    def _end_session(self) -> None:
        self.sid, self.epoch, self.ctr = None, 0, 0

    # -- handshakes ----------------------------------------------------------------------------------------

    @rule()
    def host_handshake(self) -> None:
        self.host_sid, self.host_epoch = self._ses()
        self.host_ctr = 0

    @rule(target=frames)
    def attacker_handshake(self) -> Signed:
        """The attacker opens a session (ending the host's) and signs a frame without the key."""
        sid, epoch = self._ses()
        raw = sign(ATTACKER_KEY, sid, 1, "STP", ("CONFIRM", "0123456789abcdef"))
        f = Signed(raw, sid, 1, "STP", False, epoch)
        self._send_signed(f)
        return f

    # -- the host's frames --------------------------------------------------------------------------------

    def _host_frame(self, seq: int, cmd: str, args: tuple[str, ...]) -> Signed:
        assert self.host_sid is not None
        raw = sign(kit.KEY, self.host_sid, seq, cmd, args)
        return Signed(raw, self.host_sid, seq, cmd, True, self.host_epoch)

    @rule(target=frames, which=st.integers(0, len(COMMANDS) - 1),
          gap=st.sampled_from((1, 1, 1, 2, 1000, SEQ_MAX)))  # fmt: skip
    def host_signed(self, which: int, gap: int) -> Signed:
        """A fresh frame as far as the host knows (its session may have ended without it knowing)."""
        if self.host_sid is None or self.host_ctr >= SEQ_MAX:
            self.host_handshake()
        assert self.host_sid is not None
        seq = SEQ_MAX if gap == SEQ_MAX else min(SEQ_MAX, self.host_ctr + gap)
        cmd, args = COMMANDS[which]
        f = self._host_frame(seq, cmd, args)
        if self._send_signed(f):
            self.host_ctr = seq
        return f

    @rule(target=frames, which=st.integers(0, len(COMMANDS) - 1), back=st.integers(0, 3))
    def host_stale_counter(self, which: int, back: int) -> Signed:
        """A counter at or below the last one of the host's session (a reordered or repeated counter)."""
        if self.host_sid is None:
            self.host_handshake()
        assert self.host_sid is not None
        seq = max(1, self.host_ctr - back)
        cmd, args = COMMANDS[which]
        f = self._host_frame(seq, cmd, args)
        self._send_signed(f)
        return f

    @rule(first=st.integers(0, len(COMMANDS) - 1), second=st.integers(0, len(COMMANDS) - 1))
    def host_reordered_pair(self, first: int, second: int) -> None:
        """Two frames signed in order, delivered in reverse: the earlier counter arrives too late."""
        if self.host_sid is None or self.host_ctr >= SEQ_MAX - 2:
            self.host_handshake()
        assert self.host_sid is not None
        a, b = self.host_ctr + 1, self.host_ctr + 2
        sid, ep = self.host_sid, self.host_epoch
        fa = Signed(sign(kit.KEY, sid, a, *COMMANDS[first]), sid, a, COMMANDS[first][0], True, ep)
        fb = Signed(sign(kit.KEY, sid, b, *COMMANDS[second]), sid, b, COMMANDS[second][0], True, ep)
        if self._send_signed(fb):
            self.host_ctr = b
        self._send_signed(fa)

    # -- the attacker's frames ----------------------------------------------------------------------------

    @rule(f=frames)
    def replay(self, f: Signed) -> None:
        self._send_signed(f)

    @rule(f=frames)
    def lifted_mac(self, f: Signed) -> None:
        """A recorded frame's MAC on a higher counter: the MAC no longer matches."""
        body = o.unframe(f.raw, ">")
        _seq, rest = body.split(" ", 1)
        seq = min(SEQ_MAX, max(f.seq, self.ctr) + 1)
        forged = Signed(o.frame(f"{seq} {rest}"), f.sid, seq, f.cmd, False, f.epoch)
        self._send_signed(forged)

    @rule(f=frames, cut=st.integers(1, 40))
    def partial_frame(self, f: Signed, cut: int) -> None:
        """The first bytes of a frame, never completed by its sender (the next frame's '>' drops them)."""
        assert self._feed(f.raw[: min(cut, len(f.raw) - 1)]) == []

    # -- links, resets, rollbacks ---------------------------------------------------------------------------

    @rule()
    def reconnect(self) -> None:
        self.rig.link_reset()
        self._end_session()
        COUNTS["reconnects"] += 1

    @rule()
    def rig_reset(self) -> None:
        self.rig = self._boot()
        self._end_session()
        COUNTS["resets"] += 1

    @rule(at=st.integers(0, 10_000), bit=st.integers(0, 7))
    def corrupt_cur(self, at: int, bit: int) -> None:
        """One bit of itb_state.cur flipped, then a reset: the rig boots from .old."""
        cur = self.fs.files.get(STATE_FILE + ".cur")
        if cur:
            b = bytearray(cur)
            b[at % len(b)] ^= 1 << bit
            self.fs.files[STATE_FILE + ".cur"] = bytes(b)
        self.rig_reset()
        COUNTS["rollbacks"] += 1

    @rule(target=snapshots)
    def snapshot(self) -> dict[str, bytes]:
        return dict(self.fs.files)

    @rule(snap=snapshots)
    def restore_snapshot(self, snap: dict[str, bytes]) -> None:
        self.fs.files = dict(snap)
        self.rig_reset()
        COUNTS["rollbacks"] += 1

    @rule(seconds=st.sampled_from((1, 600, 86_400)))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    # -- no lockout -----------------------------------------------------------------------------------------

    @rule()
    def host_recovers(self) -> None:
        self._recover()

    def _recover(self) -> None:
        """The host with the key opens a session and gets a signed ADV 1 accepted within RECOVERY_FRAMES."""
        used = 0
        while used < RECOVERY_FRAMES:
            self.host_handshake()
            used += 1
            assert self.host_sid is not None
            f = self._host_frame(1, "ADV", ("1",))
            used += 1
            got = self._feed(f.raw)
            COUNTS["signed"] += 1
            if got and got[0].ok and got[0].word == "ADV":
                self.ctr = self.host_ctr = 1
                COUNTS["recoveries"] += 1
                return
        COUNTS["lockouts"] += 1
        raise AssertionError(f"lockout: no signed frame accepted within {RECOVERY_FRAMES} frames")

    @invariant()
    def rig_time_never_goes_back(self) -> None:
        assert self.rig.s.t_s >= self.t_seen
        self.t_seen = self.rig.s.t_s

    def teardown(self) -> None:
        self._recover()


SETTINGS_IN_SUITE = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


BATCH = 500  # sequences per hypothesis run: its tree of tried sequences grows with every example


def run(sequences: int, steps: int = 50, derandomize: bool = False) -> Counter[str]:
    """Run ``sequences`` random sequences of up to ``steps`` rules, in batches; the counts."""
    COUNTS.clear()
    left = sequences
    while left > 0:
        n = min(BATCH, left)
        conf = settings(
            max_examples=n,
            stateful_step_count=steps,
            deadline=None,
            derandomize=derandomize,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        before = COUNTS["sequences"]
        with fixed_constants():  # derandomized means the same sequences, whatever was imported before
            run_state_machine_as_test(SessionMachine, settings=conf)
        left -= max(1, COUNTS["sequences"] - before)
    return COUNTS.copy()


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 2_000
    t = time.perf_counter()
    failed: BaseException | None = None
    try:
        counts = run(n)
    except BaseException as exc:  # a violation: print the counts so far, then the minimal example
        failed = exc
        counts = COUNTS.copy()
    secs = time.perf_counter() - t
    print(f"sequences:              {counts['sequences']}")
    print(f"frames:                 {counts['frames']}")
    print(f"signed frames:          {counts['signed']}")
    print(f"  fresh, accepted:      {counts['fresh_accepted']}")
    print(f"  stale, refused:       {counts['stale_refused']}")
    print(f"stale frames accepted:  {counts['stale_accepted']}")
    print(f"fresh frames refused:   {counts['fresh_refused']}")
    print(f"lockouts:               {counts['lockouts']}")
    print(f"recoveries checked:     {counts['recoveries']}")
    print(f"reconnects:             {counts['reconnects']}")
    print(f"resets:                 {counts['resets']}")
    print(f"rollbacks:              {counts['rollbacks']}")
    print(f"repeated challenges:    {counts['repeated_challenges']}")
    print(f"exceptions from feed:   {counts['exceptions']}")
    print(f"time (s):               {secs:.1f}")
    if failed is not None:
        print(f"FAILED: {failed!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
