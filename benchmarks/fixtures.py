"""The inputs shared by the benchmarks: a 13-step flex-dosing day and a program record that carries it.

13 steps is the most a SynchroMed II takes in a day (DESIGN.md), so it is the largest program the rig must
stage, hold and run. The rates are uneven (not whole mcg/day) and the step lengths irregular, so the exact
integrals and every floor are exercised. Every step stays within ±20 % of the 500 mcg/day base, inside the
spinal range (ITB-RNG-01) and the refill change band (ITB-MNT-01).
"""

from __future__ import annotations

from firmware_py import library
from firmware_py.config import bench_config
from firmware_py.program import Program
from firmware_py.schedule import Schedule

BASE_NG_PER_DAY = 500_000
CONC_NG_PER_UL = 2_000
ALARM_NL = 2_000_000

# (start "HH:MM", dose ng/day): 13 steps, first at 00:00, none shorter than 30 min.
STEPS_13_HHMM: tuple[tuple[str, int], ...] = (
    ("00:00", 500_000),
    ("01:30", 451_250),
    ("03:10", 487_333),
    ("05:00", 560_125),
    ("06:40", 599_999),
    ("08:20", 523_417),
    ("10:00", 500_001),
    ("12:45", 476_543),
    ("14:20", 512_777),
    ("16:05", 548_210),
    ("18:00", 590_003),
    ("20:30", 533_331),
    ("22:40", 470_017),
)


def steps_13() -> list[tuple[int, int]]:
    """The 13 steps as (start_s, dose_ng_per_day)."""
    out = []
    for hhmm, dose in STEPS_13_HHMM:
        h, m = hhmm.split(":")
        out.append((int(h) * 3600 + int(m) * 60, dose))
    return out


def schedule_13() -> Schedule:
    return Schedule(86_400, steps_13())


def program_13(label: str = "bench-13-step") -> Program:
    """A spinal adult program for the bench rig's pump (`bench_config`) at 2000 mcg/mL with the 13-step day.

    It is the rig's first program, so it starts the pump as a transfer from 500 mcg/day (ITB-STA-01).
    """
    cfg = bench_config()
    return Program(
        conc_ng_per_ul=CONC_NG_PER_UL,
        origin=library.SPINAL,
        age_years=45,
        pump_kind=cfg.pump_kind,
        reservoir_nl=cfg.reservoir_nl,
        alarm_nl=ALARM_NL,
        min_step_s=cfg.min_step_s,
        internal_nl=cfg.internal_nl,
        catheter_mm=cfg.catheter_mm,
        phase=library.TRANSFER,
        previous_ng_per_day=BASE_NG_PER_DAY,
        reason="bench pump replaced",
        base_dose_ng_per_day=BASE_NG_PER_DAY,
        schedule=schedule_13(),
        label=label,
    )
