"""The program-changing rig commands of `itb`: load and bench.

Both show the rig's program and the new one side by side with the rig's own decision, and ask before
anything is sent (`--yes` for scripts; refused when stdin is not a terminal). Connecting, options and
formatting are `cli_rig`'s.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_py import bridge as fw_bridge
from firmware_py import program as fw_program
from host_tools import bench_builtin, cliargs, display, examples
from host_tools.bench import AUTO_BATCH_HOURS, DEFAULT_BATCH_HOURS, MAX_DAYS, run_bench, summary
from host_tools.cli_rig import (
    add_command,
    err,
    load_source,
    print_json,
    rig_options,
    rig_session,
    rig_time,
)
from host_tools.client import RigClient, describe
from host_tools.errors import EXIT_OK, EXIT_REFUSED, InterruptedLoadError, RefusedError, UsageError
from host_tools.replies import BolusAck, Refill, RigRefusedError, RigStatus
from host_tools.source import Source
from host_tools.virtual_rig import VIRTUAL_CONFIG


def _stdin_isatty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _need_confirmation(verb: str, yes: bool, isatty: Callable[[], bool] | None) -> None:
    # Refuse before touching the rig: nobody can confirm.
    if not yes and not (isatty or _stdin_isatty)():
        raise UsageError(f"refusing to {verb} without confirmation: stdin is not a terminal; pass --yes")


def _preview(client: RigClient, st: RigStatus, new: fw_program.Program, data: bytes,
             notes: list[str], *, as_json: bool,
             refill: Refill | None) -> tuple[fw_program.Program | None, bytes | None]:
    """Show the rig's program and `new` side by side with `notes` and the rig's decision; raise
    `RefusedError` when the decision refuses (nothing sent). Returns the rig's program and its bytes."""
    old_data = client.readback() if st.prog is not None else None
    old = fw_program.decode(old_data) if old_data is not None else None
    decision = client.decide(new, st, refill)
    if not as_json:
        print(display.shown(display.side_by_side(display.program_rows(old, old_data),
                                                 display.program_rows(new, data)), keep="\n"))
        for note in [*notes, decision.message()]:
            print(f"  {note}")
    if not decision.allowed:
        raise RefusedError("", None, decision.message(), decision.rule_ids())
    return old, old_data


def _confirm(yes: bool, st: RigStatus) -> None:
    if yes:
        return
    sys.stderr.write("load this program? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise RefusedError("", None, "not loaded: declined at the confirmation (rig left running: "
                           f"{describe(st.prog)}, unchanged: nothing was sent)")


def _parse_volume(flag: str, text: str | None) -> int | None:
    if text is None:
        return None
    from host_tools import quantities as qt  # noqa: PLC0415

    nl = qt.to_base(flag, qt.parse(flag, text, "volume", allow_zero=True), "volume")
    if nl < 0:
        raise UsageError(f"{flag}: '{text}' must not be negative", field=flag, value=text)
    return nl


def _builtin_setup(args: argparse.Namespace, source: Source) -> bench_builtin.BuiltinSetup | None:
    """The built-in rig set up for the program (host_tools.bench_builtin), said on stderr unless --quiet;
    None with --port (a rig is taken as it is)."""
    setup = None if args.port else bench_builtin.plan(source, VIRTUAL_CONFIG)
    if setup is not None and not getattr(args, "quiet", False):
        for line in setup.lines():
            err(f"itb: {line}")
    return setup


def _load_refill(
    client: RigClient, st: RigStatus, new: fw_program.Program, residual: int | None, fill: bool
) -> Refill | None:
    """The fill that goes with the commit: a full one when asked for (always on the built-in rig); none when
    the reservoir holds the program's concentration already; a change of concentration without one is
    refused."""
    if not fill and st.conc_ng_per_ul == new.conc_ng_per_ul:
        return None
    if not fill:
        raise UsageError(
            f"the rig's reservoir holds {st.conc_ng_per_ul} mcg/mL and the program {new.conc_ng_per_ul} "
            "mcg/mL: a concentration change needs a refill with the commit; add --fill [--residual VOLUME]"
        )
    capacity = client.info.config.reservoir_nl if client.info else new.reservoir_nl
    return Refill.full(capacity, new.conc_ng_per_ul, st, residual)


def _cmd_load(args: argparse.Namespace, stdin_isatty: Callable[[], bool] | None = None) -> int:
    _need_confirmation("load", args.yes, stdin_isatty)
    cliargs.requires(args, "--residual", "--fill", lambda a: bool(a.fill))
    source = load_source(args.program)
    data = source.encoding
    new = fw_program.decode(data)
    residual = _parse_volume("--residual", args.residual)
    setup = _builtin_setup(args, source)
    start_s = source.fill_start_s if setup is None else setup.start_s
    with rig_session(args, need_key=True, start_s=start_s,
                     config=VIRTUAL_CONFIG if setup is None else setup.config) as (client, builtin):
        st = client.status()
        refill = _load_refill(client, st, new, residual, args.fill or builtin)
        notes = [
            f"with a fill of {display.ml(refill.added_nl)} at {display.conc(refill.conc_ng_per_ul)} "
            f"(measured residual {display.ml(refill.measured_residual_nl)})"
            if refill
            else "without a refill"
        ]
        changed = refill is not None and 0 < st.conc_ng_per_ul != new.conc_ng_per_ul
        bridge = _bridge_plan(client, new, st.conc_ng_per_ul,
                              st.t_s) if changed and not args.no_bridge else None
        if bridge is not None:
            notes.append(f"then a bridge bolus (ITB-BRG-01): {display.ml(bridge[0])} of the old "
                         f"{display.conc(st.conc_ng_per_ul)} drug over {display.duration(bridge[1])}, "
                         "clearing the pump's tubing and catheter at the old drug's flow")
        old, old_data = _preview(client, st, new, data, notes, as_json=args.json, refill=refill)
        _confirm(args.yes, st)
        try:
            result = client.load(data, refill)
        except KeyboardInterrupt:
            state = client.state_after_failure(st.prog, fw_program.short_id(data))
            raise InterruptedLoadError(f"interrupted during the load (rig left running: {state})") from None
        if args.json:
            doc: dict[str, Any] = {
                "old": display.program_json(old, old_data), "new": display.program_json(new, data),
                "refill": None if refill is None else vars(refill), "result": result.to_json(),
                "bridge": None,
            }
            ack: BolusAck | None = None
            try:
                ack = _give_bridge(client, bridge, as_json=True) if bridge is not None else None
            finally:  # the load stands whatever became of the bolus: its JSON is written
                if bridge is not None:
                    doc["bridge"] = _bridge_json(bridge, ack)
                print_json(doc)
            return EXIT_OK
        print(
            f"loaded program {result.new_prog} (was {result.old_prog or 'none'}) at rig time "
            f"{rig_time(result.t_commit_s)}; verified: the rig runs program {result.new_prog} and "
            f"{len(data[result.sample_offset : result.sample_offset + 32])} bytes read back at offset "
            f"{result.sample_offset} match"
        )
        if result.pocket:
            print("  pocket fill suspected: the measured residual differs from the rig's expected one "
                  "by more than the threshold (ITB-REF-02)")
        if bridge is not None:
            _give_bridge(client, bridge, args.json)
    return EXIT_OK


def _bridge_json(bridge: tuple[int, int], ack: BolusAck | None) -> dict[str, Any]:
    # The bridge bolus planned (volume, duration) and, when the rig ran it, until when and at what rate.
    return {"volume_nl": bridge[0], "duration_s": bridge[1], "given": ack is not None,
            "t_end_s": None if ack is None else ack.t_end_s,
            "rate_ng_per_day": None if ack is None else ack.rate_ng_per_day}


def _bridge_plan(client: RigClient, new: fw_program.Program, old_conc: int, t_s: int) -> tuple[int, int]:
    # The bridge bolus after a change of concentration: the rig's dead volume of old drug, no faster than
    # the rate the new program runs now (the rig checks it at every instant of the bolus).
    cfg = client.info.config if client.info else None
    internal = cfg.internal_nl if cfg else new.internal_nl
    cath = cfg.catheter_mm if cfg else new.catheter_mm
    dead = fw_bridge.bridge(internal, cath, old_conc, new.conc_ng_per_ul,
                            new.base_dose_ng_per_day).dead_volume_nl
    return dead, fw_bridge.bolus_duration_s(dead, old_conc, new.schedule.rate_at(t_s))


def _give_bridge(client: RigClient, bridge: tuple[int, int], as_json: bool) -> BolusAck | None:
    try:
        ack = client.bolus(*bridge)
    except RigRefusedError as exc:
        # The load stands; the bolus did not run (e.g. it would cross a step of the schedule).
        err(f"itb: the bridge bolus was refused ({exc}); the old drug in the tubing reaches the patient "
             "at the new flow until it has cleared")
        return None
    if not as_json:
        print(f"bridge bolus running until rig time {rig_time(ack.t_end_s)} at "
              f"{display.dose(ack.rate_ng_per_day)}")
    return ack


def _cmd_bench(args: argparse.Namespace, stdin_isatty: Callable[[], bool] | None = None) -> int:
    if args.port:
        _need_confirmation("replace the rig's program", args.yes, stdin_isatty)
    source = load_source(args.program if args.program is not None else str(examples.path()))
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out: {out_dir} exists and is not a directory")
    setup = _builtin_setup(args, source)
    start_s = source.fill_start_s if setup is None else setup.start_s
    with rig_session(args, need_key=True, start_s=start_s,
                     config=VIRTUAL_CONFIG if setup is None else setup.config) as (client, builtin):
        if not builtin:
            # A live rig: its program is replaced (with a full fill), so show it and ask, as `load` does.
            new = fw_program.decode(source.encoding)
            st = client.status()
            fill = f"{display.ml(new.reservoir_nl)} at {display.conc(new.conc_ng_per_ul)}"
            _preview(client, st, new, source.encoding,
                     [f"with a full fill of {fill}, then {display.plural(args.days, 'simulated day')} on the "
                      "rig's bench clock"], as_json=args.json,
                     refill=Refill.full(new.reservoir_nl, new.conc_ng_per_ul, st))
            _confirm(args.yes, st)
        log = (lambda _t: None) if args.json or args.quiet else (lambda t: err(f"bench: {t}"))
        result = run_bench(
            client,
            source,
            days=args.days,
            out_dir=out_dir,
            batch_hours=args.batch,
            progress=None if not args.quiet else False,
            log=log,
            builtin=setup if builtin else None,
        )
    if args.json:
        print_json(result.report)
    else:
        print(summary(result))
    return EXIT_OK if result.passed else EXIT_REFUSED


def register(sub: Any) -> None:
    """Add load and bench to the `itb` command table."""
    p = add_command(
        sub,
        "load",
        "Load a program onto the rig: show old and new side by side, confirm, stage, commit, read back.",
        _cmd_load,
    )
    p.add_argument(
        "program", metavar="PROGRAM", help="PROGRAM.json (itb program build) or a prescription .toml"
    )
    rig_options(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    p.add_argument("--fill", action="store_true", help="refill to capacity at the program's concentration")
    p.add_argument(
        "--residual", metavar="VOLUME",
        help="measured residual withdrawn at the fill, e.g. '3.1 mL' (with --fill)",
    )
    p.add_argument(
        "--no-bridge",
        action="store_true",
        help="after a change of concentration, do not give the bridge bolus (ITB-BRG-01) the load gives",
    )

    p = add_command(
        sub,
        "bench",
        "Accelerated bench session: load, advance hour by hour, compare delivery with the program.",
        _cmd_bench,
    )
    p.add_argument("program", metavar="RX_OR_PROGRAM", nargs="?", default=None,
                   help=f"a prescription .toml or a PROGRAM.json (default: the built-in {examples.DEFAULT} "
                   "example, `itb example`)")
    rig_options(p)
    p.add_argument("--days", type=cliargs.whole(1, MAX_DAYS), default=14,
                   help=f"simulated days, 1 to {MAX_DAYS} (default 14)")
    p.add_argument("--out", default="out/bench", metavar="DIR", help="output directory (default out/bench)")
    p.add_argument(
        "--batch", type=cliargs.whole(1), metavar="H",
        help=f"hourly readings per ADV frame (default {AUTO_BATCH_HOURS}, or {DEFAULT_BATCH_HOURS} when "
        f"{AUTO_BATCH_HOURS} do not fit one frame)"
    )
    p.add_argument("--quiet", action="store_true",
                   help="nothing on stderr but errors: no progress bar, event lines or built-in rig notice")
    p.add_argument("--yes", action="store_true",
                   help="with --port: replace the rig's program without asking (scripts)")

