"""The shared case table (tests/core/casetable.py) gives bit-identical output on CPython and MicroPython.

Hundreds of cases over the core's public functions (units, text, flow, dilution, refill, schedule, program,
envelope, ...),
including edge values and error paths, rendered canonically; the MicroPython 1.27 WebAssembly port must
print exactly the lines CPython produces, from .py and from mpy-cross .mpy. A few lines are checked by
hand against the labeling's numbers, so the table itself is anchored.
"""

from pathlib import Path

import pytest

from tests.core import casetable
from tests.mp.host import MicroPythonUnavailableError, run_call
from tools.mpy_build import build

pytestmark = pytest.mark.micropython


@pytest.fixture(scope="module")
def cpython_lines() -> list[str]:
    return casetable.lines()


def _mp_lines(mpy_dir: Path | None = None) -> list[str]:
    try:
        out = run_call("tests.core.casetable:run", mpy_dir=mpy_dir)
    except MicroPythonUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    return out.splitlines()


def _assert_identical(cp: list[str], mp: list[str]) -> None:
    assert mp[-1] == f"CASES {len(cp)}", mp[-3:]
    for i, (a, b) in enumerate(zip(cp, mp[:-1], strict=True)):
        assert a == b, f"case {i} differs\n  CPython:     {a}\n  MicroPython: {b}"


def test_table_is_large_and_covers_the_core(cpython_lines: list[str]) -> None:
    assert len(cpython_lines) >= 200
    names = {line.split("(")[0] for line in cpython_lines}
    for fn in (
        "units.floor_div", "units.ceil_div", "flow.flow", "dilution.dilute",
        "concentration.choose_concentration",
        "screening.initial_daily_dose", "refill.refill_forecast", "refill.residual_check", "bridge.bridge",
        "taper.taper_plan", "schedule.build", "schedule.day_total", "schedule.integral_between",
        "schedule.time_to_integral", "program.encode", "program.decode", "envelope.start", "envelope.change",
    ):  # fmt: skip
        assert fn in names, fn
    # Both outcomes occur, so the table exercises error paths too.
    assert sum(" = " in line for line in cpython_lines) > 100
    assert sum(" ! " in line for line in cpython_lines) > 50


def test_no_crash_and_no_float(cpython_lines: list[str]) -> None:
    # Bad input raises a firmware_py error (never a bare TypeError/ZeroDivisionError), and no float
    # reaches any result.
    crashes = [line for line in cpython_lines if " CRASH " in line]
    assert not crashes, crashes[:5]
    floats = [line for line in cpython_lines if " = " in line and "FLOAT<" in line.split(" = ", 1)[1]]
    assert not floats, floats[:5]


def test_deterministic(cpython_lines: list[str]) -> None:
    assert casetable.lines() == cpython_lines


def _line(lines: list[str], prefix: str) -> str:
    found = [line for line in lines if line.startswith(prefix + " ")]
    assert len(found) == 1, (prefix, found)
    return found[0]


def test_hand_checked_lines(cpython_lines: list[str]) -> None:
    lines = cpython_lines
    assert _line(lines, "units.floor_div(-7,2)").endswith("= (-4,1)")  # floor: -4 * 2 + 1 == -7
    assert _line(lines, "units.ceil_div(7,2)").endswith("= (4,1)")  # 4 * 2 - 1 == 7
    assert _line(lines, 'units.parse_hhmm("t","24:00")').endswith("= 86400")
    # 500 mcg/day at 500 mcg/mL is 1 mL/day; per hour 41 666 nL with 16 nL/day dropped (41 666 * 24 + 16).
    f = _line(lines, "flow.flow(500000,500)")
    assert "flow_nl_per_day=1000000," in f and "flow_nl_per_h=41666," in f
    assert "flow_per_h_dropped_nl_per_day=16}" in f
    # ITB-CON-02: 20 mL of 500 mcg/mL from 2000 mcg/mL stock is 5 mL stock + 15 mL saline.
    d = _line(lines, "dilution.dilute(2000,500,20000000)")
    assert "stock_nl=5000000," in d and "diluent_nl=15000000," in d
    # ITB-INI-01/02: 2x the 50 mcg screening dose, 1x only when the effect lasted MORE than 8 h.
    assert _line(lines, "screening.initial_daily_dose(50000,28800)").endswith("= 100000")
    assert _line(lines, "screening.initial_daily_dose(50000,28801)").endswith("= 50000")
    # ITB-REF-01: 20 mL at 1 mL/day: empty after 20 days, 2 mL alarm after 18, refill 4 days earlier.
    r = _line(lines, "refill.refill_forecast(20000000,500,500000)")
    assert "empty_in_s=1728000," in r and "alarm_in_s=1555200," in r and "refill_at_s=1209600," in r
    # ITB-REF-02: a 20 mL pump flags a residual more than 1 mL off, not exactly 1 mL.
    assert "flagged=False" in _line(lines, "refill.residual_check(20000000,2000000,3000000)")
    assert "flagged=True" in _line(lines, "refill.residual_check(20000000,2000000,3000001)")
    # ITB-SCH-01/03: +20 % from 22:00 to 06:00 starts at 20:00 and ends at 04:00; the day total is
    # (16 h * 500 + 8 h * 600) / 24 = 533.333 mcg, the 1/3 ng (28 800 ng*s/day) dropped.
    b = _line(lines, "schedule.build(500000,[(79200,21600,200)],7200)")
    assert b.endswith("= (Schedule{period_s=86400,steps=[(14400,500000),(72000,600000)]},(533333,28800))")
    # ITB-RNG-01: 2003 mcg/day is the top of the adult spinal range; 1 ng more is refused (the 1000 mcg/day
    # soft limit asks for an override either way).
    top = _line(lines, 'envelope.start("spinal",18,2003001,"transfer")')
    assert top.endswith('= (False,"LIMIT",["ITB-RNG-01"],' + top.split(',["ITB-RNG-01"],')[1])
    assert _line(lines, 'envelope.start("spinal",18,2003000,"transfer")').startswith(
        'envelope.start("spinal",18,2003000,"transfer") = (False,"OVERRIDE",["ITB-RNG-04"],')
    # ITB-TIT-01: +30 % from 500 mcg/day is 650, one ng more is refused; a 30 min step at 6000 too.
    assert ' = (True,' in _line(lines, 'envelope.change([(0,500000)],[(0,650000)],"titration",86400)')
    assert '"TITRATION",["ITB-TIT-01"]' in _line(
        lines, 'envelope.change([(0,500000)],[(0,650001)],"titration",86400)'
    )
    soon = _line(lines, 'envelope.change([(0,500000)],[(0,650000)],"titration",86399)')
    assert '"TITRATION",["ITB-TIT-04","ITB-INI-03"]' in soon and "23 h 59 min ago" in soon


def test_identical_under_micropython(cpython_lines: list[str]) -> None:
    _assert_identical(cpython_lines, _mp_lines())


def test_identical_under_micropython_from_mpy(cpython_lines: list[str], tmp_path: Path) -> None:
    build(tmp_path)
    _assert_identical(cpython_lines, _mp_lines(tmp_path))
