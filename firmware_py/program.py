# The pump program record, its canonical encoding and checksum, and structural validation.
#
# Encoding (printable ASCII, no spaces, no '*', '>' or '<', so it can travel inside frames; fixed key order):
#   ITB1;drug=baclofen;conc=2000;origin=spinal;age=34;pump=programmable;res=20000000;alarm=2000000;
#   minstep=1800;internal=200;cath=500;phase=titration;base=500000;period=86400;
#   steps=14400:500000,72000:600000;ovr=ITB-RNG-04:reason|...;label=text
# (one line, no line break). Ints in canonical decimal ("0" or no leading zero, no sign); free text
# percent-encoded (firmware_py/text.py). decode() accepts exactly what encode() produces, nothing else.
#
# Dose ranges and titration limits are the drug library's (firmware_py/library.py); validate() here only
# checks that the record hangs together. The rig runs both.

import hashlib

from firmware_py.errors import ItbError, ProgramError
from firmware_py.schedule import MAX_STEPS_PER_DAY, Schedule, steps_per_day
from firmware_py.text import pct_decode, pct_encode
from firmware_py.units import S_PER_MIN, is_int

VERSION = 1
MAGIC = "ITB1"
DRUGS = ("baclofen",)
ORIGINS = ("spinal", "cerebral")
PUMP_KINDS = ("programmable", "constant-flow")
PHASES = ("initial", "titration", "refill", "side-effects", "taper")
KEYS = (
    "drug", "conc", "origin", "age", "pump", "res", "alarm", "minstep", "internal", "cath",
    "phase", "base", "period", "steps", "ovr", "label",
)  # fmt: skip
MAX_AGE_YEARS = 150
MAX_INT_DIGITS = 15  # far above any real quantity; keeps a hostile record from building huge ints
MAX_STEPS = 7 * (MAX_STEPS_PER_DAY + 1)  # weekly schedule, every day full
MAX_OVERRIDES = 8
MAX_TEXT = 96  # encoded characters of the label and of each override reason
MAX_ENCODED = 2048
CONC_MAX_NG_PER_UL = 2000  # ITB-CON-04: never above 2000 mcg/mL
CONC_SCREENING_NG_PER_UL = 50  # ITB-SCR-05: the 50 mcg/mL ampule is for screening only
_RULE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
_FRAME_FORBIDDEN = b" *<>"


def _need_int(field: str, value: object, low: int, high: int | None = None) -> int:
    if not is_int(value):
        raise ProgramError(field, value, "must be an int")
    v: int = value  # type: ignore[assignment]
    if v < low or (high is not None and v > high):
        top = "" if high is None else " and <= " + str(high)
        raise ProgramError(field, value, "must be >= " + str(low) + top)
    return v


def _need_choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ProgramError(field, value, "must be one of " + ",".join(choices))
    return value


def _need_text(field: str, value: object, empty_ok: bool) -> str:
    if not isinstance(value, str):
        raise ProgramError(field, value, "must be text")
    if not value and not empty_ok:
        raise ProgramError(field, value, "must not be empty")
    if len(pct_encode(value)) > MAX_TEXT:
        raise ProgramError(field, value, "is longer than " + str(MAX_TEXT) + " encoded characters")
    return value


def _need_rule_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith("ITB-") or len(value) > 16:
        raise ProgramError(field, value, "must be a rule ID like ITB-RNG-04")
    for ch in value:
        if ch not in _RULE_CHARS:
            raise ProgramError(field, value, "must be a rule ID like ITB-RNG-04")
    return value


class Program:
    __slots__ = (
        "age_years", "alarm_nl", "base_dose_ng_per_day", "catheter_mm", "conc_ng_per_ul", "drug",
        "internal_nl", "label", "min_step_s", "origin", "overrides", "phase", "pump_kind", "reservoir_nl",
        "schedule", "version",
    )  # fmt: skip

    # Field-level checks only (types, enumerations, signs); cross-field checks are in validate().
    def __init__(
        self,
        *,
        conc_ng_per_ul: int,
        origin: str,
        age_years: int,
        pump_kind: str,
        reservoir_nl: int,
        alarm_nl: int,
        min_step_s: int,
        internal_nl: int,
        catheter_mm: int,
        phase: str,
        base_dose_ng_per_day: int,
        schedule: Schedule,
        overrides: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
        label: str = "",
        version: int = VERSION,
        drug: str = "baclofen",
    ) -> None:
        if version != VERSION or not is_int(version):
            raise ProgramError("version", version, "must be " + str(VERSION))
        self.version = VERSION
        self.drug = _need_choice("drug", drug, DRUGS)
        self.conc_ng_per_ul = _need_int("conc_ng_per_ul", conc_ng_per_ul, 1)
        self.origin = _need_choice("origin", origin, ORIGINS)
        self.age_years = _need_int("age_years", age_years, 0, MAX_AGE_YEARS)
        self.pump_kind = _need_choice("pump_kind", pump_kind, PUMP_KINDS)
        self.reservoir_nl = _need_int("reservoir_nl", reservoir_nl, 1)
        self.alarm_nl = _need_int("alarm_nl", alarm_nl, 0)
        self.min_step_s = _need_int("min_step_s", min_step_s, S_PER_MIN)
        self.internal_nl = _need_int("internal_nl", internal_nl, 0)
        self.catheter_mm = _need_int("catheter_mm", catheter_mm, 0)
        self.phase = _need_choice("phase", phase, PHASES)
        # ITB-DIS-01: a zero base dose would stop therapy.
        self.base_dose_ng_per_day = _need_int("base_dose_ng_per_day", base_dose_ng_per_day, 1)
        if not isinstance(schedule, Schedule):
            raise ProgramError("schedule", schedule, "must be a Schedule")
        if len(schedule.steps) > MAX_STEPS:
            raise ProgramError("schedule", len(schedule.steps), "has more than " + str(MAX_STEPS) + " steps")
        self.schedule = schedule
        if not isinstance(overrides, (list, tuple)) or len(overrides) > MAX_OVERRIDES:
            raise ProgramError("overrides", overrides, "must be a list of at most 8 (rule_id, reason)")
        ovr: list[tuple[str, str]] = []
        for item in overrides:
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise ProgramError("overrides", item, "must be a (rule_id, reason) pair")
            rid = _need_rule_id("overrides.rule_id", item[0])
            for prev in ovr:
                if prev[0] == rid:
                    raise ProgramError("overrides.rule_id", rid, "is overridden twice")
            ovr.append((rid, _need_text("overrides.reason", item[1], False)))
        ovr.sort()  # canonical order: by rule ID
        self.overrides = ovr
        self.label = _need_text("label", label, True)

    def _key(self) -> tuple[object, ...]:
        return (
            self.version, self.drug, self.conc_ng_per_ul, self.origin, self.age_years, self.pump_kind,
            self.reservoir_nl, self.alarm_nl, self.min_step_s, self.internal_nl, self.catheter_mm, self.phase,
            self.base_dose_ng_per_day, self.schedule, self.overrides, self.label,
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Program):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(encode(self))

    def __repr__(self) -> str:
        return "Program(" + encode(self).decode() + ")"

    def replace(self, **changes: object) -> "Program":
        # A copy with some fields changed (re-validated by the constructor).
        names = (
            "conc_ng_per_ul", "origin", "age_years", "pump_kind", "reservoir_nl", "alarm_nl", "min_step_s",
            "internal_nl", "catheter_mm", "phase", "base_dose_ng_per_day", "schedule", "overrides", "label",
            "version", "drug",
        )  # fmt: skip
        kw = {}
        for name in names:
            kw[name] = changes.pop(name) if name in changes else getattr(self, name)
        for name, value in changes.items():
            raise ProgramError(name, value, "is not a Program field")
        return Program(**kw)  # type: ignore[arg-type]


def encode(p: Program) -> bytes:
    if not isinstance(p, Program):
        raise ProgramError("program", p, "must be a Program")
    steps = ",".join([str(s) + ":" + str(d) for s, d in p.schedule.steps])
    ovr = "|".join([rid + ":" + pct_encode(reason) for rid, reason in p.overrides])
    values = (
        p.drug, str(p.conc_ng_per_ul), p.origin, str(p.age_years), p.pump_kind, str(p.reservoir_nl),
        str(p.alarm_nl), str(p.min_step_s), str(p.internal_nl), str(p.catheter_mm), p.phase,
        str(p.base_dose_ng_per_day), str(p.schedule.period_s), steps, ovr, pct_encode(p.label),
    )  # fmt: skip
    parts = [MAGIC]
    for i in range(len(KEYS)):
        parts.append(KEYS[i] + "=" + values[i])
    return ";".join(parts).encode()


def _dec_int(field: str, text: str) -> int:
    # Canonical decimal only: "0", or a non-zero digit then digits. No sign, no leading zero.
    if not text or len(text) > MAX_INT_DIGITS:
        raise ProgramError(field, text, "must be a canonical decimal int")
    for ch in text:
        if ch < "0" or ch > "9":
            raise ProgramError(field, text, "must be a canonical decimal int")
    if text[0] == "0" and len(text) > 1:
        raise ProgramError(field, text, "must be a canonical decimal int (no leading zero)")
    return int(text)


def _dec_text(field: str, text: str) -> str:
    try:
        value = pct_decode(field, text)
    except ItbError as exc:
        raise ProgramError(field, text, exc.reason) from None
    if pct_encode(value) != text:
        raise ProgramError(field, text, "is not canonically %-encoded")
    return value


def _dec_steps(text: str) -> list[tuple[int, int]]:
    steps: list[tuple[int, int]] = []
    prev = -1
    for item in text.split(","):
        pair = item.split(":")
        if len(pair) != 2:
            raise ProgramError("steps", item, "must be start_s:dose_ng_per_day")
        st = (_dec_int("steps", pair[0]), _dec_int("steps", pair[1]))
        if st[0] <= prev:
            raise ProgramError("steps", item, "must be in increasing start order")
        prev = st[0]
        steps.append(st)
    if len(steps) > MAX_STEPS:
        raise ProgramError("steps", len(steps), "has more than " + str(MAX_STEPS) + " steps")
    return steps


def _dec_overrides(text: str) -> list[tuple[str, str]]:
    if not text:
        return []
    out: list[tuple[str, str]] = []
    for item in text.split("|"):
        pair = item.split(":")
        if len(pair) != 2:
            raise ProgramError("ovr", item, "must be rule_id:reason")
        rid = _need_rule_id("ovr", pair[0])
        if out and rid <= out[-1][0]:
            raise ProgramError("ovr", item, "must be in increasing rule ID order, each once")
        out.append((rid, _dec_text("ovr", pair[1])))
    return out


def decode(b: bytes | bytearray) -> Program:
    if not isinstance(b, (bytes, bytearray)):
        raise ProgramError("program", b, "must be bytes")
    if len(b) > MAX_ENCODED:
        raise ProgramError("program", len(b), "is longer than " + str(MAX_ENCODED) + " bytes")
    for i in range(len(b)):
        c = b[i]
        if c < 0x20 or c > 0x7E or c in _FRAME_FORBIDDEN:
            raise ProgramError("program", bytes(b[i : i + 1]), "has a forbidden byte at offset " + str(i))
    parts = bytes(b).decode().split(";")
    if parts[0] != MAGIC:
        raise ProgramError("version", parts[0], "must be " + MAGIC)
    vals = []
    seen = []
    for i in range(len(KEYS)):
        want = KEYS[i]
        if i + 1 >= len(parts):
            raise ProgramError(want, None, "is missing")
        tok = parts[i + 1]
        eq = tok.find("=")
        key = tok[:eq] if eq >= 0 else tok
        if key != want:
            if key not in KEYS:
                raise ProgramError(key, tok, "is not a known key")
            if key in seen:
                raise ProgramError(key, tok, "appears twice")
            later = [t for t in parts[i + 2 :] if t.split("=")[0] == want]
            raise ProgramError(want, tok, "is out of order" if later else "is missing")
        if eq < 0:
            raise ProgramError(want, tok, "must be key=value")
        seen.append(key)
        vals.append(tok[eq + 1 :])
    if len(parts) > len(KEYS) + 1:
        extra = parts[len(KEYS) + 1]
        key = extra.split("=")[0]
        if key in KEYS:
            raise ProgramError(key, extra, "appears twice")
        raise ProgramError("program", extra, "has trailing data after label")
    try:
        sched = Schedule(_dec_int("period", vals[12]), _dec_steps(vals[13]))
    except ProgramError:
        raise
    except ItbError as exc:
        raise ProgramError("steps", vals[13], exc.field + ": " + exc.reason) from None
    return Program(
        drug=vals[0],
        conc_ng_per_ul=_dec_int("conc", vals[1]),
        origin=vals[2],
        age_years=_dec_int("age", vals[3]),
        pump_kind=vals[4],
        reservoir_nl=_dec_int("res", vals[5]),
        alarm_nl=_dec_int("alarm", vals[6]),
        min_step_s=_dec_int("minstep", vals[7]),
        internal_nl=_dec_int("internal", vals[8]),
        catheter_mm=_dec_int("cath", vals[9]),
        phase=vals[10],
        base_dose_ng_per_day=_dec_int("base", vals[11]),
        schedule=_canonical(sched, vals[13]),
        overrides=_dec_overrides(vals[14]),
        label=_dec_text("label", vals[15]),
    )


def _canonical(sched: Schedule, text: str) -> Schedule:
    # The steps must already be in canonical (merged) form, or encode(decode(b)) would differ from b.
    if ",".join([str(s) + ":" + str(d) for s, d in sched.steps]) != text:
        raise ProgramError("steps", text, "is not in canonical form (merge equal neighbours, constant = 0:D)")
    return sched


def checksum(b: bytes) -> str:
    # SHA-256 of the canonical encoding, 64 lower-case hex digits.
    digest = hashlib.sha256(bytes(b)).digest()
    hexd = "0123456789abcdef"
    return "".join([hexd[x >> 4] + hexd[x & 15] for x in digest])


def short_id(b: bytes) -> str:
    return checksum(b)[:16]


def problems(p: Program) -> list[ProgramError]:
    # Every structural problem of a program record (empty list: the record hangs together).
    out: list[ProgramError] = []
    if p.alarm_nl <= 0 or p.alarm_nl >= p.reservoir_nl:
        # ITB-REF-01: the low-reservoir alarm must sound before the reservoir is empty.
        why = "must be > 0 and < reservoir_nl " + str(p.reservoir_nl) + " [ITB-REF-01]"
        out.append(ProgramError("alarm_nl", p.alarm_nl, why))
    if p.conc_ng_per_ul > CONC_MAX_NG_PER_UL:
        out.append(ProgramError("conc_ng_per_ul", p.conc_ng_per_ul, "must be <= 2000 [ITB-CON-04]"))
    if p.conc_ng_per_ul == CONC_SCREENING_NG_PER_UL:
        out.append(ProgramError("conc_ng_per_ul", p.conc_ng_per_ul, "is the screening strength [ITB-SCR-05]"))
    if p.min_step_s % S_PER_MIN:
        out.append(ProgramError("min_step_s", p.min_step_s, "must be on a whole minute"))
    for start, end, dose in p.schedule.intervals():
        if end - start < p.min_step_s:
            why = "is shorter than min_step_s " + str(p.min_step_s)
            out.append(ProgramError("steps", (start, dose), why))
    counts = steps_per_day(p.schedule)
    for d in range(len(counts)):
        if counts[d] > MAX_STEPS_PER_DAY:
            out.append(ProgramError("steps_per_day", counts[d], "day " + str(d) + " has more than 13 steps"))
    rates = [d for _s, d in p.schedule.steps]
    if p.base_dose_ng_per_day not in rates:
        why = "is not one of the step rates"
        out.append(ProgramError("base_dose_ng_per_day", p.base_dose_ng_per_day, why))
    if p.pump_kind == "constant-flow" and len(rates) != 1:
        # ITB-SCH-02: complex schedules only on programmable pumps.
        out.append(ProgramError("steps", len(rates), "a constant-flow pump takes a single rate [ITB-SCH-02]"))
    return out


def validate(p: Program) -> list[ProgramError]:
    # Raises the first structural problem as a ProgramError; returns [] when there is none.
    if not isinstance(p, Program):
        raise ProgramError("program", p, "must be a Program")
    found = problems(p)
    if found:
        raise found[0]
    return found
