"""The `itb` command: a command table, and one place that turns errors into `itb: message` and an exit code.

Each command module exposes `register(subparsers)`, adding its sub-commands with
`parser.set_defaults(func=handler)`; a handler takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from host_tools import __version__, examples
from host_tools.errors import EXIT_INTERRUPTED, EXIT_USAGE, ItbError

# Modules that add sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "host_tools.cli_calc",
    "host_tools.cli_rig",
    "host_tools.cli_load",
    "host_tools.cli_example",
    "host_tools.trace",
)

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on bad usage, which is our contract; keep its one-line message.
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="itb",
        description="ITB pump programming and dilution calculations for test rigs. Not for clinical use.",
    )
    parser.add_argument("--version", action="version", version=f"itb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _bench_defaults_to_the_example(sub.choices["bench"])
    return parser


def _bench_defaults_to_the_example(bench: argparse.ArgumentParser) -> None:
    # `itb bench` with no file runs the example that ships with the package (the main job works from an
    # installed wheel alone). The rig commands register `bench` with a required file; it becomes optional.
    for action in bench._actions:
        if action.dest == "program":
            action.nargs, action.required = "?", False
            action.default = str(examples.path(examples.DEFAULT))
            action.help = f"{action.help} (default: the {examples.DEFAULT} example, see itb example)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
