"""The program file (``itb program build -o``): canonical JSON with two checksums, written from a built
program and read back verified. docs/cli.md lists its keys."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_py import program as core_program
from firmware_py import program_checks
from firmware_py.errors import ProgramError
from firmware_py.units import S_PER_DAY, S_PER_WEEK, per_hour
from host_tools import dates, display
from host_tools import quantities as qt
from host_tools.errors import VerificationError
from host_tools.parsing import WindowSpec, window_from_json
from host_tools.quantities import bad

if TYPE_CHECKING:
    from host_tools.rx import BuiltProgram

FORMAT = "itb-program/2"
MAX_PROGRAM_JSON_BYTES = 1024 * 1024


def canonical_json(doc: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, fixed separators, UTF-8, one trailing newline."""
    return (json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def json_checksum(doc: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``doc`` without its ``json_checksum`` key."""
    return hashlib.sha256(canonical_json({k: v for k, v in doc.items() if k != "json_checksum"})).hexdigest()


def _q(value: int, base_unit: str, unit: str) -> dict[str, Any]:
    return qt.to_json(qt.q(value, base_unit), unit)


def _rate(ng_per_day: int) -> dict[str, Any]:
    return {
        "per_day": _q(ng_per_day, "ng/day", "mcg/day"),
        "per_hour": _q(per_hour(ng_per_day)[0], "ng/h", "mcg/h"),
    }


def _start(b: BuiltProgram) -> dict[str, Any] | None:
    p = b.program
    if p.screening_dose_ng:
        return {"screening_dose": _q(p.screening_dose_ng, "ng", "mcg"), "effect": _q(p.effect_s, "s", "h")}
    if p.previous_ng_per_day:
        return {"previous": _rate(p.previous_ng_per_day), "reason": p.reason}
    return None


def _previous(b: BuiltProgram) -> dict[str, Any] | None:
    prev = b.rx.previous
    if prev is None:
        return None
    out: dict[str, Any] = {
        "base": _rate(prev.base.base()),
        "concentration": _q(prev.concentration.base(), "ng/uL", "mcg/mL"),
        "since_change": _q(prev.since_change.base(), "s", "h"),
        "windows": [w.to_json() for w in prev.windows],
    }
    if prev.since_start is not None:
        out["since_start"] = _q(prev.since_start.base(), "s", "h")
    return out


def document(b: BuiltProgram) -> dict[str, Any]:
    """The program document of a built program (canonical JSON once encoded with ``canonical_json``)."""
    rx, p, f = b.rx, b.program, b.refill
    sched = p.schedule
    n_days = sched.period_s // S_PER_DAY
    doc: dict[str, Any] = {
        "format": FORMAT,
        "label": rx.label,
        "not_for_clinical_use": True,
        "prescription": Path(rx.source).name,
        "drug": p.drug,
        "concentration": _q(p.conc_ng_per_ul, "ng/uL", "mcg/mL"),
        "patient": {"origin": p.origin, "age_years": p.age_years, "group": b.group.text},
        "pump": {
            "kind": p.pump_kind,
            "reservoir": _q(p.reservoir_nl, "nL", "mL"),
            "alarm_volume": _q(p.alarm_nl, "nL", "mL"),
            "min_step": _q(p.min_step_s, "s", "min"),
            "internal_volume": _q(p.internal_nl, "nL", "mL"),
            "catheter_length": _q(p.catheter_mm, "mm", "cm"),
        },
        "phase": p.phase,
        "base_dose": _rate(p.base_dose_ng_per_day),
        "lead": qt.to_json(rx.lead, "h"),
        "windows": [w.to_json() for w in rx.windows],
        "period": "weekly" if sched.period_s == S_PER_WEEK else "daily",
        "steps": [s.to_json() for s in b.steps],
        "daily_total": _q(sched.integral_ng_s_per_day() // (S_PER_DAY * n_days), "ng", "mcg"),
        "daily_totals": [_q(sched.day_total(i)[0], "ng", "mcg") for i in range(n_days)],
        "refill": {
            "fill_date": rx.fill_date.isoformat(),
            "alarm_date": dates.date_of(f._alarm_s).isoformat(),
            "empty_date": dates.date_of(f._empty_s).isoformat(),
            "refill_by_date": dates.date_of(f._refill_s).isoformat(),
            "days_to_alarm": f.to_json()["days_to_alarm"],
            "days_to_empty": f.to_json()["days_to_empty"],
        },
        "decision": b.decision.message(),
        "rules_applied": list(b.decision.applied),
        "warnings": [c.to_json() for c in b.warnings],
        "overrides": [{"rule": r, "reason": t} for r, t in p.overrides],
        "verified": [c.to_json() for c in b.verified],
        "encoding": b.encoding.decode("ascii"),
        "checksum": b.checksum,
    }
    for key, value in (
        ("start", _start(b)),
        ("previous", _previous(b)),
        ("bridge", None if b.bridge is None else b.bridge.to_json()),
        ("dilution", None if b.dilution is None else b.dilution.to_json()),
    ):
        if value is not None:
            doc[key] = value
    doc["json_checksum"] = json_checksum(doc)
    return doc


def summary_lines(b: BuiltProgram) -> list[str]:
    """The built program for people: every field and step (dose and flow, per day and per hour), the refill
    dates, the decision, a bridge bolus or dilution when there is one."""
    rows = display.program_rows(b.program, b.encoding)
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    doc = document(b)["refill"]
    lines.append(
        f"{'refill':<{width}}  filled {doc['fill_date']}; low-reservoir alarm {doc['alarm_date']} (in "
        f"{display.duration(b.refill._alarm_s - b.fill_start_s)}), empty {doc['empty_date']}; book the "
        f"refill by {doc['refill_by_date']}"
    )
    if b.dilution is not None:
        d, show = b.dilution, display.show
        stock = f"{show(d.stock_volume, 'volume')} of {show(d.stock_concentration, 'concentration')}"
        made = f"{show(d.achieved_concentration, 'concentration')}"
        lines.append(
            f"{'dilution':<{width}}  {stock} + {show(d.diluent_volume, 'volume')} {d.diluent} = {made} "
            f"(target {show(d.target_concentration, 'concentration')})"
        )
    if b.bridge is not None:
        lines.append(f"{'bridge':<{width}}  {b.bridge.summary} [ITB-BRG-01]")
    lines.append(f"{'decision':<{width}}  {b.decision.message()}")
    return lines


# -- reading ------------------------------------------------------------------------------------------------


def read_capped(p: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of a file; a larger or unreadable file is refused naming it."""
    try:
        with p.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise bad(str(p), what, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise bad(str(p), what, f"is larger than {limit} bytes")
    return data


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
    """A program file read back: both checksums verified (VerificationError) and its encoding decoded."""
    p = Path(path)
    data = read_capped(p, MAX_PROGRAM_JSON_BYTES, "program file")
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(str(p), "program file", f"is not JSON ({exc})") from None
    except _DuplicateKeyError as exc:
        # A key written twice would let a file show one program to a reader and load another.
        raise bad(str(p), exc.args[0], "is a key written twice") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(
            str(p), doc.get("format") if isinstance(doc, dict) else "", f"is not a program file {FORMAT}"
        )
    for key in ("encoding", "checksum", "json_checksum"):
        if not isinstance(doc.get(key), str):
            raise bad(f"{p}: {key}", doc.get(key), "is missing or not text")
    if json_checksum(doc) != doc["json_checksum"]:
        raise VerificationError(f"{p}: json_checksum does not match the document")
    encoding = doc["encoding"].encode("ascii", "replace")
    if core_program.checksum(encoding) != doc["checksum"]:
        raise VerificationError(f"{p}: checksum does not match the program encoding")
    try:
        program_checks.validate(core_program.decode(encoding))
    except ProgramError as exc:
        raise bad(f"{p}: encoding", exc.field, exc.reason) from None
    return doc


def windows_from_doc(doc: dict[str, Any]) -> list[WindowSpec]:
    """The desired-effect windows recorded in a program document (structured, not re-parsed from text)."""
    items = doc.get("windows", [])
    if not isinstance(items, list):
        raise bad("windows", items, "is not a list of windows")
    return [window_from_json(f"windows[{i}]", w) for i, w in enumerate(items)]


def lead_s(doc: dict[str, Any]) -> int:
    lead = doc.get("lead")
    return 0 if lead is None else qt.arg("lead", qt.from_json("lead", lead, "duration"), "duration").base()


def fill_start_s(doc: dict[str, Any]) -> int | None:
    refill = doc.get("refill")
    fill = refill.get("fill_date") if isinstance(refill, dict) else None
    return None if fill is None else dates.day_start_s(dates.parse_date("refill.fill_date", fill))
