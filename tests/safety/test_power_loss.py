"""Power loss while the rig saves its state (firmware_py/store.py through an injectable file system).

Hazard: corrupted storage after a reset leaves the pump with no program, a half-written program, or a
program that does not match the reservoir. A reset is simulated before every file operation of a save
(write .tmp, rename .cur -> .old, rename .tmp -> .cur), in the middle of the write at every truncation
length, during the restart's own save (a second reset), and the saved files are corrupted afterwards (one
byte flipped at every position, truncated at every length). On every restart the rig must run a complete,
checksum-valid program, either the old state or the new one as a whole (program, concentration and fill
together), and keep delivering.

REQ: ITB-DIS-01, ITB-REF-01
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.clock import BenchClock
from firmware_py.delivery import Status
from firmware_py.rig import Rig
from firmware_py.state import RUNNING, STOPPED
from firmware_py.store import Store, decode_state
from tests.safety import kit
from tests.safety.kit import MemFs, PowerLoss

OLD = kit.program13(500_000, label="old-program")
NEW = kit.program13(550_000, phase="refill", conc=1000, label="new-program-1000")  # with a refill, new conc
OLD_B, NEW_B = pg.encode(OLD), pg.encode(NEW)
COUNTS: dict[str, int] = {}


@dataclass(frozen=True)
class Setup:
    kind: str
    files: dict[str, bytes]
    t_s: int
    before: tuple[object, ...]
    after: tuple[object, ...]
    ops: list[tuple[str, str, int]]


def _therapy(rig: Rig) -> tuple[object, ...]:
    s = rig.s
    return (s.prog_b, s.state, s.conc, s.fill_nl, s.used_q, s.anchor_s, s.bolus, s.hist.text())


def _frames(h: kit.Host, kind: str) -> tuple[list[bytes], bytes]:
    # (frames before the interrupted one, the frame whose save is interrupted), in h's session
    if kind == "commit":  # a new program with a refill at a new concentration, in one atomic step
        pre = [h.frame("STG", [str(o), NEW_B[o : o + 200].decode()]) for o in range(0, len(NEW_B), 200)]
        return pre, h.frame("COM", [str(len(NEW_B)), pg.checksum(NEW_B)[: wire.SHA_LEN],
                                    f"rf={kit.RES_NL},1000,19000000"])
    if kind == "refill":  # reservoir state only
        return [], h.frame("RF", [str(kit.RES_NL), str(kit.CONC), "19000000"])
    return [], h.frame("ADV", [str(80 * kit.DAY)])  # past the low-reservoir alarm: alarm + log saved


def _prepare(kind: str) -> Setup:
    rig, clock, fs = kit.make_rig()
    kit.first_fill(rig, OLD)
    clock.advance(2 * kit.DAY)
    rig.poll()
    files = dict(fs.files)
    t_s = clock.now_s()
    # dry run on a copy: the state before/after and the file operations of the save
    fs2 = MemFs(files)
    rig2, frame = _ready(fs2, t_s, kind)
    before = _therapy(rig2)
    reply = kit.replies(rig2.feed(frame))[0]
    assert reply.ok, (kind, reply.name, reply.fields)
    return Setup(kind, files, t_s, before, _therapy(rig2), list(fs2.trace))


def _ready(fs: MemFs, t_s: int, kind: str) -> tuple[Rig, bytes]:
    # restart on the saved files, open a session (sessions do not survive a reset), feed the frames that
    # precede the interrupted one; the rig and the interrupted frame
    rig = kit.restart(fs, BenchClock(t_s))
    pre, frame = _frames(kit.Host(rig), kind)
    for f in pre:
        assert kit.replies(rig.feed(f))[0].ok
    fs.trace.clear()
    fs.ops = 0
    return rig, frame


SETUPS = {k: _prepare(k) for k in ("commit", "refill", "alarm")}


def _check_restart(fs: MemFs, t_s: int, su: Setup, where: str) -> Rig:
    rig = kit.restart(fs, BenchClock(t_s))
    s = rig.s
    got = _therapy(rig)
    # the state is the old one or the new one as a whole; t_s/anchor may only move with the new state
    assert got in (su.before, su.after), f"{where}: {got[1:]} is neither {su.before[1:]} nor {su.after[1:]}"
    assert s.prog is not None and pg.encode(s.prog) == s.prog_b, where
    assert pg.checksum(s.prog_b) in (pg.checksum(OLD_B), pg.checksum(NEW_B)), where
    assert s.prog.conc_ng_per_ul == s.conc, f"{where}: program/reservoir concentration mismatch"
    assert s.state in (RUNNING, "alarm") and s.state != STOPPED, where
    if s.state == RUNNING:
        assert Status(s, s.t_s).rate_ng_per_day > 0, where
    assert decode_state(fs.files.get("itb_state.cur")) is not None, f"{where}: no valid .cur after restart"
    return rig


def _count(name: str, n: int = 1) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + n


@pytest.mark.parametrize("kind", sorted(SETUPS))
def test_reset_before_every_file_operation_and_inside_every_write(kind: str) -> None:
    """A reset before each operation of the save, and inside the .tmp write after 0..len-1 bytes."""
    su = SETUPS[kind]
    n_ops = len(su.ops)
    assert n_ops == 3, su.ops  # write .tmp, rename .cur -> .old, rename .tmp -> .cur
    seen = set()
    tried = 0
    for op in range(n_ops + 1):
        lengths: list[int | None] = [None]
        if op < n_ops and su.ops[op][0] == "write":
            lengths += list(range(su.ops[op][2]))
        for cut in lengths:
            fs = MemFs(su.files)
            rig, frame = _ready(fs, su.t_s, kind)
            fs.fail_at, fs.truncate_to = op, cut
            if op < n_ops:
                with pytest.raises(PowerLoss):
                    rig.feed(frame)
            else:
                rig.feed(frame)  # no reset: the save completes
            after = _check_restart(fs, su.t_s, su, f"{kind} op {op} cut {cut}")
            seen.add(_therapy(after) == su.after)
            tried += 1
    assert seen == {False, True}, "both outcomes must occur (the commit point lies inside the save)"
    _count("reset points in saves (" + kind + ")", tried)


@pytest.mark.parametrize("kind", ["commit", "refill"])
def test_second_reset_during_the_restart_save(kind: str) -> None:
    """A reset during the save, then another during the restart's own save (every op, every 29th length)."""
    su = SETUPS[kind]
    tried = 0
    for op in range(3):
        for cut in (None, 0, su.ops[0][2] // 2, su.ops[0][2] - 1):
            fs = MemFs(su.files)
            rig, frame = _ready(fs, su.t_s, kind)
            fs.fail_at, fs.truncate_to = op, cut
            with pytest.raises(PowerLoss):
                rig.feed(frame)
            size = len(fs.files.get("itb_state.cur", b"")) + 200
            for op2 in range(3):
                for cut2 in [None, *range(0, size, 29)] if op2 == 0 else [None]:
                    fs2 = MemFs(fs.files)
                    fs2.fail_at, fs2.truncate_to = op2, cut2
                    with pytest.raises(PowerLoss):
                        Rig(kit.KEY, BenchClock(su.t_s), Store("itb_state", fs2), kit.CONFIG, None)
                    _check_restart(fs2, su.t_s, su, f"{kind} op {op}/{cut} then {op2}/{cut2}")
                    tried += 1
    _count("double reset points (" + kind + ")", tried)


def _saved_twice() -> tuple[dict[str, bytes], Setup]:
    su = SETUPS["commit"]
    fs = MemFs(su.files)
    rig, frame = _ready(fs, su.t_s, "commit")
    assert kit.replies(rig.feed(frame))[0].ok
    return dict(fs.files), su


@pytest.mark.parametrize("victim", ["itb_state.cur", "itb_state.old"])
def test_corrupted_file_every_byte_flip_and_truncation(victim: str) -> None:
    """After a completed commit, one saved copy is damaged: a byte flipped at every position, or truncated
    at every length. The rig runs the other copy (a whole, checksum-valid state), never the damaged one."""
    files, su = _saved_twice()
    assert decode_state(files["itb_state.cur"]) and decode_state(files["itb_state.old"])
    data = files[victim]
    tried = 0
    for i in range(len(data)):
        for damaged in (data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :], data[:i]):
            fs = MemFs({**files, victim: damaged})
            _check_restart(fs, su.t_s, su, f"{victim} damaged at {i}")
            tried += 1
    _count("corrupted-file restarts (" + victim + ")", tried)


def test_both_copies_corrupted_boots_loudly_stopped_never_with_garbage() -> None:
    """Double fault (beyond the single-fault requirement): with every saved copy damaged the rig boots with
    no program, says so (state stopped, prog none, a 'boot' log entry), and never runs a damaged record."""
    files, _su = _saved_twice()
    bad = {k: v[:-3] + b"00\n" for k, v in files.items()}
    rig = kit.restart(MemFs(bad), BenchClock(kit.T0 + 10 * kit.DAY))
    st = rig.status()
    assert (st.state, st.prog) == (STOPPED, None)
    assert any(e[2] == "boot" for e in rig.s.entries())


def test_reset_counts_report() -> None:
    """Prints the reset points tried by this module (run with -s); fails if the sweep did not run."""
    total = sum(COUNTS.values())
    for k in sorted(COUNTS):
        print(f"{k}: {COUNTS[k]}")
    print(f"total reset/corruption points: {total}")
    if COUNTS:
        assert total > 1000


def test_canary_a_non_atomic_save_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep can fail: a store that overwrites .cur in place (no .tmp, no rename) loses the state."""

    def in_place(self: Store, pairs: list[tuple[str, str]]) -> None:
        from firmware_py.store import encode_state  # noqa: PLC0415

        self.fs.remove(self.prefix + ".old")
        self.fs.write(self.prefix + ".cur", encode_state(self.gen + 1, pairs))
        self.gen += 1

    monkeypatch.setattr(Store, "save", in_place)
    su = SETUPS["refill"]
    failures = 0
    for cut in range(0, su.ops[0][2], 50):
        fs = MemFs(su.files)
        rig, frame = _ready(fs, su.t_s, "refill")
        fs.fail_at, fs.truncate_to = 1, cut
        with pytest.raises(PowerLoss):
            rig.feed(frame)
        try:
            _check_restart(fs, su.t_s, su, "canary")
        except AssertionError:
            failures += 1
    assert failures > 0
