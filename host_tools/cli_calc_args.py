"""The flags of the calculation commands. Defaults and choices come from the drug library (through the
core's defaults), so a flag's default is the rule's number; every single-valued flag refuses a repeat."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from firmware_py import library
from firmware_py.concentration import labeled_strengths
from host_tools import display
from host_tools.calc.defaults import defaults

Handlers = dict[str, Callable[[argparse.Namespace], int]]

STRENGTH = f"{labeled_strengths()[0]} mcg/mL"  # an example strength, the lowest labeled one
STOCK = f"{labeled_strengths()[-1]} mcg/mL"
RESERVOIR = display.ml(library.param_tuple("ITB-PMP-01", "reservoirs_nl")[-1])
TEST_DOSE = display.mcg(library.param_tuple("ITB-SCR-01", "doses_ng")[1])
HOLIDAY = (
    f"{display.duration(library.param('ITB-HOL-01', 'min_s'))} to "
    f"{display.duration(library.param('ITB-HOL-01', 'max_s'))}"
)


def _age(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= library.MAX_AGE_YEARS:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an age in whole years from 0 to {library.MAX_AGE_YEARS}"
        )
    return int(text)


def _add(
    sub: Any,
    name: str,
    text: str,
    func: Callable[[argparse.Namespace], int],
    epilog: str = "",
    *,
    strict: bool = True,
    group: bool = True,
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=text,
        description=text + " Not for clinical use.",
        epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output (docs/cli.md)")
    if strict:
        p.add_argument("--strict", action="store_true", help="exit 1 when there is any warning")
    if group:
        p.add_argument(
            "--origin",
            choices=library.ORIGINS,
            help="origin of spasticity (with --age: the patient group "
            "doses are checked against; default adult spinal)",
        )
        p.add_argument("--age", type=_age, help="age in whole years (default: an adult)")
    p.set_defaults(func=func)
    return p


REQUIRED = object()  # a flag's "default" in the tables below when it must be given
DOSE = "daily dose, e.g. '450 mcg/day'"
Flag = tuple[str, object, str]  # (flag, default or REQUIRED or None, help)


def _flags(p: argparse.ArgumentParser, flags: list[Flag]) -> None:
    for flag, default, text in flags:
        if default is REQUIRED:
            p.add_argument(flag, required=True, help=text)
        elif default is None:
            p.add_argument(flag, help=text)
        else:
            p.add_argument(flag, default=default, help=f"{text} (default {str(default).replace('%', '%%')})")


WINDOWS = (
    "windows: HH:MM-HH:MM=+25%  |  HH:MM-HH:MM=-12%  |  HH:MM-HH:MM=600 mcg/day\n"
    "         Mon-Fri 08:00-10:00=+12%  |  Sat,Sun 08:00-11:00=+12%  (weekly variant)\n"
    "a percent change carries its sign; days are Mon..Sun or Monday..Sunday"
)
_CHOICES = {"--pump": library.PUMP_KINDS, "--phase": library.CHANGE_PHASES}
_D = defaults()
_PUMP = ("--pump", library.PROGRAMMABLE, "pump kind: " + " or ".join(library.PUMP_KINDS))
# (name, help, flags, options of _add) of every calculation command, in --help order.
COMMANDS: list[tuple[str, str, list[Flag], dict[str, Any]]] = [
    (
        "rate",
        "Flow for a daily dose at a concentration (per day and per hour).",
        [
            ("--dose", REQUIRED, "daily dose, e.g. '450 mcg/day', '20 mcg/h' or '450 mcg/24h'"),
            ("--concentration", REQUIRED, f"e.g. '{STRENGTH}' or a vial label '15 mg/30 mL'"),
        ],
        {},
    ),
    (
        "schedule",
        "Flex-dosing steps from desired-effect windows; each step starts --lead before its window.",
        [
            ("--dose", REQUIRED, "base " + DOSE),
            ("--concentration", REQUIRED, f"e.g. '{STRENGTH}'"),
            ("--lead", _D["lead"], "how long before the effect a step starts"),
            ("--min-step", _D["min_step"], "the pump's shortest step"),
        ],
        {"epilog": WINDOWS},
    ),
    (
        "refill",
        "Time until the low-reservoir alarm and until empty.",
        [
            ("--volume", REQUIRED, "volume in the reservoir, e.g. '18 mL'"),
            ("--concentration", REQUIRED, f"e.g. '{STRENGTH}'"),
            ("--dose", REQUIRED, DOSE),
            ("--alarm-volume", _D["alarm_volume"], "low-reservoir alarm"),
        ],
        {},
    ),
    (
        "concentration",
        "Choose the concentration from the daily dose and the pump.",
        [
            ("--dose", REQUIRED, DOSE),
            ("--reservoir", _D["reservoir"], "reservoir volume"),
            ("--alarm-volume", _D["alarm_volume"], "low-reservoir alarm"),
            ("--refill-interval", _D["refill_interval"], "wanted refill interval"),
            ("--min-flow", _D["min_flow"], "the pump's lowest flow"),
            ("--max-flow", _D["max_flow"], "the pump's highest flow"),
            _PUMP,
            (
                "--fixed-flow",
                None,
                f"a {library.CONSTANT_FLOW} pump's flow, e.g. '1 mL/day' (needs --pump "
                f"{library.CONSTANT_FLOW})",
            ),
        ],
        {},
    ),
    (
        "taper",
        f"A drug-holiday taper over {HOLIDAY}, one change a day, never an abrupt stop.",
        [
            ("--dose", REQUIRED, "current " + DOSE),
            ("--floor", REQUIRED, "the dose to reach, e.g. '150 mcg/day'"),
            ("--over", _D["over"], f"duration, {HOLIDAY}"),
            ("--max-step", _D["max_step"], "largest reduction a day, at most the default"),
        ],
        {},
    ),
    (
        "bridge",
        "Bridge bolus after a concentration change: clear old drug from tubing and catheter.",
        [
            ("--internal-volume", REQUIRED, "pump internal (tubing) volume, e.g. '0.25 mL'"),
            (
                "--catheter-length",
                REQUIRED,
                "implanted catheter length, any length unit: '45 cm', '0.45 m'",
            ),
            ("--old-concentration", REQUIRED, f"e.g. '{STRENGTH}'"),
            ("--new-concentration", REQUIRED, f"e.g. '{STOCK}'"),
            ("--dose", REQUIRED, DOSE),
        ],
        {},
    ),
    (
        "dilute",
        "Stock and diluent volumes for a target concentration (a whole mcg/mL).",
        [
            ("--stock", REQUIRED, f"labeled stock strength, e.g. '{STOCK}'"),
            ("--target", REQUIRED, "target strength, e.g. '750 mcg/mL'"),
            ("--volume", REQUIRED, "final volume, e.g. '18 mL'"),
            ("--resolution", _D["resolution"], "smallest measurable step"),
            ("--tolerance", _D["tolerance"], "largest shortfall below the target, ITB-DIL-01"),
        ],
        {"group": False, "strict": False},
    ),
    (
        "residual",
        "Residual check at a refill: a possible pocket fill (ITB-REF-02).",
        [
            ("--reservoir", REQUIRED, f"reservoir capacity, e.g. '{RESERVOIR}'"),
            ("--expected", REQUIRED, "expected residual, e.g. '3 mL'"),
            ("--measured", REQUIRED, "measured residual withdrawn, e.g. '4.5 mL'"),
        ],
        {"group": False},
    ),
    (
        "initial-dose",
        "Initial daily dose after implant from the screening result.",
        [
            ("--screening", REQUIRED, f"the positive screening test dose, e.g. '{TEST_DOSE}'"),
            ("--effect", REQUIRED, "how long its effect lasted, e.g. '6 h'"),
        ],
        {},
    ),
    (
        "titrate",
        "Would the rig accept this change of the daily dose now? (refused: exit 1)",
        [
            ("--current", REQUIRED, "current " + DOSE),
            ("--proposed", REQUIRED, "proposed daily dose"),
            ("--since-change", REQUIRED, "time since the last change of dose, e.g. '26 h'"),
            (
                "--since-start",
                None,
                "time since the pump started (default: --since-change, the stricter)",
            ),
            _PUMP,
            ("--phase", library.TITRATION_PHASE, "phase: " + ", ".join(library.CHANGE_PHASES)),
        ],
        {},
    ),
    ("screening", "The screening test-dose plan, 24 h apart.", [], {"group": False, "strict": False}),
]


def _program_commands(sub: Any, h: Handlers) -> None:
    prog = sub.add_parser(
        "program",
        help="Build pump programs from TOML prescriptions.",
        description="Build pump programs from TOML prescriptions. Not for clinical use.",
    )
    psub = prog.add_subparsers(dest="program_command", metavar="ACTION", parser_class=type(prog))
    psub.required = True
    p = _add(
        psub,
        "build",
        "Build a pump program (JSON) from a TOML prescription, decided as the rig will.",
        h["program build"],
        group=False,
    )
    p.add_argument("rx", metavar="RX.toml", help="the prescription")
    p.add_argument("-o", "--output", metavar="PROGRAM.json", help="write the program file here ('-': stdout)")
    p = _add(
        sub,
        "plot",
        "Render the 24 h rate profile and the reservoir curve as PNGs.",
        h["plot"],
        group=False,
        strict=False,
    )
    p.add_argument("source", metavar="RX.toml|PROGRAM.json", help="a prescription or a built program")
    p.add_argument("-o", "--out-dir", default=".", help="directory for the PNGs (default: current)")


def add_commands(sub: Any, handlers: Handlers) -> None:
    for name, text, flags, options in COMMANDS:
        p = _add(sub, name, text, handlers[name], **options)
        _flags(p, [f for f in flags if f[0] not in _CHOICES])
        for flag, default, help_text in flags:
            if flag in _CHOICES:
                p.add_argument(flag, default=default, choices=_CHOICES[flag], help=help_text)
        _extras(p, name)
    _program_commands(sub, handlers)


def _extras(p: argparse.ArgumentParser, name: str) -> None:
    # Repeatable and switch options.
    if name == "schedule":
        p.add_argument(
            "--window", action="append", metavar="WINDOW", help="desired-effect window (repeatable)"
        )
    elif name == "titrate":
        p.add_argument(
            "--override", action="append", metavar="RULE=REASON", help="override a soft rule (repeatable)"
        )
    elif name == "screening":
        p.add_argument(
            "--small-child", action="store_true", help="very small patient: a smaller first test dose"
        )
