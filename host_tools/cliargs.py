"""argparse pieces every `itb` command shares: a single-valued option refuses a second value, a dependent
option refuses to stand without the option it depends on, and defaults and choices come from the library.

- ``once(parser, flag, ...)``: like ``add_argument`` with ``action=Once``: ``--dose A --dose B`` is refused
  (exit 2, naming the flag and both values) instead of silently taking the last.
- ``requires(args, child, parent, ok)``: ``--residual`` without ``--fill`` is refused, naming both.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from host_tools.errors import UsageError

_SEEN = "_itb_given"


class Once(argparse.Action):
    """Store a value; a second occurrence of the option is an error naming the flag and both values."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        seen: dict[str, object] = namespace.__dict__.setdefault(_SEEN, {})
        if self.dest in seen:
            raise argparse.ArgumentError(
                self, f"given twice ('{seen[self.dest]}', then '{values}'); give it once"
            )
        seen[self.dest] = values
        setattr(namespace, self.dest, values)


def once(parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> argparse.Action:
    """``parser.add_argument(*flags, action=Once, **kwargs)``."""
    return parser.add_argument(*flags, action=Once, **kwargs)


def given(args: argparse.Namespace, dest: str) -> bool:
    """True when the user gave the option (not just its default)."""
    return dest in getattr(args, _SEEN, {})


def requires(
    args: argparse.Namespace, child: str, parent: str, ok: Callable[[argparse.Namespace], bool]
) -> None:
    """Refuse ``child`` (a flag the user gave) unless ``ok(args)`` holds, naming ``parent``."""
    dest = child.lstrip("-").replace("-", "_")
    if given(args, dest) and not ok(args):
        raise UsageError(
            f"{child}: '{getattr(args, dest)}' needs {parent}; give {parent} too, or leave {child} out",
            field=child,
            value=getattr(args, dest),
        )
