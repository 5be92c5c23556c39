"""What is wrong with a typed number, in words: the reasons :mod:`host_tools.quantities` and
:mod:`host_tools.parsing` give when a text does not read as a number and a unit.

Only ASCII digits are numbers here: Python's ``\\d`` and ``Fraction`` also read full-width (``５００``),
Arabic-Indic (``٥٠٠``) and mathematical (``𝟓𝟎𝟎``) digits, which a person checking a printout may not read
as the same number; they are refused, as ``0,5`` is.
"""

from __future__ import annotations

import re
from fractions import Fraction

DIGITS = "[0-9]"
MAX_WHOLE_DIGITS = 15
MAX_DECIMALS = 12
MAX_EXPONENT_DIGITS = 2
# A number as people type it, any length: for saying what is wrong with one the strict pattern refused.
_LOOSE = re.compile(r"\s*[+-]?([0-9]*)(?:\.([0-9]*))?(?:[eE][+-]?([0-9]+))?")


def non_ascii_digit(text: str) -> str | None:
    """The reason ``text`` is refused when it holds a digit other than 0-9, else None."""
    for ch in text:
        if ch.isdecimal() and not ch.isascii():
            return f"has the non-ASCII digit '{ch}' (U+{ord(ch):04X}); type the digits 0-9"
    return None


def number_reason(text: str, kind: str) -> str | None:
    """Why a number at the start of ``text`` is too long for a ``kind``, or None (not the problem)."""
    m = _LOOSE.match(text)
    if m is None or not (m.group(1) or m.group(2)):
        return None
    whole, decimals, exponent = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS or len(exponent) > MAX_EXPONENT_DIGITS:
        return f"is too large: out of any plausible range for a {kind}"
    if len(decimals) > MAX_DECIMALS:
        return f"has more than {MAX_DECIMALS} decimals, finer than any pump program"
    return None


def fraction_reason(number: str, below: str, unit: str, kind: str, example: str) -> str:
    """``1/2 mg/day``: a fraction, not a vial label; say which decimal it is when it has one."""
    value = Fraction(number) / Fraction(below) if Fraction(below) else None
    if value is not None and value > 0:
        den = value.denominator
        while den % 2 == 0:
            den //= 2
        while den % 5 == 0:
            den //= 5
        if den == 1:
            shown = f"{value.numerator / value.denominator:.{MAX_DECIMALS}f}".rstrip("0").rstrip(".")
            return f"is a fraction; write it as a decimal, '{shown} {unit.strip()}'"
    return f"is a fraction; write the {kind} as a decimal number and a unit, e.g. '{example}'"
