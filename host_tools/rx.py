"""Prescriptions and program files -> built, verified pump programs.

The entry point for every command that loads a program (``itb program build``, ``plot``, ``load``,
``bench``)::

    load_source(path: str | os.PathLike[str]) -> Source

A ``.toml`` prescription is read (``rxschema``), built from the core (``firmware_py.windows.build``,
``firmware_py.program.Program``) and decided by the core's envelope exactly as the rig will decide it
(``envelope.decide(stated_history(...), previous, Commit(program), Config(...), fill date)``); a refusal is
a RefusedError (exit 1) carrying the decision's rule IDs. host_tools.calc then verifies it (schedule, flows,
refill forecast) with pint. A ``.json`` program file is read back with both checksums verified and its
encoding decoded and checked by the core. Either way the Source holds the program, its canonical encoding
and checksum, what the pictures need, and the summary lines.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from firmware_py import envelope, library, program_checks
from firmware_py import program as core_program
from firmware_py.config import Config
from firmware_py.decision import Decision
from firmware_py.errors import ItbError
from firmware_py.program import Program
from firmware_py.schedule import Schedule
from host_tools import calc, dates, display, flex, outfile, progfile
from host_tools import quantities as qt
from host_tools.calc.bridge import catheter_mm, internal_arg
from host_tools.calc.checks import slip_cautions
from host_tools.calc.choice import alarm_arg, reservoir_arg
from host_tools.calc.common import Caution, Group, conc_arg, refusal
from host_tools.calc.schedule import Step, steps_of
from host_tools.calc.start import check_screening
from host_tools.errors import VerificationError
from host_tools.parsing import WindowSpec
from host_tools.progfile import canonical_json, json_checksum, read_program_json, windows_from_doc
from host_tools.quantities import Named, bad
from host_tools.rxschema import MAX_RX_BYTES, Prescription, parse_prescription
from host_tools.source import Source

__all__ = [
    "MAX_RX_BYTES",
    "BuiltProgram",
    "Prescription",
    "Source",
    "build_program",
    "canonical_json",
    "json_checksum",
    "load_prescription",
    "load_source",
    "parse_prescription",
    "read_program_json",
    "windows_from_doc",
    "write_bytes_atomic",
    "write_json_atomic",
]


def load_prescription(path: str | os.PathLike[str]) -> Prescription:
    """Read a TOML prescription file (size-capped, strict UTF-8, strict schema)."""
    p = Path(path)
    data = progfile.read_capped(p, MAX_RX_BYTES, "prescription")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad(str(p), f"byte {exc.start}", "is not UTF-8") from None
    return parse_prescription(text, str(p))


@dataclasses.dataclass(frozen=True)
class _Sched:
    windows: list[WindowSpec]  # plots and bench read built.sched.windows (until they use load_source)


@dataclasses.dataclass(frozen=True)
class BuiltProgram:
    """A prescription built into a pump program, decided by the envelope, verified, ready to write or load."""

    rx: Prescription
    program: Program
    encoding: bytes
    checksum: str
    steps: list[Step]
    decision: Decision
    refill: calc.RefillResult
    warnings: list[Caution]
    verified: list[calc.Check]
    bridge: calc.BridgeResult | None
    dilution: calc.DiluteResult | None
    group: Group

    @property
    def fill_start_s(self) -> int:
        return dates.day_start_s(self.rx.fill_date)

    @property
    def windows(self) -> list[WindowSpec]:
        return self.rx.windows

    @property
    def sched(self) -> _Sched:
        return _Sched(self.rx.windows)

    @property
    def lead_s(self) -> int:
        return self.rx.lead_arg.base()

    def to_json(self) -> dict[str, Any]:
        return progfile.document(self)

    def summary_lines(self) -> list[str]:
        return progfile.summary_lines(self)


def _pump(rx: Prescription) -> Config:
    res = reservoir_arg(rx.reservoir.name, rx.reservoir)
    alarm_arg(rx.alarm_volume.name, rx.alarm_volume, res)
    return Config(
        rx.pump_kind,
        res.base(),
        internal_arg(rx.internal_volume.name, rx.internal_volume).base(),
        catheter_mm(rx.catheter_length),
        flex.min_step_s(rx.min_step),
    )


def _concentration(rx: Prescription) -> tuple[int, calc.DiluteResult | None]:
    if rx.dilution is None:
        return conc_arg(rx.concentration.name, rx.concentration).base(), None
    dl = rx.dilution
    d = calc.dilute(
        dl.stock,
        rx.concentration,
        dl.volume,
        resolution=dl.resolution,
        tolerance=None if dl.tolerance is None else Named("dilution.tolerance", dl.tolerance),
    )
    return int(d.achieved_concentration.magnitude), d


def _start_fields(rx: Prescription) -> dict[str, object]:
    s = rx.start
    if s is None:
        return {}
    if rx.phase == library.TRANSFER:
        assert s.previous is not None
        return {"previous_ng_per_day": s.previous.base(), "reason": s.reason}
    assert s.screening_dose is not None and s.effect is not None
    check_screening(s.screening_dose, s.effect)
    return {"screening_dose_ng": s.screening_dose.base(), "effect_s": s.effect.base()}


def _previous_schedule(rx: Prescription) -> Schedule | None:
    p = rx.previous
    if p is None:
        return None
    return flex.build(p.base.base(), p.windows, p.lead, rx.min_step)


def _program(rx: Prescription, cfg: Config, conc: int, sched: Schedule) -> Program:
    fields: dict[str, object] = dict(
        conc_ng_per_ul=conc,
        origin=rx.origin,
        age_years=rx.age_years,
        pump_kind=cfg.pump_kind,
        reservoir_nl=cfg.reservoir_nl,
        alarm_nl=rx.alarm_volume.base(),
        min_step_s=cfg.min_step_s,
        internal_nl=cfg.internal_nl,
        catheter_mm=cfg.catheter_mm,
        phase=rx.phase,
        base_dose_ng_per_day=rx.base.base(),
        schedule=sched,
        overrides=sorted(rx.overrides.items()),
        label=rx.label,
    )
    fields.update(_start_fields(rx))
    try:
        prog = Program(**fields)
    except ItbError as exc:
        raise bad("prescription", exc.field, exc.reason) from None
    problems = program_checks.problems(prog)
    if problems:
        raise _problem(rx, problems[0].field, problems[0])
    return prog


def _problem(rx: Prescription, field: str, exc: Exception) -> Exception:
    # program_checks.problems() in the prescription's words; every other problem the schema and the schedule
    # builder refuse first.
    if field == "alarm_nl":
        return bad(
            rx.alarm_volume.name,
            rx.alarm_volume.text,
            f"is not above 0 mL and below {rx.reservoir.name} "
            f"'{rx.reservoir.text}': the low-reservoir alarm sounds before the reservoir is empty",
            ["ITB-REF-01"],
        )
    if field == "conc_ng_per_ul":
        return bad(
            rx.concentration.name,
            rx.concentration.text,
            "is the screening strength, for bolus test doses only, never a pump fill",
            ["ITB-SCR-05"],
        )
    if field == "base_dose_ng_per_day":
        return bad(
            rx.base.name, rx.base.text, "is the rate of no step: the windows leave no time at the base dose"
        )
    return exc


def _decide(
    rx: Prescription,
    prog: Program,
    cfg: Config,
    previous: Schedule | None,
    now_s: int,
    *,
    slips: list[Caution],
) -> Decision:
    p = rx.previous
    history = envelope.stated_history(
        now_s,
        previous,
        0 if p is None else p.since_change.base(),
        None if p is None or p.since_start is None else p.since_start.base(),
    )
    d = envelope.decide(history, previous, envelope.Commit(prog), cfg, now_s)
    if d.refusals or d.needs_override:
        # A refusal is all the user sees: it carries the slips that explain it (a per-hour dose, a decimal
        # point), and the decision's own warnings (an escalation) too: its message leaves them out.
        warned = [Caution(rid, t.removesuffix(f" [{rid}]")) for rid, t in d.warnings] if d.refusals else []
        extra = [f"warning: {c}" for c in warned + slips]
        text = "; ".join([f"{rx.source}: {d.message()}", *extra])
        if d.refusals:
            raise refusal(text, d.rule_ids())
        raise refusal(
            f"{text}; add an [[override]] with rule and reason for " + ", ".join(d.needs_override),
            d.rule_ids(),
        )
    return d


def typed_doses(rx: Prescription) -> list[qt.Arg]:
    """Every dose the prescription states as typed: dose.base, start.previous, previous.base, and each
    window's dose (the slips are checked in each)."""
    out = [rx.base]
    if rx.start is not None and rx.start.previous is not None:
        out.append(rx.start.previous)
    windows = list(rx.windows)
    if rx.previous is not None:
        out.append(rx.previous.base)
        windows += rx.previous.windows
    return out + [w.dose for w in windows if w.dose is not None]


def build_program(rx: Prescription) -> BuiltProgram:
    """Build the pump program for a prescription and decide it as the rig will; refuse what it refuses."""
    cfg = _pump(rx)
    conc, dilution = _concentration(rx)
    sched = flex.build(rx.base.base(), rx.windows, rx.lead_arg, rx.min_step)
    prog = _program(rx, cfg, conc, sched)
    now_s = dates.day_start_s(rx.fill_date)
    previous = _previous_schedule(rx)
    grp = calc.group(rx.origin, rx.age_years)
    slips = [c for a in typed_doses(rx) for c in slip_cautions(a.base(), grp, a)]
    decision = _decide(rx, prog, cfg, previous, now_s, slips=slips)
    encoding = core_program.encode(prog)
    if core_program.decode(encoding) != prog:
        raise VerificationError("program: the canonical encoding does not decode to the same program")
    conc_q = qt.q(conc, "ng/uL")
    verified = calc.verify_schedule(rx.base.qty, conc_q, rx.lead_arg.base(), rx.windows, sched)
    forecast = calc.refill(rx.reservoir, conc_q, sched, alarm_volume=rx.alarm_volume, start_s=now_s)
    notes = [Caution(rid, text.removesuffix(f" [{rid}]")) for rid, text in decision.warnings]
    return BuiltProgram(
        rx=rx,
        program=prog,
        encoding=encoding,
        checksum=core_program.checksum(encoding),
        steps=steps_of(sched, conc),
        decision=decision,
        refill=forecast,
        warnings=notes + slips,
        verified=verified + forecast.verified,
        bridge=_bridge(rx, cfg, conc),
        dilution=dilution,
        group=grp,
    )


def _bridge(rx: Prescription, cfg: Config, conc: int) -> calc.BridgeResult | None:
    # ITB-BRG-01: a change of concentration leaves old drug in the tubing and catheter.
    p = rx.previous
    if p is None or p.concentration.base() == conc:
        return None
    return calc.bridge(rx.internal_volume, rx.catheter_length, p.concentration, f"{conc} mcg/mL", p.base)


# -- sources: a prescription or a program file ---------------------------------------------------------------


def load_source(path: str | os.PathLike[str]) -> Source:
    """A prescription (.toml, built and decided) or a program file (.json, checksums verified, decoded)."""
    p = Path(path)
    if p.suffix.lower() == ".toml":
        b = build_program(load_prescription(p))
        return Source(
            str(p),
            b.program,
            b.encoding,
            b.checksum,
            b.rx.label,
            [w.window for w in b.windows],
            b.lead_s,
            b.fill_start_s,
            b.summary_lines(),
            b,
        )
    if p.suffix.lower() == ".json":
        doc = read_program_json(p)
        data = str(doc["encoding"]).encode("ascii")
        prog = core_program.decode(data)
        fill = progfile.fill_start_s(doc)
        lines = [f"{k:<14} {v}" for k, v in display.program_rows(prog, data)]
        return Source(
            str(p),
            prog,
            data,
            str(doc["checksum"]),
            prog.label,
            [w.window for w in windows_from_doc(doc)],
            progfile.lead_s(doc),
            fill,
            lines,
            None,
        )
    raise bad(str(p), p.suffix or "no suffix", "is neither a prescription (.toml) nor a program file (.json)")


# -- files ------------------------------------------------------------------------------------------------


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, flag: str = "--output") -> str:
    """Write to a regular file atomically (host_tools.outfile; '-' is stdout)."""
    return outfile.write(flag, str(path), data)


def write_json_atomic(path: str | os.PathLike[str], doc: dict[str, Any], flag: str = "--output") -> str:
    return write_bytes_atomic(path, canonical_json(doc), flag)
