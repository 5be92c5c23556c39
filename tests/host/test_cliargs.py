"""host_tools.cliargs, the pieces every command's flags share (the rig commands use them too): a single-valued
flag refuses a second value; a dependent option without its parent is refused, naming both (issue 12:
'--residual' without '--fill' was silently ignored)."""

from __future__ import annotations

import argparse

import pytest

from host_tools.cliargs import Parser, given, requires
from host_tools.errors import UsageError


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="itb load", exit_on_error=False)
    p.add_argument("--fill", action="store_true")
    p.add_argument("--residual")
    p.add_argument("--volume", default="20 mL")
    return p


def test_a_second_value_is_refused() -> None:
    with pytest.raises(argparse.ArgumentError, match=r"given twice \('3 mL', then '4 mL'\); give it once"):
        _parser().parse_args(["--residual", "3 mL", "--residual", "4 mL"])


def test_a_default_is_not_given() -> None:
    args = _parser().parse_args([])
    assert not given(args, "volume") and args.volume == "20 mL"
    assert given(_parser().parse_args(["--volume", "20 mL"]), "volume")


def test_a_dependent_option_needs_its_parent() -> None:
    p = _parser()
    with pytest.raises(
        UsageError, match=r"^--residual: '3 mL' needs --fill; give --fill too, or leave --residual out"
    ):
        requires(p.parse_args(["--residual", "3 mL"]), "--residual", "--fill", lambda a: a.fill)
    requires(p.parse_args(["--fill", "--residual", "3 mL"]), "--residual", "--fill", lambda a: a.fill)
    requires(p.parse_args([]), "--residual", "--fill", lambda a: a.fill)
