"""argparse pieces every `itb` command shares: the parser class, which makes every option that is not
repeatable refuse a second occurrence; value checks that run while parsing (before a command creates or starts
anything); a dependent option refuses to stand without the option it depends on.

- ``Parser``: the class of `itb` and of every sub-command's parser. An option added with no action, or with
  ``store``/``store_true``, refuses a repeat (exit 2: ``itb: --days: given twice ('2', then '3'); give it
  once``, a switch ``itb: --json: given twice; give it once``); only ``action="append"`` repeats. A value that
  starts with ``-`` and a digit (``-10%``, ``-1``, ``-.5 mL``) is a value, so the check of the flag refuses it
  in the flag's own words instead of argparse's "expected one argument". Argument errors read
  ``itb: <flag>: <reason>`` (docs/cli.md).
- ``whole(lo, hi)``, ``seconds(positive)``, ``date``: ``type=`` checks that quote the value as typed.
- ``requires(args, child, parent, ok)``: ``--residual`` without ``--fill`` is refused, naming both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from host_tools.errors import EXIT_USAGE, UsageError

_SEEN = "_itb_given"
_TYPED = "_itb_typed"  # the parser's last argument strings, as typed (Parser._get_values)


def _seen(parser: argparse.ArgumentParser, namespace: argparse.Namespace, action: argparse.Action,
          values: object, option_string: str | None) -> None:
    """Record that the user gave `action`; a second time is an error naming the flag as typed (`-o`, not
    `-o/--output`) and both values as typed."""
    seen: dict[str, object] = namespace.__dict__.setdefault(_SEEN, {})
    typed = getattr(parser, _TYPED, None)
    shown = typed[0] if isinstance(typed, list) and len(typed) == 1 else values
    if action.dest in seen:
        both = "" if action.nargs == 0 else f" ('{seen[action.dest]}', then '{shown}')"
        error = argparse.ArgumentError(action, f"given twice{both}; give it once")
        error.argument_name = option_string or error.argument_name
        raise error
    seen[action.dest] = shown


class Once(argparse.Action):
    """Store a value; a second occurrence of the option is an error naming the flag and both values."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if self.option_strings:  # a positional is consumed once anyway
            _seen(parser, namespace, self, values, option_string)
        setattr(namespace, self.dest, values)


class OnceSwitch(argparse._StoreTrueAction):
    """``store_true``; a second occurrence is an error."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        _seen(parser, namespace, self, True, option_string)
        super().__call__(parser, namespace, values, option_string)


_ARGUMENT_ERROR = re.compile(r"argument (\S+): (.*)", re.S)


class Parser(argparse.ArgumentParser):
    """The parser of `itb` and its sub-commands (``add_subparsers(parser_class=Parser)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, Once)
        self.register("action", "store", Once)
        self.register("action", "store_true", OnceSwitch)
        # A value like '-10%' or '-1' is a value, not an unknown option (no itb flag starts '-<digit>').
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        setattr(self, _TYPED, list(arg_strings))
        return super()._get_values(action, arg_strings)

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on bad usage, which is our contract; one line, naming the flag first.
        m = _ARGUMENT_ERROR.fullmatch(message)
        self.exit(EXIT_USAGE, f"itb: {m[1]}: {m[2]}\n" if m else f"{self.prog}: {message}\n")


def whole(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """A ``type=``: a whole number from `lo` (to `hi`)."""

    def check(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if hi is not None and not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"'{text}' must be {lo} to {hi}")
        if n < lo:
            raise argparse.ArgumentTypeError(f"'{text}' must be at least {lo}")
        return n

    return check


def seconds(*, positive: bool) -> Callable[[str], float]:
    """A ``type=``: a finite number of seconds, more than 0 (`positive`) or 0 or more."""

    def check(text: str) -> float:
        try:
            s = float(text)
        except ValueError:
            s = math.nan
        if not math.isfinite(s):
            raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds")
        if s <= 0 if positive else s < 0:
            raise argparse.ArgumentTypeError(f"'{text}' must be {'more than 0' if positive else '0 or more'}")
        return s

    return check


def date(text: str) -> dt.date:
    """A ``type=``: a calendar date YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def given(args: argparse.Namespace, dest: str) -> bool:
    """True when the user gave the option (not just its default)."""
    return dest in getattr(args, _SEEN, {})


def requires(
    args: argparse.Namespace, child: str, parent: str, ok: Callable[[argparse.Namespace], bool]
) -> None:
    """Refuse ``child`` (a flag the user gave) unless ``ok(args)`` holds, naming ``parent``."""
    dest = child.lstrip("-").replace("-", "_")
    if given(args, dest) and not ok(args):
        typed = getattr(args, _SEEN)[dest]
        raise UsageError(
            f"{child}: '{typed}' needs {parent}; give {parent} too, or leave {child} out",
            field=child,
            value=str(typed),
        )
