# Pure dosing arithmetic: flow, concentration choice, dilution, screening, initial dose, refill
# forecast, residual (pocket-fill) check, bridge bolus, taper and restart.
#
# Ints in base units in, small result objects out. Every division goes through units.floor_div /
# units.ceil_div and rounds toward less drug; what rounding dropped is a *_dropped_* field.
# Handy identity: nL * (ng/uL) = pg, so flow_nl_per_day * conc_ng_per_ul is the delivered dose in
# pg/day and dose_ng_per_day * 1000 the prescribed one; their difference is exact.
# Sources: shared/labeling/000_bca09fe69b9ab955.txt (000), 001_75f866482c9c42d7.txt (001),
# 002_2ca3bb212e8effd8.txt (002), 003_1843e882944188f3.txt (003), shared/DESIGN.md (pump facts).

from firmware_py import library, units
from firmware_py.errors import InputError, LimitError
from firmware_py.units import NL_PER_ML, NL_PER_UL, PERMILLE, S_PER_DAY, ceil_div, floor_div

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    # refill_forecast takes a firmware_py.schedule.Schedule; imported for mypy only, so the rig does not
    # pay for it twice on a board.
    from firmware_py.schedule import Schedule as RateSchedule


PG_PER_NG = 1_000

# Every labeling number below is read from its row in the drug library (firmware_py/library.py), the one
# place the numbers live; dosing only names them.
_rule = library.rule

# ITB-SCR-05 / ITB-CON-01: 50 mcg/mL is the screening ampule only; the labeled maintenance strengths
# are 500, 1000 and 2000 mcg/mL. ng/uL == mcg/mL.
SCREENING_CONC_NG_PER_UL = _rule("ITB-SCR-03").param("conc_ng_per_ul")
LABELED_CONCS_NG_PER_UL = _rule("ITB-CON-01").param_tuple("strengths_ng_per_ul")
# ITB-CON-04: never above 2000 mcg/mL, the strongest stock.
MAX_CONC_NG_PER_UL = _rule("ITB-CON-04").param("max_conc_ng_per_ul")
# ITB-CON-02: other strengths by dilution with sterile preservative-free sodium chloride (002).
DILUENT = "preservative-free 0.9% NaCl"

PUMP_PROGRAMMABLE = library.PROGRAMMABLE
PUMP_CONSTANT = library.CONSTANT_FLOW  # non-programmable pump
PUMP_KINDS = library.PUMP_KINDS

# ITB-REF-01 / DESIGN.md: low-reservoir alarm at 2 mL residual; refills booked 3-5 days before it.
DEFAULT_ALARM_NL = _rule("ITB-REF-01").param("low_alarm_nl")
MIN_MARGIN_S = _rule("ITB-REF-01").param("book_min_s")
MAX_MARGIN_S = _rule("ITB-REF-01").param("book_max_s")
DEFAULT_MARGIN_S = (MIN_MARGIN_S + MAX_MARGIN_S) // 2

# ITB-SCR-01..03 (000, 001, 002): test doses 24 h apart, observed 4-8 h, volumes of the 50 mcg/mL ampule.
SCREENING_DOSES_NG = _rule("ITB-SCR-01").param_tuple("doses_ng")
# ITB-SCR-02: 25 mcg may be tried first, then the rest of the ladder.
SMALL_CHILD_DOSES_NG = (_rule("ITB-SCR-02").param("first_dose_min_ng"),) + SCREENING_DOSES_NG[1:]
SCREENING_GAP_S = _rule("ITB-SCR-01").param("interval_s")
OBSERVE_MIN_S = _rule("ITB-SCR-01").param("observe_min_s")
OBSERVE_MAX_S = _rule("ITB-SCR-01").param("observe_max_s")
# ITB-INI-02: 1x the positive dose only when the effect lasted MORE than 8 h.
LONG_EFFECT_S = _rule("ITB-INI-02").param("effect_longer_than_s")

# ITB-REF-02 (DESIGN.md): pocket-fill thresholds by reservoir size.
RESIDUAL_THRESHOLDS_NL = tuple(
    zip(_rule("ITB-REF-02").param_tuple("reservoirs_nl"), _rule("ITB-REF-02").param_tuple("tolerances_nl"))
)
# Project choice, not a labeled or published figure: other reservoir sizes use 5 % of capacity,
# the ratio both published thresholds share, rounded down (a lower threshold flags more refills).
RESIDUAL_EXTRAPOLATED_PERMILLE = 50

# ITB-BRG-01 (DESIGN.md): Prometra catheter volume 0.0026 mL/cm = 2600 nL/cm.
CATHETER_NL_PER_CM = _rule("ITB-BRG-01").param("catheter_nl_per_cm")
MM_PER_CM = 10

# ITB-HOL-01: gradual reduction over 2-4 weeks; ITB-MNT-03: reductions of at most 20 % per step.
TAPER_MIN_S = _rule("ITB-HOL-01").param("min_s")
TAPER_MAX_S = _rule("ITB-HOL-01").param("max_s")
TAPER_MAX_STEP_PERMILLE = _rule("ITB-MNT-03").param("max_reduction_permille")
TAPER_STEP_S = S_PER_DAY  # ITB-TIT-04: at most one change per 24 h


class _Result:
    # Plain result record; subclasses list their fields in __slots__.
    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        parts = []
        for name in self.__slots__:
            parts.append(name + "=" + repr(getattr(self, name)))
        return type(self).__name__ + "(" + ", ".join(parts) + ")"


def _require_conc(field: str, value: object) -> int:
    # ITB-CON-04: every concentration is a positive int mcg/mL no higher than 2000.
    return units.require_range(field, value, 1, MAX_CONC_NG_PER_UL)


def _require_bool(field: str, value: object) -> bool:
    if value is not True and value is not False:
        raise InputError(field, value, "must be True or False")
    return bool(value)


def _gcd(a: int, b: int) -> int:
    # MicroPython's math has no gcd.
    while b:
        a, b = b, a % b
    return a


# ---------------------------------------------------------------------------------------------
# 1. Flow


class Flow(_Result):
    __slots__ = (
        "conc_ng_per_ul",
        "dose_ng_per_day",
        "dose_ng_per_h",
        "dose_per_h_dropped_ng_per_day",
        "flow_dropped_pg_per_day",
        "flow_nl_per_day",
        "flow_nl_per_h",
        "flow_per_h_dropped_nl_per_day",
    )

    def __init__(self, dose_ng_per_day: int, conc_ng_per_ul: int) -> None:
        self.dose_ng_per_day = dose_ng_per_day
        self.conc_ng_per_ul = conc_ng_per_ul
        # nL/day = ng/day * 1000 / (ng/uL); the residue is prescribed-but-not-delivered drug in pg/day.
        self.flow_nl_per_day, self.flow_dropped_pg_per_day = floor_div(
            dose_ng_per_day * NL_PER_UL, conc_ng_per_ul
        )
        # Per-hour figures are for display only; their residues are per day over 24 h.
        self.flow_nl_per_h, self.flow_per_h_dropped_nl_per_day = floor_div(
            self.flow_nl_per_day, units.H_PER_DAY
        )
        self.dose_ng_per_h, self.dose_per_h_dropped_ng_per_day = floor_div(dose_ng_per_day, units.H_PER_DAY)


def flow(dose_ng_per_day: int, conc_ng_per_ul: int) -> Flow:
    # ITB-CON-03: the flow follows from the daily dose and the concentration; rounded down.
    dose = units.require_positive("dose_ng_per_day", dose_ng_per_day)
    conc = _require_conc("conc_ng_per_ul", conc_ng_per_ul)
    f = Flow(dose, conc)
    if f.flow_nl_per_day == 0:
        raise InputError(
            "dose_ng_per_day", dose_ng_per_day, "gives a flow below 1 nL/day at this concentration"
        )
    return f


# ---------------------------------------------------------------------------------------------
# 2. Concentration choice


class ConcentrationChoice(_Result):
    __slots__ = (
        "conc_ng_per_ul",
        "dilution_needed",
        "dose_ng_per_day",
        "flow_dropped_pg_per_day",
        "flow_nl_per_day",
        "labeled",
        "pump_kind",
        "reason",
        "rule_ids",
        "supply_days",
        "supply_s",
        "usable_nl",
    )
    conc_ng_per_ul: int
    labeled: bool
    dilution_needed: bool
    pump_kind: str
    dose_ng_per_day: int
    flow_nl_per_day: int
    flow_dropped_pg_per_day: int
    usable_nl: int
    supply_s: int
    supply_days: int
    reason: str
    rule_ids: list[str]


def _choice(
    conc: int, dose: int, flow_nl_per_day: int, *, usable_nl: int, supply_s: int
) -> ConcentrationChoice:
    c = ConcentrationChoice()
    c.conc_ng_per_ul = conc
    c.labeled = conc in LABELED_CONCS_NG_PER_UL
    c.dilution_needed = not c.labeled  # ITB-CON-02
    c.pump_kind = PUMP_PROGRAMMABLE
    c.dose_ng_per_day = dose
    c.flow_nl_per_day = flow_nl_per_day
    # Prescribed minus delivered, exact in pg/day (nL * ng/uL = pg).
    c.flow_dropped_pg_per_day = dose * PG_PER_NG - flow_nl_per_day * conc
    c.usable_nl = usable_nl
    c.supply_s = supply_s
    c.supply_days = floor_div(supply_s, S_PER_DAY)[0]
    c.reason = ""
    c.rule_ids = []
    return c


def _supply_s(usable_nl: int, conc: int, dose: int) -> int:
    # Seconds the usable volume lasts at the exact volume rate dose / conc (not the rounded-down flow,
    # which would last longer): usable * conc pg over dose * 1000 pg/day; rounded down.
    return floor_div(usable_nl * conc * S_PER_DAY, dose * PG_PER_NG)[0]


def choose_concentration(
    dose_ng_per_day: int,
    reservoir_nl: int,
    min_flow_nl_per_day: int,
    max_flow_nl_per_day: int,
    refill_interval_s: int,
    *,
    alarm_nl: int = DEFAULT_ALARM_NL,
    pump_kind: str = PUMP_PROGRAMMABLE,
    fixed_flow_nl_per_day: int | None = None,
) -> ConcentrationChoice:
    # ITB-CON-03: the concentration depends on the daily dose and the pump's delivery rate (002).
    dose = units.require_positive("dose_ng_per_day", dose_ng_per_day)
    reservoir = units.require_positive("reservoir_nl", reservoir_nl)
    fmin = units.require_positive("min_flow_nl_per_day", min_flow_nl_per_day)
    fmax = units.require_positive("max_flow_nl_per_day", max_flow_nl_per_day)
    if fmax < fmin:
        raise InputError("max_flow_nl_per_day", max_flow_nl_per_day, "must not be below min_flow_nl_per_day")
    interval = units.require_positive("refill_interval_s", refill_interval_s)
    alarm = units.require_range("alarm_nl", alarm_nl, 0, reservoir - 1)
    if pump_kind not in PUMP_KINDS:
        raise InputError("pump_kind", pump_kind, "must be one of " + ", ".join(PUMP_KINDS))
    usable = reservoir - alarm
    if pump_kind == PUMP_CONSTANT:
        if fixed_flow_nl_per_day is None:
            raise InputError("fixed_flow_nl_per_day", None, "is required for a constant-flow pump")
        ffix = units.require_range("fixed_flow_nl_per_day", fixed_flow_nl_per_day, fmin, fmax)
        return _choose_constant(dose, usable, interval, ffix)
    if fixed_flow_nl_per_day is not None:
        raise InputError(
            "fixed_flow_nl_per_day", fixed_flow_nl_per_day, "applies only to a constant-flow pump"
        )
    # ITB-CON-01 / ITB-SCR-05: lowest labeled maintenance strength first; 50 is never a candidate.
    for conc in LABELED_CONCS_NG_PER_UL:
        q = floor_div(dose * NL_PER_UL, conc)[0]
        supply = _supply_s(usable, conc, dose)
        if fmin <= q <= fmax and supply >= interval:
            c = _choice(conc, dose, q, usable_nl=usable, supply_s=supply)
            c.reason = "lowest labeled strength whose flow is within limits and lasts the refill interval"
            c.rule_ids = ["ITB-CON-01", "ITB-CON-03"]
            return c
    # ITB-CON-02: custom dilution, the smallest integer strength that satisfies every constraint.
    # floor(dose*1000/c) <= fmax  <=>  c > dose*1000/(fmax+1)
    lo_flow = floor_div(dose * NL_PER_UL, fmax + 1)[0] + 1
    # lasts  <=>  c >= interval*dose*1000 / (usable*86400)
    lo_supply = ceil_div(interval * dose * PG_PER_NG, usable * S_PER_DAY)[0]
    if lo_flow > MAX_CONC_NG_PER_UL:
        raise LimitError(
            "max_flow_nl_per_day",
            max_flow_nl_per_day,
            "is too low for this dose at any strength up to 2000 mcg/mL",
            ["ITB-CON-04"],
        )
    if lo_supply > MAX_CONC_NG_PER_UL:
        raise LimitError(
            "refill_interval_s",
            refill_interval_s,
            "is longer than the usable volume lasts at 2000 mcg/mL (" + str(usable) + " nL usable)",
            ["ITB-CON-04", "ITB-REF-01"],
        )
    conc = max(1, lo_flow, lo_supply)
    q = floor_div(dose * NL_PER_UL, conc)[0]
    if q < fmin:
        # Any strength low enough for the minimum flow is too high-flow or too short-lived.
        raise InputError(
            "min_flow_nl_per_day",
            min_flow_nl_per_day,
            "cannot be met: the weakest strength meeting the maximum flow and the refill interval is "
            + str(conc)
            + " mcg/mL, giving "
            + str(q)
            + " nL/day",
        )
    c = _choice(conc, dose, q, usable_nl=usable, supply_s=_supply_s(usable, conc, dose))
    c.reason = "no labeled strength fits; custom dilution with " + DILUENT
    c.rule_ids = ["ITB-CON-02", "ITB-CON-03"]
    return c


def _choose_constant(dose: int, usable: int, interval: int, ffix: int) -> ConcentrationChoice:
    # At a fixed flow a higher concentration is more drug: the concentration rounds DOWN.
    conc = floor_div(dose * NL_PER_UL, ffix)[0]
    if conc < 1:
        raise InputError("dose_ng_per_day", dose, "is below 1 mcg/mL at the pump's fixed flow")
    if conc > MAX_CONC_NG_PER_UL:
        raise LimitError(
            "dose_ng_per_day", dose, "needs more than 2000 mcg/mL at the pump's fixed flow", ["ITB-CON-04"]
        )
    if usable * S_PER_DAY < interval * ffix:
        raise InputError(
            "refill_interval_s",
            interval,
            "is longer than the usable " + str(usable) + " nL lasts at the fixed flow",
        )
    # Delivered = ffix * conc pg/day <= dose * 1000 pg/day; supply at the fixed flow, rounded down.
    c = _choice(conc, dose, ffix, usable_nl=usable, supply_s=floor_div(usable * S_PER_DAY, ffix)[0])
    c.pump_kind = PUMP_CONSTANT
    if c.labeled:
        c.reason = "constant-flow pump: dose / fixed flow is a labeled strength"
        c.rule_ids = ["ITB-CON-01", "ITB-CON-03"]
    else:
        c.reason = "constant-flow pump: dose / fixed flow, rounded down; custom dilution with " + DILUENT
        c.rule_ids = ["ITB-CON-02", "ITB-CON-03"]
    return c


# ---------------------------------------------------------------------------------------------
# 3. Dilution


class Dilution(_Result):
    __slots__ = (
        "achieved_conc_den",
        "achieved_conc_num",
        "achieved_ng_per_ml",
        "diluent",
        "diluent_nl",
        "error_ppm",
        "final_volume_nl",
        "program_conc_ng_per_ul",
        "resolution_nl",
        "stock_conc_ng_per_ul",
        "stock_nl",
        "target_conc_ng_per_ul",
    )
    stock_conc_ng_per_ul: int
    target_conc_ng_per_ul: int
    final_volume_nl: int
    resolution_nl: int
    stock_nl: int
    diluent_nl: int
    diluent: str
    achieved_conc_num: int
    achieved_conc_den: int
    achieved_ng_per_ml: int
    program_conc_ng_per_ul: int
    error_ppm: int


def dilute(
    stock_conc_ng_per_ul: int,
    target_conc_ng_per_ul: int,
    final_volume_nl: int,
    resolution_nl: int = 100_000,
) -> Dilution:
    # ITB-CON-02: dilute stock with preservative-free saline; ITB-CON-04: never above the stock.
    stock = _require_conc("stock_conc_ng_per_ul", stock_conc_ng_per_ul)
    if stock == SCREENING_CONC_NG_PER_UL:
        # ITB-SCR-05: the 50 mcg/mL ampule is for bolus screening only, never the stock of a pump fill.
        raise LimitError(
            "stock_conc_ng_per_ul", stock_conc_ng_per_ul, "is the screening-only strength", ["ITB-SCR-05"]
        )
    target = _require_conc("target_conc_ng_per_ul", target_conc_ng_per_ul)
    if target > stock:
        raise LimitError(
            "target_conc_ng_per_ul", target_conc_ng_per_ul, "is above the stock " + str(stock), ["ITB-CON-04"]
        )
    res = units.require_positive("resolution_nl", resolution_nl)
    final = units.require_positive("final_volume_nl", final_volume_nl)
    if final % res:
        raise InputError(
            "final_volume_nl", final_volume_nl, "must be a multiple of resolution_nl " + str(res)
        )
    # Exact stock volume = target * final / stock; measurable volumes are whole resolution steps and
    # the stock rounds DOWN so the achieved concentration never exceeds the target.
    steps = floor_div(target * final, stock * res)[0]
    if steps == 0:
        raise InputError("resolution_nl", resolution_nl, "is too coarse: the stock volume rounds to zero")
    d = Dilution()
    d.stock_conc_ng_per_ul = stock
    d.target_conc_ng_per_ul = target
    d.final_volume_nl = final
    d.resolution_nl = res
    d.stock_nl = steps * res
    d.diluent_nl = final - d.stock_nl
    d.diluent = DILUENT
    # Achieved concentration, exactly: stock * stock_nl / final (ng/uL), as a reduced fraction.
    num = stock * d.stock_nl
    g = _gcd(num, final)
    d.achieved_conc_num = num // g
    d.achieved_conc_den = final // g
    d.achieved_ng_per_ml = floor_div(num * NL_PER_UL, final)[0]  # display, rounded down
    # The pump is told the concentration rounded UP: it then computes a lower flow (less drug).
    d.program_conc_ng_per_ul = ceil_div(num, final)[0]
    # Error vs target, <= 0; its magnitude rounded up so it is never understated.
    shortfall = target * final - num
    d.error_ppm = -ceil_div(shortfall * 1_000_000, target * final)[0]
    return d


# ---------------------------------------------------------------------------------------------
# 4. Screening (ITB-SCR-01..05)


class ScreeningDose(_Result):
    __slots__ = ("dose_ng", "index", "observe_max_s", "observe_min_s", "start_offset_s", "volume_nl")

    def __init__(self, index: int, dose_ng: int) -> None:
        self.index = index
        self.dose_ng = dose_ng
        # ITB-SCR-03: volume of the 50 mcg/mL ampule; every labeled dose divides exactly.
        self.volume_nl = floor_div(dose_ng * NL_PER_UL, SCREENING_CONC_NG_PER_UL)[0]
        self.start_offset_s = index * SCREENING_GAP_S
        self.observe_min_s = OBSERVE_MIN_S
        self.observe_max_s = OBSERVE_MAX_S


SCREEN_DOSE = "dose"
SCREEN_POSITIVE = "positive"
SCREEN_NOT_CANDIDATE = "not_candidate"


class ScreeningStep(_Result):
    __slots__ = ("dose", "kind", "message", "positive_dose_ng", "rule_ids")

    def __init__(
        self,
        kind: str,
        dose: ScreeningDose | None,
        positive_dose_ng: int | None,
        message: str,
        ids: list[str],
    ) -> None:
        self.kind = kind
        self.dose = dose
        self.positive_dose_ng = positive_dose_ng
        self.message = message
        self.rule_ids = ids


def screening_plan(very_small_child: bool = False) -> list[ScreeningDose]:
    # ITB-SCR-01: 50, 75, 100 mcg 24 h apart, each observed 4-8 h.
    # ITB-SCR-02: for very small children 25 mcg may be tried first (000 pediatric), then 75 and 100.
    small = _require_bool("very_small_child", very_small_child)
    doses = SMALL_CHILD_DOSES_NG if small else SCREENING_DOSES_NG
    return [ScreeningDose(i, doses[i]) for i in range(len(doses))]


def screening_next(plan_or_child_flag: list[ScreeningDose] | bool, responses: list[bool]) -> ScreeningStep:
    # responses[i] is the observed outcome of plan[i]; a positive ends the screening.
    if isinstance(plan_or_child_flag, list):
        plan = plan_or_child_flag
        if len(plan) != 3 or not all(isinstance(p, ScreeningDose) for p in plan):
            raise InputError("plan_or_child_flag", plan, "must be a plan from screening_plan()")
    else:
        plan = screening_plan(_require_bool("plan_or_child_flag", plan_or_child_flag))
    if not isinstance(responses, list) or len(responses) > len(plan):
        raise InputError("responses", responses, "must be a list of at most 3 True/False outcomes")
    for i in range(len(responses)):
        _require_bool("responses", responses[i])
        if responses[i] and i != len(responses) - 1:
            raise InputError("responses", responses, "has outcomes after a positive response")
    n = len(responses)
    if n and responses[-1]:
        dose_ng = plan[n - 1].dose_ng
        msg = "positive at " + units.fmt_scaled(dose_ng, units.NG_PER_MCG, 0) + " mcg"
        return ScreeningStep(SCREEN_POSITIVE, None, dose_ng, msg, ["ITB-SCR-01"])
    if n == len(plan):
        # ITB-SCR-04: no response to the 100 mcg dose -> not a candidate for chronic infusion.
        return ScreeningStep(
            SCREEN_NOT_CANDIDATE, None, None, "not a candidate: no response to 100 mcg", ["ITB-SCR-04"]
        )
    nxt = plan[n]
    msg = "give " + units.fmt_scaled(nxt.dose_ng, units.NG_PER_MCG, 0) + " mcg"
    return ScreeningStep(SCREEN_DOSE, nxt, None, msg, ["ITB-SCR-01", "ITB-SCR-03"])


# ---------------------------------------------------------------------------------------------
# 5. Initial daily dose


def initial_daily_dose(screening_dose_ng: int, effect_duration_s: int) -> int:
    # ITB-INI-01: 2x the positive screening dose over 24 h; ITB-INI-02: 1x if the effect lasted > 8 h.
    dose = units.require_int("screening_dose_ng", screening_dose_ng)
    if dose not in SCREENING_DOSES_NG and dose not in SMALL_CHILD_DOSES_NG:
        raise InputError(
            "screening_dose_ng", screening_dose_ng, "must be a screening dose: 25, 50, 75 or 100 mcg"
        )
    # Project choice: an effect longer than the 24 h between test doses is taken as a unit slip.
    effect = units.require_range("effect_duration_s", effect_duration_s, 1, S_PER_DAY)
    if effect > LONG_EFFECT_S:
        return dose
    return 2 * dose


# ---------------------------------------------------------------------------------------------
# 6. Refill forecast (ITB-REF-01)


class RefillForecast(_Result):
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


def _time_to_volume(volume_nl: int, conc: int, rate: object, start: int) -> int:
    # Seconds from start until volume_nl (at conc) has been delivered, rounded DOWN (earlier is safer).
    if volume_nl <= 0:
        return 0
    # Drug in the volume, in ng*s/day (the schedule integral unit): volume*conc pg * 86400 / 1000.
    need_x1000 = volume_nl * conc * S_PER_DAY
    if units.is_int(rate):
        return floor_div(need_x1000, rate * PG_PER_NG)[0]  # type: ignore[operator]
    sched: RateSchedule = rate  # type: ignore[assignment]
    # First whole second at which the integral reaches the (possibly fractional) need: ceil of the exact
    # time t*. Step back one second unless the integral lands exactly on it, giving floor(t*).
    t1 = sched.time_to_integral(start, ceil_div(need_x1000, PG_PER_NG)[0])
    if sched.integral_between(start, t1) * PG_PER_NG > need_x1000 and t1 > start:
        t1 -= 1
    return t1 - start


def refill_forecast(
    volume_nl: int,
    conc_ng_per_ul: int,
    dose_ng_per_day: "int | RateSchedule",
    *,
    start_s: int = 0,
    alarm_nl: int = DEFAULT_ALARM_NL,
    margin_s: int = DEFAULT_MARGIN_S,
) -> RefillForecast:
    # ITB-REF-01: refill before depletion; the low-reservoir alarm (default 2 mL) sounds before empty.
    # dose_ng_per_day is a constant daily dose or an object with the Schedule methods.
    volume = units.require_non_negative("volume_nl", volume_nl)
    conc = _require_conc("conc_ng_per_ul", conc_ng_per_ul)
    start = units.require_non_negative("start_s", start_s)
    alarm = units.require_non_negative("alarm_nl", alarm_nl)
    margin = units.require_range("margin_s", margin_s, MIN_MARGIN_S, MAX_MARGIN_S)
    rate: object = dose_ng_per_day
    if units.is_int(rate):
        units.require_positive("dose_ng_per_day", rate)
    elif hasattr(rate, "time_to_integral") and hasattr(rate, "integral_between"):
        if rate.integral_ng_s_per_day() <= 0:  # type: ignore[attr-defined]
            raise InputError("dose_ng_per_day", rate, "is a schedule that never delivers drug")
    else:
        raise InputError("dose_ng_per_day", rate, "must be an int dose in ng/day or a Schedule")
    f = RefillForecast()
    f.start_s = start
    f.alarm_now = volume <= alarm
    f.alarm_in_s = 0 if f.alarm_now else _time_to_volume(volume - alarm, conc, rate, start)
    f.empty_in_s = _time_to_volume(volume, conc, rate, start)
    f.alarm_in_days = floor_div(f.alarm_in_s, S_PER_DAY)[0]
    f.empty_in_days = floor_div(f.empty_in_s, S_PER_DAY)[0]
    f.alarm_at_s = start + f.alarm_in_s
    f.empty_at_s = start + f.empty_in_s
    # Refills are booked margin_s (3-5 days) before the alarm; if that has passed, refill now.
    f.refill_overdue = f.alarm_at_s - margin < start
    f.refill_at_s = start if f.refill_overdue else f.alarm_at_s - margin
    return f


# ---------------------------------------------------------------------------------------------
# 7. Residual (pocket-fill) check (ITB-REF-02)


class ResidualCheck(_Result):
    __slots__ = ("difference_nl", "flagged", "rule_ids", "threshold_basis", "threshold_nl")
    difference_nl: int
    threshold_nl: int
    flagged: bool
    threshold_basis: str
    rule_ids: list[str]


def residual_check(
    reservoir_capacity_nl: int, expected_residual_nl: int, measured_residual_nl: int
) -> ResidualCheck:
    capacity = units.require_positive("reservoir_capacity_nl", reservoir_capacity_nl)
    expected = units.require_range("expected_residual_nl", expected_residual_nl, 0, capacity)
    measured = units.require_range("measured_residual_nl", measured_residual_nl, 0, capacity)
    c = ResidualCheck()
    c.threshold_basis = "extrapolated 5 % of capacity (project choice)"
    c.threshold_nl = floor_div(capacity * RESIDUAL_EXTRAPOLATED_PERMILLE, PERMILLE)[0]
    for size, threshold in RESIDUAL_THRESHOLDS_NL:
        if capacity == size:
            c.threshold_nl = threshold
            c.threshold_basis = "published threshold for a " + str(size // NL_PER_ML) + " mL pump"
    c.difference_nl = measured - expected
    # A difference exactly at the threshold is not flagged: "differs by more than".
    c.flagged = abs(c.difference_nl) > c.threshold_nl
    c.rule_ids = ["ITB-REF-02"]
    return c


# ---------------------------------------------------------------------------------------------
# 8. Bridge bolus (ITB-BRG-01)


class Bridge(_Result):
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
    catheter_nl_per_cm: int = CATHETER_NL_PER_CM,
) -> Bridge:
    # After a concentration change the pump tubing and catheter still hold old drug. Run at the old
    # concentration's flow until that dead volume is delivered, so the patient's dose stays continuous.
    internal = units.require_non_negative("internal_volume_nl", internal_volume_nl)
    length = units.require_non_negative("catheter_length_mm", catheter_length_mm)
    old = _require_conc("old_conc_ng_per_ul", old_conc_ng_per_ul)
    new = _require_conc("new_conc_ng_per_ul", new_conc_ng_per_ul)
    dose = units.require_positive("dose_ng_per_day", dose_ng_per_day)
    per_cm = units.require_positive("catheter_nl_per_cm", catheter_nl_per_cm)
    b = Bridge()
    b.needed = old != new
    # Rounding the catheter volume UP is the conservative estimate of the old drug left in it.
    b.catheter_nl = ceil_div(length * per_cm, MM_PER_CM)[0]
    b.dead_volume_nl = internal + b.catheter_nl
    if b.dead_volume_nl == 0:
        raise InputError("catheter_length_mm", catheter_length_mm, "gives no dead volume to clear")
    b.old_flow_nl_per_day = floor_div(dose * NL_PER_UL, old)[0]
    b.new_flow_nl_per_day = floor_div(dose * NL_PER_UL, new)[0]
    if b.old_flow_nl_per_day == 0 or b.new_flow_nl_per_day == 0:
        raise InputError("dose_ng_per_day", dose_ng_per_day, "gives a flow below 1 nL/day")
    # How long old drug keeps arriving if the new program simply starts; rounded UP, as the time the
    # patient would get the wrong dose is never understated.
    b.clear_at_new_flow_s = ceil_div(b.dead_volume_nl * S_PER_DAY, b.new_flow_nl_per_day)[0]
    b.bridge_flow_nl_per_day = b.old_flow_nl_per_day
    b.bridge_volume_nl = b.dead_volume_nl
    b.bridge_duration_s = floor_div(b.dead_volume_nl * S_PER_DAY, b.bridge_flow_nl_per_day)[0]
    return b


# ---------------------------------------------------------------------------------------------
# 9. Taper (drug holiday) and restart


def _taper_steps(current: int, floor_dose: int, step_permille: int, max_steps: int) -> list[int]:
    # Greedy: each step cuts step_permille of the dose before it, the cut rounded DOWN so no step exceeds
    # the limit (in a taper the hazard is withdrawal, so here the dose rounds up), never below the floor.
    doses: list[int] = []
    dose = current
    while dose > floor_dose and len(doses) < max_steps:
        cut = floor_div(dose * step_permille, PERMILLE)[0]
        if cut == 0:
            break
        dose = max(floor_dose, dose - cut)
        doses.append(dose)
    return doses


def taper_plan(
    current_dose_ng_per_day: int,
    floor_dose_ng_per_day: int,
    duration_s: int,
    max_step_permille: int = TAPER_MAX_STEP_PERMILLE,
) -> list[tuple[int, int]]:
    # ITB-HOL-01: gradual reduction over 2-4 weeks to floor_dose (the bottom of the patient's range).
    # ITB-MNT-03: no step cuts more than max_step_permille (<= 20 %) of the dose before it.
    # ITB-DIS-01: the plan never reaches 0; an abrupt stop is never generated.
    # Shape: one change per day at most (offsets 0, 86400, ...), using the smallest uniform step that
    # still reaches the floor within the duration, so the reduction is spread over the whole holiday.
    # Choice: when even max_step_permille cannot reach the floor in time, raise LimitError (naming the
    # lowest reachable dose) rather than return a plan that silently stops short.
    current = units.require_positive("current_dose_ng_per_day", current_dose_ng_per_day)
    floor_dose = units.require_positive("floor_dose_ng_per_day", floor_dose_ng_per_day)
    if floor_dose >= current:
        raise InputError("floor_dose_ng_per_day", floor_dose_ng_per_day, "must be below the current dose")
    duration = units.require_range("duration_s", duration_s, TAPER_MIN_S, TAPER_MAX_S)
    limit = units.require_range("max_step_permille", max_step_permille, 1, TAPER_MAX_STEP_PERMILLE)
    slots = floor_div(duration, TAPER_STEP_S)[0]
    best = _taper_steps(current, floor_dose, limit, slots)
    if not best or best[-1] != floor_dose:
        lowest = best[-1] if best else current
        raise LimitError(
            "floor_dose_ng_per_day",
            floor_dose_ng_per_day,
            "cannot be reached within duration_s "
            + str(duration)
            + " at steps of at most "
            + str(limit)
            + " permille; lowest reachable is "
            + str(lowest),
            ["ITB-HOL-01", "ITB-MNT-03"],
        )
    # Smallest step that still reaches the floor: the dose after k steps falls as the step grows.
    lo, hi = 1, limit
    while lo < hi:
        mid = (lo + hi) // 2
        steps = _taper_steps(current, floor_dose, mid, slots)
        if steps and steps[-1] == floor_dose:
            hi = mid
        else:
            lo = mid + 1
    best = _taper_steps(current, floor_dose, lo, slots)
    return [(i * TAPER_STEP_S, best[i]) for i in range(len(best))]


def restart_dose(initial_dose_ng_per_day: int) -> int:
    # ITB-HOL-02: after a drug holiday, restart at the initial continuous-infusion dose.
    return units.require_positive("initial_dose_ng_per_day", initial_dose_ng_per_day)
