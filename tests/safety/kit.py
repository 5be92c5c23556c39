"""Shared fixtures for the safety and fuzz suites: an in-memory (fault-injectable) file system for the
firmware store, a rig factory, authenticated frame building, 13-step programs and state snapshots.

Nothing here re-implements the arithmetic under test: programs are built with `firmware_py.program` and the
rig is the real `firmware_py.rig.Rig`; the kit only drives it and observes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth
from firmware_py.clock import BenchClock
from firmware_py.rig import Rig
from firmware_py.schedule import Schedule
from firmware_py.store import OsFs, Store

KEY = bytes(range(0x40, 0x60))  # 32-byte test key (never a real one)
OTHER_KEY = bytes(range(0x60, 0x80))
T0 = 1_767_571_200  # 2026-01-05 00:00 rig time (a Monday)
DAY = 86_400
RES_NL = 20_000_000  # 20 mL pump
ALARM_NL = 2_000_000  # 2 mL low-reservoir alarm (ITB-REF-01)
CONC = 2_000  # ng/uL = mcg/mL


class PowerLoss(BaseException):
    """A simulated reset: a BaseException so the rig's `except Exception` guards cannot swallow it."""


class MemFs(OsFs):
    """The firmware store's file-system interface (read, write, rename, remove) on a dict.

    Fault injection: `fail_at` = the index of the operation (counted from 0 over write/rename/remove) at
    which the power fails; `truncate_to` = when that operation is a write, the number of bytes that reach
    the file before the reset (None: the reset comes before the operation does anything).
    """

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.ops = 0
        self.fail_at: int | None = None
        self.truncate_to: int | None = None
        self.trace: list[tuple[str, str, int]] = []  # (op, path, size) of every mutating op done

    def _point(self, op: str, path: str, data: bytes | None = None) -> None:
        i = self.ops
        self.ops += 1
        if self.fail_at is not None and i == self.fail_at:
            if op == "write" and data is not None and self.truncate_to is not None:
                self.files[path] = data[: self.truncate_to]
            raise PowerLoss(f"reset at op {i} ({op} {path})")

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def write(self, path: str, data: bytes) -> None:
        self._point("write", path, data)
        self.files[path] = bytes(data)
        self.trace.append(("write", path, len(data)))

    def rename(self, src: str, dst: str) -> None:
        self._point("rename", src)
        if src not in self.files:
            raise OSError(2, "no such file", src)
        self.files[dst] = self.files.pop(src)
        self.trace.append(("rename", src + "->" + dst, 0))

    def remove(self, path: str) -> None:
        self._point("remove", path)
        self.files.pop(path, None)
        self.trace.append(("remove", path, 0))

    def snapshot(self) -> dict[str, bytes]:
        return dict(self.files)


def make_rig(
    fs: MemFs | None = None, *, start_s: int = T0, key: bytes = KEY, persist: bool = True
) -> tuple[Rig, BenchClock, MemFs]:
    """A rig with a bench clock and (by default) a store on an in-memory file system."""
    fs = fs if fs is not None else MemFs()
    clock = BenchClock(start_s)
    store = Store("itb_state", fs) if persist else None
    return Rig(key, clock, store, "safety"), clock, fs


def restart(fs: MemFs, clock: BenchClock, key: bytes = KEY) -> Rig:
    """A board reset: a new Rig on the same files and clock (no fault injection any more)."""
    fs.fail_at = None
    fs.truncate_to = None
    return Rig(key, clock, Store("itb_state", fs), "safety")


def schedule13(base: int, bump_permille: int = 100) -> Schedule:
    """A daily schedule of exactly 13 steps (the SynchroMed II flex-dosing maximum) around `base` ng/day.

    Steps alternate base / base + bump, start every 110 min, and the last is a third rate so the wrap from
    the last step to the first is a real step too.
    """
    hi = base + base * bump_permille // 1000
    top = base + 2 * base * bump_permille // 1000
    steps = [(i * 6600, base if i % 2 == 0 else hi) for i in range(12)]
    steps.append((12 * 6600, top))
    sch = Schedule(DAY, steps)
    assert len(sch.steps) == 13, sch.steps  # kit invariant, not a check of the code under test
    return sch


def program13(
    base: int = 500_000,
    *,
    phase: str = "initial",
    conc: int = CONC,
    label: str = "thirteen-step",
    overrides: tuple[tuple[str, str], ...] = (),
    origin: str = "spinal",
    age: int = 34,
    bump_permille: int = 100,
) -> pg.Program:
    """A valid 13-step program (adult spinal, 20 mL pump, 2 mL alarm) built with the core record."""
    return pg.Program(
        conc_ng_per_ul=conc, origin=origin, age_years=age, pump_kind="programmable", reservoir_nl=RES_NL,
        alarm_nl=ALARM_NL, min_step_s=1800, internal_nl=200_000, catheter_mm=500, phase=phase,
        base_dose_ng_per_day=base, schedule=schedule13(base, bump_permille), overrides=overrides, label=label,
    )  # fmt: skip


def constant_program(base: int, *, phase: str = "titration", conc: int = CONC, label: str = "") -> pg.Program:
    return pg.Program(
        conc_ng_per_ul=conc, origin="spinal", age_years=34, pump_kind="programmable", reservoir_nl=RES_NL,
        alarm_nl=ALARM_NL, min_step_s=1800, internal_nl=200_000, catheter_mm=500, phase=phase,
        base_dose_ng_per_day=base, schedule=Schedule(DAY, [(0, base)]), label=label,
    )  # fmt: skip


class Host:
    """Builds host frames for one rig with its own sequence counter (the signing side of the protocol)."""

    def __init__(self, rig: Rig, key: bytes = KEY, seq: int | None = None) -> None:
        self.rig = rig
        self.auth = Auth(key)
        self.seq = rig.s.seq if seq is None else seq

    def frame(self, cmd: str, args: list[str], *, sign: bool | None = None) -> bytes:
        self.seq += 1
        signed = wire.COMMANDS[cmd][0] if sign is None else sign
        return wire.request(self.seq, cmd, args, self.auth if signed else None)

    def send(self, cmd: str, args: list[str]) -> wire.Reply:
        out = self.rig.feed(self.frame(cmd, args))
        assert out.startswith(b"<") and out.endswith(b"\n") and out.count(b"\n") == 1, out
        return wire.parse_reply(out[1:-1])

    def load(self, p: pg.Program | bytes, rf: tuple[int, int, int] | None = None) -> wire.Reply:
        """Stage and commit (one STG frame per 200 bytes), returning the COM reply."""
        data = p if isinstance(p, bytes) else pg.encode(p)
        for off in range(0, len(data), 200):
            r = self.send("STG", [str(off), data[off : off + 200].decode()])
            assert r.ok, r.fields
        args = [str(len(data)), pg.checksum(data)]
        if rf is not None:
            args.append("rf=" + ",".join(str(x) for x in rf))
        return self.send("COM", args)


def first_fill(rig: Rig, p: pg.Program | None = None) -> Host:
    """Commit `p` (default: the 13-step initial program) with a full 20 mL fill; return the host."""
    h = Host(rig)
    r = h.load(p if p is not None else program13(), rf=(RES_NL, CONC, 0))
    assert r.ok, (r.name, r.fields)
    return h


@dataclass(frozen=True)
class Snap:
    """The rig's therapy-relevant state: what an invalid frame must never change."""

    state: str
    alarm: str
    prog_b: bytes
    conc: int
    fill_nl: int
    used_q: int
    anchor_s: int
    bolus: tuple[int, int, int] | None
    staged: bytes
    seq: int
    t_com: int
    prev_conc: int
    t_s: int


def snap(rig: Rig) -> Snap:
    s = rig.s
    return Snap(s.state, s.alarm, s.prog_b, s.conc, s.fill_nl, s.used_q, s.anchor_s, s.bolus, s.staged,
                s.seq, s.t_com, s.prev_conc, s.t_s)  # fmt: skip


def replies(out: bytes) -> list[wire.Reply]:
    """Every reply frame in `out`, each checked: starts with '<', CRC valid, at most MAX_FRAME bytes."""
    res = []
    for chunk in out.split(b"\n")[:-1]:
        if not chunk.startswith(b"<") or len(chunk) + 1 > wire.MAX_FRAME:
            raise AssertionError(f"bad reply frame {chunk[:60]!r}")
        res.append(wire.parse_reply(chunk[1:]))
    return res
