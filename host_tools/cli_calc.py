"""The calculation, prescription and plot commands of `itb` (a thin layer over host_tools.calc and rx).

Every command takes ``--json`` for machine output: a JSON object whose quantities are
``{"value": <number>, "unit": "<unit pint parses>"}``. The keys are a contract, documented in docs/cli.md.
Heavy imports (pint, matplotlib) happen inside the handlers, so ``itb --help`` and ``itb rate`` stay fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from host_tools.errors import EXIT_OK, EXIT_REFUSED

if TYPE_CHECKING:
    from host_tools.calc import Result

_Sub = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _emit(args: argparse.Namespace, obj: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


def _verified(result: Result) -> str:
    return "verified with pint: " + ", ".join(f"{c.key} ({c.rounding})" for c in result.checks)


def _add(
    sub: Any, name: str, helptext: str, func: Callable[[argparse.Namespace], int], epilog: str = ""
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=helptext,
        description=helptext + " Not for clinical use.",
        epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output (see docs/cli.md)")
    p.set_defaults(func=func)
    return p


# -- handlers ---------------------------------------------------------------------------------------------


def _rate(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.rate(args.dose, args.concentration)
    _emit(
        args,
        r.to_json(),
        [
            f"daily dose     {qt.fmt_rate(r.daily_dose)}",
            f"concentration  {qt.fmt(r.concentration, 'mcg/mL')}",
            f"flow           {qt.fmt(r.flow_per_day, 'mL/day', 6)} ({qt.fmt(r.flow_per_hour, 'uL/h')})",
            f"dose per hour  {qt.fmt(r.dose_per_hour, 'mcg/h')}",
            _verified(r),
        ],
    )
    return EXIT_OK


def _dilute(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.dilute(args.stock, args.target, args.volume, args.resolution)
    _emit(
        args,
        r.to_json(),
        [
            f"stock          {qt.fmt(r.stock_volume, 'mL')} of {qt.fmt(r.stock_concentration, 'mcg/mL')}",
            f"diluent        {qt.fmt(r.diluent_volume, 'mL')} of {r.diluent}",
            f"final volume   {qt.fmt(r.final_volume, 'mL')}",
            f"achieved       {qt.fmt(r.achieved_concentration, 'mcg/mL')} "
            f"(target {qt.fmt(r.target_concentration, 'mcg/mL')}, {r.error_ppm} ppm)",
            f"program as     {qt.fmt(r.program_concentration, 'mcg/mL')} (rounded up: the pump then "
            "delivers less, never more)",
            _verified(r),
        ],
    )
    return EXIT_OK


def _schedule(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.schedule(
        args.dose, args.concentration, args.window or [], lead=args.lead, min_step=args.min_step
    )
    lines = [f"base dose {qt.fmt_rate(r.base_dose)}; steps start {qt.fmt(r.lead, 'h')} before each window"]
    lines.append(f"{'start':>9}  {'end':>9}  {'dose':>22}  flow")
    for s in r.steps:
        lines.append(f"{s.start:>9}  {s.end:>9}  {qt.fmt_rate(s.dose_rate):>22}  {qt.fmt_rate(s.flow)}")
    lines.append(f"daily total {qt.fmt(r.daily_total, 'mcg')}")
    lines.append(_verified(r))
    _emit(args, r.to_json(), lines)
    return EXIT_OK


def _refill(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.refill(args.volume, args.concentration, args.dose, args.alarm_volume)
    _emit(
        args,
        r.to_json(),
        [
            f"low-reservoir alarm ({qt.fmt(r.alarm_volume, 'mL')} left) in "
            f"{qt.fmt(r.time_to_alarm, 'day', 2)}",
            f"empty in                     {qt.fmt(r.time_to_empty, 'day', 2)}",
            f"book the refill within       {qt.fmt(r.refill_by, 'day', 2)}",
            _verified(r),
        ],
    )
    return EXIT_OK


def _initial(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    effect = args.effect_hours if not _is_number(args.effect_hours) else f"{args.effect_hours} h"
    r = calc.initial_dose(args.screening, effect)
    _emit(
        args,
        r.to_json(),
        [f"initial daily dose {qt.fmt_rate(r.daily_dose)} [{', '.join(r.rule_ids)}]", _verified(r)],
    )
    return EXIT_OK


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _titrate(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415

    since = args.hours_since_change
    since = f"{since} h" if _is_number(since) else since
    implant = args.hours_since_implant
    if implant is not None and _is_number(implant):
        implant = f"{implant} h"
    r = calc.titrate(
        args.origin,
        args.age,
        args.current,
        args.proposed,
        since,
        pump=args.pump,
        phase=args.phase,
        since_implant=implant,
        overrides=_overrides(args.override),
    )
    _emit(args, r.to_json(), [r.message, "rules: " + ", ".join(r.rules)])
    if not r.allowed:
        print(f"itb: refused: {r.message}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def _overrides(items: list[str] | None) -> dict[str, str] | None:
    from host_tools.errors import UsageError  # noqa: PLC0415

    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        rid, sep, reason = item.partition("=")
        if not sep or not reason.strip():
            raise UsageError(f"--override: expected RULE-ID=reason, got {item!r}")
        out[rid.strip()] = reason.strip()
    return out


def _concentration(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.concentration(
        args.dose,
        reservoir=args.reservoir,
        min_flow=args.min_flow,
        max_flow=args.max_flow,
        refill_interval=args.refill_interval,
        alarm_volume=args.alarm_volume,
        pump=args.pump,
        fixed_flow=args.fixed_flow,
    )
    _emit(
        args,
        r.to_json(),
        [
            f"concentration  {qt.fmt(r.concentration, 'mcg/mL')} ({r.reason}) [{', '.join(r.rule_ids)}]",
            f"flow           {qt.fmt_rate(r.flow)}",
            f"lasts          {qt.fmt(r.supply, 'day', 2)} of usable volume",
            _verified(r),
        ],
    )
    return EXIT_OK


def _screening(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.screening(args.small_child)
    lines = [f"screening ampule {qt.fmt(r.concentration, 'mcg/mL')} (screening only, ITB-SCR-05)"]
    for d in r.doses:
        lines.append(
            f"day {d.day}: {qt.fmt(d.dose, 'mcg')} = {qt.fmt(d.volume, 'mL')}, observe "
            f"{qt.fmt(d.observe_min, 'h')} to {qt.fmt(d.observe_max, 'h')}"
        )
    lines.append(f"no response to {qt.fmt(r.doses[-1].dose, 'mcg')}: not a candidate (ITB-SCR-04)")
    _emit(args, r.to_json(), lines)
    return EXIT_OK


def _taper(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.taper(args.dose, args.floor, args.over, args.max_step)
    lines = [f"day {day:>2}: {qt.fmt_rate(d)}" for day, d in r.steps]
    _emit(args, r.to_json(), [*lines, _verified(r)])
    return EXIT_OK


def _bridge(args: argparse.Namespace) -> int:
    from host_tools import calc  # noqa: PLC0415
    from host_tools import quantities as qt  # noqa: PLC0415

    r = calc.bridge(
        args.internal_volume, args.catheter_length, args.old_concentration, args.new_concentration, args.dose
    )
    _emit(
        args,
        r.to_json(),
        [
            f"dead volume    {qt.fmt(r.dead_volume, 'mL', 4)} "
            f"(catheter {qt.fmt(r.catheter_volume, 'mL', 4)})",
            f"bridge         {qt.fmt(r.bridge_duration, 'h', 2)} at {qt.fmt_rate(r.bridge_flow)} "
            "(old strength)",
            f"without it     old drug arrives for {qt.fmt(r.clear_at_new_flow, 'h', 2)} at the new flow",
            _verified(r),
        ],
    )
    return EXIT_OK


def _program_build(args: argparse.Namespace) -> int:
    from host_tools import rx  # noqa: PLC0415

    built = rx.build_program(rx.load_prescription(args.rx))
    doc = built.to_json()
    if args.output:
        rx.write_json_atomic(args.output, doc)
    _emit(args, doc, built.summary_lines() + ([f"written to {args.output}"] if args.output else []))
    return EXIT_OK


def _plot(args: argparse.Namespace) -> int:
    from host_tools import plots  # noqa: PLC0415

    paths = plots.plot_source(args.source, args.out_dir)
    _emit(args, {"profile": str(paths[0]), "reservoir": str(paths[1])}, [f"wrote {p}" for p in paths])
    return EXIT_OK


# -- table ----------------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add the calculation, prescription and plot sub-commands to the `itb` command table."""
    p = _add(sub, "rate", "Flow for a daily dose at a concentration (per day and per hour).", _rate)
    p.add_argument("--dose", required=True, help="daily dose, e.g. '500 mcg/day' or '20 mcg/h'")
    p.add_argument("--concentration", required=True, help="e.g. '500 mcg/mL' or '2 mg/mL'")

    p = _add(sub, "dilute", "Stock and diluent volumes to reach a target concentration.", _dilute)
    p.add_argument("--stock", required=True, help="stock concentration, e.g. '2000 mcg/mL'")
    p.add_argument("--target", required=True, help="target concentration, e.g. '750 mcg/mL'")
    p.add_argument("--volume", required=True, help="final volume, e.g. '20 mL'")
    p.add_argument("--resolution", default="0.1 mL", help="smallest measurable volume step (default 0.1 mL)")

    p = _add(
        sub,
        "schedule",
        "Flex-dosing steps from desired-effect windows; each step starts --lead before its window.",
        _schedule,
        epilog="windows: HH:MM-HH:MM=+20%  |  HH:MM-HH:MM=-10%  |  HH:MM-HH:MM=600 mcg/day  |\n"
        "         Sat,Sun 08:00-12:00=+10%  (weekly variant)",
    )
    p.add_argument("--dose", required=True, help="base daily dose, e.g. '500 mcg/day'")
    p.add_argument("--concentration", required=True, help="e.g. '500 mcg/mL'")
    p.add_argument("--window", action="append", metavar="WINDOW", help="desired effect window (repeatable)")
    p.add_argument("--lead", default="2 h", help="how long before the effect the step starts (default 2 h)")
    p.add_argument("--min-step", default="30 min", help="pump's shortest step (default 30 min)")

    p = _add(sub, "refill", "Days until the low-reservoir alarm and until empty.", _refill)
    p.add_argument("--volume", required=True, help="volume in the reservoir, e.g. '20 mL'")
    p.add_argument("--concentration", required=True, help="e.g. '500 mcg/mL'")
    p.add_argument("--dose", required=True, help="daily dose, e.g. '500 mcg/day'")
    p.add_argument("--alarm-volume", default="2 mL", help="low-reservoir alarm volume (default 2 mL)")

    p = _add(sub, "initial-dose", "Initial daily dose after implant from the screening result.", _initial)
    p.add_argument("--screening", required=True, help="positive screening dose, e.g. '50 mcg'")
    p.add_argument("--effect-hours", required=True, help="how long the effect lasted, in hours (e.g. 9)")

    p = _add(sub, "titrate", "Check a dose change against the drug library (refused: exit 1).", _titrate)
    p.add_argument("--origin", required=True, choices=["spinal", "cerebral"], help="origin of spasticity")
    p.add_argument("--age", required=True, type=_age, help="age in whole years")
    p.add_argument("--current", required=True, help="current daily dose, e.g. '500 mcg/day'")
    p.add_argument("--proposed", required=True, help="proposed daily dose, e.g. '600 mcg/day'")
    p.add_argument("--hours-since-change", required=True, help="hours since the last dose change (e.g. 26)")
    p.add_argument("--hours-since-implant", help="hours since implant (default: --hours-since-change)")
    p.add_argument("--pump", default="programmable", choices=["programmable", "constant-flow"])
    p.add_argument("--phase", default="titration", choices=["titration", "refill", "side-effects", "taper"])
    p.add_argument("--override", action="append", metavar="RULE=REASON", help="override a soft rule")

    p = _add(
        sub, "concentration", "Choose the concentration from the daily dose and the pump.", _concentration
    )
    p.add_argument("--dose", required=True, help="daily dose, e.g. '500 mcg/day'")
    p.add_argument("--reservoir", default="20 mL", help="reservoir volume (default 20 mL)")
    p.add_argument("--alarm-volume", default="2 mL", help="low-reservoir alarm volume (default 2 mL)")
    p.add_argument("--refill-interval", default="30 day", help="wanted refill interval (default 30 day)")
    p.add_argument("--min-flow", default="0.048 mL/day", help="pump's lowest flow (default 0.048 mL/day)")
    p.add_argument("--max-flow", default="24 mL/day", help="pump's highest flow (default 24 mL/day)")
    p.add_argument("--pump", default="programmable", choices=["programmable", "constant-flow"])
    p.add_argument("--fixed-flow", help="a constant-flow pump's flow, e.g. '1 mL/day'")

    p = _add(sub, "screening", "The screening test-dose plan (50, 75, 100 mcg, 24 h apart).", _screening)
    p.add_argument("--small-child", action="store_true", help="very small patient: 25 mcg first")

    p = _add(sub, "taper", "A drug-holiday taper over 2 to 4 weeks, never an abrupt stop.", _taper)
    p.add_argument("--dose", required=True, help="current daily dose")
    p.add_argument("--floor", required=True, help="dose to reach, e.g. '100 mcg/day'")
    p.add_argument("--over", default="14 day", help="duration of the taper, 14 to 28 days (default 14 day)")
    p.add_argument("--max-step", default="20%", help="largest reduction per day (default 20%%)")

    p = _add(
        sub, "bridge", "Bridge after a concentration change: clear old drug from tubing/catheter.", _bridge
    )
    p.add_argument("--internal-volume", required=True, help="pump internal (tubing) volume, e.g. '0.2 mL'")
    p.add_argument("--catheter-length", required=True, help="implanted catheter length, e.g. '50 cm'")
    p.add_argument("--old-concentration", required=True, help="e.g. '500 mcg/mL'")
    p.add_argument("--new-concentration", required=True, help="e.g. '1000 mcg/mL'")
    p.add_argument("--dose", required=True, help="daily dose, e.g. '500 mcg/day'")

    prog = sub.add_parser(
        "program",
        help="Build pump programs from TOML prescriptions.",
        description="Build pump programs from TOML prescriptions. Not for clinical use.",
    )
    psub = prog.add_subparsers(dest="program_command", metavar="ACTION", parser_class=type(prog))
    psub.required = True
    p = _add(psub, "build", "Build a pump program (JSON) from a TOML prescription.", _program_build)
    p.add_argument("rx", metavar="RX.toml", help="the prescription")
    p.add_argument("-o", "--output", metavar="PROGRAM.json", help="write the program here (atomically)")

    p = _add(sub, "plot", "Render the 24 h rate profile and the reservoir curve as PNGs.", _plot)
    p.add_argument("source", metavar="RX.toml|PROGRAM.json", help="a prescription or a built program")
    p.add_argument("-o", "--out-dir", default=".", help="directory for the PNGs (default: current)")


def _age(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be whole years, got {text!r}") from None
    if not 0 <= value <= 130:
        raise argparse.ArgumentTypeError(f"must be between 0 and 130 years, got {text!r}")
    return value
