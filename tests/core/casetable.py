# A shared table of cases over the core's public functions, for comparing interpreters bit for bit.
#
# cases() builds the table deterministically (loops over edge values); lines() evaluates every case and
# renders one canonical line per case:
#   <function>(<args>) = <result>          the result, attributes as ints / strings, sorted
#   <function>(<args>) ! <Error> field=... value=... reason=...   an error of firmware_py.errors
#   <function>(<args>) CRASH <Type>        any other exception (a defect: bad input must raise ItbError)
# A float anywhere in a result renders as FLOAT<...> (a defect: no float reaches a result).
# tests/test_casetable.py runs it on CPython and under MicroPython and requires identical output.
# Not a test module (no test_ prefix): it runs on MicroPython, so no typing at run time.

from firmware_py import (
    bridge,
    concentration,
    dilution,
    envelope,
    flow,
    history,
    program,
    program_checks,
    refill,
    schedule,
    screening,
    taper,
    text,
    units,
    windows,
)
from firmware_py.config import Config
from firmware_py.errors import ItbError, ProtocolError, RefusedError

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from collections.abc import Callable

    Case = tuple[str, Callable[..., object], tuple[object, ...]]

_PRINTABLE = " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
_HEX = "0123456789abcdef"


def _fmt_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in _PRINTABLE:
            out.append(ch)
        else:
            for b in ch.encode("utf-8"):
                out.append("\\x" + _HEX[b >> 4] + _HEX[b & 15])
    out.append('"')
    return "".join(out)


def _fields(obj: object) -> list[str]:
    # A result's fields: its class's __slots__ when it has them (same on both interpreters), else the
    # public non-callable attributes dir() shows.
    slots = getattr(type(obj), "__slots__", None)
    names = list(slots) if isinstance(slots, (tuple, list)) and slots else dir(obj)
    out = []
    for n in names:
        if n.startswith("_"):
            continue
        v = getattr(obj, n, None)
        if callable(v):
            continue
        out.append(n)
    out.sort()
    return out


def fmt(value: object) -> str:
    if value is None or value is True or value is False:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "FLOAT<" + repr(value) + ">"
    if isinstance(value, str):
        return _fmt_str(value)
    if isinstance(value, (bytes, bytearray)):
        return "b" + _fmt_str(bytes(value).decode("latin-1"))
    if isinstance(value, tuple):
        return "(" + ",".join([fmt(v) for v in value]) + ")"
    if isinstance(value, list):
        return "[" + ",".join([fmt(v) for v in value]) + "]"
    if isinstance(value, dict):
        items = sorted([fmt(k) + ":" + fmt(v) for k, v in value.items()])
        return "{" + ",".join(items) + "}"
    parts = [n + "=" + fmt(getattr(value, n)) for n in _fields(value)]
    return type(value).__name__ + "{" + ",".join(parts) + "}"


def evaluate(fn: "Callable[..., object]", args: tuple[object, ...]) -> str:
    try:
        result = fn(*args)
    except ItbError as exc:
        line = "! " + type(exc).__name__ + " field=" + _fmt_str(exc.field) + " value=" + fmt(exc.value)
        line += " reason=" + _fmt_str(exc.reason)
        if isinstance(exc, RefusedError):
            line += " rules=" + fmt(exc.rule_ids)
        if isinstance(exc, ProtocolError):
            line += " code=" + _fmt_str(exc.reason_code)
        return line
    except Exception as exc:
        return "CRASH " + type(exc).__name__
    return "= " + fmt(result)


# -- the table --------------------------------------------------------------------------------------

_NUMS = (-7, -1, 0, 1, 7, 86_399, 86_400, 2**31 - 1, 2**31, 10**15)
_DENS = (1, 2, 3, 1_000, 86_400, 0, -1)
_ML = units.NL_PER_ML
_H = units.S_PER_H
_DAY = units.S_PER_DAY


def _units_cases(out: "list[Case]") -> None:
    for n in _NUMS:
        for d in _DENS:
            out.append(("units.floor_div", units.floor_div, (n, d)))
            out.append(("units.ceil_div", units.ceil_div, (n, d)))
    for v in (-1_500, 0, 1, 999, 1_000, 1_234_567):
        for scale in (1_000, 1_000_000):
            for digits in (0, 1, 3):
                out.append(("units.fmt_scaled", units.fmt_scaled, (v, scale, digits)))
    for v in (-1_500, 0, 1, 20_833, 20_000_000, 250_000):
        for scale in (1, 10, 1_000, 1_000_000):
            out.append(("units.fmt_exact", units.fmt_exact, (v, scale)))
    for t in (0, 59, 60, 3_599, 3_600, 86_340, 86_399, 86_400, 90_000, -60):
        out.append(("units.hhmm", units.hhmm, (t,)))
    for s in ("00:00", "07:30", "23:59", "24:00", "24:01", "7:05", "12:60", "1230", "ab:cd", "", "12:5"):
        out.append(("units.parse_hhmm", units.parse_hhmm, ("t", s)))
    for bad in (-1, 0, 10, 11, True, "5", None, 1.5):
        out.append(("units.require_range", units.require_range, ("x", bad, 0, 10)))
    for s in ("", "abc", "a b", "50%", "mcg/mL", "\u00b5g", "x*<>y"):
        out.append(("text.pct_encode", text.pct_encode, (s,)))
    for s in ("abc", "a%20b", "%c2%b5g", "%zz", "%2", "a b", "%ff"):
        out.append(("text.pct_decode", text.pct_decode, ("f", s)))


def _dosing_cases(out: "list[Case]") -> None:
    doses = (-5, 0, 1, 24, 1_000, 50_000, 100_000, 500_000, 1_000_000, 2_003_000, 10**9)
    for dose in doses:
        for conc in (0, 1, 50, 500, 1_000, 2_000, 2_001):
            out.append(("flow.flow", flow.flow, (dose, conc)))
    for stock in (500, 1_000, 2_000):
        for target in (50, 250, 333, 500, 1_000, 2_000, 3_000):
            for vol in (20 * _ML, 1 * _ML, 150_000):
                out.append(("dilution.dilute", dilution.dilute, (stock, target, vol)))
    for screen in (25_000, 50_000, 75_000, 100_000, 0, -1):
        for effect in (0, 4 * _H, 8 * _H, 8 * _H + 1, 24 * _H):
            out.append(("screening.initial_daily_dose", screening.initial_daily_dose, (screen, effect)))
    for vol in (40 * _ML, 20 * _ML, 2 * _ML, 0):
        for conc in (500, 2_000):
            for dose in (100_000, 500_000, 2_000_000):
                out.append(("refill.refill_forecast", refill.refill_forecast, (vol, conc, dose)))
    night = schedule.Schedule(_DAY, [(0, 600_000), (7 * _H, 500_000)])
    for vol in (20 * _ML, 3 * _ML):
        out.append(("refill.refill_forecast", refill.refill_forecast, (vol, 500, night)))
    for dose in (50_000, 400_000, 1_500_000):
        for res in (20 * _ML, 40 * _ML):
            for interval in (30 * _DAY, 90 * _DAY):
                out.append(
                    (
                        "concentration.choose_concentration",
                        concentration.choose_concentration,
                        (dose, res, 48_000, 24 * _ML, interval),
                    )
                )
    for cap in (20 * _ML, 40 * _ML):
        for exp in (2 * _ML, 5 * _ML):
            for delta in (-2_000_001, -1_000_001, -1_000_000, 0, 1_000_000, 1_000_001, 2_000_001):
                meas = exp + delta
                out.append(("refill.residual_check", refill.residual_check, (cap, exp, meas)))
    for cath in (0, 500, 1_000):
        for old, new in ((500, 1_000), (2_000, 500), (1_000, 1_000)):
            out.append(("bridge.bridge", bridge.bridge, (200_000, cath, old, new, 400_000)))
    for cur, floor, dur in (
        (400_000, 100_000, 14 * _DAY),
        (400_000, 100_000, 28 * _DAY),
        (1_000_000, 50_000, 14 * _DAY),
        (400_000, 400_000, 14 * _DAY),
        (400_000, 0, 14 * _DAY),
        (400_000, 100_000, 7 * _DAY),
    ):
        out.append(("taper.taper_plan", taper.taper_plan, (cur, floor, dur)))
    for stock, target, vol, res in ((2_000, 150, 2 * _ML, 100_000), (2_000, 750, 18 * _ML, 100_000),
                                    (1_000, 505, 2 * _ML, 100_000), (2_000, 1_500, 18 * _ML, 100_000)):
        out.append(("dilution.dilute", dilution.dilute, (stock, target, vol, res)))
    for cur, floor in ((100_000, 95_000), (2_000_000, 87_962), (2_000_000, 87_961)):
        out.append(("taper.taper_plan", taper.taper_plan, (cur, floor, 14 * _DAY)))


def _sched_query(period: int, steps: list[tuple[int, int]], what: str, a: int, b: int) -> object:
    s = schedule.Schedule(period, steps)
    if what == "rate_at":
        return s.rate_at(a)
    if what == "day_total":
        return s.day_total(a)
    if what == "integral_between":
        return s.integral_between(a, b)
    if what == "time_to_integral":
        return s.time_to_integral(a, b)
    return (s, s.integral_ng_s_per_day(), s.intervals(), schedule.steps_per_day(s))


def _build(base: int, wins: list[tuple[int, int, int]], lead_s: int) -> object:
    ws = [windows.Window(a, b, change_permille=c) for a, b, c in wins]
    s = windows.build(base, ws, lead_s=lead_s)
    return (s, s.day_total(0))


def _schedule_cases(out: "list[Case]") -> None:
    shapes: tuple[list[tuple[int, int]], ...] = (
        [(0, 500_000)],
        [(0, 600_000), (7 * _H, 500_000)],
        [(22 * _H, 600_000), (6 * _H, 500_000)],
        [(0, 1), (60, 2), (120, 1)],
        [(0, 500_000), (12 * _H, 500_000)],
        [],
        [(30, 5)],
        [(0, 0)],
    )
    for steps in shapes:
        out.append(("schedule.Schedule", _sched_query, (_DAY, steps, "info", 0, 0)))
        for t in (0, 7 * _H - 1, 7 * _H, _DAY - 1, _DAY + 6 * _H):
            out.append(("schedule.rate_at", _sched_query, (_DAY, steps, "rate_at", t, 0)))
        for day in (0, 3):
            out.append(("schedule.day_total", _sched_query, (_DAY, steps, "day_total", day, 0)))
        for t0, t1 in ((0, _DAY), (5 * _H, 30 * _H), (100, 100), (-_DAY, 10 * _DAY + 17)):
            args = (_DAY, steps, "integral_between", t0, t1)
            out.append(("schedule.integral_between", _sched_query, args))
        for target in (0, 1, 500_000 * _DAY, 10**12):
            args = (_DAY, steps, "time_to_integral", 0, target)
            out.append(("schedule.time_to_integral", _sched_query, args))
    for t in (0, 1, 86_399, 86_400, 4 * _DAY, 7 * _DAY + 5):
        for period in (_DAY, 7 * _DAY, 3_600):
            out.append(("schedule.phase_of", schedule.phase_of, (t, period)))
    shapes_w: tuple[list[tuple[int, int, int]], ...] = (
        [],
        [(22 * _H, 6 * _H, 200)],
        [(8 * _H, 10 * _H, 200), (18 * _H, 20 * _H, -100)],
        [(8 * _H, 10 * _H, 200), (9 * _H, 11 * _H, 100)],
        [(8 * _H, 8 * _H + 600, 200)],
        [(8 * _H, 10 * _H, -1_000)],
    )
    for base in (500_000, 333_333, 0):
        for ws in shapes_w:
            for lead in (2 * _H, 0):
                out.append(("schedule.build", _build, (base, ws, lead)))


def _program(conc: int, base: int, steps: list[tuple[int, int]], label: str) -> object:
    p = program.Program(
        conc_ng_per_ul=conc,
        origin="spinal",
        age_years=34,
        pump_kind="programmable",
        reservoir_nl=20 * _ML,
        alarm_nl=2 * _ML,
        min_step_s=1_800,
        internal_nl=200_000,
        catheter_mm=500,
        phase="refill",
        base_dose_ng_per_day=base,
        schedule=schedule.Schedule(_DAY, steps),
        label=label,
    )
    b = program.encode(p)
    again = program.encode(program.decode(b))
    fields = [e.field for e in program_checks.problems(p)]
    return (b, program.checksum(b), program.short_id(b), again == b, fields)


def _program_cases(out: "list[Case]") -> None:
    for conc in (500, 2_000, 0, 50):
        for base in (500_000, 1, 0):
            for steps in ([(0, 500_000)], [(0, 600_000), (7 * _H, 500_000)]):
                out.append(("program.encode", _program, (conc, base, steps, "bench A")))
    for raw in (b"", b"ITB2;drug=baclofen", b"ITB1;x", b"ITB2;drug=baclofen;conc=0500"):
        out.append(("program.decode", program.decode, (raw,)))


_CFG = Config("programmable", 20 * _ML, 200_000, 500, 1_800, "case")
_T = 1_767_571_200


def _p(
    steps: list[tuple[int, int]], phase: str, origin: str = "spinal", age: int = 34, **kw: object
) -> program.Program:
    s = schedule.Schedule(_DAY, steps)
    start: dict[str, object] = {}
    if phase == "transfer":
        start = {"previous_ng_per_day": s.steps[0][1], "reason": "case"}
    elif phase in ("initial", "restart"):
        start = {"screening_dose_ng": 100_000, "effect_s": 6 * _H}
    for k, v in kw.items():
        start[k] = v
    return program.Program(conc_ng_per_ul=500, origin=origin, age_years=age, pump_kind="programmable",
                           reservoir_nl=20 * _ML, alarm_nl=2 * _ML, min_step_s=1_800, internal_nl=200_000,
                           catheter_mm=500, phase=phase, base_dose_ng_per_day=min([r for _t, r in s.steps]),
                           schedule=s, **start)


def _start(origin: str, age: int, dose: int, phase: str) -> object:
    d = envelope.decide(
        history.History(), None, envelope.Commit(_p([(0, dose)], phase, origin, age)), _CFG, _T
    )
    return (d.allowed, d.reply(), d.rule_ids(), d.message())


def _change(old: list[tuple[int, int]], new: list[tuple[int, int]], phase: str, since: int) -> object:
    prev = schedule.Schedule(_DAY, old)
    h = envelope.stated_history(_T, prev, since, None)
    d = envelope.decide(h, prev, envelope.Commit(_p(new, phase)), _CFG, _T)
    return (d.allowed, d.reply(), d.rule_ids(), d.message())


def _envelope_cases(out: "list[Case]") -> None:
    doses = (11_999, 12_000, 22_000, 24_000, 1_000_000, 1_000_001, 1_199_000, 1_400_000, 2_003_000, 2_003_001)
    for origin in ("spinal", "cerebral"):
        for age in (3, 11, 12, 18):
            for dose in doses:
                out.append(("envelope.start", _start, (origin, age, dose, "transfer")))
    for dose in (100_000, 200_000, 200_001):
        for phase in ("initial", "restart", "refill"):
            out.append(("envelope.start", _start, ("spinal", 30, dose, phase)))
    night = [(0, 500_000), (72_000, 600_000), (14_400, 500_000)]
    for new in ([(0, 650_000)], [(0, 650_001)], [(0, 400_000)], [(0, 399_999)], night,
                [(0, 500_000), (72_000, 6_000_000), (73_800, 500_000)]):
        for phase in ("titration", "refill", "side-effects", "taper"):
            for since in (86_399, 86_400):
                out.append(("envelope.change", _change, ([(0, 500_000)], new, phase, since)))


def cases() -> "list[Case]":
    out: list[Case] = []
    _units_cases(out)
    _dosing_cases(out)
    _schedule_cases(out)
    _program_cases(out)
    _envelope_cases(out)
    return out


def lines() -> list[str]:
    return [name + fmt(args) + " " + evaluate(fn, args) for name, fn, args in cases()]


def run() -> None:
    out = lines()
    for line in out:
        print(line)
    print("CASES " + str(len(out)))
