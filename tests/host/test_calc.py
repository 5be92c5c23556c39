"""In-process tests of host_tools.calc: labeling numbers, independent Fraction re-computation, pint
verification catching a core that is off (InternalError), and the refusals."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from firmware_py import dosing, library
from firmware_py import schedule as core_schedule
from firmware_py.errors import ItbError, LimitError
from host_tools import calc
from host_tools import quantities as qt
from host_tools.errors import InternalError, UsageError


def _v(obj: dict[str, Any]) -> float:
    return float(obj["value"])


def test_rate_labeling_numbers() -> None:
    """500 mcg/day at 500 mcg/mL is 1 mL/day = 41.666 uL/h (floored), 20.833 mcg/h. REQ: ITB-CON-03"""
    r = calc.rate("500 mcg/day", "500 mcg/mL").to_json()
    assert r["flow_per_day"] == {"value": 1, "unit": "mL/day"}
    assert r["flow_per_hour"] == {"value": 41.666, "unit": "uL/h"}
    assert r["dose_per_hour"] == {"value": 20.833, "unit": "mcg/h"}
    assert r["daily_dose"] == {"value": 500, "unit": "mcg/day"}


def test_rate_same_from_any_spelling() -> None:
    """0.5 mg/day at 0.5 mg/mL is the same as 500 mcg/day at 500 mcg/mL; 20.8333 mcg/h differs (finer)."""
    a = calc.rate("0.5 mg/day", "0.5 mg/mL").to_json()
    b = calc.rate("500 mcg/day", "500 mcg/mL").to_json()
    assert a["flow_per_day"] == b["flow_per_day"]


@pytest.mark.parametrize("dose_mcg", [1, 7, 13, 333, 499, 1999])
@pytest.mark.parametrize("conc", [500, 1000, 2000, 333])
def test_rate_against_fraction(dose_mcg: int, conc: int) -> None:
    """Independent Fraction re-computation: floored flow, residue below 1 nL/day. REQ: ITB-CON-03"""
    r = calc.rate(f"{dose_mcg} mcg/day", f"{conc} mcg/mL")
    exact_nl = Fraction(dose_mcg, conc) * 1_000_000
    got = qt.exact(r.flow_per_day, "nL/day")
    assert got.denominator == 1
    assert 0 <= exact_nl - got < 1


def test_verification_catches_core_off_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A core flow one nL/day above the exact value (beyond the floor bound) is an InternalError."""
    real = dosing.flow

    def bad(dose: int, conc: int) -> Any:
        f = real(dose, conc)
        f.flow_nl_per_day += 1
        return f

    monkeypatch.setattr(dosing, "flow", bad)
    with pytest.raises(InternalError, match="flow_per_day"):
        calc.rate("500 mcg/day", "500 mcg/mL")


def test_verification_catches_core_one_below_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Floored one unit too far (exact - core == 1 nL/day, the bound itself) is caught too."""
    real = dosing.flow

    def bad(dose: int, conc: int) -> Any:
        f = real(dose, conc)
        f.flow_nl_per_day -= 1
        f.flow_dropped_pg_per_day += conc
        return f

    monkeypatch.setattr(dosing, "flow", bad)
    with pytest.raises(InternalError):
        calc.rate("500 mcg/day", "500 mcg/mL")


def test_verification_catches_dilution_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stock volume one resolution step above the exact value is an InternalError."""
    real = dosing.dilute

    def bad(*args: Any) -> Any:
        d = real(*args)
        d.stock_nl += d.resolution_nl
        d.diluent_nl -= d.resolution_nl
        return d

    monkeypatch.setattr(dosing, "dilute", bad)
    with pytest.raises(InternalError):
        calc.dilute("2000 mcg/mL", "750 mcg/mL", "20 mL")


def test_verify_wrong_dimension_is_internal() -> None:
    with pytest.raises(InternalError, match="dimension"):
        calc.verify("x", qt.q(1, "nL/day"), qt.q(1, "ng/day"), "flow", "floor", qt.q(1, "nL/day"))


def test_dilute_750_from_2000() -> None:
    """7.5 mL of 2000 mcg/mL + 12.5 mL saline = 20 mL of 750 mcg/mL. REQ: ITB-CON-02"""
    r = calc.dilute("2 mg/mL", "750 mcg/mL", "20 mL").to_json()
    assert r["stock_volume"] == {"value": 7.5, "unit": "mL"}
    assert r["diluent_volume"] == {"value": 12.5, "unit": "mL"}
    assert r["final_volume"] == {"value": 20, "unit": "mL"}
    assert r["achieved_concentration"] == {"value": 750, "unit": "mcg/mL"}


def test_dilute_rounds_toward_less_drug() -> None:
    """333 mcg/mL in 7 mL at 0.1 mL steps: stock floors, achieved <= target. REQ: ITB-CON-02, ITB-CON-04"""
    r = calc.dilute("2000 mcg/mL", "333 mcg/mL", "7 mL", "0.1 mL")
    assert qt.exact(r.stock_volume, "mL") == Fraction(11, 10)  # 333*7/2000 = 1.1655 -> 1.1
    assert qt.exact(r.achieved_concentration, "mcg/mL") == Fraction(2000 * 11, 70)
    assert r.achieved_concentration <= r.target_concentration


def test_dilute_above_stock_refused() -> None:
    """A target above the stock is refused. REQ: ITB-CON-04"""
    with pytest.raises(LimitError):
        calc.dilute("500 mcg/mL", "1000 mcg/mL", "20 mL")


def test_schedule_night_boost() -> None:
    """The labeling's night-time +20 %: effect 22:00-06:00 -> step 20:00-04:00. REQ: ITB-SCH-01, ITB-SCH-03"""
    r = calc.schedule("500 mcg/day", "500 mcg/mL", ["22:00-06:00=+20%"])
    j = r.to_json()
    starts = {(s["start"], s["end"]): s for s in j["steps"]}
    assert set(starts) == {("04:00", "20:00"), ("20:00", "04:00")}
    night = starts[("20:00", "04:00")]
    assert night["dose_per_hour"] == {"value": 25, "unit": "mcg/h"}
    assert night["flow_per_hour"] == {"value": 50, "unit": "uL/h"}
    # 16 h at 500 + 8 h at 600 = 533.333.. mcg, floored to the ng
    assert j["daily_total"] == {"value": 533.333, "unit": "mcg"}
    assert "ITB-SCH-03" in j["rule_ids"]


def test_schedule_absolute_and_negative_windows() -> None:
    """=600 mcg/day and =-10 % windows; totals against Fraction. REQ: ITB-SCH-01"""
    r = calc.schedule("500 mcg/day", "500 mcg/mL", ["10:00-12:00=600 mcg/day", "14:00-16:00=-10%"])
    exact_ng = Fraction(500 * 20 + 600 * 2 + 450 * 2, 24) * 1000
    assert qt.exact(r.daily_total, "ng") == exact_ng.numerator // exact_ng.denominator


@pytest.mark.parametrize(
    ("windows", "says"),
    [
        (["22:00-06:00=+20%", "05:00-08:00=+10%"], "overlap"),
        (["10:00-10:20=+20%"], "shorter than the minimum step"),
        (["25:00-06:00=+20%"], "HH:MM"),
        (["22:00-06:00=+0.05%"], "finer than 0.1 %"),
        (["22:00-06:00=-100%"], "stop therapy"),
        (["22:00-06:00"], "expected"),
        (["Fun 22:00-06:00=+20%"], "weekday"),
        (["22:00-06:00=600 mL/day"], "expected a dose rate"),
    ],
)
def test_schedule_bad_windows(windows: list[str], says: str) -> None:
    """Overlapping, too-short and malformed windows are refused with the reason."""
    with pytest.raises(ValueError, match=says):
        calc.schedule("500 mcg/day", "500 mcg/mL", windows)


def test_schedule_too_many_steps() -> None:
    """More than 13 steps a day is refused. REQ: ITB-SCH-02"""
    wins = [f"{h:02d}:00-{h + 1:02d}:00=+{5 + h % 2 * 5}%" for h in range(14)]
    calc.schedule("500 mcg/day", "500 mcg/mL", wins[:12])  # 12 windows + base = 13 steps: allowed
    with pytest.raises(ItbError, match="more than 13 steps"):
        calc.schedule("500 mcg/day", "500 mcg/mL", wins)


def test_refill_constant() -> None:
    """20 mL of 500 mcg/mL at 500 mcg/day: alarm (2 mL) at day 18, empty at day 20. REQ: ITB-REF-01"""
    r = calc.refill("20 mL", "500 mcg/mL", "500 mcg/day").to_json()
    assert r["days_to_alarm"] == {"value": 18, "unit": "day"}
    assert r["days_to_empty"] == {"value": 20, "unit": "day"}


def test_refill_schedule_against_fraction() -> None:
    """Night boost: 20 mL of 500 mcg/mL (10 mg) from a midnight fill, by hand. REQ: ITB-REF-01"""
    s = calc.schedule("500 mcg/day", "500 mcg/mL", ["22:00-06:00=+20%"])
    r = calc.refill("20 mL", "500 mcg/mL", s.schedule)
    days = qt.exact(r.time_to_empty, "day")
    # Whole days first: 18 days use 18*1600/3 mL = 9600 mcg... exact: 10000 mcg / (1600/3 mcg/day) = 18.75 d
    # but the day's drug is not uniform: at 18 d, 400 mcg are left; 00:00-04:00 at 25 mcg/h uses 100,
    # 04:00-20:00 at 20.833 uses 333.3 > 300 left -> 4 h + 300/(500/24) h = 4 + 14.4 = 18.4 h.
    assert abs(days - (18 + Fraction(184, 240))) < Fraction(1, 86400)


def test_initial_dose() -> None:
    """2x the screening dose, 1x if the effect lasted more than 8 h. REQ: ITB-INI-01, ITB-INI-02"""
    assert calc.initial_dose("50 mcg", "8 h").to_json()["daily_dose"] == {"value": 100, "unit": "mcg/day"}
    assert calc.initial_dose("50 mcg", "8.5 h").to_json()["daily_dose"] == {"value": 50, "unit": "mcg/day"}
    assert calc.initial_dose("75 mcg", "4 h").rule_ids == ["ITB-INI-01"]


def test_titrate_spinal_band() -> None:
    """Adult spinal: +30 % allowed, +30.1 % refused, once per 24 h. REQ: ITB-TIT-01, ITB-TIT-04"""
    assert calc.titrate("spinal", 34, "500 mcg/day", "650 mcg/day", "24 h").allowed
    r = calc.titrate("spinal", 34, "500 mcg/day", "650.5 mcg/day", "24 h")
    assert not r.allowed and "ITB-TIT-01" in r.rules
    assert not calc.titrate("spinal", 34, "500 mcg/day", "550 mcg/day", "23.9 h").allowed


def test_titrate_pediatric_and_cerebral() -> None:
    """Cerebral and pediatric: +15 % max. REQ: ITB-TIT-02, ITB-TIT-03"""
    assert calc.titrate("cerebral", 40, "500 mcg/day", "575 mcg/day", "25 h").allowed
    assert not calc.titrate("cerebral", 40, "500 mcg/day", "576 mcg/day", "25 h").allowed
    assert not calc.titrate("spinal", 15, "500 mcg/day", "576 mcg/day", "25 h").allowed


def test_titrate_soft_limit_needs_override() -> None:
    """> 1000 mcg/day needs an override with a reason. REQ: ITB-RNG-04"""
    r = calc.titrate("spinal", 40, "900 mcg/day", "1100 mcg/day", "25 h", phase="refill")
    assert not r.allowed and r.needs_override == ["ITB-RNG-04"]
    r = calc.titrate(
        "spinal", 40, "900 mcg/day", "1100 mcg/day", "25 h", phase="refill", overrides={"ITB-RNG-04": "bench"}
    )
    assert r.allowed


def test_titrate_verification_catches_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """A library that allows a +40 % titration step is caught by the pint re-check."""
    real = library.check_change

    def lax(*args: Any, **kwargs: Any) -> library.Decision:
        d = real(*args, **kwargs)
        d.allowed, d.refusals = True, []
        return d

    monkeypatch.setattr(library, "check_change", lax)
    with pytest.raises(InternalError):
        calc.titrate("spinal", 34, "500 mcg/day", "700 mcg/day", "25 h")


def test_screening_volumes() -> None:
    """50/75/100 mcg = 1/1.5/2 mL of 50 mcg/mL; small child 25 mcg = 0.5 mL. REQ: ITB-SCR-01..03"""
    vols = [_v(d["volume"]) for d in calc.screening().to_json()["doses"]]
    assert vols == [1, 1.5, 2]
    assert _v(calc.screening(True).to_json()["doses"][0]["volume"]) == 0.5


def test_taper_and_bridge() -> None:
    """Taper never cuts > 20 %/day and ends at the floor; bridge dead volume = internal + 0.0026 mL/cm.
    REQ: ITB-HOL-01, ITB-DIS-01, ITB-BRG-01"""
    t = calc.taper("500 mcg/day", "100 mcg/day", "28 day")
    prev = Fraction(500)
    for _day, d in t.steps:
        cur = qt.exact(d, "mcg/day")
        assert prev * Fraction(8, 10) <= cur < prev
        prev = cur
    assert prev == 100
    b = calc.bridge("0.2 mL", "50 cm", "500 mcg/mL", "1000 mcg/mL", "500 mcg/day")
    assert qt.exact(b.dead_volume, "mL") == Fraction(33, 100)


def test_concentration_choice() -> None:
    """500 mcg/day, 20 mL, 30 days: 500 mcg/mL lasts 18 d, so 1000 mcg/mL. REQ: ITB-CON-01, ITB-CON-03"""
    r = calc.concentration("500 mcg/day")
    assert r.to_json()["concentration"] == {"value": 1000, "unit": "mcg/mL"}


def test_api_accepts_pint_quantities() -> None:
    r = calc.rate(qt.q(500, "mcg/day"), qt.q(500, "mcg/mL"))
    assert qt.exact(r.flow_per_day, "mL/day") == 1
    with pytest.raises(UsageError, match="expected a dose rate"):
        calc.rate(qt.q(500, "mcg/mL"), qt.q(500, "mcg/mL"))


def test_window_parsing() -> None:
    w = calc.parse_window("--window", "Sat,Sun 08:00-12:00=600 mcg/day").window
    assert w.days == (5, 6) and w.dose_ng_per_day == 600_000
    assert isinstance(w, core_schedule.Window)
