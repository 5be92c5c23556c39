# Flow: the volume a daily dose takes at a concentration (ITB-CON-03), and its per-hour view.
#
# Identity used throughout: nL * (ng/uL) = pg, so flow_nl_per_day * conc_ng_per_ul is the delivered dose
# in pg/day and dose_ng_per_day * 1000 the prescribed one; their difference is exact. Flows round down
# (never more drug than prescribed) and report what rounding dropped.

from firmware_py import library, units
from firmware_py.decision import applied
from firmware_py.errors import InputError
from firmware_py.record import Record
from firmware_py.units import NL_PER_UL, floor_div


def require_conc(field: str, value: object) -> int:
    # ITB-CON-04: every concentration is a positive int mcg/mL no higher than 2000.
    return units.require_range(field, value, 1, library.param("ITB-CON-04", "max_conc_ng_per_ul"))


def flow_nl_per_day(dose_ng_per_day: int, conc_ng_per_ul: int) -> tuple[int, int]:
    # The one flow formula: nL/day = ng/day * 1000 / (ng/uL), rounded down; the residue is the
    # prescribed-but-not-delivered drug in pg/day.
    return floor_div(dose_ng_per_day * NL_PER_UL, conc_ng_per_ul)


class Flow(Record):
    __slots__ = (
        "conc_ng_per_ul",
        "dose_ng_per_day",
        "dose_ng_per_h",
        "dose_per_h_dropped_ng_per_day",
        "flow_dropped_pg_per_day",
        "flow_nl_per_day",
        "flow_nl_per_h",
        "flow_per_h_dropped_nl_per_day",
    )

    def __init__(self, dose_ng_per_day: int, conc_ng_per_ul: int) -> None:
        self.dose_ng_per_day = dose_ng_per_day
        self.conc_ng_per_ul = conc_ng_per_ul
        self.flow_nl_per_day, self.flow_dropped_pg_per_day = flow_nl_per_day(dose_ng_per_day, conc_ng_per_ul)
        # Per-hour figures are for display only; their residues are per day over 24 h.
        self.flow_nl_per_h, self.flow_per_h_dropped_nl_per_day = units.per_hour(self.flow_nl_per_day)
        self.dose_ng_per_h, self.dose_per_h_dropped_ng_per_day = units.per_hour(dose_ng_per_day)


def flow(dose_ng_per_day: int, conc_ng_per_ul: int) -> Flow:
    # ITB-CON-03: the flow follows from the daily dose and the concentration; rounded down.
    dose = units.require_positive("dose_ng_per_day", dose_ng_per_day)
    conc = require_conc("conc_ng_per_ul", conc_ng_per_ul)
    applied("ITB-CON-03")
    f = Flow(dose, conc)
    if f.flow_nl_per_day == 0:
        raise InputError(
            "dose_ng_per_day", dose_ng_per_day, "gives a flow below 1 nL/day at this concentration"
        )
    return f
