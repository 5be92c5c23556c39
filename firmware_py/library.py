# The drug library: every labeling rule of intrathecal baclofen as one data row, and the checks that
# apply them. Host and rig run the same checks (defense in depth).
#
# A row is Rule(req_id, kind, title, source, params, note):
#   kind   "hard" refuses, "soft" warns and needs an explicit override with a reason, "info" is
#          documented here and applied elsewhere (dosing.py, schedule.py, rig.py cite the ID).
#   source labeling file names from shared/labeling/ (or DESIGN.md for pump facts).
#   params every number the rule needs, in base units (ng, ng/day, nL, s, permille, ng/uL); code reads
#          them through rule(id).param(name), so each number lives here and nowhere else.
#   note   where sources disagree, or a number is a project choice, this says which one the rule follows.
#          In this table a note is a "# note:" comment directly above its row (continued on "#   " lines),
#          not a string: no code on the device reads it, and a string constant of an imported .mpy stays
#          in RAM. host_tools/trace.py reads these comments for docs/requirements.md.
#
# Percent limits compare exactly in integers: proposed * 1000 <= current * (1000 + limit_permille).
# No check here ever divides to decide; divisions only format numbers for people.

from firmware_py.errors import InputError
from firmware_py.units import (
    S_PER_DAY,
    S_PER_H,
    ceil_div,
    floor_div,
    fmt_scaled,
    require_non_negative,
    require_positive,
    require_range,
)

_F0 = "000_bca09fe69b9ab955.txt"
_F1 = "001_75f866482c9c42d7.txt"
_F2 = "002_2ca3bb212e8effd8.txt"
_F3 = "003_1843e882944188f3.txt"
_F4 = "004_3f2ccdd1b920df0c.txt"
_DESIGN = "DESIGN.md"

HARD = "hard"
SOFT = "soft"
INFO = "info"
KINDS = (HARD, SOFT, INFO)

SPINAL = "spinal"
CEREBRAL = "cerebral"
ORIGINS = (SPINAL, CEREBRAL)
PROGRAMMABLE = "programmable"
CONSTANT_FLOW = "constant-flow"
PUMP_KINDS = (PROGRAMMABLE, CONSTANT_FLOW)
TITRATION = "titration"
REFILL = "refill"
SIDE_EFFECTS = "side-effects"
TAPER = "taper"
PHASES = (TITRATION, REFILL, SIDE_EFFECTS, TAPER)

MAX_AGE_YEARS = 130
MAX_REASON_CHARS = 120


class OverrideError(InputError):
    # An override that may not be given: of a hard or info rule, of an unknown rule, or without a reason.
    # The rig answers it with NAK OVERRIDE.
    pass


class Rule:
    __slots__ = ("kind", "note", "params", "req_id", "source", "title")

    def __init__(  # noqa: PLR0917
        self, req_id: str, kind: str, title: str, source: str, params: dict[str, object], note: str = ""
    ) -> None:
        self.req_id = req_id
        self.kind = kind
        self.title = title
        self.source = source
        self.params = params
        self.note = note

    def param(self, name: str) -> int:
        v = self.params.get(name)
        if not isinstance(v, int) or isinstance(v, bool):
            raise InputError("param", self.req_id + "." + name, "is not an integer parameter of this rule")
        return v

    def param_tuple(self, name: str) -> tuple[int, ...]:
        v = self.params.get(name)
        if not isinstance(v, tuple):
            raise InputError("param", self.req_id + "." + name, "is not a tuple parameter of this rule")
        return v

    def __repr__(self) -> str:
        return "Rule(" + self.req_id + ", " + self.kind + ")"


_SOURCES: dict[str, str] = {}


def _src(*names: str) -> str:
    # Rows with the same files share one string (a row's source is never mutated).
    s = ", ".join(names)
    return _SOURCES.setdefault(s, s)


_DAY = S_PER_DAY
_WEEK = 7 * S_PER_DAY

RULES = (
    # --- screening (applied by dosing.py's screening plan)
    Rule("ITB-SCR-01", INFO, "Screening bolus test doses 50, 75, 100 mcg, each 24 h after the last; "
         "observe 4 to 8 h after each", _src(_F0, _F1, _F2, _F3),
         {"doses_ng": (50_000, 75_000, 100_000), "interval_s": _DAY,
          "observe_min_s": 4 * S_PER_H, "observe_max_s": 8 * S_PER_H}),
    # note: 000 writes '25 to 50 mcg (in a volume of 1 mL)'; 1 mL of the 50 mcg/mL ampule is 50 mcg, so
    #   volumes follow ITB-SCR-03 (25 mcg = 0.5 mL).
    Rule("ITB-SCR-02", INFO, "Very small patients: a 25 mcg first test dose may be tried "
         "(first test dose 25 to 50 mcg), then 75 and 100 mcg", _src(_F0, _F2),
         {"first_dose_min_ng": 25_000, "first_dose_max_ng": 50_000}),
    # note: The 0.5 mL for 25 mcg is computed from the 50 mcg/mL strength; the labeling states the other
    #   three.
    Rule("ITB-SCR-03", INFO, "Screening volumes of the 50 mcg/mL ampule: 25 mcg = 0.5 mL, 50 mcg = 1 mL, "
         "75 mcg = 1.5 mL, 100 mcg = 2 mL (2 ampules)", _src(_F0, _F1, _F2),
         {"conc_ng_per_ul": 50, "ampule_nl": 1_000_000, "doses_ng": (25_000, 50_000, 75_000, 100_000),
          "volumes_nl": (500_000, 1_000_000, 1_500_000, 2_000_000)}),
    Rule("ITB-SCR-04", HARD, "No positive response to the 100 mcg test dose: not a candidate for chronic "
         "intrathecal therapy, no further test-dose increase", _src(_F0, _F1, _F2),
         {"max_test_dose_ng": 100_000}),
    # note: The strength is ITB-SCR-03's conc_ng_per_ul.
    Rule("ITB-SCR-05", HARD, "The 50 mcg/mL strength is for bolus screening only, never a pump fill or a "
         "dilution stock", _src(_F2, _F0), {}),
    # --- initial continuous infusion after implant
    Rule("ITB-INI-01", INFO, "Initial daily dose: twice the positive screening dose, given over 24 h",
         _src(_F0, _F2, _F3), {"factor": 2, "over_s": _DAY}),
    Rule("ITB-INI-02", INFO, "Initial daily dose: once the screening dose over 24 h if its effect lasted "
         "more than 8 h", _src(_F0, _F1, _F2), {"factor": 1, "effect_longer_than_s": 8 * S_PER_H}),
    Rule("ITB-INI-03", HARD, "No dose increase in the first 24 h after implant (programmable pump)",
         _src(_F0, _F2), {"no_increase_s": _DAY}),
    Rule("ITB-INI-04", HARD, "No dose increase in the first 48 h after implant (non-programmable pump)",
         _F0, {"no_increase_s": 2 * _DAY}),
    # --- post-implant titration
    # note: Steps below 10 % are allowed (more cautious) and noted; above 30 % refused.
    Rule("ITB-TIT-01", HARD, "Titration, adult spinal origin: increase 10 % to 30 % per step, once per 24 h",
         _src(_F0, _F2, _F3), {"min_step_permille": 100, "max_step_permille": 300}),
    # note: Steps below 5 % are allowed (more cautious) and noted; above 15 % refused.
    Rule("ITB-TIT-02", HARD, "Titration, adult cerebral origin: increase 5 % to 15 % per step, once per 24 h",
         _src(_F0, _F2, _F3), {"min_step_permille": 50, "max_step_permille": 150}),
    # note: The labeling does not define 'pediatric'; under 18 years is the project's reading.
    Rule("ITB-TIT-03", HARD, "Titration, pediatric (under 18 y, either origin): increase 5 % to 15 % per "
         "step, once per 24 h", _src(_F0, _F2),
         {"min_step_permille": 50, "max_step_permille": 150, "pediatric_below_age_years": 18}),
    # note: Applied to increases, timed from the last change of any kind; a reduction is never delayed.
    Rule("ITB-TIT-04", HARD, "At most one increase per 24 h (programmable pump); 48 h between changes "
         "(non-programmable pump)", _F0,
         {"programmable_interval_s": _DAY, "constant_flow_interval_s": 2 * _DAY}),
    # --- maintenance
    Rule("ITB-MNT-01", HARD, "Refill, spinal origin: increase 10 % to 40 %, never more than 40 %",
         _src(_F0, _F2), {"min_step_permille": 100, "max_step_permille": 400}),
    Rule("ITB-MNT-02", HARD, "Refill, cerebral origin and pediatric: increase 5 % to 20 %, never more "
         "than 20 %",
         _src(_F0, _F2), {"min_step_permille": 50, "max_step_permille": 200}),
    # note: Reductions below 10 % are allowed and noted.
    Rule("ITB-MNT-03", HARD, "Side effects: reduce the daily dose by 10 % to 20 %; no increase in this phase",
         _src(_F0, _F2), {"min_reduction_permille": 100, "max_reduction_permille": 200}),
    # --- maintenance ranges
    Rule("ITB-RNG-01", HARD, "Daily dose, adult spinal origin: 12 to 2003 mcg/day (usually 300 to 800)",
         _src(_F0, _F2), {"low_ng_per_day": 12_000, "high_ng_per_day": 2_003_000,
                          "usual_low_ng_per_day": 300_000, "usual_high_ng_per_day": 800_000}),
    # note: 000 gives 22-1400 for pediatric spinal patients 12 y and older too; pediatric means ITB-TIT-03's
    #   age.
    Rule("ITB-RNG-02", HARD, "Daily dose, adult cerebral origin and pediatric 12 y and older (either "
         "origin): 22 to 1400 mcg/day (usually 90 to 703)", _src(_F0, _F2),
         {"low_ng_per_day": 22_000, "high_ng_per_day": 1_400_000,
          "usual_low_ng_per_day": 90_000, "usual_high_ng_per_day": 703_000}),
    Rule("ITB-RNG-03", HARD, "Daily dose, under 12 y (either origin): 24 to 1199 mcg/day (mean 274)",
         _src(_F0, _F2), {"low_ng_per_day": 24_000, "high_ng_per_day": 1_199_000,
                          "typical_ng_per_day": 274_000, "below_age_years": 12}),
    # note: 000 states it for spinal, cerebral and 12 y and older; applied to every group (more cautious).
    Rule("ITB-RNG-04", SOFT, "Daily dose above 1000 mcg/day: limited experience", _F0,
         {"above_ng_per_day": 1_000_000}),
    # note: 003 says 'younger than 12 years' without naming the route (000 gives 12 y for the oral form); this
    #   rule follows 000's intrathecal 4 y. Children under 12 get ITB-RNG-03's range.
    Rule("ITB-RNG-05", SOFT, "Under 4 y: safety and effectiveness of intrathecal use not established",
         _src(_F0, _F2), {"below_age_years": 4}),
    # note: The labeling gives no number: flagging a rise of more than 50 % within 7 days is a project choice.
    Rule("ITB-ESC-01", SOFT, "Sudden large dose escalation: possible catheter complication (kink, "
         "dislodgement) or pump malfunction", _src(_F0, _F2),
         {"window_s": _WEEK, "max_increase_permille": 500}),
    # --- concentration
    # note: 002 lists 500 and 2000 only; 000 (1 mg/mL) and 003 (20 mg/20 mL) add 1000. Follows 000/003.
    Rule("ITB-CON-01", HARD, "Labeled maintenance strengths 500, 1000, 2000 mcg/mL", _src(_F0, _F2, _F3),
         {"strengths_ng_per_ul": (500, 1000, 2000)}),
    Rule("ITB-CON-02", INFO, "Other concentrations by dilution with sterile preservative-free sodium "
         "chloride for injection", _F2, {}),
    Rule("ITB-CON-03", INFO, "Concentration chosen from the daily dose and the pump's delivery rate",
         _src(_F0, _F2), {}),
    # note: 2000 mcg/mL is the highest labeled strength; dilution can only lower a stock.
    Rule("ITB-CON-04", HARD, "Pump concentration never above 2000 mcg/mL nor above the stock it is "
         "diluted from", _src(_F0, _F2, _F3), {"max_conc_ng_per_ul": 2000}),
    # --- schedules
    Rule("ITB-SCH-01", INFO, "Flow changes start 2 h before the desired clinical effect", _F2,
         {"lead_s": 2 * S_PER_H}),
    # note: The 13 rate changes a day are a SynchroMed II fact (DESIGN.md), not labeling.
    Rule("ITB-SCH-02", HARD, "Complex schedules only on programmable pumps; at most 13 steps a day",
         _src(_F2, _DESIGN), {"max_steps_per_day": 13}),
    Rule("ITB-SCH-03", INFO, "Example: increased spasms at night, 20 % increase of the hourly rate",
         _src(_F2, _F0), {"night_increase_permille": 200}),
    # --- refill and concentration change
    # note: Alarm volume and booking lead are pump practice from DESIGN.md; the labeling says avoid depletion.
    Rule("ITB-REF-01", INFO, "Refill before the reservoir empties; low-reservoir alarm (default 2 mL) before "
         "empty; book the refill 3 to 5 days before the alarm date", _src(_F1, _F0, _DESIGN),
         {"low_alarm_nl": 2_000_000, "book_min_s": 3 * _DAY, "book_max_s": 5 * _DAY}),
    Rule("ITB-REF-02", SOFT, "Measured residual differs from expected by more than 1 mL (20 mL pump) or "
         "2 mL (40 mL pump): possible pocket fill", _src(_DESIGN, _F1),
         {"reservoirs_nl": (20_000_000, 40_000_000), "tolerances_nl": (1_000_000, 2_000_000)}),
    # note: 0.0026 mL/cm is the Prometra catheter volume (DESIGN.md).
    Rule("ITB-BRG-01", INFO, "Concentration change: old drug in pump tubing and catheter cleared with a "
         "bridge bolus", _src(_DESIGN, _F2), {"catheter_nl_per_cm": 2_600}),
    # --- drug holiday and discontinuation
    Rule("ITB-HOL-01", HARD, "Drug holiday: gradual reduction over 2 to 4 weeks; a taper only reduces",
         _src(_F0, _F2, _F3), {"min_s": 2 * _WEEK, "max_s": 4 * _WEEK}),
    Rule("ITB-HOL-02", INFO, "After a drug holiday, restart at the initial continuous-infusion dose",
         _src(_F0, _F2), {}),
    # note: Sources disagree; no check depends on it, reports quote both.
    Rule("ITB-HOL-03", INFO, "Refractory to increasing doses: approximately 5 % of patients (000) vs up "
         "to 10 % (003)", _src(_F0, _F3), {"refractory_000_permille": 50, "refractory_003_permille": 100}),
    # note: 'Reduce slowly' has no number in the labeling; 20 % a step (the side-effect reduction) is the
    #   project's choice. Stopping is only a confirmed stop on the rig.
    Rule("ITB-DIS-01", HARD, "No abrupt discontinuation (boxed warning): no step to 0, no single reduction "
         "above 20 %", _src(_F0, _F1, _F2, _F4), {"max_step_reduction_permille": 200}),
)

_BY_ID = {r.req_id: r for r in RULES}


def rule(req_id: str) -> Rule:
    r = _BY_ID.get(req_id) if isinstance(req_id, str) else None
    if r is None:
        raise InputError("req_id", req_id, "is not a rule of the drug library")
    return r


def param(req_id: str, name: str) -> int:
    return rule(req_id).param(name)


# Rule IDs the checks below apply (a code location for each, for the traceability matrix).
SCR_05 = "ITB-SCR-05"
INI_03 = "ITB-INI-03"
INI_04 = "ITB-INI-04"
TIT_01 = "ITB-TIT-01"
TIT_02 = "ITB-TIT-02"
TIT_03 = "ITB-TIT-03"
TIT_04 = "ITB-TIT-04"
MNT_01 = "ITB-MNT-01"
MNT_02 = "ITB-MNT-02"
MNT_03 = "ITB-MNT-03"
RNG_01 = "ITB-RNG-01"
RNG_02 = "ITB-RNG-02"
RNG_03 = "ITB-RNG-03"
RNG_04 = "ITB-RNG-04"
RNG_05 = "ITB-RNG-05"
ESC_01 = "ITB-ESC-01"
CON_01 = "ITB-CON-01"
CON_02 = "ITB-CON-02"
CON_04 = "ITB-CON-04"
SCH_02 = "ITB-SCH-02"
HOL_01 = "ITB-HOL-01"
DIS_01 = "ITB-DIS-01"

# Refusals by these rules are limits (NAK LIMIT); other hard rules are change rules (NAK TITRATION).
_RANGE_PREFIXES = ("ITB-RNG-", "ITB-CON-", "ITB-SCR-", "ITB-SCH-")


def is_range_rule(req_id: str) -> bool:
    return any(req_id.startswith(p) for p in _RANGE_PREFIXES)


def _mcg(ng: int) -> str:
    return fmt_scaled(ng, 1000, 3)


def _pct(permille: int) -> str:
    # 300 -> "30", 125 -> "12.5"
    return fmt_scaled(permille, 10, 0 if permille % 10 == 0 else 1)


def _hours(s: int) -> str:
    return fmt_scaled(s, S_PER_H, 0)


def _change_text(cur: int, new: int) -> str:
    # Display only: the exact change to 0.001 %, truncated toward zero.
    diff = new - cur
    sign = "+" if diff >= 0 else "-"
    q, _ = floor_div(abs(diff) * 100_000, cur)
    return sign + fmt_scaled(q, 1000, 3) + " %"


class Decision:
    __slots__ = ("allowed", "message", "needs_override", "notes", "overridden", "refusals", "rule_ids",
                 "warnings")

    def __init__(self) -> None:
        self.allowed = False
        self.rule_ids: list[str] = []
        self.refusals: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        self.needs_override: list[str] = []
        self.overridden: list[tuple[str, str]] = []
        self.notes: list[tuple[str, str]] = []
        self.message = ""

    def range_refusals(self) -> list[tuple[str, str]]:
        return [r for r in self.refusals if is_range_rule(r[0])]

    def change_refusals(self) -> list[tuple[str, str]]:
        return [r for r in self.refusals if not is_range_rule(r[0])]

    def reason_code(self) -> str | None:
        # The NAK reason the rig sends: a range limit first, then a change rule, then a missing override.
        if self.range_refusals():
            return "LIMIT"
        if self.refusals:
            return "TITRATION"
        if self.needs_override:
            return "OVERRIDE"
        return None

    def __repr__(self) -> str:
        return "Decision(" + self.message + ")"

    def _apply(self, rid: str) -> None:
        if rid not in self.rule_ids:
            self.rule_ids.append(rid)

    def _refuse(self, rid: str, text: str) -> None:
        self.refusals.append((rid, text + " [" + rid + "]"))

    def _note(self, rid: str, text: str) -> None:
        self.notes.append((rid, text + " [" + rid + "]"))

    def _warn(self, rid: str, text: str, overrides: dict[str, str]) -> None:
        self.warnings.append((rid, text + " [" + rid + "]"))
        reason = overrides.get(rid)
        if reason is None:
            self.needs_override.append(rid)
        else:
            self.overridden.append((rid, reason))

    def _finish(self, summary: str) -> "Decision":
        self.allowed = not self.refusals and not self.needs_override
        parts = []
        if self.refusals:
            parts.append("refused: " + summary + ": " + "; ".join([r[1] for r in self.refusals]))
        elif self.needs_override:
            parts.append("needs override (" + ", ".join(self.needs_override) + "): " + summary)
        else:
            parts.append("allowed: " + summary)
        if not self.refusals:
            parts += ["warning: " + w[1] for w in self.warnings]
        for rid, reason in self.overridden:
            parts.append("overridden " + rid + ": " + reason)
        parts += ["note: " + n[1] for n in self.notes]
        self.message = "; ".join(parts)
        return self


def validate_overrides(overrides: object) -> dict[str, str]:
    # overrides: rule ID -> reason. Only soft rules can be overridden, and only with a reason.
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise OverrideError("overrides", overrides, "must be a dict of rule ID -> reason")
    out: dict[str, str] = {}
    for rid in overrides:
        if not isinstance(rid, str) or rid not in _BY_ID:
            raise OverrideError("overrides", rid, "names no rule of the drug library")
        kind = _BY_ID[rid].kind
        if kind != SOFT:
            raise OverrideError("overrides", rid, "names a " + kind + " rule; only soft rules can be "
                                "overridden")
        reason = overrides[rid]
        field = "overrides[" + rid + "]"
        if not isinstance(reason, str) or not reason.strip():
            raise OverrideError(field, reason, "needs a non-empty reason")
        if len(reason) > MAX_REASON_CHARS:
            raise OverrideError(field, reason, "is longer than " + str(MAX_REASON_CHARS) + " characters")
        for ch in reason:
            c = ord(ch)
            if c < 0x20 or 0x7F <= c < 0xA0:
                raise OverrideError(field, reason, "reason must be printable (no control characters)")
        out[rid] = reason
    return out


def _require_choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InputError(field, value, "must be one of " + ", ".join(choices))
    return value


def _require_age(age_years: object) -> int:
    return require_range("age_years", age_years, 0, MAX_AGE_YEARS)


def is_pediatric(age_years: int) -> bool:
    return age_years < param(TIT_03, "pediatric_below_age_years")


def range_rule(origin: str, age_years: int) -> Rule:
    # The hard maintenance range for this patient group (ITB-RNG-01/02/03).
    _require_choice("origin", origin, ORIGINS)
    age = _require_age(age_years)
    if age < param(RNG_03, "below_age_years"):
        return rule(RNG_03)
    if origin == SPINAL and not is_pediatric(age):
        return rule(RNG_01)
    return rule(RNG_02)


def _group_text(origin: str, age: int) -> str:
    if is_pediatric(age):
        return "pediatric " + origin + " (" + str(age) + " y)"
    return "adult " + origin


def _check_range(d: Decision, origin: str, age: int, dose: int, ov: dict[str, str]) -> None:
    r = range_rule(origin, age)
    lo = r.param("low_ng_per_day")
    hi = r.param("high_ng_per_day")
    d._apply(r.req_id)
    if dose < lo or dose > hi:
        d._refuse(r.req_id, "dose_ng_per_day " + _mcg(dose) + " mcg/day is outside "
                  + _group_text(origin, age) + " range " + _mcg(lo) + " to " + _mcg(hi) + " mcg/day")
    d._apply(RNG_04)
    above = param(RNG_04, "above_ng_per_day")
    if dose > above:
        d._warn(RNG_04, _mcg(dose) + " mcg/day is above " + _mcg(above) + " mcg/day: limited experience", ov)
    d._apply(RNG_05)
    if age < param(RNG_05, "below_age_years"):
        d._warn(RNG_05, "age " + str(age) + " y: intrathecal safety not established under "
                + str(param(RNG_05, "below_age_years")) + " y", ov)


def check_dose_range(
    origin: str, age_years: int, dose_ng_per_day: int, overrides: dict[str, str] | None = None
) -> Decision:
    _require_choice("origin", origin, ORIGINS)
    age = _require_age(age_years)
    dose = require_non_negative("dose_ng_per_day", dose_ng_per_day)
    ov = validate_overrides(overrides)
    d = Decision()
    _check_range(d, origin, age, dose, ov)
    return d._finish(_mcg(dose) + " mcg/day for " + _group_text(origin, age))


def step_rule(origin: str, age_years: int, phase: str) -> Rule:
    # The increase band for this group in this phase: titration ITB-TIT-01/02/03, refill ITB-MNT-01/02.
    _require_choice("origin", origin, ORIGINS)
    _require_choice("phase", phase, (TITRATION, REFILL))
    adult_spinal = origin == SPINAL and not is_pediatric(_require_age(age_years))
    if phase == TITRATION:
        if is_pediatric(age_years):
            return rule(TIT_03)
        return rule(TIT_01 if adult_spinal else TIT_02)
    return rule(MNT_01 if adult_spinal else MNT_02)


def _check_increase(  # noqa: PLR0917
    d: Decision, origin: str, age: int, pump: str, cur: int, new: int, since: int, phase: str,
    implant: int | None,
) -> None:
    if phase == SIDE_EFFECTS:
        d._apply(MNT_03)
        d._refuse(MNT_03, "the side-effects phase only reduces the dose; an increase is refused")
        return
    if phase == TAPER:
        d._apply(HOL_01)
        d._refuse(HOL_01, "a taper only reduces the dose; an increase is refused")
        return
    if implant is not None:
        rid = INI_03 if pump == PROGRAMMABLE else INI_04
        wait = param(rid, "no_increase_s")
        d._apply(rid)
        if implant < wait:
            d._refuse(rid, "no increase in the first " + _hours(wait) + " h after implant on a "
                      + pump + " pump: s_since_implant " + str(implant) + " < " + str(wait))
    d._apply(TIT_04)
    name = "programmable_interval_s" if pump == PROGRAMMABLE else "constant_flow_interval_s"
    interval = param(TIT_04, name)
    if since < interval:
        d._refuse(TIT_04, "at most one increase per " + _hours(interval) + " h on a " + pump
                  + " pump: s_since_change " + str(since) + " < " + str(interval))
    r = step_rule(origin, age, phase)
    lo = r.param("min_step_permille")
    hi = r.param("max_step_permille")
    d._apply(r.req_id)
    if new * 1000 > cur * (1000 + hi):
        top, _ = floor_div(cur * (1000 + hi), 1000)
        d._refuse(r.req_id, "increase above the +" + _pct(hi) + " % " + phase + " limit for "
                  + _group_text(origin, age) + " (at most " + _mcg(top) + " mcg/day)")
    elif new * 1000 < cur * (1000 + lo):
        d._note(r.req_id, "below the usual +" + _pct(lo) + " to +" + _pct(hi)
                + " % step (allowed, more cautious)")


def _check_reduction(d: Decision, cur: int, new: int, phase: str) -> None:
    most = param(DIS_01, "max_step_reduction_permille")
    if new * 1000 < cur * (1000 - most):
        low, _ = ceil_div(cur * (1000 - most), 1000)
        d._refuse(DIS_01, "reduction above " + _pct(most) + " % in one step is an abrupt discontinuation: "
                  "taper (at least " + _mcg(low) + " mcg/day this step)")
    if phase == SIDE_EFFECTS:
        d._apply(MNT_03)
        lo = param(MNT_03, "min_reduction_permille")
        hi = param(MNT_03, "max_reduction_permille")
        if new * 1000 < cur * (1000 - hi):
            d._refuse(MNT_03, "side-effect reduction above " + _pct(hi) + " %")
        elif new * 1000 > cur * (1000 - lo):
            d._note(MNT_03, "below the usual " + _pct(lo) + " to " + _pct(hi)
                    + " % side-effect reduction (allowed)")
    elif phase == TAPER:
        d._apply(HOL_01)


def check_change(  # noqa: PLR0917
    origin: str,
    age_years: int,
    pump_kind: str,
    current_ng_per_day: int,
    proposed_ng_per_day: int,
    s_since_change: int,
    phase: str,
    s_since_implant: int | None = None,
    overrides: dict[str, str] | None = None,
) -> Decision:
    # A change of the daily dose from current to proposed. s_since_change: seconds since the last change
    # of any kind (or since implant); s_since_implant is required in the titration phase.
    _require_choice("origin", origin, ORIGINS)
    age = _require_age(age_years)
    pump = _require_choice("pump_kind", pump_kind, PUMP_KINDS)
    cur = require_positive("current_ng_per_day", current_ng_per_day)
    new = require_non_negative("proposed_ng_per_day", proposed_ng_per_day)
    since = require_non_negative("s_since_change", s_since_change)
    _require_choice("phase", phase, PHASES)
    implant = None
    if s_since_implant is not None:
        implant = require_non_negative("s_since_implant", s_since_implant)
    elif phase == TITRATION:
        raise InputError("s_since_implant", None, "is required in the titration phase (ITB-INI-03/04)")
    ov = validate_overrides(overrides)
    d = Decision()
    d._apply(DIS_01)
    if new == 0:
        d._refuse(DIS_01, "proposed_ng_per_day 0 is an abrupt discontinuation: taper, or stop on the rig "
                  "with confirmation")
        return d._finish(_mcg(cur) + " -> 0 mcg/day")
    _check_range(d, origin, age, new, ov)
    if new > cur:
        _check_increase(d, origin, age, pump, cur, new, since, phase, implant)
    elif new < cur:
        _check_reduction(d, cur, new, phase)
    else:
        d._note(DIS_01, "no change")
    summary = phase + " " + _mcg(cur) + " -> " + _mcg(new) + " mcg/day (" + _change_text(cur, new) + ")"
    return d._finish(summary)


def check_escalation(history: list[tuple[int, int]], overrides: dict[str, str] | None = None) -> Decision:
    # history: (t_s, dose_ng_per_day), t_s strictly increasing. Flags the first dose that exceeds the
    # lowest non-zero dose of the preceding window by more than the threshold (ITB-ESC-01).
    if not isinstance(history, (list, tuple)):
        raise InputError("history", history, "must be a list of (t_s, dose_ng_per_day)")
    pts: list[tuple[int, int]] = []
    for i, item in enumerate(history):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError("history[" + str(i) + "]", item, "must be a pair (t_s, dose_ng_per_day)")
        t = require_non_negative("history[" + str(i) + "].t_s", item[0])
        dose = require_non_negative("history[" + str(i) + "].dose_ng_per_day", item[1])
        if pts and t <= pts[-1][0]:
            raise InputError("history[" + str(i) + "].t_s", t, "must be later than the entry before it")
        pts.append((t, dose))
    ov = validate_overrides(overrides)
    window = param(ESC_01, "window_s")
    most = param(ESC_01, "max_increase_permille")
    d = Decision()
    d._apply(ESC_01)
    start = 0
    for j in range(len(pts)):
        tj, dj = pts[j]
        while tj - pts[start][0] > window:
            start += 1
        base = 0
        tb = 0
        for i in range(start, j):
            if pts[i][1] > 0 and (base == 0 or pts[i][1] < base):
                base, tb = pts[i][1], pts[i][0]
        if base and dj * 1000 > base * (1000 + most):
            d._warn(ESC_01, "dose rose " + _change_text(base, dj) + " (" + _mcg(base) + " -> " + _mcg(dj)
                    + " mcg/day) within " + fmt_scaled(tj - tb, S_PER_DAY, 1) + " days, above +" + _pct(most)
                    + " % in " + fmt_scaled(window, S_PER_DAY, 0) + " days: check catheter and pump", ov)
            break
    return d._finish(str(len(pts)) + " dose changes")


def check_schedule_allowed(pump_kind: str, n_steps: int) -> Decision:
    # n_steps: rate steps in any one day of the schedule (1 = constant rate).
    pump = _require_choice("pump_kind", pump_kind, PUMP_KINDS)
    n = require_positive("n_steps", n_steps)
    d = Decision()
    d._apply(SCH_02)
    most = param(SCH_02, "max_steps_per_day")
    if pump != PROGRAMMABLE and n > 1:
        d._refuse(SCH_02, "a " + pump + " pump runs one constant rate: n_steps " + str(n) + " > 1")
    elif n > most:
        d._refuse(SCH_02, "n_steps " + str(n) + " is more than " + str(most) + " steps a day")
    return d._finish(str(n) + " steps a day on a " + pump + " pump")


def check_concentration(conc_ng_per_ul: int, stock_ng_per_ul: int) -> Decision:
    # A pump fill of conc_ng_per_ul (mcg/mL) made from a stock strength stock_ng_per_ul.
    conc = require_positive("conc_ng_per_ul", conc_ng_per_ul)
    stock = require_positive("stock_ng_per_ul", stock_ng_per_ul)
    d = Decision()
    d._apply(SCR_05)
    d._apply(CON_01)
    if stock == param("ITB-SCR-03", "conc_ng_per_ul"):
        d._refuse(SCR_05, "stock_ng_per_ul " + str(stock) + " mcg/mL is the screening strength, not a "
                  "pump fill or dilution stock")
    elif stock not in rule(CON_01).param_tuple("strengths_ng_per_ul"):
        d._refuse(CON_01, "stock_ng_per_ul " + str(stock) + " mcg/mL is not a labeled maintenance "
                  "strength")
    d._apply(CON_04)
    most = param(CON_04, "max_conc_ng_per_ul")
    if conc > most:
        d._refuse(CON_04, "conc_ng_per_ul " + str(conc) + " mcg/mL is above " + str(most) + " mcg/mL")
    elif conc > stock:
        d._refuse(CON_04, "conc_ng_per_ul " + str(conc) + " mcg/mL is above the stock " + str(stock)
                  + " mcg/mL")
    elif conc < stock:
        d._apply(CON_02)
        d._note(CON_02, "dilute with sterile preservative-free sodium chloride")
    return d._finish(str(conc) + " mcg/mL from " + str(stock) + " mcg/mL stock")


def refractory_text() -> str:
    # ITB-HOL-03: the sources disagree (about 5 % vs up to 10 %); text about tolerance quotes both.
    r = rule("ITB-HOL-03")
    return ("refractory to increasing doses: approximately " + _pct(r.param("refractory_000_permille"))
            + " % of patients (" + _F0 + "), up to " + _pct(r.param("refractory_003_permille")) + " % ("
            + _F3 + ")")
