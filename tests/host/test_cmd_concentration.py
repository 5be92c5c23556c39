"""`itb concentration`: the labeled strength first, then the weakest dilution; defaults from the library; a
dependent option without its parent is refused; the dose is checked."""

from __future__ import annotations

from firmware_py import library
from host_tools import calc
from host_tools.calc.defaults import defaults
from tests.host.conftest import Itb


def test_lowest_labeled_strength_that_lasts(itb: Itb) -> None:
    """REQ: ITB-CON-01, ITB-CON-03. 500 mcg/day, 18 mL usable, 30 days: 500 mcg/mL lasts 18 days (too short),
    1000 mcg/mL 36 days."""
    doc = itb("concentration", "--dose", "500 mcg/day", "--json").json()
    assert doc["concentration"] == {"value": 1000, "unit": "mcg/mL"} and doc["labeled"] is True
    assert doc["supply"] == {"value": 36, "unit": "day"}
    assert doc["flow_per_day"] == {"value": 0.5, "unit": "mL/day"}


def test_defaults_come_from_the_library() -> None:
    d = defaults()
    assert d["alarm_volume"] == "2 mL" and d["reservoir"] == "20 mL" and d["lead"] == "2 h"
    assert (
        d["min_step"] == "30 min"
        and d["over"] == "14 days"
        and d["max_step"] == "20%"
        and d["tolerance"] == "1%"
    )
    res = library.param_tuple("ITB-PMP-01", "reservoirs_nl")[0] // 1_000_000
    assert d["reservoir"] == f"{res} mL"


def test_fixed_flow_needs_a_constant_flow_pump(itb: Itb) -> None:
    """Issue 12: a dependent option without its parent was silently ignored."""
    itb("concentration", "--dose", "500 mcg/day", "--fixed-flow", "1 mL/day").one_line_error(
        2, "--fixed-flow: '1 mL/day' needs pump constant-flow"
    )
    itb("concentration", "--dose", "500 mcg/day", "--pump", "constant-flow").one_line_error(
        2, "--fixed-flow: is needed: a constant-flow pump runs at one fixed flow"
    )


def test_constant_flow_pump(itb: Itb) -> None:
    """REQ: ITB-CON-02. At a fixed 0.5 mL/day the strength is dose / flow rounded down."""
    doc = itb(
        "concentration",
        "--dose",
        "333 mcg/day",
        "--pump",
        "constant-flow",
        "--fixed-flow",
        "0.5 mL/day",
        "--refill-interval",
        "20 day",
        "--json",
    ).json()
    assert doc["concentration"] == {"value": 666, "unit": "mcg/mL"} and doc["dilution_needed"] is True


def test_refusals_name_the_flag_in_user_units(itb: Itb) -> None:
    line = itb("concentration", "--dose", "500 mcg/day", "--refill-interval", "400 day").one_line_error(
        1, "--refill-interval: '400 day' is longer than the usable volume lasts at 2000 mcg/mL (18 mL usable)"
    )
    assert "nL" not in line and "_s" not in line
    itb(
        "concentration", "--dose", "500 mcg/day", "--min-flow", "2 mL/day", "--max-flow", "1 mL/day"
    ).one_line_error(2, "--max-flow: '1 mL/day' is below --min-flow '2 mL/day'")
    itb("concentration", "--dose", "500 mcg/day", "--reservoir", "30 mL").one_line_error(
        2, "--reservoir: '30 mL' is not a reservoir size; pumps hold 20 mL or 40 mL [ITB-PMP-01]"
    )


def test_the_dose_is_checked() -> None:
    r = calc.concentration("1500 mcg/day", refill_interval="20 day", origin="cerebral", age=30)
    assert [w.rule_id for w in r.warnings][:1] == ["ITB-RNG-02"]
