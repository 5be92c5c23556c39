# Bridge bolus (ITB-BRG-01): after a concentration change the pump's tubing and the catheter still hold
# old drug. Running at the old concentration's flow until that dead volume is delivered keeps the
# patient's dose continuous; the new program then starts with new drug at the catheter tip.

from firmware_py import library, units
from firmware_py.decision import applied
from firmware_py.errors import InputError
from firmware_py.flow import flow_nl_per_day, require_conc
from firmware_py.record import Record
from firmware_py.units import MM_PER_CM, S_PER_DAY, ceil_div, floor_div


def bolus_duration_s(volume_nl: int, old_conc_ng_per_ul: int, rate_ng_per_day: int) -> int:
    # The shortest bolus of volume_nl of old drug whose dose rate is at most rate_ng_per_day (rounded up).
    return ceil_div(volume_nl * old_conc_ng_per_ul * S_PER_DAY, rate_ng_per_day * units.NL_PER_UL)[0]


def bolus_rate(volume_nl: int, old_conc_ng_per_ul: int, duration_s: int) -> int:
    # The dose rate a bridge bolus gives the patient, ng/day (rounded down): old drug from the dead volume at
    # the bolus flow.
    return volume_nl * old_conc_ng_per_ul * S_PER_DAY // (duration_s * units.NL_PER_UL)


def catheter_nl(catheter_mm: int, catheter_nl_per_cm: int | None = None) -> int:
    # Rounded UP: the conservative estimate of the old drug left in the catheter.
    per_cm = (
        library.param("ITB-BRG-01", "catheter_nl_per_cm")
        if catheter_nl_per_cm is None
        else catheter_nl_per_cm
    )
    return ceil_div(catheter_mm * per_cm, MM_PER_CM)[0]


class Bridge(Record):
    __slots__ = (
        "bridge_duration_s",
        "bridge_flow_nl_per_day",
        "bridge_volume_nl",
        "catheter_nl",
        "clear_at_new_flow_s",
        "dead_volume_nl",
        "needed",
        "new_flow_nl_per_day",
        "old_flow_nl_per_day",
    )
    needed: bool
    catheter_nl: int
    dead_volume_nl: int
    old_flow_nl_per_day: int
    new_flow_nl_per_day: int
    clear_at_new_flow_s: int
    bridge_flow_nl_per_day: int
    bridge_volume_nl: int
    bridge_duration_s: int


def bridge(
    internal_volume_nl: int,
    catheter_length_mm: int,
    old_conc_ng_per_ul: int,
    new_conc_ng_per_ul: int,
    dose_ng_per_day: int,
    *,
    catheter_nl_per_cm: int | None = None,
) -> Bridge:
    # After a concentration change the pump tubing and catheter still hold old drug. Run at the old
    # concentration's flow until that dead volume is delivered, so the patient's dose stays continuous.
    internal = units.require_non_negative("internal_volume_nl", internal_volume_nl)
    length = units.require_non_negative("catheter_length_mm", catheter_length_mm)
    old = require_conc("old_conc_ng_per_ul", old_conc_ng_per_ul)
    new = require_conc("new_conc_ng_per_ul", new_conc_ng_per_ul)
    dose = units.require_positive("dose_ng_per_day", dose_ng_per_day)
    if catheter_nl_per_cm is None:
        catheter_nl_per_cm = library.param("ITB-BRG-01", "catheter_nl_per_cm")
    per_cm = units.require_positive("catheter_nl_per_cm", catheter_nl_per_cm)
    applied("ITB-BRG-01")
    b = Bridge()
    b.needed = old != new
    # Rounding the catheter volume UP is the conservative estimate of the old drug left in it.
    b.catheter_nl = catheter_nl(length, per_cm)
    b.dead_volume_nl = internal + b.catheter_nl
    if b.dead_volume_nl == 0:
        raise InputError("catheter_length_mm", catheter_length_mm, "gives no dead volume to clear")
    b.old_flow_nl_per_day = flow_nl_per_day(dose, old)[0]
    b.new_flow_nl_per_day = flow_nl_per_day(dose, new)[0]
    if b.old_flow_nl_per_day == 0 or b.new_flow_nl_per_day == 0:
        raise InputError("dose_ng_per_day", dose_ng_per_day, "gives a flow below 1 nL/day")
    # How long old drug keeps arriving if the new program simply starts; rounded UP, as the time the
    # patient would get the wrong dose is never understated.
    b.clear_at_new_flow_s = ceil_div(b.dead_volume_nl * S_PER_DAY, b.new_flow_nl_per_day)[0]
    b.bridge_flow_nl_per_day = b.old_flow_nl_per_day
    b.bridge_volume_nl = b.dead_volume_nl
    b.bridge_duration_s = floor_div(b.dead_volume_nl * S_PER_DAY, b.bridge_flow_nl_per_day)[0]
    return b
