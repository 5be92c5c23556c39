"""The calculations of the `itb` command as a typed Python API: pint quantities in, pint quantities out.

Each function converts its pint inputs to the core's exact integers (refusing anything the core cannot hold
exactly), calls the one implementation of the arithmetic in ``firmware_py``, converts the result back to pint
quantities, and then re-computes every result independently with pint (exact ``Fraction`` arithmetic) from
the same inputs. A result must agree with the re-computation within the core's documented rounding bound
(the core floors to 1 ng / 1 nL, rounds toward less drug); a disagreement or a wrong dimension raises
:class:`host_tools.errors.InternalError` (exit 1). The bound of each result is listed in its ``checks``.

Every function accepts either pint quantities or text ("500 mcg/day"); ``field`` names in errors are the CLI
flags, so an error message is the same from Python and from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from firmware_py import dosing, library, units
from firmware_py import schedule as core_schedule
from host_tools import quantities as qt
from host_tools.errors import InternalError, UsageError
from host_tools.quantities import Quantity

QLike = Quantity | str


def _q(flag: str, value: QLike, kind: str, *, allow_zero: bool = False) -> Quantity:
    if isinstance(value, str):
        return qt.parse(flag, value, kind, allow_zero=allow_zero)
    qt.check_kind(flag, value, kind)
    magnitude = Fraction(value.magnitude)
    if magnitude < 0 or (magnitude == 0 and not allow_zero):
        raise UsageError(f"{flag}: must be greater than zero (got {value})")
    return value


# -- verification --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One verified result: its key, how the core rounds it, and the bound it must lie within."""

    key: str
    rounding: str  # "floor" (core <= exact < core + bound), "ceil" (core - bound < exact <= core), "exact"
    bound: str  # text of the bound, e.g. "1 ng/day"

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "rounding": self.rounding, "bound": self.bound}


def verify(  # noqa: PLR0917
    key: str, core: Quantity, independent: Quantity, kind: str, rounding: str, bound: Quantity
) -> Check:
    """Check a core result against its pint re-computation; raise InternalError when they disagree.

    ``rounding`` is "floor" (the core rounds down: ``core <= independent < core + bound``), "ceil"
    (``core - bound < independent <= core``) or "exact" (equal). Both results and ``bound`` must have the
    dimensionality of ``kind``, or that too is an InternalError.
    """
    qt.check_kind(key, core, kind, internal=True)
    qt.check_kind(key, independent, kind, internal=True)
    qt.check_kind(key, bound, kind, internal=True)
    b = Fraction(bound.magnitude)
    unit = _unit_text(bound)
    diff = qt.exact(independent, unit) - qt.exact(core, unit)
    if rounding == "floor":
        ok = 0 <= diff < b
    elif rounding == "ceil":
        ok = -b < diff <= 0
    elif rounding == "exact":
        ok = diff == 0
    else:
        raise InternalError(f"{key}: unknown rounding {rounding!r}")
    if not ok:
        raise InternalError(
            f"{key}: core result {qt.fmt(core, unit, 6)} disagrees with the pint re-computation "
            f"{qt.fmt(independent, unit, 6)} beyond the rounding bound ({rounding}, {_bound_text(bound)})"
        )
    return Check(key, rounding, "0" if rounding == "exact" else _bound_text(bound))


# The texts of a bound depend only on its magnitude and unit, and the same few bounds (1 nL/day, 1 ng/h,
# ...) recur in every calculation: each text is built once, when first needed, instead of on every check.
_UNIT_TEXT: dict[Any, str] = {}
_BOUND_TEXT: dict[tuple[Fraction, Any], str] = {}
_MAX_CACHED = 256


def _unit_text(bound: Quantity) -> str:
    units = bound._units  # pint's hashable UnitsContainer
    text = _UNIT_TEXT.get(units)
    if text is None:
        if len(_UNIT_TEXT) >= _MAX_CACHED:
            _UNIT_TEXT.clear()
        text = _UNIT_TEXT[units] = str(bound.units)
    return text


def _bound_text(bound: Quantity) -> str:
    key = (Fraction(bound.magnitude), bound._units)
    text = _BOUND_TEXT.get(key)
    if text is None:
        if len(_BOUND_TEXT) >= _MAX_CACHED:
            _BOUND_TEXT.clear()
        text = _BOUND_TEXT[key] = qt.fmt(bound, qt.short_unit(bound), 6)
    return text


@dataclass(frozen=True)
class Result:
    """Base of every calculation result: ``checks`` lists what was verified with pint and how."""

    checks: list[Check] = field(default_factory=list, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def _checks_json(self) -> list[dict[str, str]]:
        return [c.to_json() for c in self.checks]


def per_hour(qty: Quantity) -> Quantity:
    """A dose rate or flow per hour, floored to 1 ng/h or 1 nL/h (display figures round toward less drug)."""
    unit = "ng/h" if qty.check("[mass] / [time]") else "nL/h"
    value = qt.exact(qty, unit)
    return qt.q(value.numerator // value.denominator, unit)


def rate_json(qty: Quantity, day_unit: str = "mcg/day", hour_unit: str = "mcg/h") -> dict[str, Any]:
    """A rate per day and per hour (floored to 1 ng/h or nL/h): ``{"per_day": {...}, "per_hour": {...}}``."""
    return {"per_day": qt.to_json(qty, day_unit), "per_hour": qt.to_json(per_hour(qty), hour_unit)}


# -- schedule (flex dosing) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """A desired-effect window as typed: "22:00-06:00=+20%", "08:00-10:00=-10%",
    "Sat,Sun 08:00-12:00=600 mcg/day"."""

    text: str
    window: core_schedule.Window


def parse_window(flag: str, text: str) -> WindowSpec:
    """Parse ``[DAYS ]HH:MM-HH:MM=CHANGE``; CHANGE is a percentage (+20%, -10%) or a rate (600 mcg/day)."""
    if not isinstance(text, str) or "=" not in text:
        raise UsageError(f"{flag}: expected HH:MM-HH:MM=+20% or HH:MM-HH:MM=600 mcg/day, got {text!r}")
    span, change = (part.strip() for part in text.split("=", 1))
    days: list[int] | None = None
    if " " in span:
        day_text, span = (p.strip() for p in span.rsplit(" ", 1))
        days = []
        for name in day_text.split(","):
            key = name.strip().capitalize()[:3]
            if key not in core_schedule.DAY_NAMES or len(name.strip()) < 3:
                raise UsageError(f"{flag}: unknown weekday {name.strip()!r} in {text!r} (Mon..Sun)")
            days.append(core_schedule.DAY_NAMES.index(key))
    if span.count("-") != 1:
        raise UsageError(f"{flag}: expected a time span HH:MM-HH:MM in {text!r}")
    start_text, end_text = span.split("-")
    try:
        start_s = units.parse_hhmm(flag, start_text.strip())
        end_s = units.parse_hhmm(flag, end_text.strip())
    except ValueError as exc:
        raise UsageError(f"{flag}: {text!r}: times must be HH:MM between 00:00 and 24:00 ({exc})") from None
    if start_s == units.S_PER_DAY:
        raise UsageError(f"{flag}: {text!r}: a window cannot start at 24:00")
    change_permille: int | None = None
    dose_ng_per_day: int | None = None
    if change.endswith("%"):
        number = change[:-1].strip()
        try:
            pct = Fraction(number)
        except (ValueError, ZeroDivisionError):
            raise UsageError(f"{flag}: cannot read the change {change!r} in {text!r}") from None
        if not number or (number[0] not in "+-" and not number[0].isdigit()):
            raise UsageError(f"{flag}: cannot read the change {change!r} in {text!r}")
        permille = pct * 10
        if permille.denominator != 1:
            raise UsageError(f"{flag}: the change {change!r} is finer than 0.1 %")
        if permille <= -1000:
            raise UsageError(f"{flag}: the change {change!r} would stop therapy (ITB-DIS-01)")
        if permille == 0:
            raise UsageError(f"{flag}: the change {change!r} is zero; leave the window out")
        change_permille = permille.numerator
    else:
        dose_ng_per_day = qt.to_base(flag, qt.parse(flag, change, "dose rate"), "dose rate")
    try:
        window = core_schedule.Window(start_s, end_s, change_permille, dose_ng_per_day, days)
    except ValueError as exc:
        raise UsageError(f"{flag}: {text!r}: {exc}") from None
    return WindowSpec(text.strip(), window)


def _nl(nl: int | Fraction) -> Quantity:
    return qt.q(Fraction(nl), "nL")


def _days(seconds: int | Fraction) -> Quantity:
    return qt.q(Fraction(seconds), "s")


# -- rate ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateResult(Result):
    """Flow for a daily dose at a concentration (ITB-CON-03). Rates are given per day and per hour."""

    daily_dose: Quantity
    concentration: Quantity
    flow_per_day: Quantity  # floored to 1 nL/day (less drug)
    flow_per_hour: Quantity  # floored to 1 nL/h
    dose_per_hour: Quantity  # floored to 1 ng/h
    dropped_per_day: Quantity  # drug prescribed but not delivered because the flow is floored

    def to_json(self) -> dict[str, Any]:
        return {
            "daily_dose": qt.to_json(self.daily_dose, "mcg/day"),
            "concentration": qt.to_json(self.concentration, "mcg/mL"),
            "flow_per_day": qt.to_json(self.flow_per_day, "mL/day"),
            "flow_per_hour": qt.to_json(self.flow_per_hour, "uL/h"),
            "dose_per_hour": qt.to_json(self.dose_per_hour, "mcg/h"),
            "dropped_per_day": qt.to_json(self.dropped_per_day, "ng/day"),
            "rule_ids": ["ITB-CON-03"],
            "verified": self._checks_json(),
        }


def rate(dose: QLike, concentration: QLike) -> RateResult:
    """Pump flow for a daily ``dose`` at ``concentration`` (ITB-CON-03), verified with pint.

    Bounds: flow per day floors to 1 nL/day; per hour is the per-day flow floored again over 24 h, so within
    1 nL/h + 1/24 nL/h of the exact value; dose per hour floors to 1 ng/h.
    """
    dose_q = _q("--dose", dose, "dose rate")
    conc_q = _q("--concentration", concentration, "concentration")
    dose_ng = qt.to_base("--dose", dose_q, "dose rate")
    conc = qt.to_base("--concentration", conc_q, "concentration")
    f = dosing.flow(dose_ng, conc)
    flow_day = qt.q(f.flow_nl_per_day, "nL/day")
    flow_hour = qt.q(f.flow_nl_per_h, "nL/h")
    dose_hour = qt.q(f.dose_ng_per_h, "ng/h")
    dropped = qt.q(Fraction(f.flow_dropped_pg_per_day, 1000), "ng/day")
    exact_flow = dose_q / conc_q
    checks = [
        verify("flow_per_day", flow_day, exact_flow, "flow", "floor", qt.q(1, "nL/day")),
        verify("flow_per_hour", flow_hour, exact_flow, "flow", "floor", qt.q(Fraction(25, 24), "nL/h")),
        verify("dose_per_hour", dose_hour, dose_q, "dose rate", "floor", qt.q(1, "ng/h")),
        verify(
            "dropped_per_day", flow_day * conc_q + dropped, dose_q, "dose rate", "exact", qt.q(1, "ng/day")
        ),
    ]
    return RateResult(
        daily_dose=dose_q,
        concentration=conc_q,
        flow_per_day=flow_day,
        flow_per_hour=flow_hour,
        dose_per_hour=dose_hour,
        dropped_per_day=dropped,
        checks=checks,
    )


# -- dilute ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiluteResult(Result):
    """Stock and diluent volumes for a target concentration (ITB-CON-02, ITB-CON-04)."""

    stock_concentration: Quantity
    target_concentration: Quantity
    stock_volume: Quantity  # floored to the measuring resolution (never above the target)
    diluent_volume: Quantity
    final_volume: Quantity
    achieved_concentration: Quantity  # exact
    program_concentration: Quantity  # achieved rounded UP to 1 mcg/mL: what the pump is told
    error_ppm: int
    diluent: str

    def to_json(self) -> dict[str, Any]:
        return {
            "stock_concentration": qt.to_json(self.stock_concentration, "mcg/mL"),
            "target_concentration": qt.to_json(self.target_concentration, "mcg/mL"),
            "stock_volume": qt.to_json(self.stock_volume, "mL"),
            "diluent_volume": qt.to_json(self.diluent_volume, "mL"),
            "final_volume": qt.to_json(self.final_volume, "mL"),
            "achieved_concentration": qt.to_json(self.achieved_concentration, "mcg/mL"),
            "program_concentration": qt.to_json(self.program_concentration, "mcg/mL"),
            "error_ppm": self.error_ppm,
            "diluent": self.diluent,
            "rule_ids": ["ITB-CON-02", "ITB-CON-04"],
            "verified": self._checks_json(),
        }


def dilute(stock: QLike, target: QLike, volume: QLike, resolution: QLike = "0.1 mL") -> DiluteResult:
    """Dilute ``stock`` to ``target`` making ``volume`` in all, measuring in steps of ``resolution``.

    Bounds: the stock volume floors to the resolution (0 <= exact - stock < resolution), so the achieved
    concentration is never above the target; stock + diluent = final exactly; achieved concentration exact;
    the programmed concentration is the achieved one rounded up by less than 1 mcg/mL.
    """
    stock_q = _q("--stock", stock, "concentration")
    target_q = _q("--target", target, "concentration")
    volume_q = _q("--volume", volume, "volume")
    res_q = _q("--resolution", resolution, "volume")
    d = dosing.dilute(
        qt.to_base("--stock", stock_q, "concentration"),
        qt.to_base("--target", target_q, "concentration"),
        qt.to_base("--volume", volume_q, "volume"),
        qt.to_base("--resolution", res_q, "volume"),
    )
    stock_v, diluent_v, final_v = _nl(d.stock_nl), _nl(d.diluent_nl), _nl(d.final_volume_nl)
    achieved = qt.q(Fraction(d.achieved_conc_num, d.achieved_conc_den), "ng/uL")
    program = qt.q(d.program_conc_ng_per_ul, "ng/uL")
    exact_stock = target_q * volume_q / stock_q
    checks = [
        verify("stock_volume", stock_v, exact_stock, "volume", "floor", res_q),
        verify("final_volume", stock_v + diluent_v, volume_q, "volume", "exact", qt.q(1, "nL")),
        verify(
            "achieved_concentration",
            achieved,
            stock_q * stock_v / volume_q,
            "concentration",
            "exact",
            qt.q(1, "ng/uL"),
        ),
        verify(
            "achieved_vs_target", achieved, target_q, "concentration", "floor", stock_q * res_q / volume_q
        ),
        verify("program_concentration", program, achieved, "concentration", "ceil", qt.q(1, "ng/uL")),
    ]
    return DiluteResult(
        stock_concentration=stock_q,
        target_concentration=target_q,
        stock_volume=stock_v,
        diluent_volume=diluent_v,
        final_volume=final_v,
        achieved_concentration=achieved,
        program_concentration=program,
        error_ppm=d.error_ppm,
        diluent=d.diluent,
        checks=checks,
    )


# -- schedule --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One programmed step: start and end as labels ("HH:MM", weekly "Fri HH:MM"), its rates."""

    start: str
    end: str
    start_s: int
    end_s: int
    dose_rate: Quantity  # per day, exact
    flow: Quantity  # per day, floored to 1 nL/day

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "dose_per_hour": qt.to_json(per_hour(self.dose_rate), "mcg/h"),
            "dose_per_day": qt.to_json(self.dose_rate, "mcg/day"),
            "flow_per_hour": qt.to_json(per_hour(self.flow), "uL/h"),
            "flow_per_day": qt.to_json(self.flow, "mL/day"),
        }


@dataclass(frozen=True)
class ScheduleResult(Result):
    """A flex-dosing schedule built from desired-effect windows, each step moved ``lead`` earlier."""

    base_dose: Quantity
    concentration: Quantity
    lead: Quantity
    windows: list[WindowSpec]
    schedule: core_schedule.Schedule
    steps: list[Step]
    daily_total: Quantity  # weekly schedules: the mean over the week; floored to 1 ng
    daily_totals: list[Quantity]  # one per day of the period
    rule_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "base_dose": rate_json(self.base_dose),
            "concentration": qt.to_json(self.concentration, "mcg/mL"),
            "lead": qt.to_json(self.lead, "h"),
            "period": "weekly" if self.schedule.period_s == units.S_PER_WEEK else "daily",
            "windows": [w.text for w in self.windows],
            "steps": [s.to_json() for s in self.steps],
            "daily_total": qt.to_json(self.daily_total, "mcg"),
            "daily_totals": [qt.to_json(t, "mcg") for t in self.daily_totals],
            "rule_ids": self.rule_ids,
            "verified": self._checks_json(),
        }


def schedule(
    dose: QLike,
    concentration: QLike,
    windows: list[str] | list[WindowSpec],
    *,
    lead: QLike = "2 h",
    min_step: QLike = "30 min",
    max_steps: int = core_schedule.MAX_STEPS_PER_DAY,
) -> ScheduleResult:
    """Program steps for desired-effect ``windows`` around the base daily ``dose`` (ITB-SCH-01/03).

    A window is "HH:MM-HH:MM=+20%" (relative to the base dose), "=-10%" or "=600 mcg/day"; its step starts
    ``lead`` earlier (labeling: 2 h before the desired clinical effect). Verified with pint: every window's
    rate holds over the whole window moved ``lead`` earlier; the daily total equals the base dose plus each
    window's extra, within 1 ng per relative window (the core floors a relative rate to 1 ng/day) plus the
    1 ng floor of the total.
    """
    dose_q = _q("--dose", dose, "dose rate")
    conc_q = _q("--concentration", concentration, "concentration")
    lead_q = _q("--lead", lead, "duration", allow_zero=True)
    min_q = _q("--min-step", min_step, "duration")
    specs = [w if isinstance(w, WindowSpec) else parse_window("--window", w) for w in windows]
    base = qt.to_base("--dose", dose_q, "dose rate")
    conc = qt.to_base("--concentration", conc_q, "concentration")
    lead_s = qt.to_base("--lead", lead_q, "duration")
    sched = core_schedule.build(
        base, [s.window for s in specs], lead_s, qt.to_base("--min-step", min_q, "duration"), max_steps
    )
    labels = core_schedule.rows(sched)
    steps = []
    for (start_s, end_s, rate_ng), (a, b, _) in zip(sched.intervals(), labels, strict=True):
        f = dosing.flow(rate_ng, conc)
        steps.append(Step(a, b, start_s, end_s, qt.q(rate_ng, "ng/day"), qt.q(f.flow_nl_per_day, "nL/day")))
    n_days = sched.period_s // units.S_PER_DAY
    totals = [qt.q(sched.day_total(d)[0], "ng") for d in range(n_days)]
    mean = qt.q(units.floor_div(sched.integral_ng_s_per_day(), units.S_PER_DAY * n_days)[0], "ng")
    checks = _verify_schedule(dose_q, conc_q, lead_q, specs, sched, steps, mean, n_days)
    ids = ["ITB-SCH-01"] if specs else []
    if any(s.window.change_permille == 200 for s in specs):
        ids.append("ITB-SCH-03")
    return ScheduleResult(
        base_dose=dose_q,
        concentration=conc_q,
        lead=lead_q,
        windows=specs,
        schedule=sched,
        steps=steps,
        daily_total=mean,
        daily_totals=totals,
        rule_ids=ids,
        checks=checks,
    )


def _verify_schedule(  # noqa: PLR0917
    dose_q: Quantity,
    conc_q: Quantity,
    lead_q: Quantity,
    specs: list[WindowSpec],
    sched: core_schedule.Schedule,
    steps: list[Step],
    mean: Quantity,
    n_days: int,
) -> list[Check]:
    day = qt.q(1, "day")
    # Independent total over the period: base all the time, plus each window's extra over its length.
    total = dose_q * day * n_days
    relative = 0
    for spec in specs:
        w = spec.window
        length = qt.q(w.length_s(), "s")
        if w.dose_ng_per_day is not None:
            rate_q = qt.q(w.dose_ng_per_day, "ng/day")
        else:
            rate_q = dose_q * (1 + Fraction(w.change_permille or 0, 1000))
            relative += 1
        occurrences = len(w.days) if (w.days is not None) else n_days
        total = total + (rate_q - dose_q) * length * occurrences
        # The lead shift: the rate over [start - lead, end - lead] is the window's (sample both ends).
        for d in range(occurrences if w.days is not None else 1):
            day_off = (w.days[d] if w.days is not None else 0) * units.S_PER_DAY
            start = qt.q(day_off + w.start_s, "s") - lead_q
            begin_s = int(qt.exact(start, "s"))
            end_s = begin_s + w.length_s() - 60
            for t_s in (begin_s, end_s):
                phase = (t_s - core_schedule.WEEK_OFFSET_S) if sched.period_s == units.S_PER_WEEK else t_s
                got = qt.q(sched.rate_at(phase), "ng/day")
                verify(f"lead shift of {spec.text}", got, rate_q, "dose rate", "floor", qt.q(1, "ng/day"))
    mean_exact = total / n_days / day
    bound = qt.q(relative + 1, "ng")
    checks = [
        verify("daily_total", mean, mean_exact * day, "mass", "floor", bound),
        Check("steps.start", "exact", f"window start - {qt.fmt(lead_q, 'h')}"),
    ]
    for st in steps:
        exact_flow = st.dose_rate / conc_q
        verify(f"steps[{st.start}].flow", st.flow, exact_flow, "flow", "floor", qt.q(1, "nL/day"))
    checks.append(Check("steps.flow_per_day", "floor", "1 nl/d"))
    return checks


# -- refill ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefillResult(Result):
    """How long a reservoir lasts: time to the low-reservoir alarm and to empty (ITB-REF-01)."""

    volume: Quantity
    concentration: Quantity
    daily_dose: Quantity | None  # None when a schedule gives the dose
    alarm_volume: Quantity
    time_to_alarm: Quantity  # floored to 1 s (never later than the true instant)
    time_to_empty: Quantity
    refill_by: Quantity  # booking margin before the alarm (4 days), 0 if overdue
    alarm_now: bool

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "volume": qt.to_json(self.volume, "mL"),
            "concentration": qt.to_json(self.concentration, "mcg/mL"),
            "alarm_volume": qt.to_json(self.alarm_volume, "mL"),
            "days_to_alarm": qt.to_json(self.time_to_alarm, "day"),
            "days_to_empty": qt.to_json(self.time_to_empty, "day"),
            "whole_days_to_alarm": _whole_days(self.time_to_alarm),
            "whole_days_to_empty": _whole_days(self.time_to_empty),
            "days_to_refill": qt.to_json(self.refill_by, "day"),
            "alarm_now": self.alarm_now,
            "rule_ids": ["ITB-REF-01"],
            "verified": self._checks_json(),
        }
        if self.daily_dose is not None:
            out["daily_dose"] = rate_json(self.daily_dose)
        return out


def _whole_days(qty: Quantity) -> int:
    value = qt.exact(qty, "day")
    return value.numerator // value.denominator


def refill(
    volume: QLike,
    concentration: QLike,
    dose: QLike | core_schedule.Schedule,
    alarm_volume: QLike = "2 mL",
    start_s: int = 0,
) -> RefillResult:
    """Days until the low-reservoir alarm and until empty, for ``volume`` filled at ``concentration``.

    ``dose`` is a constant daily dose or a core Schedule (then ``start_s``, the fill time in seconds since
    1970-01-01 00:00 local, places the fill in the schedule's day or week).
    Bounds: both times floor to 1 s (earlier is
    safer); pint re-computes them as drug / dose rate (constant dose) or by integrating the steps.
    """
    vol_q = _q("--volume", volume, "volume")
    conc_q = _q("--concentration", concentration, "concentration")
    alarm_q = _q("--alarm-volume", alarm_volume, "volume", allow_zero=True)
    conc = qt.to_base("--concentration", conc_q, "concentration")
    dose_q: Quantity | None = None
    if isinstance(dose, core_schedule.Schedule):
        rate_arg: int | core_schedule.Schedule = dose
    else:
        dose_q = _q("--dose", dose, "dose rate")
        rate_arg = qt.to_base("--dose", dose_q, "dose rate")
    vol_nl = qt.to_base("--volume", vol_q, "volume")
    alarm_nl = qt.to_base("--alarm-volume", alarm_q, "volume")
    if alarm_nl > vol_nl:
        raise UsageError(
            f"--alarm-volume: {qt.fmt(alarm_q, 'mL')} is more than the volume {qt.fmt(vol_q, 'mL')}"
        )
    f = dosing.refill_forecast(vol_nl, conc, rate_arg, start_s=start_s, alarm_nl=alarm_nl)
    to_alarm, to_empty = _days(f.alarm_in_s), _days(f.empty_in_s)
    checks = []
    for key, core_t, vol in (
        ("days_to_alarm", to_alarm, vol_q - alarm_q),
        ("days_to_empty", to_empty, vol_q),
    ):
        if qt.exact(vol, "nL") <= 0:
            continue
        drug = vol * conc_q
        if dose_q is not None:
            exact_t = drug / dose_q
        else:
            assert isinstance(dose, core_schedule.Schedule)
            exact_t = _time_for_drug(dose, drug, start_s)
        checks.append(verify(key, core_t, exact_t, "duration", "floor", qt.q(1, "s")))
    return RefillResult(
        volume=vol_q,
        concentration=conc_q,
        daily_dose=dose_q,
        alarm_volume=alarm_q,
        time_to_alarm=to_alarm,
        time_to_empty=to_empty,
        refill_by=_days(f.refill_at_s - f.start_s),
        alarm_now=bool(f.alarm_now),
        checks=checks,
    )


def _time_for_drug(sched: core_schedule.Schedule, drug: Quantity, start_s: int) -> Quantity:
    """Independent: walk the steps from ``start_s`` with pint until ``drug`` has been delivered."""
    left = drug
    t: Quantity = qt.q(0, "s")
    period = qt.q(sched.period_s, "s")
    per_period = sum((qt.q(r, "ng/day") * qt.q(e - s, "s") for s, e, r in sched.intervals()), qt.q(0, "ng"))
    whole = qt.exact(left / per_period, "dimensionless")
    n = whole.numerator // whole.denominator
    left = left - per_period * n
    t = t + period * n
    # The periodic steps from phase 0 (daily) or from the epoch's phase (weekly): rate_at gives them.
    t_s = start_s + int(qt.exact(t, "s"))
    while qt.exact(left, "ng") > 0:
        rate_q = qt.q(sched.rate_at(t_s), "ng/day")
        seg_end = sched.next_change(t_s)
        seg = qt.q(seg_end - t_s, "s")
        if rate_q * seg >= left:
            result: Quantity = t + left / rate_q
            return result
        left = left - rate_q * seg
        t = t + seg
        t_s = seg_end
    return t


# -- initial dose ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitialDoseResult(Result):
    """Initial daily dose after implant from the positive screening dose (ITB-INI-01/02)."""

    screening_dose: Quantity
    effect_duration: Quantity
    daily_dose: Quantity
    rule_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "screening_dose": qt.to_json(self.screening_dose, "mcg"),
            "effect_hours": qt.to_json(self.effect_duration, "h"),
            "daily_dose": qt.to_json(self.daily_dose, "mcg/day"),
            "dose_per_hour": qt.to_json(per_hour(self.daily_dose), "mcg/h"),
            "rule_ids": self.rule_ids,
            "verified": self._checks_json(),
        }


def initial_dose(screening: QLike, effect: QLike) -> InitialDoseResult:
    """Twice the positive screening dose over 24 h, or once if its effect lasted more than 8 h.

    ``effect`` is a duration ("9 h"). Verified exactly with pint from the labeling's rule.
    """
    screen_q = _q("--screening", screening, "mass")
    effect_q = _q("--effect-hours", effect, "duration")
    dose_ng = dosing.initial_daily_dose(
        qt.to_base("--screening", screen_q, "mass"), qt.to_base("--effect-hours", effect_q, "duration")
    )
    daily = qt.q(dose_ng, "ng/day")
    longer = effect_q > qt.q(8, "h")
    expected = screen_q * (1 if longer else 2) / qt.q(24, "h")
    check = verify("daily_dose", daily, expected, "dose rate", "exact", qt.q(1, "ng/day"))
    ids = ["ITB-INI-02"] if longer else ["ITB-INI-01"]
    return InitialDoseResult(screen_q, effect_q, daily, ids, checks=[check])


# -- titrate ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TitrateResult(Result):
    """The drug library's decision on a change of the daily dose (ITB-TIT, ITB-MNT, ITB-RNG, ITB-DIS)."""

    current: Quantity
    proposed: Quantity
    change_percent: Fraction
    allowed: bool
    rules: list[str]
    refusals: list[str]
    warnings: list[str]
    needs_override: list[str]
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "rules": self.rules,
            "message": self.message,
            "current": rate_json(self.current),
            "proposed": rate_json(self.proposed),
            "change_percent": float(self.change_percent),
            "refusals": self.refusals,
            "warnings": self.warnings,
            "needs_override": self.needs_override,
            "verified": self._checks_json(),
        }


def titrate(
    origin: str,
    age_years: int,
    current: QLike,
    proposed: QLike,
    since_change: QLike,
    *,
    pump: str = "programmable",
    phase: str = "titration",
    since_implant: QLike | None = None,
    overrides: dict[str, str] | None = None,
) -> TitrateResult:
    """Ask the drug library whether ``current`` -> ``proposed`` is allowed now.

    ``since_change`` (and ``since_implant``) are durations. In the titration phase the library needs the
    time since implant; when it is not given the time since the last change is used, a lower bound of it
    (conservative: it can only refuse more). Verified with pint: an allowed result lies in the group's
    hard range and within the phase's percent band, recomputed from the rule rows.
    """
    cur_q = _q("--current", current, "dose rate")
    new_q = _q("--proposed", proposed, "dose rate")
    since_q = _q("--hours-since-change", since_change, "duration", allow_zero=True)
    implant_q = (
        None
        if since_implant is None
        else _q("--hours-since-implant", since_implant, "duration", allow_zero=True)
    )
    if implant_q is None and phase == library.TITRATION:
        implant_q = since_q
    cur = qt.to_base("--current", cur_q, "dose rate")
    new = qt.to_base("--proposed", new_q, "dose rate")
    d = library.check_change(
        origin,
        age_years,
        pump,
        cur,
        new,
        qt.to_base("--hours-since-change", since_q, "duration"),
        phase,
        None if implant_q is None else qt.to_base("--hours-since-implant", implant_q, "duration"),
        overrides,
    )
    change = Fraction(qt.exact((new_q - cur_q) / cur_q, "dimensionless")) * 100
    checks = []
    if d.allowed:
        checks = _verify_allowed(origin, age_years, phase, cur_q, new_q)
    return TitrateResult(
        current=cur_q,
        proposed=new_q,
        change_percent=change,
        allowed=bool(d.allowed),
        rules=list(d.rule_ids),
        refusals=[text for _rid, text in d.refusals],
        warnings=[text for _rid, text in d.warnings],
        needs_override=list(d.needs_override),
        message=d.message,
        checks=checks,
    )


def _verify_allowed(origin: str, age: int, phase: str, cur_q: Quantity, new_q: Quantity) -> list[Check]:
    rng = library.range_rule(origin, age)
    lo = qt.q(rng.param("low_ng_per_day"), "ng/day")
    hi = qt.q(rng.param("high_ng_per_day"), "ng/day")
    if not lo <= new_q <= hi:
        raise InternalError(
            f"allowed: the library allowed {qt.fmt(new_q, 'mcg/day')} outside {rng.req_id} "
            f"{qt.fmt(lo, 'mcg/day')} .. {qt.fmt(hi, 'mcg/day')}"
        )
    checks = [Check("allowed.range", "exact", rng.req_id)]
    if new_q > cur_q:
        if phase not in (library.TITRATION, library.REFILL):
            raise InternalError(f"allowed: the library allowed an increase in the {phase} phase")
        band = library.step_rule(origin, age, phase)
        top = cur_q * (1 + Fraction(band.param("max_step_permille"), 1000))
        if new_q > top:
            raise InternalError(
                f"allowed: the library allowed {qt.fmt(new_q, 'mcg/day')} above "
                f"{band.req_id}'s {qt.fmt(top, 'mcg/day')}"
            )
        checks.append(Check("allowed.increase", "exact", band.req_id))
    elif new_q < cur_q:
        most = Fraction(library.param(library.DIS_01, "max_step_reduction_permille"), 1000)
        if new_q < cur_q * (1 - most):
            raise InternalError(f"allowed: the library allowed a reduction beyond {library.DIS_01}")
        checks.append(Check("allowed.reduction", "exact", library.DIS_01))
    return checks


# -- concentration choice --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConcentrationResult(Result):
    """The concentration for a daily dose and a pump's delivery limits (ITB-CON-01..04)."""

    daily_dose: Quantity
    concentration: Quantity
    flow: Quantity
    supply: Quantity
    labeled: bool
    dilution_needed: bool
    reason: str
    rule_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "daily_dose": rate_json(self.daily_dose),
            "concentration": qt.to_json(self.concentration, "mcg/mL"),
            "flow_per_day": qt.to_json(self.flow, "mL/day"),
            "flow_per_hour": qt.to_json(per_hour(self.flow), "uL/h"),
            "supply_days": qt.to_json(self.supply, "day"),
            "labeled": self.labeled,
            "dilution_needed": self.dilution_needed,
            "reason": self.reason,
            "rule_ids": self.rule_ids,
            "verified": self._checks_json(),
        }


def concentration(
    dose: QLike,
    *,
    reservoir: QLike = "20 mL",
    min_flow: QLike = "0.048 mL/day",
    max_flow: QLike = "24 mL/day",
    refill_interval: QLike = "30 day",
    alarm_volume: QLike = "2 mL",
    pump: str = "programmable",
    fixed_flow: QLike | None = None,
) -> ConcentrationResult:
    """Choose the concentration from the daily dose and the pump's delivery rate (ITB-CON-03).

    The lowest labeled strength (500, 1000, 2000 mcg/mL) whose flow is within [min_flow, max_flow] and
    whose usable volume (reservoir - alarm) lasts the refill interval; else the weakest custom dilution.
    A constant-flow pump takes ``fixed_flow`` and the concentration is dose / flow rounded down.
    Bounds: flow floors to 1 nL/day; supply floors to 1 s; the concentration is re-checked against every
    constraint with pint.
    """
    dose_q = _q("--dose", dose, "dose rate")
    res_q = _q("--reservoir", reservoir, "volume")
    fmin_q = _q("--min-flow", min_flow, "flow")
    fmax_q = _q("--max-flow", max_flow, "flow")
    interval_q = _q("--refill-interval", refill_interval, "duration")
    alarm_q = _q("--alarm-volume", alarm_volume, "volume", allow_zero=True)
    fixed_q = None if fixed_flow is None else _q("--fixed-flow", fixed_flow, "flow")
    kind = {"programmable": dosing.PUMP_PROGRAMMABLE, "constant-flow": dosing.PUMP_CONSTANT}.get(pump)
    if kind is None:
        raise UsageError(f"--pump: must be programmable or constant-flow (got {pump!r})")
    c = dosing.choose_concentration(
        qt.to_base("--dose", dose_q, "dose rate"),
        qt.to_base("--reservoir", res_q, "volume"),
        _flow_base("--min-flow", fmin_q),
        _flow_base("--max-flow", fmax_q),
        qt.to_base("--refill-interval", interval_q, "duration"),
        alarm_nl=qt.to_base("--alarm-volume", alarm_q, "volume"),
        pump_kind=kind,
        fixed_flow_nl_per_day=None if fixed_q is None else _flow_base("--fixed-flow", fixed_q),
    )
    conc_q = qt.q(c.conc_ng_per_ul, "ng/uL")
    flow_q = qt.q(c.flow_nl_per_day, "nL/day")
    supply_q = qt.q(c.supply_s, "s")
    usable = res_q - alarm_q
    if conc_q > qt.q(2000, "mcg/mL"):
        raise InternalError("concentration: above 2000 mcg/mL (ITB-CON-04)")
    if fixed_q is None:
        checks = [
            verify("flow_per_day", flow_q, dose_q / conc_q, "flow", "floor", qt.q(1, "nL/day")),
            verify("supply_days", supply_q, usable * conc_q / dose_q, "duration", "floor", qt.q(1, "s")),
        ]
        if not fmin_q <= flow_q <= fmax_q or supply_q < interval_q:
            raise InternalError("concentration: the chosen strength violates a flow or supply constraint")
    else:
        checks = [
            verify("concentration", conc_q, dose_q / fixed_q, "concentration", "floor", qt.q(1, "ng/uL")),
            verify("supply_days", supply_q, usable / fixed_q, "duration", "floor", qt.q(1, "s")),
        ]
    return ConcentrationResult(
        daily_dose=dose_q,
        concentration=conc_q,
        flow=flow_q,
        supply=supply_q,
        labeled=bool(c.labeled),
        dilution_needed=bool(c.dilution_needed),
        reason=c.reason,
        rule_ids=list(c.rule_ids),
        checks=checks,
    )


def _flow_base(flag: str, qty: Quantity) -> int:
    value = qt.exact(qty, "nL/day")
    if value.denominator != 1:
        raise UsageError(f"{flag}: {qt.fmt(qty, 'uL/h')} is finer than the core's resolution of 1 nL/day")
    return value.numerator


# -- screening -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningDoseRow:
    """One test dose: when (day), how much, what volume of the 50 mcg/mL ampule, how long to observe."""

    day: int
    dose: Quantity
    volume: Quantity
    observe_min: Quantity
    observe_max: Quantity

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "dose": qt.to_json(self.dose, "mcg"),
            "volume": qt.to_json(self.volume, "mL"),
            "observe_from": qt.to_json(self.observe_min, "h"),
            "observe_to": qt.to_json(self.observe_max, "h"),
        }


@dataclass(frozen=True)
class ScreeningResult(Result):
    """The screening test-dose plan (ITB-SCR-01..05)."""

    small_child: bool
    concentration: Quantity
    doses: list[ScreeningDoseRow]
    rule_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "concentration": qt.to_json(self.concentration, "mcg/mL"),
            "doses": [d.to_json() for d in self.doses],
            "not_a_candidate_after": qt.to_json(self.doses[-1].dose, "mcg"),
            "rule_ids": self.rule_ids,
            "verified": self._checks_json(),
        }


def screening(small_child: bool = False) -> ScreeningResult:
    """The bolus test doses, 24 h apart, with volumes of the 50 mcg/mL screening ampule (exact)."""
    conc_q = qt.q(dosing.SCREENING_CONC_NG_PER_UL, "ng/uL")
    rows = []
    checks = []
    for sd in dosing.screening_plan(small_child):
        dose_q = qt.q(sd.dose_ng, "ng")
        vol_q = _nl(sd.volume_nl)
        checks.append(
            verify(f"doses[{sd.index}].volume", vol_q, dose_q / conc_q, "volume", "exact", qt.q(1, "nL"))
        )
        rows.append(
            ScreeningDoseRow(
                sd.start_offset_s // units.S_PER_DAY,
                dose_q,
                vol_q,
                qt.q(sd.observe_min_s, "s"),
                qt.q(sd.observe_max_s, "s"),
            )
        )
    ids = ["ITB-SCR-01", "ITB-SCR-03", "ITB-SCR-04", "ITB-SCR-05"] + (["ITB-SCR-02"] if small_child else [])
    return ScreeningResult(small_child, conc_q, rows, sorted(ids), checks=checks)


# -- taper -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaperResult(Result):
    """A drug-holiday taper: one dose a day, never an abrupt stop (ITB-HOL-01, ITB-MNT-03, ITB-DIS-01)."""

    current: Quantity
    floor: Quantity
    steps: list[tuple[int, Quantity]]  # (day, dose)
    rule_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "current": rate_json(self.current),
            "floor": rate_json(self.floor),
            "steps": [
                {
                    "day": day,
                    "dose_per_day": qt.to_json(d, "mcg/day"),
                    "dose_per_hour": qt.to_json(per_hour(d), "mcg/h"),
                }
                for day, d in self.steps
            ],
            "rule_ids": self.rule_ids,
            "verified": self._checks_json(),
        }


def taper(current: QLike, floor: QLike, over: QLike = "14 day", max_step: str = "20%") -> TaperResult:
    """Reduce ``current`` to ``floor`` over ``over`` (2 to 4 weeks), at most ``max_step`` a day.

    Verified with pint: each step is below the one before by at most ``max_step`` of it, never 0, and the
    last step is the floor.
    """
    cur_q = _q("--dose", current, "dose rate")
    floor_q = _q("--floor", floor, "dose rate")
    over_q = _q("--over", over, "duration")
    text = max_step.strip()
    try:
        step = Fraction(text[:-1]) * 10 if text.endswith("%") else None
    except ValueError:
        step = None
    if step is None or step.denominator != 1 or step <= 0:
        raise UsageError(f"--max-step: expected a percentage such as 20% (got {max_step!r})")
    plan = dosing.taper_plan(
        qt.to_base("--dose", cur_q, "dose rate"),
        qt.to_base("--floor", floor_q, "dose rate"),
        qt.to_base("--over", over_q, "duration"),
        step.numerator,
    )
    steps = [(t // units.S_PER_DAY, qt.q(d, "ng/day")) for t, d in plan]
    prev = cur_q
    for day, dose_q in steps:
        if not qt.q(0, "ng/day") < dose_q < prev or dose_q < prev * (1 - step / 1000):
            raise InternalError(f"taper: day {day} step {qt.fmt(dose_q, 'mcg/day')} breaks the step limit")
        prev = dose_q
    if steps and steps[-1][1] != floor_q:
        raise InternalError("taper: the last step is not the floor")
    check = Check("steps", "exact", f"each step within {text} of the one before, last = floor")
    return TaperResult(cur_q, floor_q, steps, ["ITB-DIS-01", "ITB-HOL-01", "ITB-MNT-03"], checks=[check])


# -- bridge ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeResult(Result):
    """Clearing old drug from pump tubing and catheter after a concentration change (ITB-BRG-01)."""

    needed: bool
    catheter_volume: Quantity
    dead_volume: Quantity
    bridge_flow: Quantity
    bridge_duration: Quantity
    clear_at_new_flow: Quantity

    def to_json(self) -> dict[str, Any]:
        return {
            "needed": self.needed,
            "catheter_volume": qt.to_json(self.catheter_volume, "mL"),
            "dead_volume": qt.to_json(self.dead_volume, "mL"),
            "bridge_volume": qt.to_json(self.dead_volume, "mL"),
            "bridge_flow_per_day": qt.to_json(self.bridge_flow, "mL/day"),
            "bridge_flow_per_hour": qt.to_json(per_hour(self.bridge_flow), "uL/h"),
            "bridge_duration": qt.to_json(self.bridge_duration, "h"),
            "clear_at_new_flow": qt.to_json(self.clear_at_new_flow, "h"),
            "rule_ids": ["ITB-BRG-01"],
            "verified": self._checks_json(),
        }


def bridge(
    internal_volume: QLike, catheter_length: QLike, old: QLike, new: QLike, dose: QLike
) -> BridgeResult:
    """Bridge bolus after a concentration change: run at the old strength's flow until the dead volume
    (pump internal volume + 0.0026 mL/cm of catheter) has been delivered.

    Bounds: catheter volume rounds up to 1 nL (never understated); bridge flow floors to 1 nL/day; bridge
    duration floors to 1 s; the time old drug keeps arriving at the new flow rounds up to 1 s.
    """
    internal_q = _q("--internal-volume", internal_volume, "volume", allow_zero=True)
    length_q = _q("--catheter-length", catheter_length, "length", allow_zero=True)
    old_q = _q("--old-concentration", old, "concentration")
    new_q = _q("--new-concentration", new, "concentration")
    dose_q = _q("--dose", dose, "dose rate")
    length_mm = qt.exact(length_q, "mm")
    if length_mm.denominator != 1:
        raise UsageError("--catheter-length: finer than 1 mm")
    b = dosing.bridge(
        qt.to_base("--internal-volume", internal_q, "volume"),
        length_mm.numerator,
        qt.to_base("--old-concentration", old_q, "concentration"),
        qt.to_base("--new-concentration", new_q, "concentration"),
        qt.to_base("--dose", dose_q, "dose rate"),
    )
    cath = _nl(b.catheter_nl)
    dead = _nl(b.dead_volume_nl)
    flow = qt.q(b.bridge_flow_nl_per_day, "nL/day")
    per_cm = qt.q(Fraction(26, 10000), "mL/cm")  # ITB-BRG-01, DESIGN.md: 0.0026 mL per cm
    checks = [
        verify("catheter_volume", cath, length_q * per_cm, "volume", "ceil", qt.q(1, "nL")),
        verify("dead_volume", dead, internal_q + cath, "volume", "exact", qt.q(1, "nL")),
        verify("bridge_flow_per_day", flow, dose_q / old_q, "flow", "floor", qt.q(1, "nL/day")),
        verify(
            "bridge_duration", qt.q(b.bridge_duration_s, "s"), dead / flow, "duration", "floor", qt.q(1, "s")
        ),
        verify(
            "clear_at_new_flow",
            qt.q(b.clear_at_new_flow_s, "s"),
            dead / qt.q(b.new_flow_nl_per_day, "nL/day"),
            "duration",
            "ceil",
            qt.q(1, "s"),
        ),
    ]
    return BridgeResult(
        bool(b.needed),
        cath,
        dead,
        flow,
        qt.q(b.bridge_duration_s, "s"),
        qt.q(b.clear_at_new_flow_s, "s"),
        checks=checks,
    )
