"""The `itb` command: a command table, and one place that turns errors into `itb: message` and an exit code.

Each command module exposes `register(subparsers)`, adding its sub-commands with
`parser.set_defaults(func=handler)`; a handler takes the parsed arguments and returns an exit code. Every
parser is a `cliargs.Parser`: an option that is not repeatable refuses a second occurrence.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from host_tools import __version__
from host_tools.cliargs import Parser
from host_tools.errors import EXIT_INTERRUPTED, ItbError

# Modules that add sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "host_tools.cli_calc",
    "host_tools.cli_serve",
    "host_tools.cli_rig",
    "host_tools.cli_load",
    "host_tools.cli_example",
    "host_tools.trace",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `itb` parser. With `argv`, command modules are imported in order only until one adds the command
    `argv` names (`itb rate` never imports the rig modules); without, or for an unknown command, all."""
    parser = Parser(
        prog="itb",
        description="ITB pump programming and dilution calculations for test rigs. Not for clinical use.",
    )
    parser.add_argument("--version", action="version", version=f"itb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    command = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
        if command is not None and command in sub.choices:
            break
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    func: Handler = args.func
    try:
        return func(args)
    except ItbError as exc:
        # The one place an error becomes text: "itb: <message>" and the error's exit code.
        print(f"itb: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("itb: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`itb log --json | head`): stop quietly, as Unix tools do. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
