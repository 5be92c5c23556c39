"""The TOML prescription, read strictly into a :class:`Prescription` (docs/cli.md, "Prescriptions").

Unknown keys, missing keys, wrong types, duplicate keys and a table that does not fit the phase are refused
with one line naming the field (``dose.base``, ``window[1].change``) and quoting the value as written.
A phase that starts a pump (library.START_PHASES) needs a ``[start]`` table, a phase that changes a running
pump (library.CHANGE_PHASES) a ``[previous]`` table describing what the pump runs now.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from typing import Any

from firmware_py import library
from host_tools import parsing
from host_tools import quantities as qt
from host_tools.calc.defaults import default
from host_tools.dates import parse_date
from host_tools.parsing import WindowSpec
from host_tools.quantities import Arg, Quantity, bad
from host_tools.rxtoml import decode_error

MAX_RX_BYTES = 64 * 1024
MAX_WINDOWS = 4 * library.param("ITB-SCH-02", "max_steps_per_day")

Spec = dict[str, tuple[type | tuple[type, ...], bool]]  # key: (TOML type(s), required)
_TOP: Spec = {"label": (str, False), "fill_date": ((str, dt.date), False)}
_TABLES: dict[str, Spec] = {
    "drug": {"name": (str, True), "concentration": (str, True)},
    "dilution": {
        "stock": (str, True),
        "volume": (str, True),
        "resolution": (str, False),
        "tolerance": (str, False),
    },
    "pump": {
        "kind": (str, True),
        "reservoir": (str, True),
        "alarm_volume": (str, False),
        "min_step": (str, False),
        "internal_volume": (str, True),
        "catheter_length": (str, True),
    },
    "patient": {"origin": (str, True), "age": (int, True)},
    "dose": {"base": (str, True), "lead": (str, False), "phase": (str, True)},
    "start": {
        "screening_dose": (str, False),
        "effect": (str, False),
        "previous": (str, False),
        "reason": (str, False),
    },
    "previous": {
        "base": (str, True),
        "concentration": (str, False),
        "since_change": (str, True),
        "since_start": (str, False),
        "lead": (str, False),
        "window": (list, False),
    },
}
_REQUIRED = ("drug", "pump", "patient", "dose")
_WINDOW: Spec = {"effect": (str, True), "change": (str, False), "dose": (str, False), "days": (list, False)}
_OVERRIDE: Spec = {"rule": (str, True), "reason": (str, True)}


@dataclasses.dataclass(frozen=True)
class Start:
    """How a pump starts: a screening dose and its effect (initial, restart) or another pump's dose and a
    reason (transfer)."""

    screening_dose: Arg | None = None
    effect: Arg | None = None
    previous: Arg | None = None
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Previous:
    """What the pump runs now (a change phase): its base dose, windows, concentration, and since when."""

    base: Arg
    concentration: Arg
    since_change: Arg
    since_start: Arg | None
    lead: Arg
    windows: list[WindowSpec]


@dataclasses.dataclass(frozen=True)
class Dilution:
    stock: Arg
    volume: Arg
    resolution: Arg | None
    tolerance: str | None


@dataclasses.dataclass(frozen=True)
class Prescription:
    """A prescription as read: every quantity an Arg (name, typed text, exact quantity)."""

    source: str
    label: str
    fill_date: dt.date
    drug: str
    concentration: Arg
    dilution: Dilution | None
    pump_kind: str
    reservoir: Arg
    alarm_volume: Arg
    min_step: Arg
    internal_volume: Arg
    catheter_length: Arg
    origin: str
    age_years: int
    base: Arg
    lead_arg: Arg
    phase: str
    start: Start | None
    previous: Previous | None
    windows: list[WindowSpec]
    overrides: dict[str, str]

    @property
    def lead(self) -> Quantity:
        return self.lead_arg.qty


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "an integer", float: "a number", list: "an array", dt.date: "a date"}
    if isinstance(t, tuple):
        return " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def check_table(where: str, table: object, spec: Spec) -> dict[str, Any]:
    """``table`` has exactly the keys of ``spec``'s (required ones present), each of its type."""
    if not isinstance(table, dict):
        raise bad(where, table, "is not a table")
    for key in table:
        if key not in spec:
            name = f"{where}.{key}" if where else key
            raise bad(name, table[key], "is not a field of this table; the fields are " + ", ".join(spec))
    for key, (typ, required) in spec.items():
        name = f"{where}.{key}" if where else key
        if key not in table:
            if required:
                raise bad(name, "", "is missing")
            continue
        value = table[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, typ)
            or (typ is not dt.date and isinstance(value, dt.datetime))
        ):
            raise bad(name, value, f"is not {_type_name(typ)}")
    return table


def _tables(text: str, source: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    # The TOML document, its top-level keys and its tables, each checked against its schema.
    if len(text.encode("utf-8")) > MAX_RX_BYTES:
        raise bad(source, f"{len(text.encode('utf-8'))} bytes", f"is larger than {MAX_RX_BYTES} bytes")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise decode_error(text, source, exc) from None
    top = check_table(
        "", {k: v for k, v in doc.items() if k not in _TABLES and k not in ("window", "override")}, _TOP
    )
    for name in _REQUIRED:
        if name not in doc:
            raise bad(name, f"[{name}]", "is missing: a prescription has the tables " + ", ".join(_REQUIRED))
    tables = {name: check_table(name, doc[name], spec) for name, spec in _TABLES.items() if name in doc}
    return doc, top, tables


def parse_prescription(text: str, source: str = "<text>") -> Prescription:
    """Read a prescription given as TOML text; every refusal names the field."""
    doc, top, t = _tables(text, source)
    drug, pump, patient, dose = t["drug"], t["pump"], t["patient"], t["dose"]
    if drug["name"] not in library.DRUGS:
        raise bad("drug.name", drug["name"], "is not in the drug library: " + ", ".join(library.DRUGS))
    kind = _choice("pump.kind", pump["kind"], library.PUMP_KINDS)
    origin = _choice("patient.origin", patient["origin"], library.ORIGINS)
    age = patient["age"]
    if not 0 <= age <= library.MAX_AGE_YEARS:
        raise bad("patient.age", age, f"is not an age from 0 to {library.MAX_AGE_YEARS} years")
    phase = _choice("dose.phase", dose["phase"], library.PHASES)
    reservoir = qt.arg("pump.reservoir", pump["reservoir"], "volume")
    lead = qt.arg(
        "dose.lead",
        dose.get("lead", default("lead")),
        "duration",
        allow_zero=True,
    )
    min_step = qt.arg(
        "pump.min_step",
        pump.get("min_step", default("min_step")),
        "duration",
    )
    conc = qt.arg("drug.concentration", drug["concentration"], "concentration")
    return Prescription(
        source=source,
        label=_label(top.get("label", "")),
        fill_date=dt.date.today() if "fill_date" not in top else parse_date("fill_date", top["fill_date"]),
        drug=drug["name"],
        concentration=conc,
        dilution=_dilution(t.get("dilution")),
        pump_kind=kind,
        reservoir=reservoir,
        alarm_volume=qt.arg(
            "pump.alarm_volume",
            pump.get("alarm_volume", default("alarm_volume")),
            "volume",
            allow_zero=True,
        ),
        min_step=min_step,
        internal_volume=qt.arg("pump.internal_volume", pump["internal_volume"], "volume", allow_zero=True),
        catheter_length=qt.arg("pump.catheter_length", pump["catheter_length"], "length"),
        origin=origin,
        age_years=age,
        base=qt.arg("dose.base", dose["base"], "dose rate"),
        lead_arg=lead,
        phase=phase,
        start=_start(phase, t.get("start")),
        previous=_previous(phase, t.get("previous"), conc, lead),
        windows=_windows("window", doc.get("window", [])),
        overrides=_overrides(doc.get("override", [])),
    )


def _choice(field: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise bad(field, value, "is not one of " + ", ".join(choices))
    return value


def _label(text: str) -> str:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise bad("label", text.encode("unicode_escape").decode("ascii"), "has a control character")
    return text


def _start(phase: str, table: dict[str, Any] | None) -> Start | None:
    if phase not in library.START_PHASES:
        if table is not None:
            raise bad(
                "start",
                "[start]",
                f"is for a phase that starts a pump ({', '.join(library.START_PHASES)}), "
                f"not {phase}; describe the running program in [previous]",
            )
        return None
    if table is None:
        raise bad(
            "start",
            "",
            f"is missing: phase {phase} starts a pump and states how "
            "(screening_dose and effect, or for a transfer previous and reason)",
        )
    if phase == library.TRANSFER:
        _only("start", table, ("previous", "reason"), phase)
        reason = table["reason"].strip()
        if not reason:
            raise bad("start.reason", table["reason"], "is empty; a transfer states why")
        return Start(previous=qt.arg("start.previous", table["previous"], "dose rate"), reason=reason)
    _only("start", table, ("screening_dose", "effect"), phase)
    return Start(
        screening_dose=qt.arg("start.screening_dose", table["screening_dose"], "mass"),
        effect=qt.arg("start.effect", table["effect"], "duration"),
    )


def _only(where: str, table: dict[str, Any], keys: tuple[str, ...], phase: str) -> None:
    for key, value in table.items():
        if key not in keys:
            raise bad(f"{where}.{key}", value, f"is not for phase {phase}; it states " + " and ".join(keys))
    for key in keys:
        if key not in table:
            raise bad(f"{where}.{key}", "", f"is missing; phase {phase} states " + " and ".join(keys))


def _previous(phase: str, table: dict[str, Any] | None, conc: Arg, lead: Arg) -> Previous | None:
    if phase not in library.CHANGE_PHASES:
        if table is not None:
            raise bad(
                "previous", "[previous]", f"describes a running pump; phase {phase} starts one (use [start])"
            )
        return None
    if table is None:
        raise bad(
            "previous",
            "",
            f"is missing: phase {phase} changes a running pump; state its base dose and "
            "since_change in [previous]",
        )
    since = qt.arg("previous.since_change", table["since_change"], "duration", allow_zero=True)
    start = (
        None
        if "since_start" not in table
        else qt.arg("previous.since_start", table["since_start"], "duration", allow_zero=True)
    )
    if start is not None and start.base() < since.base():
        raise bad(
            start.name,
            start.text,
            f"is less than {since.name} '{since.text}'; the pump started before its last change",
        )
    return Previous(
        base=qt.arg("previous.base", table["base"], "dose rate"),
        concentration=conc
        if "concentration" not in table
        else qt.arg("previous.concentration", table["concentration"], "concentration"),
        since_change=since,
        since_start=start,
        lead=lead
        if "lead" not in table
        else qt.arg("previous.lead", table["lead"], "duration", allow_zero=True),
        windows=_windows("previous.window", table.get("window", [])),
    )


def _dilution(table: dict[str, Any] | None) -> Dilution | None:
    if table is None:
        return None
    return Dilution(
        stock=qt.arg("dilution.stock", table["stock"], "concentration"),
        volume=qt.arg("dilution.volume", table["volume"], "volume"),
        resolution=None
        if "resolution" not in table
        else qt.arg("dilution.resolution", table["resolution"], "volume"),
        tolerance=table.get("tolerance"),
    )


def _windows(where: str, items: object) -> list[WindowSpec]:
    if not isinstance(items, list):
        raise bad(where, items, f"is not an array of tables [[{where}]]")
    if len(items) > MAX_WINDOWS:
        raise bad(where, f"{len(items)} windows", f"has more than {MAX_WINDOWS}")
    out = []
    for i, item in enumerate(items):
        check_table(f"{where}[{i}]", item, _WINDOW)
        out.append(parsing.window_table(f"{where}[{i}]", item))
    return out


def _overrides(items: object) -> dict[str, str]:
    if not isinstance(items, list):
        raise bad("override", items, "is not an array of tables [[override]]")
    pairs = []
    for i, item in enumerate(items):
        check_table(f"override[{i}]", item, _OVERRIDE)
        if not item["reason"].strip():
            raise bad(f"override[{i}].reason", item["reason"], "is empty; an override needs a reason")
        pairs.append((item["rule"], item["reason"]))
    return parsing.overrides("override", pairs)
