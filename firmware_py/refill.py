# Refill (ITB-REF-01, ITB-REF-02): when the low-reservoir alarm sounds and the reservoir runs empty, when
# to book the refill, and the residual (pocket-fill) check at the refill.
#
# time_to_use() is the one event-time function: the rig's alarms (firmware_py/delivery.py) and the host's
# forecasts both call it, so they agree to the second. Use is counted in q units, exact integers for a
# schedule and a bolus alike: q = nL * (ng/uL) * 864 = 10 * schedule integral (ng*s/day).

from firmware_py import library, units
from firmware_py.decision import applied
from firmware_py.errors import InputError
from firmware_py.flow import require_conc
from firmware_py.record import Record
from firmware_py.schedule import Schedule
from firmware_py.units import PERMILLE, S_PER_DAY, ceil_div, floor_div

Q_PER_NL_CONC = 864  # q per nL at 1 ng/uL
Q_PER_INTEGRAL = 10  # q per ng*s/day of schedule integral


def time_to_use(schedule: Schedule, t0_s: int, need_q: int) -> int:
    # The whole second at which a use of need_q (from t0_s, following the schedule) is reached: the last
    # whole second not after the exact instant (an alarm is never late). need_q <= 0: t0_s.
    if need_q <= 0:
        return t0_s
    target = ceil_div(need_q, Q_PER_INTEGRAL)[0]
    t = schedule.time_to_integral(t0_s, target)
    if t > t0_s and schedule.integral_between(t0_s, t) * Q_PER_INTEGRAL > need_q:
        t -= 1
    return t


def volume_q(volume_nl: int, conc_ng_per_ul: int) -> int:
    return volume_nl * conc_ng_per_ul * Q_PER_NL_CONC


def default_alarm_nl() -> int:
    return library.param("ITB-REF-01", "low_alarm_nl")


def default_margin_s() -> int:
    # The middle of the 3 to 5 days a refill is booked before the alarm.
    return (library.param("ITB-REF-01", "book_min_s") + library.param("ITB-REF-01", "book_max_s")) // 2


class RefillForecast(Record):
    __slots__ = (
        "alarm_at_s",
        "alarm_in_days",
        "alarm_in_s",
        "alarm_now",
        "empty_at_s",
        "empty_in_days",
        "empty_in_s",
        "refill_at_s",
        "refill_overdue",
        "start_s",
    )
    start_s: int
    alarm_in_s: int
    alarm_in_days: int
    empty_in_s: int
    empty_in_days: int
    alarm_at_s: int
    empty_at_s: int
    refill_at_s: int
    alarm_now: bool
    refill_overdue: bool


def _schedule(dose: object) -> Schedule:
    if units.is_int(dose):
        units.require_positive("dose_ng_per_day", dose)
        return Schedule(S_PER_DAY, [(0, dose)])  # type: ignore[list-item]
    if isinstance(dose, Schedule):
        return dose
    raise InputError("dose_ng_per_day", dose, "must be an int dose in ng/day or a Schedule")


def refill_forecast(
    volume_nl: int,
    conc_ng_per_ul: int,
    dose_ng_per_day: "int | Schedule",
    *,
    start_s: int = 0,
    alarm_nl: int | None = None,
    margin_s: int | None = None,
) -> RefillForecast:
    # ITB-REF-01: refill before depletion; the low-reservoir alarm (default 2 mL) sounds before empty, and
    # the refill is booked margin_s (3 to 5 days) before the alarm.
    volume = units.require_non_negative("volume_nl", volume_nl)
    conc = require_conc("conc_ng_per_ul", conc_ng_per_ul)
    start = units.require_non_negative("start_s", start_s)
    alarm = units.require_non_negative("alarm_nl", default_alarm_nl() if alarm_nl is None else alarm_nl)
    lo = library.param("ITB-REF-01", "book_min_s")
    hi = library.param("ITB-REF-01", "book_max_s")
    margin = units.require_range("margin_s", default_margin_s() if margin_s is None else margin_s, lo, hi)
    sched = _schedule(dose_ng_per_day)
    applied("ITB-REF-01")
    f = RefillForecast()
    f.start_s = start
    f.alarm_now = volume <= alarm
    f.alarm_at_s = start if f.alarm_now else time_to_use(sched, start, volume_q(volume - alarm, conc))
    f.empty_at_s = time_to_use(sched, start, volume_q(volume, conc))
    f.alarm_in_s = f.alarm_at_s - start
    f.empty_in_s = f.empty_at_s - start
    f.alarm_in_days = floor_div(f.alarm_in_s, S_PER_DAY)[0]
    f.empty_in_days = floor_div(f.empty_in_s, S_PER_DAY)[0]
    # If the booking date has passed, refill now.
    f.refill_overdue = f.alarm_at_s - margin < start
    f.refill_at_s = start if f.refill_overdue else f.alarm_at_s - margin
    return f


class ResidualCheck(Record):
    __slots__ = ("difference_nl", "flagged", "rule_ids", "threshold_basis", "threshold_nl")
    difference_nl: int
    threshold_nl: int
    flagged: bool
    threshold_basis: str
    rule_ids: list[str]


def residual_threshold(capacity_nl: int) -> tuple[int, str]:
    # ITB-REF-02: the published threshold for a 20 or 40 mL pump, else 5 % of capacity (rounded down: a
    # lower threshold flags more refills).
    sizes = library.param_tuple("ITB-REF-02", "reservoirs_nl")
    tols = library.param_tuple("ITB-REF-02", "tolerances_nl")
    for i in range(len(sizes)):
        if capacity_nl == sizes[i]:
            return tols[i], "published threshold for a " + str(sizes[i] // units.NL_PER_ML) + " mL pump"
    other = library.param("ITB-REF-02", "other_permille")
    return floor_div(capacity_nl * other, PERMILLE)[0], "extrapolated " + str(other // 10) + " % of capacity"


def residual_check(
    reservoir_capacity_nl: int, expected_residual_nl: int, measured_residual_nl: int
) -> ResidualCheck:
    capacity = units.require_positive("reservoir_capacity_nl", reservoir_capacity_nl)
    expected = units.require_range("expected_residual_nl", expected_residual_nl, 0, capacity)
    measured = units.require_range("measured_residual_nl", measured_residual_nl, 0, capacity)
    c = ResidualCheck()
    c.threshold_nl, c.threshold_basis = residual_threshold(capacity)
    c.difference_nl = measured - expected
    # A difference exactly at the threshold is not flagged: "differs by more than".
    c.flagged = abs(c.difference_nl) > c.threshold_nl
    c.rule_ids = ["ITB-REF-02"]
    applied(*c.rule_ids)
    return c
