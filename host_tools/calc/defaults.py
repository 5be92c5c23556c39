"""Every default of the calculations, the CLI flags and the prescription keys, as the text a user would type,
read from the drug library or the core: one place, so a flag's default is the calculation's."""

from __future__ import annotations

from firmware_py import library
from firmware_py.refill import default_alarm_nl
from host_tools import display
from host_tools.calc.dilution import default_resolution, default_tolerance

# Not labeling numbers: the delivery range of a SynchroMed II and a monthly refill, the defaults of
# `itb concentration` (give your pump's own).
DEFAULT_MIN_FLOW = "0.048 mL/day"
DEFAULT_MAX_FLOW = "24 mL/day"
DEFAULT_REFILL_INTERVAL = "30 day"


def defaults() -> dict[str, str]:
    """name -> default text: lead (ITB-SCH-01), min_step (ITB-PMP-04), alarm_volume (ITB-REF-01), reservoir
    (ITB-PMP-01's first size), over (ITB-HOL-01's shortest), max_step (ITB-DIS-01), tolerance (ITB-DIL-01),
    resolution (the core's), and the pump-dependent refill_interval, min_flow, max_flow."""
    return {
        "lead": display.duration(library.param("ITB-SCH-01", "lead_s")),
        "min_step": display.duration(library.param("ITB-PMP-04", "min_step_s")),
        "alarm_volume": display.ml(default_alarm_nl()),
        "reservoir": display.ml(library.param_tuple("ITB-PMP-01", "reservoirs_nl")[0]),
        "over": display.duration(library.param("ITB-HOL-01", "min_s")),
        "max_step": display.percent(library.param("ITB-DIS-01", "max_step_reduction_permille")).replace(
            " ", ""
        ),
        "tolerance": default_tolerance(),
        "resolution": default_resolution(),
        "refill_interval": DEFAULT_REFILL_INTERVAL,
        "min_flow": DEFAULT_MIN_FLOW,
        "max_flow": DEFAULT_MAX_FLOW,
    }


def default(name: str) -> str:
    return defaults()[name]
