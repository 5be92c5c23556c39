# Core tests of firmware_py.bridge. MicroPython subset: plain test_* functions and asserts, helpers from
# tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt, cited by
# file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import bridge
from firmware_py.errors import InputError
from tests.core.support import DAY, MCG, ML
from tests.core.support import refused_naming as _bad


def test_bridge_500_to_2000() -> None:
    # REQ: ITB-BRG-01. 0.2 mL pump tubing + 50 cm catheter at 0.0026 mL/cm (0.13 mL) = 0.33 mL of old
    # 500 mcg/mL drug. 500 mcg/day: old flow 1 mL/day, new (2000) 0.25 mL/day.
    b = bridge.bridge(200_000, 500, 500, 2_000, 500 * MCG)
    assert b.needed and b.catheter_nl == 130_000 and b.dead_volume_nl == 330_000
    assert b.old_flow_nl_per_day == ML and b.new_flow_nl_per_day == 250_000
    # 0.33 mL at the old 1 mL/day takes 0.33 day = 28_512 s; at the new flow 1.32 days = 114_048 s.
    assert b.bridge_flow_nl_per_day == ML and b.bridge_volume_nl == 330_000
    assert b.bridge_duration_s == 28_512
    assert b.clear_at_new_flow_s == 114_048
    # The bridge delivers 0.33 mL * 500 mcg/mL = 165 mcg in 0.33 day: 500 mcg/day, continuous.
    assert b.bridge_volume_nl * 500 * DAY == 500 * MCG * 1_000 * b.bridge_duration_s


def test_bridge_rounding() -> None:
    # Catheter volume rounds up: 1 mm at 2601 nL/cm = 260.1 nL -> 261.
    b = bridge.bridge(0, 1, 500, 1_000, 500 * MCG, catheter_nl_per_cm=2_601)
    assert b.catheter_nl == 261
    # Duration rounds down: 100_001 nL at 1 mL/day = 8640.0864 s -> 8640.
    b = bridge.bridge(100_001, 0, 500, 1_000, 500 * MCG)
    assert b.bridge_duration_s == 8_640
    # ... while the time old drug keeps arriving at the new flow rounds up: 100_001 nL at 0.5 mL/day
    # = 17_280.17 s -> 17_281.
    assert b.clear_at_new_flow_s == 17_281


def test_bridge_same_concentration_and_bad_inputs() -> None:
    assert not bridge.bridge(200_000, 500, 500, 500, 500 * MCG).needed
    br = bridge.bridge
    _bad(InputError, "catheter_length_mm", 0, br, 0, 0, 500, 2_000, 500 * MCG)
    _bad(InputError, "internal_volume_nl", -1, br, -1, 500, 500, 2_000, 500 * MCG)
    _bad(InputError, "catheter_length_mm", -1, br, 0, -1, 500, 2_000, 500 * MCG)
    _bad(InputError, "old_conc_ng_per_ul", 2_001, br, 0, 500, 2_001, 2_000, 500 * MCG)
    _bad(InputError, "new_conc_ng_per_ul", 0, br, 0, 500, 500, 0, 500 * MCG)
    _bad(InputError, "dose_ng_per_day", 0, br, 0, 500, 500, 2_000, 0)
    _bad(InputError, "catheter_nl_per_cm", 0, br, 0, 500, 500, 2_000, 500 * MCG, catheter_nl_per_cm=0)
