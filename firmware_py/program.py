# The pump program record: one table of fields drives construction, the canonical encoding, decoding,
# replace() and structural validation.
#
# Encoding (printable ASCII, no spaces, no '*', '>' or '<', so it travels inside frames; keys in table
# order, every key always present), one line:
#   ITB2;drug=baclofen;conc=500;origin=spinal;age=34;pump=programmable;res=20000000;alarm=2000000;
#   minstep=1800;internal=200000;cath=500;phase=refill;scr=0;eff=0;prev=0;why=;base=500000;period=86400;
#   steps=0:500000,72000:600000,14400:500000;ovr=ITB-RNG-04:reason|...;label=text
# Ints are canonical decimal ("0", or no leading zero; no sign); free text is percent-encoded
# (firmware_py/text.py) and holds no control character. decode() accepts exactly what encode() produces.
# docs/protocol.md lists every key with its unit and bounds.
#
# Dose limits are the envelope's (firmware_py/envelope.py); problems() here only checks that a record hangs
# together. The rig runs both.

import hashlib

from firmware_py import library
from firmware_py.errors import ItbError, ProgramError
from firmware_py.schedule import Schedule
from firmware_py.text import pct_decode, pct_encode, printable
from firmware_py.units import S_PER_DAY, S_PER_MIN, is_int

MAGIC = "ITB2"
MAX_INT_DIGITS = 15  # far above any real quantity; keeps a hostile record from building huge ints
MAX_OVERRIDES = 8
MAX_TEXT = 96  # encoded characters of the label, the transfer reason and each override reason
MAX_ENCODED = 2048
_RULE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

# Field kinds
INT = "int"
CHOICE = "choice"
TEXT = "text"
SCHED = "schedule"  # two keys on the wire: period=<s>;steps=<start_s:dose_ng_per_day,...>
OVR = "overrides"

# (wire key, attribute, kind, bound, default): bound is (low, high) for an int (high None: none), the
# choices for a choice, and whether empty text is allowed for text. A default of None: required.
FIELDS = (
    ("drug", "drug", CHOICE, library.DRUGS, "baclofen"),
    ("conc", "conc_ng_per_ul", INT, (1, None), None),
    ("origin", "origin", CHOICE, library.ORIGINS, None),
    ("age", "age_years", INT, (0, library.MAX_AGE_YEARS), None),
    ("pump", "pump_kind", CHOICE, library.PUMP_KINDS, None),
    ("res", "reservoir_nl", INT, (1, None), None),
    ("alarm", "alarm_nl", INT, (0, None), None),
    ("minstep", "min_step_s", INT, (S_PER_MIN, S_PER_DAY), None),
    ("internal", "internal_nl", INT, (0, None), None),
    ("cath", "catheter_mm", INT, (0, None), None),
    ("phase", "phase", CHOICE, library.PHASES, None),
    ("scr", "screening_dose_ng", INT, (0, None), 0),
    ("eff", "effect_s", INT, (0, S_PER_DAY), 0),
    ("prev", "previous_ng_per_day", INT, (0, None), 0),
    ("why", "reason", TEXT, True, ""),
    # ITB-DIS-01: a zero base dose would stop therapy.
    ("base", "base_dose_ng_per_day", INT, (1, None), None),
    ("steps", "schedule", SCHED, None, None),
    ("ovr", "overrides", OVR, None, ()),
    ("label", "label", TEXT, True, ""),
)


def _keys() -> tuple[str, ...]:
    out = []
    for f in FIELDS:
        if f[2] == SCHED:
            out.append("period")
        out.append(f[0])
    return tuple(out)


KEYS = _keys()  # the wire keys, in order


def _need_int(field: str, value: object, bound: tuple[int, int | None]) -> int:
    if not is_int(value):
        raise ProgramError(field, value, "must be an int")
    v: int = value  # type: ignore[assignment]
    low, high = bound
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
    if not printable(value):
        raise ProgramError(field, value, "must be printable text (no control characters)")
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


def _need_overrides(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_OVERRIDES:
        raise ProgramError("overrides", value, "must be a list of at most " + str(MAX_OVERRIDES)
                           + " (rule_id, reason)")
    out: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ProgramError("overrides", item, "must be a (rule_id, reason) pair")
        rid = _need_rule_id("overrides.rule_id", item[0])
        for prev in out:
            if prev[0] == rid:
                raise ProgramError("overrides.rule_id", rid, "is overridden twice")
        out.append((rid, _need_text("overrides.reason", item[1], False)))
    out.sort()  # canonical order: by rule ID
    return out


def _check(attr: str, kind: str, bound: object, value: object) -> object:
    if kind == INT:
        return _need_int(attr, value, bound)  # type: ignore[arg-type]
    if kind == CHOICE:
        return _need_choice(attr, value, bound)  # type: ignore[arg-type]
    if kind == TEXT:
        return _need_text(attr, value, bool(bound))
    if kind == SCHED:
        if not isinstance(value, Schedule):
            raise ProgramError(attr, value, "must be a Schedule")
        return value
    return _need_overrides(value)


class Program:
    # Attributes, one per row of FIELDS (declared for the type checker; FIELDS is what the code reads).
    drug: str
    conc_ng_per_ul: int
    origin: str
    age_years: int
    pump_kind: str
    reservoir_nl: int
    alarm_nl: int
    min_step_s: int
    internal_nl: int
    catheter_mm: int
    phase: str
    screening_dose_ng: int
    effect_s: int
    previous_ng_per_day: int
    reason: str
    base_dose_ng_per_day: int
    schedule: Schedule
    overrides: list[tuple[str, str]]
    label: str
    __slots__ = tuple([f[1] for f in FIELDS])

    def __init__(self, **fields: object) -> None:
        # Field-level checks (types, enumerations, bounds); cross-field checks are in problems().
        for _key, attr, kind, bound, default in FIELDS:
            if attr in fields:
                value = fields.pop(attr)
            elif default is not None:
                value = default
            else:
                raise ProgramError(attr, None, "is required")
            setattr(self, attr, _check(attr, kind, bound, value))
        for name, value in fields.items():
            raise ProgramError(name, value, "is not a Program field")

    def _key(self) -> tuple[object, ...]:
        return tuple([getattr(self, f[1]) for f in FIELDS])

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
        kw = {}
        for f in FIELDS:
            kw[f[1]] = getattr(self, f[1])
        for name, value in changes.items():
            if name not in kw:
                raise ProgramError(name, value, "is not a Program field")
            kw[name] = value
        return Program(**kw)


def steps_text(sched: Schedule) -> str:
    return ",".join([str(s) + ":" + str(d) for s, d in sched.steps])


def encode(p: Program) -> bytes:
    if not isinstance(p, Program):
        raise ProgramError("program", p, "must be a Program")
    parts = [MAGIC]
    for key, attr, kind, _bound, _default in FIELDS:
        v = getattr(p, attr)
        if kind == INT:
            parts.append(key + "=" + str(v))
        elif kind == CHOICE:
            parts.append(key + "=" + v)
        elif kind == TEXT:
            parts.append(key + "=" + pct_encode(v))
        elif kind == SCHED:
            parts.append("period=" + str(v.period_s))
            parts.append("steps=" + steps_text(v))
        else:
            parts.append(key + "=" + "|".join([rid + ":" + pct_encode(why) for rid, why in v]))
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
    most = max_steps()
    for item in text.split(","):
        pair = item.split(":")
        if len(pair) != 2:
            raise ProgramError("steps", item, "must be start_s:dose_ng_per_day")
        st = (_dec_int("steps", pair[0]), _dec_int("steps", pair[1]))
        if st[0] <= prev:
            raise ProgramError("steps", item, "must be in increasing start order")
        prev = st[0]
        steps.append(st)
        if len(steps) > most:
            raise ProgramError("steps", len(steps), "has more than " + str(most) + " steps")
    return steps


def max_steps() -> int:
    # A weekly schedule with every day full (ITB-SCH-02), plus the step carried in across each midnight.
    return 7 * (library.param("ITB-SCH-02", "max_steps_per_day") + 1)


def decode_schedule(period_text: str, steps_text_: str) -> Schedule:
    try:
        sched = Schedule(_dec_int("period", period_text), _dec_steps(steps_text_))
    except ProgramError:
        raise
    except ItbError as exc:
        raise ProgramError("steps", steps_text_, exc.field + ": " + exc.reason) from None
    # The steps must already be in canonical (merged) form, or encode(decode(b)) would differ from b.
    if steps_text(sched) != steps_text_:
        raise ProgramError("steps", steps_text_, "is not in canonical form (merge equal neighbours, "
                           "constant = 0:D)")
    return sched


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


def _tokens(b: bytes | bytearray) -> list[str]:
    # The values in KEYS order; every refusal names the key.
    if not isinstance(b, (bytes, bytearray)):
        raise ProgramError("program", b, "must be bytes")
    if len(b) > MAX_ENCODED:
        raise ProgramError("program", len(b), "is longer than " + str(MAX_ENCODED) + " bytes")
    for c in b:
        if c < 0x21 or c > 0x7E or c in (0x2A, 0x3C, 0x3E):  # space, "*", "<", ">"
            i = bytes(b).index(bytes([c]))
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
    return vals


def decode(b: bytes | bytearray) -> Program:
    vals = _tokens(b)
    kw: dict[str, object] = {}
    i = 0
    for key, attr, kind, _bound, _default in FIELDS:
        text = vals[i]
        i += 1
        if kind == INT:
            kw[attr] = _dec_int(key, text)
        elif kind == CHOICE:
            kw[attr] = text
        elif kind == TEXT:
            kw[attr] = _dec_text(key, text)
        elif kind == SCHED:
            kw[attr] = decode_schedule(text, vals[i])
            i += 1
        else:
            kw[attr] = _dec_overrides(text)
    return Program(**kw)


def checksum(b: bytes) -> str:
    # SHA-256 of the canonical encoding, 64 lower-case hex digits.
    digest = hashlib.sha256(bytes(b)).digest()
    hexd = "0123456789abcdef"
    return "".join([hexd[x >> 4] + hexd[x & 15] for x in digest])


def short_id(b: bytes) -> str:
    return checksum(b)[:16]
