"""The calculation, prescription and plot commands of `itb`: parse flags, call host_tools.calc or rx, show.

Every command takes ``--json``; quantities there are ``{"value": <number>, "unit": "<unit pint parses>"}``
and the keys are the result's fields (docs/cli.md). Warnings (range, per-hour and decimal slips) go to
stderr in text output and into ``warnings`` in JSON; ``--strict`` makes any warning exit 1. Defaults and
choices come from the drug library. pint and matplotlib are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from host_tools import display
from host_tools.errors import EXIT_OK

if TYPE_CHECKING:
    from host_tools.calc import Result


def _named(args: argparse.Namespace, dest: str) -> object:
    from host_tools.quantities import Named  # noqa: PLC0415

    value = getattr(args, dest)
    return None if value is None else Named("--" + dest.replace("_", "-"), value)


def _emit(args: argparse.Namespace, result: Result, lines: list[str], *, warn: bool = True) -> int:
    """Print the result (text or JSON), the warnings (stderr in text), and refuse under --strict."""
    from host_tools.calc.common import refusal  # noqa: PLC0415

    cautions = result.caution_list if warn else []
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")
        for c in cautions:
            sys.stderr.write(f"warning: {c}\n")
    if getattr(args, "strict", False) and cautions:
        ids = list(dict.fromkeys(c.rule_id for c in cautions))
        raise refusal(f"--strict: {display.plural(len(cautions), 'warning')} [{', '.join(ids)}]", ids)
    return EXIT_OK


def _typed(result: Result, flag: str, shown: str) -> str:
    """`shown`, with the typed text after it when it was typed in another form ("10 mg/20 mL")."""
    typed = getattr(result, "inputs", {}).get(flag)
    first = shown.split(" (", maxsplit=1)[0]
    if typed is None or typed.replace(" ", "") == first.replace(" ", ""):
        return shown
    return f"{shown} (from '{typed}')"


def _line(label: str, text: str) -> str:
    return f"{label:<14} {text}"


def _tail(result: Result) -> list[str]:
    out = []
    grp = getattr(result, "group", None)
    if grp is not None:
        from host_tools.calc.checks import group_note  # noqa: PLC0415

        out.append(group_note(grp).replace("give the origin and age", "give --origin and --age"))
    checks = getattr(result, "verified", [])
    if checks:
        out.append("verified with pint: " + ", ".join(f"{c.key} ({c.rounding})" for c in checks))
    return out


def _show(qty: Any, kind: str) -> str:
    return display.show(qty, kind)


# -- handlers ---------------------------------------------------------------------------------------------


def _rate(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.rate(
        _named(args, "dose"),
        _named(args, "concentration"),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    return _emit(
        args,
        r,
        [
            _line("daily dose", _typed(r, "--dose", _show(r.daily_dose, "dose rate"))),
            _line("concentration", _typed(r, "--concentration", _show(r.concentration, "concentration"))),
            _line("flow", _show(r.flow_per_day, "flow")),
            *_tail(r),
        ],
    )


def _dilute(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.dilute(
        _named(args, "stock"),
        _named(args, "target"),
        _named(args, "volume"),
        resolution=_named(args, "resolution"),
        tolerance=_named(args, "tolerance"),
    )
    return _emit(
        args,
        r,
        [
            _line(
                "stock",
                f"{_show(r.stock_volume, 'volume')} of {_show(r.stock_concentration, 'concentration')}",
            ),
            _line("diluent", f"{_show(r.diluent_volume, 'volume')} of {r.diluent}"),
            _line("final volume", _show(r.final_volume, "volume")),
            _line(
                "achieved",
                f"{_show(r.achieved_concentration, 'concentration')} (target "
                f"{_show(r.target_concentration, 'concentration')}, {_pct(r.shortfall)} below; tolerance "
                f"{_pct(r.tolerance)}): program this strength",
            ),
            *_tail(r),
        ],
    )


def _pct(qty: Any) -> str:
    from host_tools import quantities as qt  # noqa: PLC0415

    return qt.decimal_text(qt.exact(qty, "percent"), 4) + " %"


def _schedule(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools.quantities import Named  # noqa: PLC0415

    r = calc.schedule(
        _named(args, "dose"),
        _named(args, "concentration"),
        [Named("--window", w) for w in args.window or []],
        lead=_named(args, "lead"),
        min_step=_named(args, "min_step"),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    lines = [
        _line("base dose", _typed(r, "--dose", _show(r.base_dose, "dose rate"))),
        _line("lead", f"each step starts {_show(r.lead, 'duration')} before its window"),
    ]
    for s in r.steps:
        dose, flow = _show(s.dose_per_day, "dose rate"), _show(s.flow_per_day, "flow")
        lines.append(f"  {s.start:>9} - {s.end:<9}  {dose:<28}  {flow}")
    totals = ", ".join(_show(t, "mass") for t in r.daily_totals)
    lines.append(_line("daily total" if len(r.daily_totals) == 1 else "daily totals", totals))
    return _emit(args, r, lines + _tail(r))


def _refill(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.refill(
        _named(args, "volume"),
        _named(args, "concentration"),
        _named(args, "dose"),
        alarm_volume=_named(args, "alarm_volume"),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    book = "now (overdue)" if r.refill_overdue else f"within {_show(r.days_to_refill, 'duration')}"
    return _emit(
        args,
        r,
        [
            _line(
                "alarm",
                f"low-reservoir alarm ({_show(r.alarm_volume, 'volume')} left) "
                + ("now" if r.alarm_now else f"in {_show(r.days_to_alarm, 'duration')}"),
            ),
            _line("empty", f"in {_show(r.days_to_empty, 'duration')}"),
            _line("book refill", book),
            *_tail(r),
        ],
    )


def _residual(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.residual(_named(args, "reservoir"), _named(args, "expected"), _named(args, "measured"))
    verdict = "POSSIBLE POCKET FILL" if r.pocket_fill_suspected else "within tolerance"
    return _emit(
        args,
        r,
        [
            _line(
                "difference",
                f"{_show(r.difference, 'volume')} (measured - expected); threshold "
                f"{_show(r.threshold, 'volume')}, {r.threshold_basis}",
            ),
            _line("residual", f"{verdict} [ITB-REF-02]"),
        ],
    )


def _initial(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.initial_dose(
        _named(args, "screening"),
        _named(args, "effect"),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    return _emit(
        args,
        r,
        [_line("initial dose", f"{_show(r.daily_dose, 'dose rate')} [{', '.join(r.rule_ids)}]"), *_tail(r)],
    )


def _titrate(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools.calc.common import refusal  # noqa: PLC0415
    from host_tools.parsing import override_items  # noqa: PLC0415
    from host_tools.quantities import Named  # noqa: PLC0415

    ov = dict(override_items("--override", args.override or []))
    r = calc.titrate(
        _named(args, "current"),
        _named(args, "proposed"),
        _named(args, "since_change"),
        since_start=_named(args, "since_start"),
        pump=Named("--pump", args.pump),
        phase=Named("--phase", args.phase),
        overrides=Named("--override", ov),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    # A refusal's warnings are in its one error line already.
    _emit(args, r, [r.message, "rules applied: " + ", ".join(r.rules_applied), *_tail(r)], warn=r.allowed)
    if not r.allowed:
        ids = [c.rule_id for c in r.refusals] or r.needs_override
        hint = "" if r.refusals else "; give --override RULE=REASON"
        raise refusal(r.message + hint, ids)
    return EXIT_OK


def _concentration(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools.quantities import Named  # noqa: PLC0415

    r = calc.concentration(
        _named(args, "dose"),
        reservoir=_named(args, "reservoir"),
        alarm_volume=_named(args, "alarm_volume"),
        refill_interval=_named(args, "refill_interval"),
        min_flow=_named(args, "min_flow"),
        max_flow=_named(args, "max_flow"),
        pump=Named("--pump", args.pump),
        fixed_flow=Named("--fixed-flow", args.fixed_flow),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    return _emit(
        args,
        r,
        [
            _line(
                "concentration",
                f"{_show(r.concentration, 'concentration')} ({r.reason}) [{', '.join(r.rule_ids)}]",
            ),
            _line("flow", _show(r.flow_per_day, "flow")),
            _line("lasts", f"{_show(r.supply, 'duration')} of usable volume"),
            *_tail(r),
        ],
    )


def _screening(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.screening(args.small_child)
    lines = [_line("ampule", f"{_show(r.concentration, 'concentration')} (screening only, ITB-SCR-05)")]
    for d in r.doses:
        lines.append(
            f"day {d.day}: {_show(d.dose, 'mass')} = {_show(d.volume, 'volume')}, observe "
            f"{_show(d.observe_from, 'duration')} to {_show(d.observe_to, 'duration')} after"
        )
    lines.append(f"no response to {_show(r.not_a_candidate_after, 'mass')}: not a candidate (ITB-SCR-04)")
    return _emit(args, r, lines + _tail(r))


def _taper(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.taper(
        _named(args, "dose"),
        _named(args, "floor"),
        over=_named(args, "over"),
        max_step=_named(args, "max_step"),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    lines = [f"day {s.day:>2}: {_show(s.dose_per_day, 'dose rate')}" for s in r.steps]
    return _emit(args, r, lines + _tail(r))


def _bridge(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    r = calc.bridge(
        _named(args, "internal_volume"),
        _named(args, "catheter_length"),
        _named(args, "old_concentration"),
        _named(args, "new_concentration"),
        _named(args, "dose"),
        origin=_named(args, "origin"),
        age=_named(args, "age"),
    )
    return _emit(
        args,
        r,
        [
            _line(
                "dead volume",
                f"{_show(r.dead_volume, 'volume')} (catheter {_show(r.catheter_volume, 'volume')})",
            ),
            _line("bridge", r.summary + " [ITB-BRG-01]"),
            *_tail(r),
        ],
    )


def _program_build(args: argparse.Namespace) -> int:
    from host_tools import rx  # noqa: PLC0415
    from host_tools.calc.common import refusal  # noqa: PLC0415
    from host_tools.outfile import STDOUT, check_target  # noqa: PLC0415

    if args.output and args.output != STDOUT:
        check_target("--output", args.output)  # before any work: a bad target is refused, nothing written
    built = rx.build_program(rx.load_prescription(args.rx))
    doc = built.to_json()
    if args.output:
        where = rx.write_json_atomic(args.output, doc, "--output")
    if args.output != STDOUT:
        if args.json:
            sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(
                "\n".join(built.summary_lines() + ([f"written to {where}"] if args.output else [])) + "\n"
            )
    for c in built.warnings:
        sys.stderr.write(f"warning: {c}\n")
    if args.strict and built.warnings:
        ids = list(dict.fromkeys(c.rule_id for c in built.warnings))
        raise refusal(f"--strict: {display.plural(len(built.warnings), 'warning')} [{', '.join(ids)}]", ids)
    return EXIT_OK


def _plot(args: argparse.Namespace) -> int:
    from host_tools import plots  # noqa: PLC0415

    paths = plots.plot_source(args.source, args.out_dir)
    out = {"profile": str(paths[0]), "reservoir": str(paths[1])}
    sys.stdout.write(
        json.dumps(out, indent=2) + "\n" if args.json else "\n".join(f"wrote {p}" for p in paths) + "\n"
    )
    return EXIT_OK


# -- the command table --------------------------------------------------------------------------------------

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "rate": _rate,
    "dilute": _dilute,
    "schedule": _schedule,
    "refill": _refill,
    "residual": _residual,
    "initial-dose": _initial,
    "titrate": _titrate,
    "concentration": _concentration,
    "screening": _screening,
    "taper": _taper,
    "bridge": _bridge,
    "program build": _program_build,
    "plot": _plot,
}


def register(sub: Any) -> None:
    """Add the calculation, prescription and plot sub-commands to the `itb` command table."""
    from host_tools.cli_calc_args import add_commands  # noqa: PLC0415

    add_commands(sub, HANDLERS)
