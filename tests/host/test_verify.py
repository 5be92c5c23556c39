"""The verification engine catches a core that is off: a result beyond its rounding bound, or on the bound
itself, is a VerificationError (exit 1), not a refusal of the input."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_py import bridge as core_bridge
from firmware_py import dilution as core_dilution
from firmware_py import flow as core_flow
from firmware_py import refill as core_refill
from host_tools import calc
from host_tools import quantities as qt
from host_tools.calc.verify import verify
from host_tools.errors import VerificationError


def test_a_flow_one_nl_above_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = core_flow.flow

    def bad(dose: int, conc: int) -> Any:
        f = real(dose, conc)
        f.flow_nl_per_day += 1
        return f

    monkeypatch.setattr(core_flow, "flow", bad)
    with pytest.raises(VerificationError, match="flow_per_day"):
        calc.rate("500 mcg/day", "500 mcg/mL")


def test_a_flow_floored_one_too_far_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """exact - core == 1 nL/day is the bound itself: not within it."""
    real = core_flow.flow

    def bad(dose: int, conc: int) -> Any:
        f = real(dose, conc)
        f.flow_nl_per_day -= 1
        f.flow_dropped_pg_per_day += conc
        return f

    monkeypatch.setattr(core_flow, "flow", bad)
    with pytest.raises(VerificationError):
        calc.rate("500 mcg/day", "500 mcg/mL")


def test_a_dilution_off_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = core_dilution.dilute

    def bad(*args: Any) -> Any:
        d = real(*args)
        d.diluent_nl -= 100_000
        return d

    monkeypatch.setattr(core_dilution, "dilute", bad)
    with pytest.raises(VerificationError, match="final_volume"):
        calc.dilute("2000 mcg/mL", "750 mcg/mL", "20 mL", resolution="0.1 mL")


def test_an_alarm_a_second_late_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = core_refill.refill_forecast

    def bad(*args: Any, **kw: Any) -> Any:
        f = real(*args, **kw)
        f.alarm_in_s += 1
        return f

    monkeypatch.setattr(core_refill, "refill_forecast", bad)
    with pytest.raises(VerificationError, match="days_to_alarm"):
        calc.refill("20 mL", "500 mcg/mL", "500 mcg/day")


def test_a_catheter_volume_rounded_down_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = core_bridge.bridge

    def bad(*args: Any, **kw: Any) -> Any:
        b = real(*args, **kw)
        b.catheter_nl -= 1
        return b

    monkeypatch.setattr(core_bridge, "bridge", bad)
    with pytest.raises(VerificationError, match="catheter_volume"):
        calc.bridge("0.2 mL", "50 cm", "500 mcg/mL", "1000 mcg/mL", "500 mcg/day")


def test_a_dimension_mix_up_is_a_bug() -> None:
    with pytest.raises(VerificationError, match="is not a flow"):
        verify("x", qt.q(1, "ng/day"), qt.q(1, "nL/day"), "flow", "floor", "1 nL/day")


@pytest.mark.parametrize(
    ("rounding", "core", "exact", "ok"),
    [
        ("floor", 10, 10, True),
        ("floor", 10, 11, False),
        ("floor", 11, 10, False),
        ("ceil", 10, 10, True),
        ("ceil", 10, 9, False),
        ("ceil", 9, 10, False),
        ("exact", 10, 10, True),
        ("exact", 10, 11, False),
    ],
)
def test_bounds_are_half_open(rounding: str, core: int, exact: int, ok: bool) -> None:
    args = ("x", qt.q(core, "nL"), qt.q(exact, "nL"), "volume", rounding, "1 nL")
    if ok:
        assert verify(*args).rounding == rounding
    else:
        with pytest.raises(VerificationError):
            verify(*args)
