# The one set of test fixtures: program factories, an in-memory fault-injectable file system and a frame
# driver for the rig. Runs on CPython (pytest) and on MicroPython (tests/mp runner), so it uses only what
# both have: no pytest, no dataclasses, no typing at run time. The safety, fuzz and rig suites import it.
#
# Nothing here re-implements the arithmetic under test: programs are built with firmware_py.program, the
# rig is the real firmware_py.rig.Rig; the fixtures only drive it and observe it.

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from typing import Any

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth, Session
from firmware_py.clock import BenchClock
from firmware_py.config import Config
from firmware_py.errors import ItbError
from firmware_py.rig import Rig
from firmware_py.schedule import Schedule
from firmware_py.store import OsFs, Store

KEY = bytes(range(0x40, 0x60))  # 32-byte test key (never a real one)
OTHER_KEY = bytes(range(0x60, 0x80))
T0 = 1_767_571_200  # 2026-01-05 00:00 rig time (a Monday)
DAY = 86_400
H = 3_600
ML = 1_000_000  # nL
MCG = 1_000  # ng
RES_NL = 20 * ML  # 20 mL pump
ALARM_NL = 2 * ML  # 2 mL low-reservoir alarm (ITB-REF-01)
CONC = 500  # ng/uL = mcg/mL
CONFIG = Config("programmable", RES_NL, 200_000, 500, 1800, "test")


def raises(exc_type: type[BaseException], fn: object, *args: object, **kwargs: object) -> BaseException:
    # Call fn(*args, **kwargs), require it to raise exc_type, and return the exception for further checks.
    try:
        fn(*args, **kwargs)  # type: ignore[operator]
    except exc_type as exc:
        return exc
    raise AssertionError(f"expected {exc_type.__name__} from {fn!r}{args!r}")


def names_field(exc: BaseException, field: str, value: object) -> bool:
    # True when the error names the field and the value, as every error of the core must.
    text = str(exc)
    return field in text and repr(value) in text


def refused_naming(
    exc_type: type[BaseException], field: str, value: object, fn: object, *args: object, **kw: object
) -> None:
    # The call must raise exc_type (an ItbError) whose message names field and value.
    exc = raises(exc_type, fn, *args, **kw)
    assert isinstance(exc, ItbError), exc
    assert exc.field == field, (exc.field, field)
    assert names_field(exc, field, value), str(exc)


# -- programs -----------------------------------------------------------------------------------------


def daily(steps: object) -> Schedule:
    if isinstance(steps, int):
        return Schedule(DAY, [(0, steps)])
    return Schedule(DAY, steps)  # type: ignore[arg-type]


WEEK_DAY_SAT = 5 * DAY  # Saturday 00:00 in a weekly schedule's phase (phase 0 is Monday 00:00)


def daily_or_weekly(shape: str, base: int, windows: list[tuple[int, int, int]]) -> Schedule:
    # base ng/day with (start_s, rate, length_s) steps: every day ("daily"), or on Saturday only ("weekly").
    period = DAY if shape == "daily" else 7 * DAY
    offset = 0 if shape == "daily" else WEEK_DAY_SAT
    steps = [(0, base)] if windows[0][0] + offset else []
    for start, rate, length in windows:
        steps.append((offset + start, rate))
        end = (offset + start + length) % period
        if end:
            steps.append((end, base))
    return Schedule(period, steps)


def schedule13(base: int, bump_permille: int = 100) -> Schedule:
    # A daily schedule of exactly 13 steps (the SynchroMed II flex-dosing maximum) around `base` ng/day:
    # steps alternate base / base + bump every 110 min, and the last is a third rate so the wrap from the
    # last step to the first is a real step too.
    hi = base + base * bump_permille // 1000
    top = base + 2 * base * bump_permille // 1000
    steps = [(i * 6600, base if i % 2 == 0 else hi) for i in range(12)]
    steps.append((12 * 6600, top))
    sch = Schedule(DAY, steps)
    assert len(sch.steps) == 13, sch.steps  # fixture invariant, not a check of the code under test
    return sch


def program(
    sched: object = 500_000, phase: str = "refill", conc: int = CONC, **changes: object
) -> pg.Program:
    # A program for CONFIG's pump (adult spinal, 20 mL, 2 mL alarm). sched: a Schedule, a constant dose or
    # daily steps. A start phase gets consistent start fields: transfer from the program's lowest rate,
    # initial/restart from a 100 mcg screening dose (at most 200 mcg/day, ITB-INI-01).
    s = sched if isinstance(sched, Schedule) else daily(sched)
    kw: dict[str, object] = {
        "conc_ng_per_ul": conc, "origin": "spinal", "age_years": 34, "pump_kind": CONFIG.pump_kind,
        "reservoir_nl": CONFIG.reservoir_nl, "alarm_nl": ALARM_NL, "min_step_s": CONFIG.min_step_s,
        "internal_nl": CONFIG.internal_nl, "catheter_mm": CONFIG.catheter_mm, "phase": phase,
        "base_dose_ng_per_day": min([r for _t, r in s.steps]), "schedule": s, "label": "test",
    }  # fmt: skip
    if phase == "transfer":
        kw["previous_ng_per_day"] = kw["base_dose_ng_per_day"]
        kw["reason"] = "transfer from the bench pump"
    elif phase in ("initial", "restart"):
        kw["screening_dose_ng"] = 100 * MCG
        kw["effect_s"] = 6 * H
    for k, v in changes.items():
        kw[k] = v
    return pg.Program(**kw)


def program13(base: int = 500_000, phase: str = "transfer", bump_permille: int = 100,
              **changes: "Any") -> pg.Program:
    return program(schedule13(base, bump_permille), phase, **changes)


# -- file system --------------------------------------------------------------------------------------


class PowerLoss(BaseException):
    # A simulated reset: a BaseException so the rig's `except Exception` guards cannot swallow it.
    pass


class MemFs(OsFs):
    # The store's file-system interface on a dict. Fault injection: fail_at = the index of the mutating
    # operation (write, rename, remove; counted from 0) at which the power fails; truncate_to = when that
    # operation is a write, the bytes that reach the file first (None: the reset comes before it); trace =
    # every mutating operation done.
    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files) if files else {}
        self.ops = 0
        self.fail_at: int | None = None
        self.truncate_to: int | None = None
        self.failure: BaseException | None = None  # raised at fail_at instead of a PowerLoss (a flash error)
        self.trace: list[tuple[str, str, int]] = []

    def _point(self, op: str, path: str, data: bytes | None = None) -> None:
        i = self.ops
        self.ops += 1
        if self.fail_at is not None and i == self.fail_at:
            if op == "write" and data is not None and self.truncate_to is not None:
                self.files[path] = data[: self.truncate_to]
            if self.failure is not None:
                raise self.failure
            raise PowerLoss("reset at op " + str(i) + " (" + op + " " + path + ")")

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def open_write(self, path: str) -> object:
        # A streamed write is one operation: a reset before it starts, or after truncate_to bytes of it.
        i = self.ops
        if self.fail_at is not None and i == self.fail_at and self.truncate_to is not None:
            self.ops += 1
            return _MemWriter(self, path, self.truncate_to)
        self._point("write", path)
        return _MemWriter(self, path, None)

    def sync(self) -> None:
        return None

    def write(self, path: str, data: bytes) -> None:
        f = self.open_write(path)
        f.write(data)  # type: ignore[attr-defined]
        f.close()  # type: ignore[attr-defined]

    def rename(self, src: str, dst: str) -> None:
        self._point("rename", src)
        if src not in self.files:
            raise OSError(2)
        self.files[dst] = self.files.pop(src)
        self.trace.append(("rename", src + "->" + dst, 0))

    def remove(self, path: str) -> None:
        self._point("remove", path)
        self.files.pop(path, None)
        self.trace.append(("remove", path, 0))


class _MemWriter:
    # The file being written: it reaches the dict on close, or its first `cut` bytes at a reset inside it.
    def __init__(self, fs: MemFs, path: str, cut: int | None) -> None:
        self.fs = fs
        self.path = path
        self.cut = cut
        self.buf = bytearray()

    def write(self, data: object) -> None:
        self.buf.extend(data.encode() if isinstance(data, str) else data)  # type: ignore[arg-type]
        if self.cut is not None and len(self.buf) > self.cut:
            self._reset()

    def _reset(self) -> None:
        self.fs.files[self.path] = bytes(self.buf[: self.cut])
        if self.fs.failure is not None:
            raise self.fs.failure
        raise PowerLoss("reset inside the write of " + self.path)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        if self.cut is not None:
            self._reset()
        self.fs.files[self.path] = bytes(self.buf)
        self.fs.trace.append(("write", self.path, len(self.buf)))


# -- rigs and the frame driver ------------------------------------------------------------------------


_DRAWS = [0]


def counter_random() -> object:
    # A deterministic random source for tests: a challenge never drawn before in this process, by any rig
    # (a restarted rig must not repeat an earlier session's challenge, as a real random source would not).
    def rnd(k: int) -> bytes:
        _DRAWS[0] += 1
        return bytes([(_DRAWS[0] >> (8 * (i % 4))) & 255 for i in range(k)])

    return rnd


def make_rig(fs: MemFs | None = None, start_s: int = T0, key: bytes = KEY, persist: bool = True,
             config: Config = CONFIG) -> tuple[Rig, BenchClock, MemFs]:
    # A rig with a bench clock and (by default) a store on an in-memory file system.
    fs = fs if fs is not None else MemFs()
    clock = BenchClock(start_s)
    store = Store("itb_state", fs) if persist else None
    return Rig(key, clock, store, config, counter_random()), clock, fs  # type: ignore[arg-type]


def restart(fs: MemFs, clock: BenchClock, key: bytes = KEY, config: Config = CONFIG) -> Rig:
    # A board reset: a new Rig on the same files and clock (no fault injection any more).
    fs.fail_at = None
    fs.truncate_to = None
    return Rig(key, clock, Store("itb_state", fs), config, counter_random())  # type: ignore[arg-type]


def replies(out: bytes) -> list[wire.Reply]:
    # Every reply frame in out, each checked: starts with '<', CRC valid, at most MAX_FRAME bytes.
    res = []
    for chunk in out.split(b"\n")[:-1]:
        if not chunk.startswith(b"<") or len(chunk) + 1 > wire.MAX_FRAME:
            raise AssertionError("bad reply frame " + repr(chunk[:60]))
        res.append(wire.parse_reply(chunk[1:]))
    return res


class Host:
    # The signing side of the protocol for one rig: opens a session, numbers its frames, stages and commits.
    def __init__(self, rig: Rig, key: bytes = KEY) -> None:
        self.rig = rig
        self.auth = Auth(key)
        self.seq = 0
        self.session: Session | None = None
        self.open()

    def open(self) -> wire.Reply:
        # A new session: its counter starts again at 1.
        self.seq = 0
        r = self.send("SES", [])
        assert r.ok, (r.name, r.fields)
        self.session = Session(self.auth, r.fields["sid"])
        self.seq = 0
        return r

    def frame(self, cmd: str, args: list[str], sign: bool | None = None) -> bytes:
        self.seq += 1
        signed = wire.COMMANDS[cmd][0] if sign is None else sign
        return wire.request(self.seq, cmd, args, self.session if signed else None)

    def send(self, cmd: str, args: list[str], sign: bool | None = None) -> wire.Reply:
        out = self.rig.feed(self.frame(cmd, args, sign))
        r = replies(out)
        assert len(r) == 1, out
        return r[0]

    def load(self, p: object, rf: tuple[int, int, int] | None = None, chunk: int = 200) -> wire.Reply:
        # Stage (chunk bytes per STG) and commit; the COM reply.
        data = p if isinstance(p, bytes) else pg.encode(p)  # type: ignore[arg-type]
        for off in range(0, len(data), chunk):
            r = self.send("STG", [str(off), data[off : off + chunk].decode()])
            assert r.ok, r.fields
        args = [str(len(data)), pg.checksum(data)[: wire.SHA_LEN]]
        if rf is not None:
            args.append("rf=" + ",".join([str(x) for x in rf]))
        return self.send("COM", args)

    def status(self) -> dict[str, str]:
        r = self.send("ST", [])
        assert r.ok
        return r.fields


def first_fill(rig: Rig, p: pg.Program | None = None) -> Host:
    # Commit p (default: a 13-step transfer program) with a full fill; the host.
    h = Host(rig)
    prog = p if p is not None else program13()
    r = h.load(prog, (RES_NL, prog.conc_ng_per_ul, 0))
    assert r.ok, (r.name, r.fields)
    return h


def snap(rig: Rig) -> dict[str, object]:
    # The rig's therapy-relevant state and its audit log: what an unauthenticated frame must never change.
    s = rig.s
    return {
        "state": s.state,
        "alarm": s.alarm,
        "prog_b": s.prog_b,
        "conc": s.conc,
        "fill_nl": s.fill_nl,
        "used_q": s.used_q,
        "anchor_s": s.anchor_s,
        "bolus": s.bolus,
        "staged": s.staged,
        "t_com": s.t_com,
        "prev_conc": s.prev_conc,
        "t_s": s.t_s,
        "hist": s.hist.text(),
        "log_total": s.log_total,
        "log": list(s.log),
    }
