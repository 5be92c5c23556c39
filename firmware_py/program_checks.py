# Whether a program record hangs together: the cross-field checks of a Program (firmware_py/program.py
# checks each field on its own). The envelope (firmware_py/envelope.py) decides what the pump may do with a
# record that passes.

from firmware_py import library
from firmware_py.errors import ItbError, ProgramError
from firmware_py.program import Program
from firmware_py.schedule import steps_per_day
from firmware_py.units import S_PER_MIN


def problems(p: Program) -> list[ProgramError]:
    # Every structural problem of a program record (empty list: the record hangs together).
    out: list[ProgramError] = []
    if p.alarm_nl <= 0 or p.alarm_nl >= p.reservoir_nl:
        # ITB-REF-01: the low-reservoir alarm must sound before the reservoir is empty.
        why = "must be > 0 and < reservoir_nl " + str(p.reservoir_nl) + " [ITB-REF-01]"
        out.append(ProgramError("alarm_nl", p.alarm_nl, why))
    most = library.param("ITB-CON-04", "max_conc_ng_per_ul")
    if p.conc_ng_per_ul > most:
        out.append(
            ProgramError("conc_ng_per_ul", p.conc_ng_per_ul, "must be <= " + str(most) + " [ITB-CON-04]")
        )
    if p.conc_ng_per_ul == library.param("ITB-SCR-03", "conc_ng_per_ul"):
        out.append(ProgramError("conc_ng_per_ul", p.conc_ng_per_ul, "is the screening strength [ITB-SCR-05]"))
    if p.min_step_s % S_PER_MIN:
        out.append(ProgramError("min_step_s", p.min_step_s, "must be on a whole minute"))
    for start, end, dose in p.schedule.intervals():
        if end - start < p.min_step_s:
            why = "is shorter than min_step_s " + str(p.min_step_s)
            out.append(ProgramError("steps", (start, dose), why))
    counts = steps_per_day(p.schedule)
    most = library.param("ITB-SCH-02", "max_steps_per_day")
    for d in range(len(counts)):
        if counts[d] > most:
            out.append(
                ProgramError(
                    "steps_per_day",
                    counts[d],
                    "day " + str(d) + " has more than " + str(most) + " steps [ITB-SCH-02]",
                )
            )
    rates = [d for _s, d in p.schedule.steps]
    if p.base_dose_ng_per_day not in rates:
        out.append(
            ProgramError("base_dose_ng_per_day", p.base_dose_ng_per_day, "is not one of the step rates")
        )
    out += _start_problems(p)
    try:
        library.validate_overrides(dict(p.overrides))
    except ItbError as exc:
        out.append(ProgramError("overrides", exc.value, exc.reason))
    return out


def _start_problems(p: Program) -> list[ProgramError]:
    # What a phase states: initial and restart the screening dose and its effect (ITB-INI-01/02), a
    # transfer the other pump's dose and a reason (ITB-STA-01); a change phase none of them.
    out: list[ProgramError] = []
    screening = p.phase in (library.INITIAL, library.RESTART)
    transfer = p.phase == library.TRANSFER
    if screening != (p.screening_dose_ng > 0) or screening != (p.effect_s > 0):
        want = "must be stated" if screening else "must be 0 outside phases initial and restart"
        out.append(
            ProgramError("screening_dose_ng", p.screening_dose_ng, want + " (with effect_s) [ITB-STA-01]")
        )
    if transfer != (p.previous_ng_per_day > 0) or transfer != (p.reason != ""):
        want = "must be stated" if transfer else "must be 0 outside phase transfer"
        out.append(ProgramError("previous_ng_per_day", p.previous_ng_per_day, want + " (with a reason) "
                                "[ITB-STA-01]"))
    return out


def validate(p: Program) -> None:
    # Raises the first structural problem as a ProgramError.
    if not isinstance(p, Program):
        raise ProgramError("program", p, "must be a Program")
    found = problems(p)
    if found:
        raise found[0]
