# Screening (ITB-SCR-01..05) and the initial daily dose (ITB-INI-01/02): the test-dose ladder of the
# 50 mcg/mL ampule, the next step after each observed response, and the first continuous dose.

from firmware_py import library, units
from firmware_py.decision import applied
from firmware_py.errors import InputError
from firmware_py.record import Record
from firmware_py.units import NL_PER_UL, floor_div


def screening_conc() -> int:
    # ITB-SCR-03 / ITB-SCR-05: the 50 mcg/mL ampule, for screening only.
    return library.param("ITB-SCR-03", "conc_ng_per_ul")


def ladder(very_small_child: bool) -> tuple[int, ...]:
    # ITB-SCR-01: 50, 75, 100 mcg; ITB-SCR-02: 25 mcg may be tried first for very small children.
    doses = library.param_tuple("ITB-SCR-01", "doses_ng")
    if very_small_child:
        return (library.param("ITB-SCR-02", "first_dose_min_ng"),) + doses[1:]
    return doses


def all_screening_doses() -> tuple[int, ...]:
    return library.param_tuple("ITB-SCR-03", "doses_ng")


def _mcg_list(doses: tuple[int, ...]) -> str:
    return ", ".join([units.fmt_scaled(d, units.NG_PER_MCG, 0) for d in doses]) + " mcg"


class ScreeningDose(Record):
    __slots__ = ("dose_ng", "index", "observe_max_s", "observe_min_s", "start_offset_s", "volume_nl")

    def __init__(self, index: int, dose_ng: int) -> None:
        self.index = index
        self.dose_ng = dose_ng
        # ITB-SCR-03: volume of the 50 mcg/mL ampule; every labeled dose divides exactly.
        self.volume_nl = floor_div(dose_ng * NL_PER_UL, screening_conc())[0]
        self.start_offset_s = index * library.param("ITB-SCR-01", "interval_s")
        self.observe_min_s = library.param("ITB-SCR-01", "observe_min_s")
        self.observe_max_s = library.param("ITB-SCR-01", "observe_max_s")


SCREEN_DOSE = "dose"
SCREEN_POSITIVE = "positive"
SCREEN_NOT_CANDIDATE = "not_candidate"


class ScreeningStep(Record):
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
        applied(*ids)


def screening_plan(very_small_child: bool = False) -> list[ScreeningDose]:
    # ITB-SCR-01: 50, 75, 100 mcg 24 h apart, each observed 4-8 h.
    # ITB-SCR-02: for very small children 25 mcg may be tried first (000 pediatric), then 75 and 100.
    small = units.require_bool("very_small_child", very_small_child)
    applied("ITB-SCR-01", "ITB-SCR-03", *(("ITB-SCR-02",) if small else ()))
    doses = ladder(small)
    return [ScreeningDose(i, doses[i]) for i in range(len(doses))]


def screening_next(plan_or_child_flag: list[ScreeningDose] | bool, responses: list[bool]) -> ScreeningStep:
    # responses[i] is the observed outcome of plan[i]; a positive ends the screening.
    if isinstance(plan_or_child_flag, list):
        plan = plan_or_child_flag
        if len(plan) != len(ladder(False)) or not all(isinstance(p, ScreeningDose) for p in plan):
            raise InputError("plan_or_child_flag", plan, "must be a plan from screening_plan()")
    else:
        plan = screening_plan(units.require_bool("plan_or_child_flag", plan_or_child_flag))
    if not isinstance(responses, list) or len(responses) > len(plan):
        raise InputError("responses", responses, "must be a list of at most " + str(len(plan))
                         + " True/False outcomes")
    for i in range(len(responses)):
        units.require_bool("responses", responses[i])
        if responses[i] and i != len(responses) - 1:
            raise InputError("responses", responses, "has outcomes after a positive response")
    n = len(responses)
    if n and responses[-1]:
        dose_ng = plan[n - 1].dose_ng
        msg = "positive at " + units.fmt_scaled(dose_ng, units.NG_PER_MCG, 0) + " mcg"
        return ScreeningStep(SCREEN_POSITIVE, None, dose_ng, msg, ["ITB-SCR-01"])
    if n == len(plan):
        # ITB-SCR-04: no response to the 100 mcg dose -> not a candidate for chronic infusion.
        top = units.fmt_scaled(plan[-1].dose_ng, units.NG_PER_MCG, 0)
        return ScreeningStep(
            SCREEN_NOT_CANDIDATE,
            None,
            None,
            "not a candidate: no response to " + top + " mcg",
            ["ITB-SCR-04"],
        )
    nxt = plan[n]
    msg = "give " + units.fmt_scaled(nxt.dose_ng, units.NG_PER_MCG, 0) + " mcg"
    return ScreeningStep(SCREEN_DOSE, nxt, None, msg, ["ITB-SCR-01", "ITB-SCR-03"])


def initial_rule(effect_longer_than_8h: bool) -> str:
    # ITB-INI-01: twice the positive screening dose over 24 h; ITB-INI-02: once, if its effect lasted more
    # than 8 h.
    return "ITB-INI-02" if effect_longer_than_8h else "ITB-INI-01"


def require_screening_dose(field: str, value: object) -> int:
    # A positive screening dose is one of the labeled test doses (ITB-SCR-01/02), at most ITB-SCR-04's.
    dose = units.require_int(field, value)
    if dose not in all_screening_doses() or dose > library.param("ITB-SCR-04", "max_test_dose_ng"):
        raise InputError(field, value, "must be a screening test dose: " + _mcg_list(all_screening_doses()))
    return dose


def initial_daily_dose(screening_dose_ng: int, effect_duration_s: int) -> int:
    # The initial daily dose (ng/day) from the positive screening dose and how long its effect lasted.
    dose = require_screening_dose("screening_dose_ng", screening_dose_ng)
    # Project choice: an effect longer than the 24 h between test doses is taken as a unit slip.
    gap = library.param("ITB-SCR-01", "interval_s")
    effect = units.require_range("effect_duration_s", effect_duration_s, 1, gap)
    longer = effect > library.param("ITB-INI-02", "effect_longer_than_s")
    applied(initial_rule(longer))
    return dose * library.param(initial_rule(longer), "factor")
