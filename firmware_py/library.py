# The drug library: every labeling rule of intrathecal baclofen, and every pump fact the rules need, as
# one data row with its requirement ID. Every number, enumeration and default of the labeling lives here;
# code reads it with param(id, name) and never retypes it.
#
# A row is (req_id, kind, reply, title, sources, params):
#   kind     "hard" refuses, "soft" warns and needs an explicit override with a reason, "info" is applied
#            elsewhere (the code that applies it cites the ID).
#   reply    the NAK reason the rig sends when a hard rule refuses: "LIMIT" for a bound on what the pump
#            may run at all, "TITRATION" for a bound on a change; "" for soft and info rules.
#   sources  codes of the labeling files in shared/labeling/ ("000" is 000_bca09fe69b9ab955.txt, ...) or
#            "DESIGN" for shared/DESIGN.md (pump facts); see FILES.
#   params   (name, value) pairs in base units (ng, ng/day, nL, s, mm, permille, ppm, ng/uL = mcg/mL).
# Notes (which source a rule follows where they disagree, which numbers are project choices) are "# note:"
# comments directly above their row, continued on "#   " lines: host_tools/trace.py reads them into
# docs/requirements.md. Rows are literal tuples, so a frozen image keeps them in flash, not on the heap.

from firmware_py.errors import InputError, OverrideError
from firmware_py.text import printable
from firmware_py.units import require_range

FILES = (
    ("000", "000_bca09fe69b9ab955.txt"),
    ("001", "001_75f866482c9c42d7.txt"),
    ("002", "002_2ca3bb212e8effd8.txt"),
    ("003", "003_1843e882944188f3.txt"),
    ("004", "004_3f2ccdd1b920df0c.txt"),
    ("DESIGN", "DESIGN.md"),
)

HARD = "hard"
SOFT = "soft"
INFO = "info"
KINDS = (HARD, SOFT, INFO)
LIMIT = "LIMIT"
TITRATION = "TITRATION"

RULES = (
    # --- screening (applied by firmware_py/screening.py)
    ("ITB-SCR-01", "info", "",
     "Screening bolus test doses 50, 75, 100 mcg, each 24 h after the last; observe "
     "4 to 8 h after each", ("000", "001", "002", "003"),
     (("doses_ng", (50_000, 75_000, 100_000)), ("interval_s", 86_400), ("observe_min_s", 4 * 3_600),
      ("observe_max_s", 8 * 3_600))),
    # note: 000 writes '25 to 50 mcg (in a volume of 1 mL)'; 1 mL of the 50 mcg/mL ampule is 50 mcg, so
    #   volumes follow ITB-SCR-03 (25 mcg = 0.5 mL).
    ("ITB-SCR-02", "info", "",
     "Very small patients: a 25 mcg first test dose may be tried (first test dose 25 "
     "to 50 mcg), then 75 and 100 mcg", ("000", "002"),
     (("first_dose_min_ng", 25_000), ("first_dose_max_ng", 50_000))),
    # note: The 0.5 mL for 25 mcg is computed from the 50 mcg/mL strength; the labeling states the other
    #   three.
    ("ITB-SCR-03", "info", "", "Screening volumes of the 50 mcg/mL ampule: 25 mcg = 0.5 mL, 50 mcg = 1 mL, "
     "75 mcg = 1.5 mL, 100 mcg = 2 mL (2 ampules)", ("000", "001", "002"),
     (("conc_ng_per_ul", 50), ("ampule_nl", 1_000_000), ("doses_ng", (25_000, 50_000, 75_000, 100_000)),
      ("volumes_nl", (500_000, 1_000_000, 1_500_000, 2_000_000)))),
    ("ITB-SCR-04", "hard", "LIMIT", "No positive response to the 100 mcg test dose: not a candidate for "
     "chronic intrathecal therapy, no further test-dose increase", ("000", "001", "002"),
     (("max_test_dose_ng", 100_000),)),
    # note: The strength is ITB-SCR-03's conc_ng_per_ul.
    ("ITB-SCR-05", "hard", "LIMIT",
     "The 50 mcg/mL strength is for bolus screening only, never a pump fill or "
     "a dilution stock", ("002", "000"), ()),
    # --- starting a pump: initial continuous infusion after implant, restart, transfer
    # note: Applied to every instant of a first program (phase initial): no step's rate above the factor
    #   times the screening dose the program states.
    ("ITB-INI-01", "hard", "LIMIT", "Initial daily dose: twice the positive screening dose, given over 24 h",
     ("000", "002", "003"), (("factor", 2), ("over_s", 86_400))),
    ("ITB-INI-02", "hard", "LIMIT",
     "Initial daily dose: once the screening dose over 24 h if its effect lasted "
     "more than 8 h", ("000", "001", "002"), (("factor", 1), ("effect_longer_than_s", 8 * 3_600))),
    ("ITB-INI-03", "hard", "TITRATION",
     "No dose increase in the first 24 h after implant (programmable pump)",
     ("000", "002"), (("no_increase_s", 86_400),)),
    ("ITB-INI-04", "hard", "TITRATION", "No dose increase in the first 48 h after implant (non-programmable "
     "pump)", ("000",), (("no_increase_s", 2 * 86_400),)),
    # note: The labeling names the initial dose and the restart after a holiday; a transfer from another pump
    #   is the project's third way to start, checked as a change from the stated dose of the other pump.
    #   A pump starts on its first program or after a confirmed stop, and in no other way.
    ("ITB-STA-01", "hard", "LIMIT",
     "A pump starts only with an initial dose (ITB-INI-01/02), a restart after "
     "a drug holiday (ITB-HOL-02), or a transfer from another pump at a stated dose with a reason",
     ("000", "002", "DESIGN"), ()),
    # note: A course runs from a start to a confirmed stop. The patient cannot change within it: a change of
    #   origin or age would change the band a change is checked against. Age grows with time: at most one
    #   year per 365 days since the start, plus one for a birthday in between.
    ("ITB-PAT-01", "hard", "LIMIT",
     "The patient is the same through a course: the origin never changes, and the age only grows with the "
     "time since the course started", ("DESIGN",), (("year_s", 365 * 86_400),)),
    # --- post-implant titration
    # note: Steps below 10 % are allowed (more cautious) and noted; above 30 % refused.
    ("ITB-TIT-01", "hard", "TITRATION",
     "Titration, adult spinal origin: increase 10 % to 30 % per step, once "
     "per 24 h", ("000", "002", "003"), (("min_step_permille", 100), ("max_step_permille", 300))),
    # note: Steps below 5 % are allowed (more cautious) and noted; above 15 % refused.
    ("ITB-TIT-02", "hard", "TITRATION",
     "Titration, adult cerebral origin: increase 5 % to 15 % per step, once "
     "per 24 h", ("000", "002", "003"), (("min_step_permille", 50), ("max_step_permille", 150))),
    # note: The labeling does not define 'pediatric'; under 18 years is the project's reading.
    ("ITB-TIT-03", "hard", "TITRATION",
     "Titration, pediatric (under 18 y, either origin): increase 5 % to 15 % "
     "per step, once per 24 h", ("000", "002"),
     (("min_step_permille", 50), ("max_step_permille", 150), ("pediatric_below_age_years", 18))),
    # note: Applied over the rig's dose history: an increase at any instant needs this long since the last
    #   change of any kind; a reduction is never delayed.
    ("ITB-TIT-04", "hard", "TITRATION", "At most one increase per 24 h (programmable pump); 48 h between "
     "changes (non-programmable pump)", ("000",),
     (("programmable_interval_s", 86_400), ("constant_flow_interval_s", 2 * 86_400))),
    # --- maintenance
    ("ITB-MNT-01", "hard", "TITRATION", "Refill, spinal origin: increase 10 % to 40 %, never more than 40 %",
     ("000", "002"), (("min_step_permille", 100), ("max_step_permille", 400))),
    ("ITB-MNT-02", "hard", "TITRATION", "Refill, cerebral origin and pediatric: increase 5 % to 20 %, never "
     "more than 20 %", ("000", "002"), (("min_step_permille", 50), ("max_step_permille", 200))),
    # note: Reductions below 10 % are allowed and noted.
    ("ITB-MNT-03", "hard", "TITRATION", "Side effects: reduce the daily dose by 10 % to 20 %; no increase in "
     "this phase", ("000", "002"), (("min_reduction_permille", 100), ("max_reduction_permille", 200))),
    # --- maintenance ranges (every instant's rate, as a daily dose)
    ("ITB-RNG-01", "hard", "LIMIT",
     "Daily dose, adult spinal origin: 12 to 2003 mcg/day (usually 300 to 800)",
     ("000", "002"), (("low_ng_per_day", 12_000), ("high_ng_per_day", 2_003_000),
                      ("usual_low_ng_per_day", 300_000), ("usual_high_ng_per_day", 800_000))),
    # note: 000 gives 22-1400 for pediatric spinal patients 12 y and older too; pediatric means ITB-TIT-03's
    #   age.
    ("ITB-RNG-02", "hard", "LIMIT", "Daily dose, adult cerebral origin and pediatric 12 y and older (either "
     "origin): 22 to 1400 mcg/day (usually 90 to 703)", ("000", "002"),
     (("low_ng_per_day", 22_000), ("high_ng_per_day", 1_400_000), ("usual_low_ng_per_day", 90_000),
      ("usual_high_ng_per_day", 703_000))),
    ("ITB-RNG-03", "hard", "LIMIT", "Daily dose, under 12 y (either origin): 24 to 1199 mcg/day (mean 274)",
     ("000", "002"), (("low_ng_per_day", 24_000), ("high_ng_per_day", 1_199_000),
                      ("typical_ng_per_day", 274_000), ("below_age_years", 12))),
    # note: 000 states it for spinal, cerebral and 12 y and older; applied to every group (more cautious).
    ("ITB-RNG-04", "soft", "", "Daily dose above 1000 mcg/day: limited experience", ("000",),
     (("above_ng_per_day", 1_000_000),)),
    # note: 003 says 'younger than 12 years' without naming the route (000 gives 12 y for the oral form); this
    #   rule follows 000's intrathecal 4 y. Children under 12 get ITB-RNG-03's range.
    ("ITB-RNG-05", "soft", "", "Under 4 y: safety and effectiveness of intrathecal use not established",
     ("000", "002"), (("below_age_years", 4),)),
    # note: The labeling gives no number: flagging a rise of more than 50 % within 7 days is a project choice.
    #   Applied over the rig's dose history, at every instant a change raises.
    ("ITB-ESC-01", "soft", "", "Sudden large dose escalation: possible catheter complication (kink, "
     "dislodgement) or pump malfunction", ("000", "002"),
     (("window_s", 7 * 86_400), ("max_increase_permille", 500))),
    # --- concentration
    # note: 002 lists 500 and 2000 only; 000 (1 mg/mL) and 003 (20 mg/20 mL) add 1000. Follows 000/003.
    ("ITB-CON-01", "hard", "LIMIT", "Labeled maintenance strengths 500, 1000, 2000 mcg/mL", ("000",
                                                                                             "002", "003"),
     (("strengths_ng_per_ul", (500, 1000, 2000)),)),
    ("ITB-CON-02", "info", "",
     "Other concentrations by dilution with sterile preservative-free sodium chloride "
     "for injection", ("002",), ()),
    ("ITB-CON-03", "info", "", "Concentration chosen from the daily dose and the pump's delivery rate",
     ("000", "002"), ()),
    # note: 2000 mcg/mL is the highest labeled strength; dilution can only lower a stock.
    ("ITB-CON-04", "hard", "LIMIT", "Pump concentration never above 2000 mcg/mL nor above the stock it is "
     "diluted from", ("000", "002", "003"), (("max_conc_ng_per_ul", 2000),)),
    # note: The labeling gives no tolerance; 1 % below the target is the project's default, and a stock volume
    #   always rounds down, so a dilution is never stronger than its target.
    ("ITB-DIL-01", "hard", "LIMIT",
     "A dilution's achieved concentration is at most a stated tolerance (1 % by "
     "default) below its target, and the program states the achieved concentration", ("002", "DESIGN"),
     (("max_shortfall_ppm", 10_000),)),
    # --- schedules
    ("ITB-SCH-01", "info", "", "Flow changes start 2 h before the desired clinical effect", ("002",),
     (("lead_s", 2 * 3_600),)),
    # note: The 13 rate changes a day are a SynchroMed II fact (DESIGN.md), not labeling.
    ("ITB-SCH-02", "hard", "LIMIT", "Complex schedules only on programmable pumps; at most 13 steps a day",
     ("002", "DESIGN"), (("max_steps_per_day", 13),)),
    ("ITB-SCH-03", "info", "", "Example: increased spasms at night, 20 % increase of the hourly rate",
     ("002", "000"), (("night_increase_permille", 200),)),
    # --- pump facts: the rig's configuration, never taken from a program alone
    ("ITB-PMP-01", "hard", "LIMIT", "Pump reservoirs hold 20 or 40 mL; a fill never exceeds the reservoir",
     ("DESIGN",), (("reservoirs_nl", (20_000_000, 40_000_000)),)),
    # note: The labeling and DESIGN.md give no catheter length; 10 cm to 1.5 m is the project's bound, well
    #   around any intrathecal catheter with its pump connector, so a typo of 100 m cannot raise the
    #   bridge-bolus volume.
    ("ITB-PMP-02", "hard", "LIMIT", "Catheter length 10 cm to 1.5 m", ("DESIGN",),
     (("min_catheter_mm", 100), ("max_catheter_mm", 1_500))),
    # note: A project bound on the pump's internal volume (tubing between reservoir and catheter port).
    ("ITB-PMP-03", "hard", "LIMIT", "Pump internal volume at most 1 mL", ("DESIGN",),
     (("max_internal_nl", 1_000_000),)),
    # note: 30 min is the project's shortest schedule step (flex dosing at whole minutes); a rig may be
    #   configured with a longer one, never a shorter one.
    ("ITB-PMP-04", "hard", "LIMIT", "No schedule step shorter than 30 min", ("DESIGN",),
     (("min_step_s", 30 * 60),)),
    # --- refill and concentration change
    # note: Alarm volume and booking lead are pump practice from DESIGN.md; the labeling says avoid depletion.
    ("ITB-REF-01", "info", "",
     "Refill before the reservoir empties; low-reservoir alarm (default 2 mL) before "
     "empty; book the refill 3 to 5 days before the alarm date", ("001", "000", "DESIGN"),
     (("low_alarm_nl", 2_000_000), ("book_min_s", 3 * 86_400), ("book_max_s", 5 * 86_400))),
    # note: Other reservoir sizes use 5 % of capacity, the ratio both published thresholds share (a project
    #   choice). A flag on the refill, shown to the user and logged; the refill itself is not refused (the
    #   residual is measured after the fact).
    ("ITB-REF-02", "info", "",
     "Measured residual differs from expected by more than 1 mL (20 mL pump) or 2 mL "
     "(40 mL pump): possible pocket fill", ("DESIGN", "001"),
     (("reservoirs_nl", (20_000_000, 40_000_000)), ("tolerances_nl", (1_000_000, 2_000_000)),
      ("other_permille", 50))),
    # note: 0.0026 mL/cm is the Prometra catheter volume (DESIGN.md). The bolus is bounded by the dead
    #   volume of the rig's own configuration and by the old concentration's flow.
    ("ITB-BRG-01", "hard", "LIMIT",
     "Concentration change: old drug in pump tubing and catheter cleared with a "
     "bridge bolus, no larger than that dead volume and no faster than the old flow", ("DESIGN", "002"),
     (("catheter_nl_per_cm", 2_600),)),
    # --- drug holiday and discontinuation
    ("ITB-HOL-01", "hard", "TITRATION", "Drug holiday: gradual reduction over 2 to 4 weeks; a taper only "
     "reduces", ("000", "002", "003"), (("min_s", 2 * 7 * 86_400), ("max_s", 4 * 7 * 86_400))),
    # note: Applied to a restart after a confirmed stop: every instant at most the initial dose from the
    #   screening dose the program states (ITB-INI-01/02).
    ("ITB-HOL-02", "hard", "LIMIT", "After a drug holiday, restart at the initial continuous-infusion dose",
     ("000", "002"), ()),
    # note: Sources disagree; no check depends on it, reports quote both.
    ("ITB-HOL-03", "info", "", "Refractory to increasing doses: approximately 5 % of patients (000) vs up to "
     "10 % (003)", ("000", "003"), (("refractory_000_permille", 50), ("refractory_003_permille", 100))),
    # note: 'Reduce slowly' has no number in the labeling; 20 % (the side-effect reduction) is the project's
    #   choice, over any 24 h of the rig's history and at every instant. Stopping is only a confirmed stop.
    ("ITB-DIS-01", "hard", "TITRATION",
     "No abrupt discontinuation (boxed warning): no step to 0, no reduction "
     "above 20 % within 24 h", ("000", "001", "002", "004"), (("max_step_reduction_permille", 200),
                                                               ("window_s", 86_400))),
)

# Enumerations of the program record and the checks. The pump kind, the patient's origin and the phase
# are facts of the labeling; a phase says which rule bounds a program.
DRUGS = ("baclofen",)
SPINAL = "spinal"
CEREBRAL = "cerebral"
ORIGINS = (SPINAL, CEREBRAL)
PROGRAMMABLE = "programmable"
CONSTANT_FLOW = "constant-flow"
PUMP_KINDS = (PROGRAMMABLE, CONSTANT_FLOW)
INITIAL = "initial"
RESTART = "restart"
TRANSFER = "transfer"
TITRATION_PHASE = "titration"
REFILL = "refill"
SIDE_EFFECTS = "side-effects"
TAPER = "taper"
START_PHASES = (INITIAL, RESTART, TRANSFER)  # a first program, or the first after a confirmed stop
CHANGE_PHASES = (TITRATION_PHASE, REFILL, SIDE_EFFECTS, TAPER)  # a program that replaces a running one
PHASES = START_PHASES + CHANGE_PHASES
MAX_AGE_YEARS = 130
MAX_REASON_CHARS = 120


class Rule:
    # One row as an object, for host tools and tests (the device reads rows with param()).
    __slots__ = ("kind", "params", "reply", "req_id", "source", "sources", "title")

    def __init__(self, row: tuple) -> None:  # type: ignore[type-arg]
        self.req_id: str = row[0]
        self.kind: str = row[1]
        self.reply: str | None = row[2]
        self.title: str = row[3]
        self.sources = row[4]
        self.source = ", ".join([file_name(code) for code in row[4]])
        self.params = dict(row[5])

    def param(self, name: str) -> int:
        return param(self.req_id, name)

    def param_tuple(self, name: str) -> tuple[int, ...]:
        return param_tuple(self.req_id, name)

    def __repr__(self) -> str:
        return "Rule(" + self.req_id + ", " + self.kind + ")"


def file_name(code: str) -> str:
    for c, name in FILES:
        if c == code:
            return name
    raise InputError("source", code, "is not a labeling file code")


def _row(req_id: object) -> tuple:  # type: ignore[type-arg]
    if isinstance(req_id, str):
        for r in RULES:
            if r[0] == req_id:
                return r
    raise InputError("req_id", req_id, "is not a rule of the drug library")


def rule(req_id: str) -> Rule:
    return Rule(_row(req_id))


def rules() -> list[Rule]:
    return [Rule(r) for r in RULES]


def kind(req_id: str) -> str:
    return str(_row(req_id)[1])


def reply(req_id: str) -> str:
    # The NAK reason for a refusal by this rule (soft rules: OVERRIDE).
    r = _row(req_id)
    return str(r[2]) if r[1] == HARD else "OVERRIDE"


def _value(req_id: str, name: str) -> object:
    for k, v in _row(req_id)[5]:
        if k == name:
            return v
    raise InputError("param", req_id + "." + name, "is not a parameter of this rule")


def param(req_id: str, name: str) -> int:
    v = _value(req_id, name)
    if not isinstance(v, int) or isinstance(v, bool):
        raise InputError("param", req_id + "." + name, "is not an integer parameter of this rule")
    return v


def param_tuple(req_id: str, name: str) -> tuple[int, ...]:
    v = _value(req_id, name)
    if not isinstance(v, tuple):
        raise InputError("param", req_id + "." + name, "is not a tuple parameter of this rule")
    return v


# -- patient groups -------------------------------------------------------------------------------------


def require_choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InputError(field, value, "must be one of " + ", ".join(choices))
    return value


def require_age(age_years: object) -> int:
    return require_range("age_years", age_years, 0, MAX_AGE_YEARS)


def is_pediatric(age_years: int) -> bool:
    return age_years < param("ITB-TIT-03", "pediatric_below_age_years")


def range_rule(origin: str, age_years: int) -> str:
    # The ID of the hard maintenance range for this patient group (ITB-RNG-01/02/03).
    require_choice("origin", origin, ORIGINS)
    age = require_age(age_years)
    if age < param("ITB-RNG-03", "below_age_years"):
        return "ITB-RNG-03"
    if origin == SPINAL and not is_pediatric(age):
        return "ITB-RNG-01"
    return "ITB-RNG-02"


def step_rule(origin: str, age_years: int, phase: str) -> str:
    # The ID of the increase band for this group: titration (and a transfer) ITB-TIT-01/02/03, refill
    # ITB-MNT-01/02.
    require_choice("origin", origin, ORIGINS)
    age = require_age(age_years)
    adult_spinal = origin == SPINAL and not is_pediatric(age)
    if phase in (TITRATION_PHASE, TRANSFER):
        if is_pediatric(age):
            return "ITB-TIT-03"
        return "ITB-TIT-01" if adult_spinal else "ITB-TIT-02"
    if phase == REFILL:
        return "ITB-MNT-01" if adult_spinal else "ITB-MNT-02"
    raise InputError("phase", phase, "has no increase band (only titration, transfer and refill raise)")


def group_text(origin: str, age: int) -> str:
    if is_pediatric(age):
        return "pediatric " + origin + " (" + str(age) + " y)"
    return "adult " + origin


# -- overrides ------------------------------------------------------------------------------------------


def validate_overrides(overrides: object) -> dict[str, str]:
    # overrides: rule ID -> reason. Only soft rules can be overridden, and only with a printable reason.
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise OverrideError("overrides", overrides, "must be a dict of rule ID -> reason")
    out: dict[str, str] = {}
    for rid in overrides:
        if not isinstance(rid, str) or not any(r[0] == rid for r in RULES):
            raise OverrideError("overrides", rid, "names no rule of the drug library")
        k = kind(rid)
        if k != SOFT:
            raise OverrideError("overrides", rid, "names a " + k + " rule; only soft rules can be overridden")
        reason = overrides[rid]
        field = "overrides[" + rid + "]"
        if not isinstance(reason, str) or not reason.strip():
            raise OverrideError(field, reason, "needs a non-empty reason")
        if len(reason) > MAX_REASON_CHARS:
            raise OverrideError(field, reason, "is longer than " + str(MAX_REASON_CHARS) + " characters")
        if not printable(reason):
            raise OverrideError(field, reason, "reason must be printable (no control characters)")
        out[rid] = reason
    return out


def refractory_text() -> str:
    # ITB-HOL-03: the sources disagree (about 5 % vs up to 10 %); text about tolerance quotes both. The
    # envelope quotes it with an escalation warning (and records the rule as applied there).
    a = param("ITB-HOL-03", "refractory_000_permille") // 10
    b = param("ITB-HOL-03", "refractory_003_permille") // 10
    return ("refractory to increasing doses: approximately " + str(a) + " % of patients (" + file_name("000")
            + "), up to " + str(b) + " % (" + file_name("003") + ")")
