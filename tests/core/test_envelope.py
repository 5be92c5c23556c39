# The therapy envelope: every limit just inside and just outside, at every instant of a schedule, over
# the rig's history. Percent limits at exactly the limit and one ng above, the 24 h / 48 h rules at
# 86 399 / 86 400 s, soft limits with and without an override. Numbers are the labeling's own (mcg/day, %,
# h), converted here by hand: 1 mcg = 1000 ng. Runs under MicroPython too.

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from typing import Any

from firmware_py import envelope
from firmware_py.config import Config
from firmware_py.decision import Decision
from firmware_py.history import History
from firmware_py.schedule import Schedule
from tests.core.support import CONFIG, DAY, MCG, H, daily, program

T = 1_767_571_200  # a Monday 00:00
CF = Config("constant-flow", 20_000_000, 200_000, 500, 1800, "cf")


def _ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [p[0] for p in pairs]


def _start(sched: object, phase: str = "transfer", cfg: Config = CONFIG, **kw: "Any") -> Decision:
    p = program(sched, phase, **kw)
    return envelope.decide(History(), None, envelope.Commit(p), cfg, T)


def _change(old: object, new: object, phase: str = "refill", since: int = 30 * DAY, *,
            started: int | None = None, cfg: Config = CONFIG, hist: History | None = None,
            **kw: "Any") -> Decision:
    old_s = old if isinstance(old, Schedule) else daily(old)
    h = hist if hist is not None else envelope.stated_history(T, old_s, since, started)
    p = program(new, phase, pump_kind=cfg.pump_kind, **kw)
    return envelope.decide(h, old_s, envelope.Commit(p), cfg, T)


def _range(origin: str, age: int, dose: int, ov: tuple[tuple[str, str], ...] = ()) -> Decision:
    return _start(dose, "transfer", origin=origin, age_years=age, overrides=ov)


OVER_1000 = (("ITB-RNG-04", "bench: top of range"),)


# ---------------------------------------------------------------- ranges, at every instant


def test_range_adult_spinal_12_to_2003_mcg() -> None:
    # REQ: ITB-RNG-01
    assert _range("spinal", 30, 12 * MCG).allowed
    low = _range("spinal", 30, 12 * MCG - 1)
    assert not low.allowed and _ids(low.refusals) == ["ITB-RNG-01"]
    assert "11.999" in low.message() and "ITB-RNG-01" in low.message()
    assert _range("spinal", 30, 2003 * MCG, OVER_1000).allowed
    high = _range("spinal", 30, 2003 * MCG + 1, OVER_1000)
    assert not high.allowed and _ids(high.refusals) == ["ITB-RNG-01"] and high.reply() == "LIMIT"
    assert _range("spinal", 18, 12 * MCG).allowed  # 18 y is adult


def test_range_cerebral_and_pediatric_12_plus_22_to_1400_mcg() -> None:
    # REQ: ITB-RNG-02
    for origin, age in (("cerebral", 40), ("cerebral", 12), ("spinal", 12), ("spinal", 17)):
        assert _range(origin, age, 22 * MCG).allowed, (origin, age)
        assert _ids(_range(origin, age, 22 * MCG - 1).refusals) == ["ITB-RNG-02"], (origin, age)
        assert _range(origin, age, 1400 * MCG, OVER_1000).allowed
        assert _ids(_range(origin, age, 1400 * MCG + 1, OVER_1000).refusals) == ["ITB-RNG-02"]
    assert not _range("spinal", 17, 12 * MCG).allowed


def test_range_under_12_24_to_1199_mcg() -> None:
    # REQ: ITB-RNG-03
    for origin in ("spinal", "cerebral"):
        assert _range(origin, 11, 24 * MCG).allowed
        assert _ids(_range(origin, 11, 24 * MCG - 1).refusals) == ["ITB-RNG-03"]
        assert _range(origin, 11, 1199 * MCG, OVER_1000).allowed
        assert _ids(_range(origin, 11, 1199 * MCG + 1, OVER_1000).refusals) == ["ITB-RNG-03"]
    assert _range("cerebral", 12, 23 * MCG).allowed
    assert not _range("cerebral", 11, 23 * MCG).allowed


def test_range_applies_to_every_step_not_the_day_total() -> None:
    # REQ: ITB-RNG-01 ITB-RNG-04: a 30 min step at 2100 mcg/day in a 500 mcg/day day (total 533 mcg) is out
    # of range; so is a 30 min step at 11 mcg/day in a day of 500.
    d = _start([(0, 500 * MCG), (72_000, 2_100 * MCG), (73_800, 500 * MCG)], overrides=OVER_1000)
    assert _ids(d.refusals)[0] == "ITB-RNG-01" and "20:00-20:30" in d.message()
    d = _start([(0, 500 * MCG), (72_000, 11 * MCG), (73_800, 500 * MCG)])
    assert "ITB-RNG-01" in _ids(d.refusals)
    # A short step above 1000 mcg/day needs the override although the day's total is far below it.
    d = _start([(0, 500 * MCG), (72_000, 1_001 * MCG), (73_800, 500 * MCG)])
    assert d.needs_override == ["ITB-RNG-04"]


def test_above_1000_mcg_and_under_4_years_are_soft() -> None:
    # REQ: ITB-RNG-04 ITB-RNG-05
    assert _range("spinal", 30, 1000 * MCG).allowed
    d = _range("spinal", 30, 1000 * MCG + 1)
    assert (
        not d.allowed and d.refusals == [] and d.needs_override == ["ITB-RNG-04"] and d.reply() == "OVERRIDE"
    )
    ok = _range("spinal", 30, 1000 * MCG + 1, (("ITB-RNG-04", "verification of the high-dose path"),))
    assert ok.allowed and ok.overridden == [("ITB-RNG-04", "verification of the high-dose path")]
    assert "verification of the high-dose path" in ok.message()
    d = _range("cerebral", 3, 100 * MCG)
    assert not d.allowed and d.needs_override == ["ITB-RNG-05"]
    assert _range("cerebral", 3, 100 * MCG, (("ITB-RNG-05", "bench case, 3 y"),)).allowed
    d = _range("cerebral", 3, 23 * MCG, (("ITB-RNG-05", "bench case, 3 y"),))
    assert _ids(d.refusals) == ["ITB-RNG-03"]


# ---------------------------------------------------------------- starting a pump


def test_a_pump_starts_only_in_a_start_phase() -> None:
    # REQ: ITB-STA-01: a first program (or the first after a confirmed stop) is initial, restart or
    # transfer; a running pump changes only in a change phase.
    for phase in ("titration", "refill", "side-effects", "taper"):
        d = _start(150 * MCG, phase)
        assert _ids(d.refusals) == ["ITB-STA-01"] and d.reply() == "LIMIT", phase
    for phase in ("initial", "restart", "transfer"):
        assert _start(150 * MCG, phase).allowed, phase
        d = _change(150 * MCG, 150 * MCG, phase)
        assert _ids(d.refusals) == ["ITB-STA-01"], phase


def test_initial_dose_is_bounded_by_the_screening_dose() -> None:
    # REQ: ITB-INI-01 ITB-INI-02: at most 2x the positive screening dose a day, 1x if its effect lasted
    # more than 8 h, at every instant.
    assert _start(200 * MCG, "initial", screening_dose_ng=100 * MCG, effect_s=6 * H).allowed
    d = _start(200 * MCG + 1, "initial", screening_dose_ng=100 * MCG, effect_s=6 * H)
    assert _ids(d.refusals) == ["ITB-INI-01"] and "at most 200 mcg/day" in d.message()
    assert _start(100 * MCG, "initial", screening_dose_ng=100 * MCG, effect_s=8 * H + 1).allowed
    d = _start(100 * MCG + 1, "initial", screening_dose_ng=100 * MCG, effect_s=8 * H + 1)
    assert _ids(d.refusals) == ["ITB-INI-02"]
    assert _start(100 * MCG, "initial", screening_dose_ng=50 * MCG, effect_s=8 * H).allowed  # 8 h is not more
    # A bolus hidden in a first program: 30 min at 40 000 mcg/day in a 12 mcg/day day is far above.
    d = _start(
        [(0, 12 * MCG), (72_000, 210 * MCG), (73_800, 12 * MCG)],
        "initial",
        screening_dose_ng=50 * MCG,
        effect_s=6 * H,
    )
    assert "ITB-INI-01" in _ids(d.refusals)
    # The screening dose is a labeled test dose, at most 100 mcg.
    d = _start(100 * MCG, "initial", screening_dose_ng=125 * MCG, effect_s=6 * H)
    assert _ids(d.refusals) == ["ITB-SCR-04"]


def test_restart_after_a_holiday_is_the_initial_dose() -> None:
    # REQ: ITB-HOL-02
    assert _start(200 * MCG, "restart").allowed
    d = _start(2_000 * MCG, "restart", overrides=OVER_1000)
    assert _ids(d.refusals) == ["ITB-INI-01", "ITB-HOL-02"]


def test_transfer_is_a_change_from_the_stated_dose() -> None:
    # REQ: ITB-STA-01 ITB-TIT-01 ITB-DIS-01: adult spinal, from 500 mcg/day: up to +30 %, down to -20 %, at
    # every instant, with a reason.
    assert _start(650 * MCG, previous_ng_per_day=500 * MCG).allowed
    d = _start(650 * MCG + 1, previous_ng_per_day=500 * MCG)
    assert _ids(d.refusals) == ["ITB-TIT-01"]
    assert _start(400 * MCG, previous_ng_per_day=500 * MCG).allowed
    assert _ids(_start(400 * MCG - 1, previous_ng_per_day=500 * MCG).refusals) == ["ITB-DIS-01"]
    d = _start([(0, 500 * MCG), (72_000, 650 * MCG + 1), (73_800, 500 * MCG)], previous_ng_per_day=500 * MCG)
    assert _ids(d.refusals) == ["ITB-TIT-01"]
    # A transfer that only lowers the dose rises nowhere: no "below the usual step" note (there was one);
    # one that rises by less than the band's +10 % has it.
    d = _start(450 * MCG, previous_ng_per_day=500 * MCG)
    assert d.allowed and "ITB-TIT-01" not in _ids(d.notes)
    d = _start(520 * MCG, previous_ng_per_day=500 * MCG)
    assert d.allowed and "ITB-TIT-01" in _ids(d.notes)


# ---------------------------------------------------------------- titration and refill bands


def test_titration_bands_by_group() -> None:
    # REQ: ITB-TIT-01 ITB-TIT-02 ITB-TIT-03
    assert _change(100 * MCG, 130 * MCG, "titration").allowed
    d = _change(100 * MCG, 130 * MCG + 1, "titration")
    assert _ids(d.refusals) == ["ITB-TIT-01"] and d.reply() == "TITRATION"
    assert "(at most 130 mcg/day)" in d.message()
    # 333.333 mcg +30 % = 433.3329 mcg; 433.332 is in, 433.333 is out.
    assert _change(333_333, 433_332, "titration").allowed
    assert not _change(333_333, 433_333, "titration").allowed
    d = _change(100 * MCG, 110 * MCG - 1, "titration")
    assert d.allowed and _ids(d.notes) == ["ITB-TIT-01"]
    assert _change(200 * MCG, 230 * MCG, "titration", origin="cerebral", age_years=40).allowed
    d = _change(200 * MCG, 230 * MCG + 1, "titration", origin="cerebral", age_years=40)
    assert _ids(d.refusals) == ["ITB-TIT-02"]
    for origin in ("spinal", "cerebral"):
        assert _change(100 * MCG, 115 * MCG, "titration", origin=origin, age_years=17).allowed
        d = _change(100 * MCG, 115 * MCG + 1, "titration", origin=origin, age_years=17)
        assert _ids(d.refusals) == ["ITB-TIT-03"], origin


def test_refill_bands_by_group() -> None:
    # REQ: ITB-MNT-01 ITB-MNT-02
    assert _change(500 * MCG, 700 * MCG, age_years=50).allowed
    assert _ids(_change(500 * MCG, 700 * MCG + 1, age_years=50).refusals) == ["ITB-MNT-01"]
    for origin, age in (("cerebral", 50), ("spinal", 15), ("cerebral", 12)):
        assert _change(500 * MCG, 600 * MCG, origin=origin, age_years=age).allowed, (origin, age)
        assert _ids(_change(500 * MCG, 600 * MCG + 1, origin=origin, age_years=age).refusals) == [
            "ITB-MNT-02"
        ]


def test_bands_apply_at_every_instant() -> None:
    # REQ: ITB-TIT-01 ITB-MNT-02. A 30 min step at 6000 mcg/day on a 500 mcg/day base raises the day total
    # only 23 % but that instant 1100 %.
    d = _change(500 * MCG, [(0, 500 * MCG), (72_000, 6_000 * MCG), (73_800, 500 * MCG)], "titration",
                overrides=OVER_1000)
    assert "ITB-TIT-01" in _ids(d.refusals) and "20:00-20:30" in d.message() and "+1100 %" in d.message()
    # Cerebral adult, 500 -> 500 with a 16 h window at +80 %: the day is +53 %, the window +80 %.
    d = _change(500 * MCG, [(0, 500 * MCG), (21_600, 900 * MCG), (79_200, 500 * MCG)], "titration",
                origin="cerebral", age_years=40)
    assert _ids(d.refusals) == ["ITB-TIT-02"]
    # 500 -> base 600 with 10:00-06:00 at +30 % (780): +56 % in the window, refused; host and rig share this.
    d = _change(500 * MCG, [(0, 780 * MCG), (21_600, 600 * MCG), (36_000, 780 * MCG)], age_years=40,
                origin="cerebral")
    assert _ids(d.refusals) == ["ITB-MNT-02"]


def test_one_increase_per_24_h_programmable_48_h_constant_flow() -> None:
    # REQ: ITB-TIT-04
    d = _change(100 * MCG, 120 * MCG, since=86_399, started=30 * DAY)
    assert _ids(d.refusals) == ["ITB-TIT-04"]
    assert _change(100 * MCG, 120 * MCG, since=86_400).allowed
    d = _change(100 * MCG, 120 * MCG, since=172_799, started=30 * DAY, cfg=CF)
    assert _ids(d.refusals) == ["ITB-TIT-04"]
    assert _change(100 * MCG, 120 * MCG, since=172_800, cfg=CF).allowed
    assert _change(100 * MCG, 90 * MCG, since=0).allowed  # a reduction is never delayed


def test_no_increase_in_the_first_24_or_48_h_after_the_start() -> None:
    # REQ: ITB-INI-03 ITB-INI-04. The start is a change too, so ITB-TIT-04 refuses alongside.
    d = _change(100 * MCG, 110 * MCG, "titration", since=86_399, started=86_399)
    assert _ids(d.refusals) == ["ITB-TIT-04", "ITB-INI-03"]
    assert _change(100 * MCG, 110 * MCG, "titration", since=86_400, started=86_400).allowed
    d = _change(100 * MCG, 110 * MCG, "titration", since=172_799, started=172_799, cfg=CF, origin="cerebral")
    assert _ids(d.refusals) == ["ITB-TIT-04", "ITB-INI-04"]
    assert _change(100 * MCG, 110 * MCG, "titration", since=172_800, started=172_800, cfg=CF,
                   origin="cerebral").allowed


# ---------------------------------------------------------------- reductions over the history


def test_no_abrupt_discontinuation_in_any_phase() -> None:
    # REQ: ITB-DIS-01: a reduction above 20 % within 24 h is refused in every phase.
    for phase in ("titration", "refill", "side-effects", "taper"):
        assert _change(100 * MCG, 80 * MCG, phase).allowed, phase
        d = _change(100 * MCG, 80 * MCG - 1, phase)
        assert "ITB-DIS-01" in _ids(d.refusals), phase


def test_chained_reductions_count_over_24_h() -> None:
    # REQ: ITB-DIS-01: -20 % now and -20 % again one second later is -36 % within 24 h: refused. After 24 h
    # the first program has left the window.
    h = envelope.stated_history(T - 2 * H, daily(500 * MCG), 30 * DAY, None)
    h.commit(T - H, daily(400 * MCG), False)
    d = envelope.decide(h, daily(400 * MCG), envelope.Commit(program(320 * MCG)), CONFIG, T)
    assert _ids(d.refusals) == ["ITB-DIS-01"] and "500 -> 320 mcg/day" in d.message()
    assert envelope.decide(h, daily(400 * MCG), envelope.Commit(program(400 * MCG)), CONFIG, T).allowed
    late = T - H + DAY  # the 500 mcg/day program ended T - H: outside (late - 24 h, late]
    assert envelope.decide(h, daily(400 * MCG), envelope.Commit(program(320 * MCG)), CONFIG, late).allowed
    assert not envelope.decide(
        h, daily(400 * MCG), envelope.Commit(program(320 * MCG)), CONFIG, late - 1
    ).allowed


def test_side_effects_reduce_10_to_20_percent_and_never_increase() -> None:
    # REQ: ITB-MNT-03
    assert _change(500 * MCG, 400 * MCG, "side-effects").allowed
    d = _change(500 * MCG, 400 * MCG - 1, "side-effects")
    assert "ITB-MNT-03" in _ids(d.refusals) and "ITB-DIS-01" in _ids(d.refusals)
    assert _change(500 * MCG, 450 * MCG, "side-effects").notes == []
    d = _change(500 * MCG, 450 * MCG + 1, "side-effects")
    assert d.allowed and _ids(d.notes) == ["ITB-MNT-03"]
    assert _ids(_change(500 * MCG, 500 * MCG + 1, "side-effects").refusals) == ["ITB-MNT-03"]


def test_taper_only_reduces() -> None:
    # REQ: ITB-HOL-01
    d = _change(300 * MCG, 240 * MCG, "taper", origin="cerebral")
    assert d.allowed and "ITB-HOL-01" in d.applied
    assert _ids(_change(300 * MCG, 300 * MCG + 1, "taper", origin="cerebral").refusals) == ["ITB-HOL-01"]
    d = _change(25 * MCG, 21 * MCG, "taper", origin="cerebral")
    assert _ids(d.refusals) == ["ITB-RNG-02"] and d.reply() == "LIMIT"


# ---------------------------------------------------------------- escalation over 7 days


def test_escalation_over_50_percent_in_7_days_needs_an_override() -> None:
    # REQ: ITB-ESC-01: 500 -> 650 -> 845 within 48 h is +69 %: soft, needs an override with a reason.
    h = envelope.stated_history(T - 2 * DAY, daily(500 * MCG), 30 * DAY, None)
    h.commit(T - DAY, daily(650 * MCG), False)
    d = envelope.decide(h, daily(650 * MCG), envelope.Commit(program(845 * MCG)), CONFIG, T)
    assert d.refusals == [] and d.needs_override == ["ITB-ESC-01"] and "catheter" in d.message()
    ok = program(845 * MCG, overrides=(("ITB-ESC-01", "planned titration, catheter checked"),))
    assert envelope.decide(h, daily(650 * MCG), envelope.Commit(ok), CONFIG, T).allowed
    # +50 % exactly is not flagged; the 500 program leaves the window 7 days after it ended.
    assert envelope.decide(h, daily(650 * MCG), envelope.Commit(program(750 * MCG)), CONFIG, T).allowed
    late = T - DAY + 7 * DAY
    assert envelope.decide(h, daily(650 * MCG), envelope.Commit(program(845 * MCG)), CONFIG, late).allowed
    assert not envelope.decide(
        h, daily(650 * MCG), envelope.Commit(program(845 * MCG)), CONFIG, late - 1
    ).allowed


# ---------------------------------------------------------------- pump facts and schedules


def test_pump_facts_come_from_the_rig() -> None:
    # REQ: ITB-PMP-01 ITB-PMP-02 ITB-PMP-03 ITB-PMP-04: a program whose facts differ is refused, naming both,
    # each in its display unit (mL, cm, min: the host prints this text as it is), never in nL, mm or s.
    for field, value, rid, text in (
        ("catheter_mm", 100_000, "ITB-PMP-02", "catheter length 10000 cm differs from the rig's 50 cm"),
        ("reservoir_nl", 40_000_000, "ITB-PMP-01", "reservoir 40 mL differs from the rig's 20 mL"),
        ("min_step_s", 60, "ITB-PMP-04", "minimum step 1 min differs from the rig's 30 min"),
        ("min_step_s", 5_430, "ITB-PMP-04", "minimum step 1 h 30 min 30 s differs from the rig's 30 min"),
        ("internal_nl", 100, "ITB-PMP-03", "internal volume 0.0001 mL differs from the rig's 0.2 mL"),
        ("internal_nl", 250_000, "ITB-PMP-03", "internal volume 0.25 mL differs from the rig's 0.2 mL"),
        ("pump_kind", "constant-flow", "ITB-PMP-01", "pump kind constant-flow differs from the rig's "
         "programmable"),
    ):
        given: dict[str, Any] = {field: value}
        d = _start(150 * MCG, **given)
        assert rid in _ids(d.refusals), field
        assert "program " + text + " [" + rid + "]" in d.message(), d.message()
        assert " nL" not in d.message() and " mm " not in d.message() and "00 s" not in d.message()


def test_refill_and_bolus_volumes_are_shown_in_ml() -> None:
    # REQ: ITB-PMP-01 ITB-BRG-01: the fill and dead-volume texts in mL, exactly, without trailing zeros.
    d = envelope.decide(History(), None, envelope.Refill(40_000_000, 2_500_000), CONFIG, 0)
    assert d.message() == ("refused: refill 40 mL: a fill of 40 mL exceeds the rig's 20 mL reservoir "
                           "[ITB-PMP-01]")
    p = program(500 * MCG, conc=2000)
    b = envelope.decide(History(), p, envelope.Bolus(330_001, 30_000, 500), CONFIG, T)
    assert b.message().startswith("refused: bridge bolus 0.330001 mL over 8 h 20 min: 0.330001 mL is more "
                                  "than the rig's dead volume 0.33 mL [ITB-BRG-01]"), b.message()


def test_complex_schedules_only_on_programmable_pumps() -> None:
    # REQ: ITB-SCH-02
    flex = [(0, 150 * MCG), (72_000, 160 * MCG)]
    assert _start(150 * MCG, cfg=CF, pump_kind="constant-flow").allowed
    d = _start(flex, cfg=CF, pump_kind="constant-flow")
    assert _ids(d.refusals) == ["ITB-SCH-02"] and d.reply() == "LIMIT"


def test_weekly_programs_compare_day_by_day() -> None:
    # REQ: ITB-MNT-01: a Saturday 08:00-12:00 step at +45 % is refused although every other day is unchanged;
    # +40 % is allowed. Weekly phase 0 is Monday 00:00.
    sat = 5 * DAY
    w = Schedule(7 * DAY, [(0, 500 * MCG), (sat + 8 * H, 725 * MCG), (sat + 12 * H, 500 * MCG)])
    d = _change(500 * MCG, w, age_years=50)
    assert _ids(d.refusals) == ["ITB-MNT-01"] and "Sat 08:00-Sat 12:00" in d.message()
    ok = Schedule(7 * DAY, [(0, 500 * MCG), (sat + 8 * H, 700 * MCG), (sat + 12 * H, 500 * MCG)])
    assert _change(500 * MCG, ok, age_years=50).allowed


# ---------------------------------------------------------------- refill and bolus


def test_a_fill_never_exceeds_the_rigs_reservoir() -> None:
    # REQ: ITB-PMP-01
    h = History()
    assert envelope.decide(h, None, envelope.Refill(20_000_000, 0), CONFIG, T).allowed
    d = envelope.decide(h, None, envelope.Refill(20_000_001, 0), CONFIG, T)
    assert _ids(d.refusals) == ["ITB-PMP-01"]
    assert not envelope.decide(h, None, envelope.Refill(1, 20_000_001), CONFIG, T).allowed


def test_bridge_bolus_is_capped_by_the_rigs_dead_volume() -> None:
    # REQ: ITB-BRG-01: 0.2 mL internal + 50 cm * 2.6 uL/cm = 0.33 mL; at the old 500 mcg/mL flow of a
    # 500 mcg/day program (1 mL/day), 0.33 mL takes 0.33 day = 28 512 s.
    p = program(500 * MCG, conc=2000)
    ok = envelope.decide(History(), p, envelope.Bolus(330_000, 28_512, 500), CONFIG, T)
    assert ok.allowed, ok.message()
    assert not envelope.decide(History(), p, envelope.Bolus(330_001, 30_000, 500), CONFIG, T).allowed
    assert not envelope.decide(History(), p, envelope.Bolus(330_000, 28_511, 500), CONFIG, T).allowed


# ---------------------------------------------------------------- a course's history and patient


def _course(p: object, now: int) -> History:
    # The history after p (a Program) started the pump at now, as the rig records it.
    h = History()
    envelope.record(h, p, True, now)  # type: ignore[arg-type]
    return h


def test_a_transfer_keeps_the_stated_dose_in_the_history() -> None:
    # REQ: ITB-DIS-01 ITB-ESC-01: 500 (the other pump) -> 400 by transfer; a taper to 320 a minute later is
    # -36 % within 24 h of the 500 the patient had; +30 % to 520 a day after a 400 -> 520 transfer is +69 %
    # of the stated 400 within 7 days (soft: needs the override).
    h = _course(program(400 * MCG, "transfer", previous_ng_per_day=500 * MCG), T)
    d = envelope.decide(h, daily(400 * MCG), envelope.Commit(program(320 * MCG, "taper")), CONFIG, T + 60)
    assert _ids(d.refusals) == ["ITB-DIS-01"] and "500 -> 320 mcg/day" in d.message(), d.message()
    h = _course(program(520 * MCG, "transfer", previous_ng_per_day=400 * MCG), T)
    up = envelope.Commit(program(676 * MCG, "titration"))
    d = envelope.decide(h, daily(520 * MCG), up, CONFIG, T + DAY)
    assert d.reply() == "OVERRIDE" and "ITB-ESC-01" in d.rule_ids(), d.message()


def test_a_transfer_after_a_stop_is_an_increase_over_what_the_rig_ran() -> None:
    # REQ: ITB-TIT-04: 500 -> 650 (transfer), stopped a minute later; a transfer 650 -> 845 then is a second
    # increase within 24 h. The same program again is not an increase; a day later the new one needs only
    # the escalation override (+69 % of the 500 within 7 days).
    p1 = program(650 * MCG, "transfer", previous_ng_per_day=500 * MCG)
    h = _course(p1, T)
    h.stop(T + 60)
    again = envelope.decide(h, None, envelope.Commit(p1), CONFIG, T + 120)
    assert again.allowed, again.message()
    up = program(845 * MCG, "transfer", previous_ng_per_day=650 * MCG)
    d = envelope.decide(h, None, envelope.Commit(up), CONFIG, T + 120)
    assert _ids(d.refusals) == ["ITB-TIT-04"], d.message()
    later = envelope.decide(h, None, envelope.Commit(up), CONFIG, T + DAY)
    assert later.reply() == "OVERRIDE" and _ids(later.refusals) == [], later.message()


def test_the_patient_stays_the_same_through_a_course() -> None:
    # REQ: ITB-PAT-01: the origin never changes within a course; the age grows at most a year per 365 days
    # since the start (plus one for a birthday in between), never shrinks.
    h = _course(program(500 * MCG, "transfer", origin="cerebral", age_years=40), T)
    run = daily(500 * MCG)
    def at(now: int, **kw: "Any") -> Decision:
        return envelope.decide(h, run, envelope.Commit(program(550 * MCG, "titration", **kw)), CONFIG, now)
    assert at(T + 2 * DAY, origin="cerebral", age_years=40).allowed
    assert _ids(at(T + 2 * DAY, origin="spinal", age_years=40).refusals) == ["ITB-PAT-01"]
    assert _ids(at(T + 2 * DAY, origin="cerebral", age_years=39).refusals) == ["ITB-PAT-01"]
    assert at(T + 2 * DAY, origin="cerebral", age_years=41).allowed  # a birthday
    assert _ids(at(T + 2 * DAY, origin="cerebral", age_years=42).refusals) == ["ITB-PAT-01"]
    assert at(T + 365 * DAY, origin="cerebral", age_years=42).allowed


def test_a_bridge_bolus_is_bounded_at_every_instant() -> None:
    # REQ: ITB-BRG-01 ITB-DIS-01: after 500 -> 1000 mcg/mL at 500 mcg/day the old flow is 1 mL/day, so the
    # 0.33 mL dead volume over 28 512 s gives exactly 500 mcg/day. Faster is refused (above the schedule),
    # slower than 400 mcg/day (-20 %) too (a slow bolus is an abrupt cut), and so is a bolus running 500
    # across a step to 650 mcg/day at 06:00.
    h = _course(program(500 * MCG, "transfer", previous_ng_per_day=500 * MCG), T - 30 * DAY)
    p = program(500 * MCG, conc=1000)
    stepped = program(Schedule(DAY, [(0, 500 * MCG), (6 * H, 650 * MCG)]), conc=1000)

    def bolus(vol: int, dur: int, prog: object = p) -> Decision:
        return envelope.decide(h, prog, envelope.Bolus(vol, dur, 500), CONFIG, T)  # type: ignore[arg-type]

    assert bolus(330_000, 28_512).allowed
    assert _ids(bolus(330_000, 28_511).refusals) == ["ITB-BRG-01"]
    assert _ids(bolus(330_001, 28_513).refusals) == ["ITB-BRG-01"]  # more than the dead volume
    assert bolus(330_000, 35_640).allowed  # 400 mcg/day: -20 % exactly
    assert _ids(bolus(330_000, 35_641).refusals) == ["ITB-DIS-01"]
    assert bolus(100_000, 8_640, stepped).allowed  # ends at 02:24, before the step
    d = bolus(330_000, 28_512, stepped)
    assert _ids(d.refusals) == ["ITB-DIS-01"] and "06:00" in d.message(), d.message()
