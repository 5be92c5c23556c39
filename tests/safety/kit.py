"""The safety and fuzz suites' fixtures: the one set in `tests/core/support.py` (program factories, the
fault-injectable file system, the rig factory and the session frame driver), re-exported for brevity.

Nothing here re-implements the arithmetic under test: programs are built with `firmware_py.program` and the
rig is the real `firmware_py.rig.Rig`; the kit only drives it and observes it.
"""

from __future__ import annotations

from tests.core.support import (
    ALARM_NL,
    CONC,
    CONFIG,
    DAY,
    KEY,
    OTHER_KEY,
    RES_NL,
    T0,
    Host,
    MemFs,
    PowerLoss,
    first_fill,
    make_rig,
    program,
    program13,
    replies,
    restart,
    schedule13,
    snap,
)

__all__ = [
    "ALARM_NL", "CONC", "CONFIG", "DAY", "KEY", "OTHER_KEY", "RES_NL", "T0", "Host", "MemFs", "PowerLoss",
    "first_fill", "make_rig", "program", "program13", "replies", "restart", "schedule13", "snap",
]  # fmt: skip
