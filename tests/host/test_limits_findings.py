"""A new user's findings on `itb concentration` and `itb refill`: a refill interval the volume cannot last is
refused alike on both pump kinds, says when it is the default and what would work; the refill alarm follows
the rig (zero refused, at the alarm level it sounds now, a volume no pump holds refused)."""

from __future__ import annotations

import pytest

from host_tools import calc
from tests.host.conftest import Itb

CONC = ("concentration", "--dose", "1500 mcg/day")
REFILL = ("refill", "--concentration", "500 mcg/mL", "--dose", "500 mcg/day")


def test_a_default_refill_interval_is_said_to_be_the_default_with_what_works(itb: Itb) -> None:
    """REQ: ITB-REF-01. It quoted '30 day' as if typed, and gave no hint that --reservoir 40mL works."""
    line = itb(*CONC).one_line_error(1, "[ITB-CON-04, ITB-REF-01]")
    assert line.startswith("itb: --refill-interval: '30 day' (the default) is longer than the usable volume")
    assert "(18 mL usable); it lasts 24 days: give a shorter --refill-interval or --reservoir '40 mL'" in line
    assert itb(*CONC, "--reservoir", "40mL").rc == 0
    typed = itb(*CONC, "--refill-interval", "31 days").one_line_error(1, "'31 days' is longer")
    assert "(the default)" not in typed


def test_a_constant_flow_pump_refuses_the_interval_alike(itb: Itb) -> None:
    """REQ: ITB-REF-01. Exit 2 without rule IDs, where a programmable pump exits 1 with them."""
    line = itb(*CONC, "--pump", "constant-flow", "--fixed-flow", "1mL/day").one_line_error(1, "[ITB-REF-01]")
    assert "'30 day' (the default)" in line and "it lasts 18 days" in line and "--reservoir '40 mL'" in line
    assert itb(*CONC, "--pump", "constant-flow", "--fixed-flow", "1mL/day", "--reservoir", "40 mL").rc == 0


def test_no_reservoir_is_suggested_when_none_lasts(itb: Itb) -> None:
    line = itb("concentration", "--dose", "3000 mcg/day", "--reservoir", "40 mL").one_line_error(1)
    assert "give a shorter --refill-interval [ITB-CON-04, ITB-REF-01]" in line and "--reservoir" not in line


def test_a_zero_alarm_volume_is_refused(itb: Itb) -> None:
    """REQ: ITB-REF-01. '--alarm-volume 0 mL' was accepted though docs say zero is refused."""
    itb(*REFILL, "--volume", "20 mL", "--alarm-volume", "0 mL").one_line_error(
        2, "--alarm-volume: '0 mL' is not above 0 mL", "[ITB-REF-01]"
    )
    itb("concentration", "--dose", "500 mcg/day", "--alarm-volume", "0 mL").one_line_error(
        2, "--alarm-volume: '0 mL' is not above 0 mL and below --reservoir '20 mL'"
    )


@pytest.mark.parametrize("volume", ["2 mL", "1 mL"])
def test_at_or_below_the_alarm_level_the_alarm_sounds_now(itb: Itb, volume: str) -> None:
    """REQ: ITB-REF-01. '--volume 2 mL' (the alarm level) exited 2, so alarm_now could never be true."""
    r = itb(*REFILL, "--volume", volume)
    assert r.rc == 0, r.err
    assert "low-reservoir alarm (2 mL left) now" in r.out and "now (overdue)" in r.out
    doc = itb(*REFILL, "--volume", volume, "--json").json()
    assert doc["alarm_now"] is True and doc["refill_overdue"] is True


def test_an_alarm_due_within_the_minute_is_not_in_0_min(itb: Itb) -> None:
    """'--volume 2.000001 mL' said 'alarm in 0 min' with alarm_now false."""
    r = itb(*REFILL, "--volume", "2.000001 mL")
    assert "alarm (2 mL left) now" in r.out
    assert itb(*REFILL, "--volume", "2.000001 mL", "--json").json()["alarm_now"] is True
    assert "alarm (2 mL left) in < 1 min" in itb(*REFILL, "--volume", "2.0001 mL").out
    assert calc.refill("2.0001 mL", "500 mcg/mL", "500 mcg/day").alarm_now is False


def test_a_volume_no_pump_holds_is_refused(itb: Itb) -> None:
    """REQ: ITB-PMP-01. '--volume 50 mL' was accepted though pumps hold 20 or 40 mL."""
    itb(*REFILL, "--volume", "50 mL").one_line_error(
        2, "--volume: '50 mL' is more than a pump holds; reservoirs hold 20 mL or 40 mL [ITB-PMP-01]"
    )
    assert itb(*REFILL, "--volume", "40 mL").rc == 0


def test_a_refused_concentration_carries_the_dose_slip_and_the_default(itb: Itb) -> None:
    """REQ: ITB-CON-04. '500 mg/day' was refused quoting the default --max-flow as if typed, no mg hint."""
    line = itb("concentration", "--dose", "500 mg/day").one_line_error(1, "[ITB-CON-04]")
    assert line.startswith("itb: --max-flow: '24 mL/day' (the default) is too low for this dose"), line
    assert "warning: --dose '500 mg/day' is 500000 mcg/day; in mcg/day the same number is 500 mcg/day" in line
    line = itb("concentration", "--dose", "62.5 mcg/h").one_line_error(1, "[ITB-CON-04, ITB-REF-01]")
    assert "a per-hour dose typed for a per-day one?" in line


def test_a_dilution_to_the_screening_strength_is_warned_about(itb: Itb) -> None:
    """REQ: ITB-SCR-05. dilute said 'program this strength' for 50 mcg/mL, which program build refuses."""
    r = itb("dilute", "--stock", "500 mcg/mL", "--target", "50 mcg/mL", "--volume", "20 mL")
    assert r.rc == 0 and "the achieved 50 mcg/mL is the screening strength" in r.err
    assert "[ITB-SCR-05]" in r.err
    assert calc.dilute("2000 mcg/mL", "750 mcg/mL", "20 mL").warnings == []
