# Core tests of firmware_py.units' display text. MicroPython subset: plain test_* functions and asserts.

from firmware_py import units
from firmware_py.decision import cm, mcg, ml


def test_fmt_exact_is_exact_and_drops_trailing_zeros() -> None:
    # The one "value / scale, exactly, no trailing zeros" of the rig's and the host's texts.
    assert units.fmt_exact(20_000_000, units.NL_PER_ML) == "20"
    assert units.fmt_exact(250_000, units.NL_PER_ML) == "0.25"
    assert units.fmt_exact(20_833, units.NG_PER_MCG) == "20.833"
    assert units.fmt_exact(1, units.NL_PER_ML) == "0.000001"
    assert units.fmt_exact(-1_500, units.NG_PER_MCG) == "-1.5"
    assert units.fmt_exact(455, 1) == "455"
    assert ml(40_000_000) == "40 mL" and cm(455) == "45.5 cm" and mcg(12_000_000) == "12000"
