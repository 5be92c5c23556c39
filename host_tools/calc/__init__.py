"""The calculations of `itb` as a typed Python API (docs/api.md).

Every function takes quantities as text ("500 mcg/day", "40 mg/20 mL"), as ``(number, "unit")`` pairs, or
as quantities of any pint registry (converted through their units); a bare number is refused (it has no
unit). Each converts its inputs to the core's exact integers, calls the one implementation in
``firmware_py``, checks every dose against the patient group's range (default: adult spinal), and verifies
the result with an independent pint re-computation (``verified``). Results are frozen dataclasses whose
fields are the keys of their ``to_json()``, quantities in display units (mcg/day, mL/day, mL, ...).

Errors: ``host_tools.errors`` (UsageError exit 2, RefusedError exit 1, VerificationError exit 1), each
naming the argument and quoting the value as given.
"""

from host_tools.calc.bridge import BridgeResult, bridge
from host_tools.calc.bridge import between as bridge_between
from host_tools.calc.change import TaperResult, TitrateResult, taper, titrate
from host_tools.calc.common import Caution, Group, Result, group
from host_tools.calc.dilution import DiluteResult, dilute
from host_tools.calc.flow import ConcentrationResult, RateResult, concentration, rate
from host_tools.calc.refill import RefillResult, ResidualResult, refill, residual
from host_tools.calc.schedule import ScheduleResult, Step, schedule, verify_schedule
from host_tools.calc.start import InitialDoseResult, ScreeningResult, initial_dose, screening
from host_tools.calc.verify import Check

__all__ = [
    "BridgeResult",
    "Caution",
    "Check",
    "ConcentrationResult",
    "DiluteResult",
    "Group",
    "InitialDoseResult",
    "RateResult",
    "RefillResult",
    "ResidualResult",
    "Result",
    "ScheduleResult",
    "ScreeningResult",
    "Step",
    "TaperResult",
    "TitrateResult",
    "bridge",
    "bridge_between",
    "concentration",
    "dilute",
    "group",
    "initial_dose",
    "rate",
    "refill",
    "residual",
    "schedule",
    "screening",
    "taper",
    "titrate",
    "verify_schedule",
]
