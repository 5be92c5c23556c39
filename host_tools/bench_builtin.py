"""How `itb bench` sets up its built-in virtual rig (no `--port`) for the program it benches.

The built-in rig is a simulation the tool starts for one session, so it is set up as the bench engineer would
set up a rig for that program, and says so (stderr, the summary and `report.json` under `builtin_rig`):

1. **Its configuration** (ITB-PMP-01..04: pump kind, reservoir, internal volume, catheter, minimum step) is
   the program's pump section, provisioned when the rig starts, as on a board (`itb_rig.cfg`). The envelope
   still takes every fact from the rig and decides the load as a real rig with that configuration would.
   Facts no rig may have (`firmware_py.config.Config` refuses them) leave the default bench configuration,
   and the envelope refuses the mismatch as on any rig.
2. **A predecessor**, for a prescription in a phase that changes a running pump (`refill`, `titration`, ...:
   `library.CHANGE_PHASES`). Its `[previous]` table states what the pump runs now; a fresh rig runs nothing,
   and a change phase cannot start a pump (ITB-STA-01). So the rig is first made to run what `[previous]`
   states, through its own commands, each decided by the envelope on host and rig: the previous schedule
   at the previous concentration is loaded as a transfer from the previous base dose (a start phase) with a
   full fill, `since_change` before the prescription's fill date, and the bench clock runs to the fill date,
   refilling to capacity whenever the low-reservoir alarm is due. The rig's history is then what the
   prescription states, and the envelope decides the program against it, as it decides `itb program build`
   against the stated history. What is not reproduced: a `since_start` longer than `since_change` (the rig's
   pump started with the predecessor: the stricter reading, as `envelope.stated_history` takes an unknown
   start), and the overrides (a predecessor that needs one is refused, with its text).
   A program file (.json) states no `[previous]`: a change phase on the built-in rig is refused (ITB-STA-01)
   with a hint.

With `--port` none of this applies: the rig's own configuration and history decide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_py import library
from firmware_py import program as fw_program
from firmware_py import refill as fw_refill
from firmware_py.commands import ADV_MAX_S
from firmware_py.config import Config
from firmware_py.errors import ItbError
from firmware_py.program import Program
from firmware_py.schedule import Schedule
from host_tools import display
from host_tools.client import LoadResult, RigClient
from host_tools.errors import RefusedError
from host_tools.replies import Refill, RigStatus
from host_tools.source import Source

PREDECESSOR_REASON = "itb bench: the running program the prescription states in [previous]"
PREDECESSOR_LABEL = "predecessor (itb bench)"
NO_PREVIOUS_HINT = (
    "the built-in rig starts with no program: bench the prescription (.toml), whose [previous] the bench "
    "runs first, or use --port with a rig that runs the previous program"
)


@dataclass(frozen=True)
class Predecessor:
    """What the pump runs before the program: loaded and run on the built-in rig for `since_change_s`."""

    program: Program
    encoding: bytes
    since_change_s: int
    stated_since_start_s: int | None


@dataclass(frozen=True)
class BuiltinSetup:
    """The built-in rig's configuration and start time, and the predecessor it runs first (if any)."""

    config: Config
    matched: bool  # the configuration is the program's pump section
    start_s: int | None  # the rig's clock at start (None: the default)
    predecessor: Predecessor | None
    record: dict[str, Any] = field(default_factory=dict)  # the predecessor's load and refills, once it ran

    def before_load(self, client: RigClient, source: Source, st: RigStatus, log: Callable[[str], None]
                    ) -> RigStatus:
        """Run the predecessor (if any) up to the fill date; the rig's status then."""
        if self.predecessor is None or source.fill_start_s is None:
            return st
        self.record.update(establish(client, self.predecessor, source.fill_start_s, log))
        return client.status()

    def loader(self, client: RigClient) -> Callable[[bytes, Refill], LoadResult]:
        """`client.load`, with the built-in rig's hint on a refusal to start a pump in a change phase."""

        def load(data: bytes, fill: Refill) -> LoadResult:
            try:
                return client.load(data, fill)
            except RefusedError as exc:
                if self.predecessor is not None or "ITB-STA-01" not in exc.rule_ids:
                    raise
                raise RefusedError("", None, f"{exc.reason} ({NO_PREVIOUS_HINT})", exc.rule_ids) from None

        return load

    def lines(self) -> list[str]:
        """What the set-up does, for people (stderr and the summary)."""
        c = self.config
        facts = (f"pump {c.pump_kind}, reservoir {display.ml(c.reservoir_nl)}, internal volume "
                 f"{display.ml(c.internal_nl)}, catheter {display.cm(c.catheter_mm)}, minimum step "
                 f"{display.duration(c.min_step_s)}")
        out = [f"built-in rig configured as the program's pump: {facts}" if self.matched
               else f"built-in rig keeps the bench configuration ({facts}): the program's pump facts are "
               "none a rig may have"]
        pr = self.predecessor
        if pr is not None:
            p = pr.program
            out.append(
                f"built-in rig runs the prescription's [previous] first: {_rates(p.schedule)} at "
                f"{display.conc(p.conc_ng_per_ul)}, loaded as a transfer "
                f"{display.duration(pr.since_change_s)} before the fill date (since_change), "
                "refilled at each low-reservoir alarm")
        return out

    def to_json(self) -> dict[str, Any]:
        pr = self.predecessor
        return {
            "config": dict(self.config.pairs()),
            "config_from_program": self.matched,
            "predecessor": None if pr is None else {
                "program_id": fw_program.short_id(pr.encoding),
                "encoding": pr.encoding.decode(),
                "since_change_s": pr.since_change_s,
                "stated_since_start_s": pr.stated_since_start_s,
                **self.record,
            },
        }  # fmt: skip


def _rates(s: Schedule) -> str:
    lo = min(r for _t, r in s.steps)
    hi = max(r for _t, r in s.steps)
    return display.mcg_per_day(lo) if lo == hi else display.mcg_range(lo, hi)


def config_for(p: Program, default: Config) -> tuple[Config, bool]:
    """The program's pump section as a rig configuration, or `default` when no rig may have those facts."""
    try:
        return Config(p.pump_kind, p.reservoir_nl, p.internal_nl, p.catheter_mm, p.min_step_s,
                      default.rig_id), True
    except ItbError:
        return default, False


def plan(source: Source, default: Config) -> BuiltinSetup:
    """The built-in rig for `source` (see the module docstring)."""
    config, matched = config_for(source.program, default)
    pred = predecessor(source)
    start = source.fill_start_s
    if pred is not None and start is not None:
        start -= pred.since_change_s
    return BuiltinSetup(config, matched, start, pred)


def predecessor(source: Source) -> Predecessor | None:
    """The program `[previous]` states, for a prescription in a change phase; None otherwise."""
    p = source.program
    b = source.built
    if p.phase not in library.CHANGE_PHASES or b is None or b.rx.previous is None:
        return None
    if source.fill_start_s is None:
        return None
    from host_tools import flex  # noqa: PLC0415 (pint only for a prescription)

    prev = b.rx.previous
    sched = flex.build(prev.base.base(), prev.windows, prev.lead, b.rx.min_step)
    fields = {f[1]: getattr(p, f[1]) for f in fw_program.FIELDS}
    fields.update(
        conc_ng_per_ul=prev.concentration.base(), phase=library.TRANSFER, screening_dose_ng=0, effect_s=0,
        previous_ng_per_day=prev.base.base(), reason=PREDECESSOR_REASON,
        base_dose_ng_per_day=prev.base.base(), schedule=sched, overrides=[], label=PREDECESSOR_LABEL,
    )  # fmt: skip
    prog = Program(**fields)
    since_start = None if prev.since_start is None else prev.since_start.base()
    return Predecessor(prog, fw_program.encode(prog), prev.since_change.base(), since_start)


def establish(client: RigClient, pred: Predecessor, until_s: int, log: Callable[[str], None]
              ) -> dict[str, Any]:
    """Load `pred` with a full fill and run the bench clock to `until_s`, refilling at each low alarm.
    Every load and refill is decided by the envelope on host and rig. Returns the load's time and decision,
    and the refills."""
    p = pred.program
    st = client.status()
    capacity = client.info.config.reservoir_nl if client.info else p.reservoir_nl
    try:
        result = client.load(pred.encoding, Refill.full(capacity, p.conc_ng_per_ul, st))
    except RefusedError as exc:
        raise RefusedError("", None, f"the built-in rig cannot run the [previous] the prescription states, "
                           f"so it cannot bench it: {exc.reason} (use --port with a rig that runs it)",
                           exc.rule_ids) from None
    t = result.t_commit_s
    log(f"predecessor {fw_program.short_id(pred.encoding)} loaded at t={t}: {_rates(p.schedule)} at "
        f"{display.conc(p.conc_ng_per_ul)}, {display.ml(capacity)} filled")
    volume = capacity
    refills: list[dict[str, Any]] = []
    while t < until_s:
        f = fw_refill.refill_forecast(volume, p.conc_ng_per_ul, p.schedule, start_s=t, alarm_nl=p.alarm_nl)
        stop = min(until_s, max(f.alarm_at_s, t + 1), t + ADV_MAX_S)
        client.advance(stop - t)
        t = stop
        if t >= until_s or t < f.alarm_at_s:
            continue
        st = client.status()
        client.refill(Refill(capacity, p.conc_ng_per_ul, st.reservoir_nl))
        refills.append({"t_s": t, "measured_residual_nl": st.reservoir_nl, "added_nl": capacity})
        log(f"predecessor refilled at t={t} (low-reservoir alarm): withdrew {display.ml(st.reservoir_nl)}, "
            f"filled {display.ml(capacity)}")
        volume = capacity
    return {"t_load_s": result.t_commit_s, "decision": result.decision, "refills": refills}
