"""TOML prescriptions to pump programs.

Public API (also used by the rig commands):

- ``load_prescription(path) -> Prescription``: read and validate a TOML prescription (strict: unknown keys,
  missing fields, wrong types, duplicate keys, non-UTF-8 and files over ``MAX_RX_BYTES`` raise UsageError
  naming the field).
- ``parse_prescription(text, source="<text>") -> Prescription``: the same from a string.
- ``build_program(rx) -> BuiltProgram``: apply the drug library (hard limits raise RefusedError, exit 1; a
  soft limit without an ``[[override]]`` carrying a reason is refused too), build the verified schedule,
  the core ``Program`` record, its canonical encoding and checksum, and the refill forecast.
- ``BuiltProgram.to_json()``: the program document; ``canonical_json(doc)`` its canonical bytes;
  ``write_json_atomic(path, doc)`` writes it (temp file in the same directory, then ``os.replace``).
- ``read_program_json(path) -> dict``: a written program read back, both checksums verified
  (VerificationError, exit 1, on mismatch) and its encoding decoded by the core.

Prescription format: see docs/cli.md and examples/*.toml.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_py import library
from firmware_py import program as core_program
from firmware_py import schedule as core_schedule
from host_tools import calc
from host_tools import quantities as qt
from host_tools.errors import RefusedError, UsageError, VerificationError
from host_tools.quantities import Quantity

MAX_RX_BYTES = 64 * 1024
MAX_PROGRAM_JSON_BYTES = 1024 * 1024
FORMAT = "itb-program/1"

_SECTIONS: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    # key: (TOML type(s), required)
    "": {"label": (str, False), "fill_date": ((str, dt.date), False)},
    "drug": {"name": (str, True), "concentration": (str, True)},
    "pump": {
        "kind": (str, True),
        "reservoir": (str, True),
        "alarm_volume": (str, True),
        "min_step": (str, True),
        "internal_volume": (str, True),
        "catheter_length": (str, True),
    },
    "patient": {"origin": (str, True), "age": (int, True)},
    "dose": {
        "base": (str, True),
        "lead": (str, False),
        "phase": (str, False),
        "previous": (str, False),
        "hours_since_change": ((int, float), False),
        "hours_since_implant": ((int, float), False),
    },
}
_WINDOW_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "effect": (str, True),
    "change": (str, False),
    "dose": (str, False),
    "days": (list, False),
}
_OVERRIDE_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {"rule": (str, True), "reason": (str, True)}
_PHASES = ("initial", "titration", "refill", "side-effects", "taper")


@dataclass(frozen=True)
class Prescription:
    """A validated prescription: quantities as pint quantities, windows parsed (not yet built)."""

    source: str
    label: str
    fill_date: dt.date
    drug: str
    concentration: Quantity
    pump_kind: str
    reservoir: Quantity
    alarm_volume: Quantity
    min_step: Quantity
    internal_volume: Quantity
    catheter_length: Quantity
    origin: str
    age_years: int
    base_dose: Quantity
    lead: Quantity
    phase: str
    previous_dose: Quantity | None
    hours_since_change: Quantity | None
    hours_since_implant: Quantity | None
    windows: list[calc.WindowSpec]
    overrides: dict[str, str]


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "an integer", float: "a number", list: "a list", dt.date: "a date"}
    if isinstance(t, tuple):
        return " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def _check_table(where: str, table: object, spec: dict[str, tuple[type | tuple[type, ...], bool]]) -> None:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: must be a table")
    for key in table:
        if key not in spec:
            raise UsageError(f"{where}.{key}: unknown field" if where else f"{key}: unknown field")
    for key, (typ, required) in spec.items():
        name = f"{where}.{key}" if where else key
        if key not in table:
            if required:
                raise UsageError(f"{name}: missing field")
            continue
        value = table[key]
        bad_bool = isinstance(value, bool)
        if bad_bool or not isinstance(value, typ) or isinstance(value, dt.datetime):
            raise UsageError(f"{name}: must be {_type_name(typ)}, got {value!r}")


def _read_capped(p: Path, limit: int, what: str) -> bytes:
    """Read at most `limit` bytes of a file; a larger or unreadable file is a UsageError naming it."""
    try:
        with p.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise UsageError(f"{p}: {what} is larger than {limit} bytes")
    return data


def load_prescription(path: str | os.PathLike[str]) -> Prescription:
    """Read and validate a TOML prescription file (size-capped, strict UTF-8, strict schema)."""
    p = Path(path)
    data = _read_capped(p, MAX_RX_BYTES, "prescription")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{p}: not UTF-8 (byte {exc.start})") from None
    return parse_prescription(text, str(p))


def parse_prescription(text: str, source: str = "<text>") -> Prescription:
    """Validate a prescription given as TOML text; errors name the field."""
    if len(text.encode("utf-8")) > MAX_RX_BYTES:
        raise UsageError(f"{source}: prescription is larger than {MAX_RX_BYTES} bytes")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: malformed TOML: {str(exc).splitlines()[0]}") from None
    known = {"drug", "pump", "patient", "dose", "window", "override"}
    top = {k: v for k, v in doc.items() if k not in known}
    _check_table("", top, _SECTIONS[""])
    for section in ("drug", "pump", "patient", "dose"):
        if section not in doc:
            raise UsageError(f"{section}: missing table [{section}]")
        _check_table(section, doc[section], _SECTIONS[section])
    drug, pump, patient, dose = doc["drug"], doc["pump"], doc["patient"], doc["dose"]
    if drug["name"] != "baclofen":
        raise UsageError(f"drug.name: only baclofen is in the drug library (got {drug['name']!r})")
    pump_kind = pump["kind"]
    if pump_kind not in library.PUMP_KINDS:
        raise UsageError(f"pump.kind: must be one of {', '.join(library.PUMP_KINDS)} (got {pump_kind!r})")
    origin = patient["origin"]
    if origin not in library.ORIGINS:
        raise UsageError(f"patient.origin: must be spinal or cerebral (got {origin!r})")
    age = patient["age"]
    if not 0 <= age <= library.MAX_AGE_YEARS:
        raise UsageError(f"patient.age: must be 0 to {library.MAX_AGE_YEARS} years (got {age})")
    phase = dose.get("phase", "refill")
    if phase not in _PHASES:
        raise UsageError(f"dose.phase: must be one of {', '.join(_PHASES)} (got {phase!r})")
    windows = _windows(doc.get("window", []))
    overrides = _overrides(doc.get("override", []))
    fill = top.get("fill_date")
    if fill is None:
        fill_date = dt.date.today()
    elif isinstance(fill, dt.date):
        fill_date = fill
    else:
        try:
            fill_date = dt.date.fromisoformat(fill)
        except ValueError:
            raise UsageError(f"fill_date: must be an ISO date YYYY-MM-DD (got {fill!r})") from None

    def hours(key: str) -> Quantity | None:
        value = dose.get(key)
        if value is None:
            return None
        if not 0 <= value <= 10**6:  # also refuses nan
            raise UsageError(f"dose.{key}: must be a number of hours >= 0 (got {value!r})")
        return qt.parse(f"dose.{key}", f"{value} h", "duration", allow_zero=True)

    label = top.get("label", "")
    return Prescription(
        source=source,
        label=label,
        fill_date=fill_date,
        drug=drug["name"],
        concentration=qt.parse("drug.concentration", drug["concentration"], "concentration"),
        pump_kind=pump_kind,
        reservoir=qt.parse("pump.reservoir", pump["reservoir"], "volume"),
        alarm_volume=qt.parse("pump.alarm_volume", pump["alarm_volume"], "volume"),
        min_step=qt.parse("pump.min_step", pump["min_step"], "duration"),
        internal_volume=qt.parse("pump.internal_volume", pump["internal_volume"], "volume", allow_zero=True),
        catheter_length=qt.parse("pump.catheter_length", pump["catheter_length"], "length", allow_zero=True),
        origin=origin,
        age_years=age,
        base_dose=qt.parse("dose.base", dose["base"], "dose rate"),
        lead=qt.parse("dose.lead", dose.get("lead", "2 h"), "duration", allow_zero=True),
        phase=phase,
        previous_dose=None
        if "previous" not in dose
        else qt.parse("dose.previous", dose["previous"], "dose rate"),
        hours_since_change=hours("hours_since_change"),
        hours_since_implant=hours("hours_since_implant"),
        windows=windows,
        overrides=overrides,
    )


def _windows(items: object) -> list[calc.WindowSpec]:
    if not isinstance(items, list):
        raise UsageError("window: must be an array of tables [[window]]")
    if len(items) > 4 * core_schedule.MAX_STEPS_PER_DAY:
        raise UsageError(f"window: more than {4 * core_schedule.MAX_STEPS_PER_DAY} windows")
    out = []
    for i, item in enumerate(items):
        where = f"window[{i}]"
        _check_table(where, item, _WINDOW_KEYS)
        if ("change" in item) == ("dose" in item):
            raise UsageError(
                f"{where}: give exactly one of change (e.g. '+20%') and dose (e.g. '600 mcg/day')"
            )
        days = item.get("days")
        prefix = ""
        if days is not None:
            if not days or not all(isinstance(d, str) for d in days):
                raise UsageError(f"{where}.days: must be a non-empty list of weekday names (Mon..Sun)")
            prefix = ",".join(days) + " "
        text = f"{prefix}{item['effect']}={item.get('change', item.get('dose'))}"
        out.append(calc.parse_window(where, text))
    return out


def _overrides(items: object) -> dict[str, str]:
    if not isinstance(items, list):
        raise UsageError("override: must be an array of tables [[override]]")
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"override[{i}]"
        _check_table(where, item, _OVERRIDE_KEYS)
        rid, reason = item["rule"], item["reason"].strip()
        if rid in out:
            raise UsageError(f"{where}.rule: {rid} is overridden twice")
        if not reason:
            raise UsageError(f"{where}.reason: an override needs a reason")
        out[rid] = reason
    try:
        library.validate_overrides(out)
    except library.OverrideError as exc:
        raise UsageError(f"override: {exc}") from None
    return out


# -- building ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltProgram:
    """A prescription built into a verified pump program, ready to write, plot or send to a rig."""

    rx: Prescription
    program: core_program.Program
    encoding: bytes
    checksum: str
    sched: calc.ScheduleResult
    refill: calc.RefillResult
    rules_applied: list[str]
    warnings: list[str]
    decisions: list[str] = field(default_factory=list)

    @property
    def fill_start_s(self) -> int:
        """The fill date's midnight in seconds since 1970-01-01 (the schedule's time base)."""
        return (self.rx.fill_date - dt.date(1970, 1, 1)).days * 86_400

    def _date(self, qty: Quantity) -> str:
        days = calc._whole_days(qty)
        return (self.rx.fill_date + dt.timedelta(days=days)).isoformat()

    def to_json(self) -> dict[str, Any]:
        """The program document (canonical JSON once encoded with ``canonical_json``)."""
        rx = self.rx
        sched = self.sched.to_json()
        refill = self.refill
        doc: dict[str, Any] = {
            "format": FORMAT,
            "label": rx.label,
            "not_for_clinical_use": True,
            "prescription": Path(rx.source).name,
            "drug": rx.drug,
            "concentration": qt.to_json(rx.concentration, "mcg/mL"),
            "patient": {"origin": rx.origin, "age_years": rx.age_years},
            "pump": {
                "kind": rx.pump_kind,
                "reservoir": qt.to_json(rx.reservoir, "mL"),
                "alarm_volume": qt.to_json(rx.alarm_volume, "mL"),
                "min_step": qt.to_json(rx.min_step, "min"),
                "internal_volume": qt.to_json(rx.internal_volume, "mL"),
                "catheter_length": qt.to_json(rx.catheter_length, "cm"),
            },
            "phase": rx.phase,
            "base_dose": calc.rate_json(rx.base_dose),
            "lead": qt.to_json(rx.lead, "h"),
            "windows": sched["windows"],
            "period": sched["period"],
            "steps": sched["steps"],
            "daily_total": sched["daily_total"],
            "daily_totals": sched["daily_totals"],
            "refill": {
                "fill_date": rx.fill_date.isoformat(),
                "alarm_date": self._date(refill.time_to_alarm),
                "empty_date": self._date(refill.time_to_empty),
                "refill_by_date": self._date(refill.refill_by),
                "days_to_alarm": qt.to_json(refill.time_to_alarm, "day"),
                "days_to_empty": qt.to_json(refill.time_to_empty, "day"),
            },
            "overrides": [{"rule": r, "reason": t} for r, t in sorted(rx.overrides.items())],
            "rules_applied": self.rules_applied,
            "warnings": self.warnings,
            "verified": sched["verified"] + refill.to_json()["verified"],
            "encoding": self.encoding.decode("ascii"),
            "checksum": self.checksum,
        }
        doc["json_checksum"] = json_checksum(doc)
        return doc

    def summary_lines(self) -> list[str]:
        """Human summary for the terminal."""
        rx = self.rx
        lines = [
            f"program {self.checksum[:16]}  {rx.label}",
            f"{rx.drug} {qt.fmt(rx.concentration, 'mcg/mL')}, {rx.pump_kind} pump, {rx.origin}, "
            f"{rx.age_years} y, base {qt.fmt_rate(rx.base_dose)}",
        ]
        for s in self.sched.steps:
            lines.append(f"  {s.start:>9} - {s.end:>9}  {qt.fmt_rate(s.dose_rate)}  {qt.fmt_rate(s.flow)}")
        doc = self.to_json()["refill"]
        lines.append(
            f"daily total {qt.fmt(self.sched.daily_total, 'mcg')}; filled {doc['fill_date']}, "
            f"alarm {doc['alarm_date']}, empty {doc['empty_date']}, refill by {doc['refill_by_date']}"
        )
        lines.append("rules applied: " + ", ".join(self.rules_applied))
        lines.extend(f"warning: {w}" for w in self.warnings)
        return lines


def canonical_json(doc: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, fixed separators, UTF-8, one trailing newline."""
    return (json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def json_checksum(doc: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``doc`` without its ``json_checksum`` key."""
    rest = {k: v for k, v in doc.items() if k != "json_checksum"}
    return hashlib.sha256(canonical_json(rest)).hexdigest()


def _decide(decision: library.Decision, what: str, applied: list[str], warnings: list[str]) -> None:
    for rid in decision.rule_ids:
        if rid not in applied:
            applied.append(rid)
    if decision.refusals:
        raise RefusedError(f"{what}: {decision.message}", [r for r, _ in decision.refusals])
    if decision.needs_override:
        ids = ", ".join(decision.needs_override)
        raise RefusedError(
            f"{what}: soft limit {ids} needs an [[override]] with rule and reason in the prescription "
            f"({decision.message})",
            list(decision.needs_override),
        )
    warnings.extend(text for _rid, text in decision.warnings)


def build_program(rx: Prescription) -> BuiltProgram:
    """Build and verify the pump program for a prescription; refuse what the drug library refuses."""
    sched = calc.schedule(rx.base_dose, rx.concentration, rx.windows, lead=rx.lead, min_step=rx.min_step)
    applied: list[str] = list(sched.rule_ids)
    warnings: list[str] = []
    steps_per_day = max(core_schedule.steps_per_day(sched.schedule))
    n_rates = len({r for _s, r in sched.schedule.steps})
    _decide(
        library.check_schedule_allowed(rx.pump_kind, steps_per_day if n_rates > 1 else 1),
        "schedule",
        applied,
        warnings,
    )
    rates = sorted({r for _s, r in sched.schedule.steps})
    for rate_ng in rates:
        _decide(
            library.check_dose_range(rx.origin, rx.age_years, rate_ng, rx.overrides),
            f"step rate {qt.fmt(qt.q(rate_ng, 'ng/day'), 'mcg/day')}",
            applied,
            warnings,
        )
    if rx.previous_dose is not None and rx.phase != "initial":
        if rx.hours_since_change is None:
            raise UsageError("dose.hours_since_change: required when dose.previous is given")
        ch = calc.titrate(
            rx.origin,
            rx.age_years,
            rx.previous_dose,
            rx.base_dose,
            rx.hours_since_change,
            pump=rx.pump_kind,
            phase=rx.phase,
            since_implant=rx.hours_since_implant,
            overrides=rx.overrides,
        )
        for rid in ch.rules:
            if rid not in applied:
                applied.append(rid)
        if not ch.allowed:
            raise RefusedError(f"dose change: {ch.message}", ch.rules)
        warnings.extend(ch.warnings)
    base = qt.to_base("dose.base", rx.base_dose, "dose rate")
    prog = core_program.Program(
        conc_ng_per_ul=qt.to_base("drug.concentration", rx.concentration, "concentration"),
        origin=rx.origin,
        age_years=rx.age_years,
        pump_kind=rx.pump_kind,
        reservoir_nl=qt.to_base("pump.reservoir", rx.reservoir, "volume"),
        alarm_nl=qt.to_base("pump.alarm_volume", rx.alarm_volume, "volume"),
        min_step_s=qt.to_base("pump.min_step", rx.min_step, "duration"),
        internal_nl=qt.to_base("pump.internal_volume", rx.internal_volume, "volume"),
        catheter_mm=_mm(rx.catheter_length),
        phase=rx.phase,
        base_dose_ng_per_day=base,
        schedule=sched.schedule,
        overrides=sorted(rx.overrides.items()),
        label=rx.label,
    )
    problems = core_program.problems(prog)
    if problems:
        raise RefusedError(f"program: {problems[0]}", _ids_in(str(problems[0])))
    encoding = core_program.encode(prog)
    if core_program.decode(encoding) != prog:
        raise VerificationError("program: the canonical encoding does not decode to the same program")
    fill_s = (rx.fill_date - dt.date(1970, 1, 1)).days * 86_400
    refill = calc.refill(rx.reservoir, rx.concentration, sched.schedule, rx.alarm_volume, start_s=fill_s)
    if "ITB-REF-01" not in applied:
        applied.append("ITB-REF-01")
    return BuiltProgram(
        rx=rx,
        program=prog,
        encoding=encoding,
        checksum=core_program.checksum(encoding),
        sched=sched,
        refill=refill,
        rules_applied=applied,
        warnings=list(dict.fromkeys(warnings)),
    )


def _ids_in(text: str) -> list[str]:
    return [w.strip("[],") for w in text.split() if w.strip("[],").startswith("ITB-")]


def _mm(length: Quantity) -> int:
    value = qt.exact(length, "mm")
    if value.denominator != 1:
        raise UsageError("pump.catheter_length: finer than 1 mm")
    return value.numerator


# -- files ------------------------------------------------------------------------------------------------


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temp file in the same directory, fsync it, then ``os.replace`` it into place."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"{target}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], doc: dict[str, Any]) -> None:
    """Write a program document as canonical JSON, atomically."""
    write_bytes_atomic(path, canonical_json(doc))


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise _DuplicateKeyError(key)
        doc[key] = value
    return doc


def read_program_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a program document and verify both checksums (VerificationError on any mismatch)."""
    p = Path(path)
    data = _read_capped(p, MAX_PROGRAM_JSON_BYTES, "program file")
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{p}: not a program JSON file ({exc})") from None
    except _DuplicateKeyError as exc:
        # A key written twice would let a file show one program to a reader and load another.
        raise UsageError(f"{p}: duplicate key {exc.args[0]!r}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"{p}: format: expected {FORMAT!r}")
    for key in ("encoding", "checksum", "json_checksum"):
        if not isinstance(doc.get(key), str):
            raise UsageError(f"{p}: {key}: missing or not text")
    if json_checksum(doc) != doc["json_checksum"]:
        raise VerificationError(f"{p}: json_checksum does not match the document")
    encoding = doc["encoding"].encode("ascii", "replace")
    if core_program.checksum(encoding) != doc["checksum"]:
        raise VerificationError(f"{p}: checksum does not match the program encoding")
    core_program.decode(encoding)
    return doc


def windows_from_doc(doc: dict[str, Any]) -> list[calc.WindowSpec]:
    """The desired-effect windows recorded in a program document."""
    texts = doc.get("windows", [])
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise UsageError("windows: must be a list of window texts")
    return [calc.parse_window("windows", t) for t in texts]
