"""The rig commands of `itb`: rig, status, readback, log, monitor, load, bench.

Every command that needs a rig takes `--port URL` (any pyserial URL: a device path, socket://HOST:PORT,
loop://, rfc2217://...). Without `--port` it starts the built-in virtual rig (the firmware in a background
thread on a pseudo-terminal) for that one command, with a fresh random key shared in process.
Program-changing commands on a real port need the rig's key file: `--key-file PATH` or `ITB_RIG_KEY_FILE`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firmware_py import program as fw_program
from firmware_py import units
from firmware_py.schedule import rows as schedule_rows
from host_tools import keys
from host_tools.bench import ProgramSource, load_program_source, run_bench, summary
from host_tools.client import DEFAULT_RETRIES, LogEntry, Refill, RigClient, RigStatus
from host_tools.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError
from host_tools.link import DEFAULT_TIMEOUT_S
from host_tools.virtual_rig import DEFAULT_START_S, VirtualRig

DEFAULT_STATE_DIR = "itb-rig-state"
KEY_FILE_NAME = "itb_key.hex"


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2))


# -- formatting -------------------------------------------------------------------------------------------


def rig_time(t_s: int | None) -> str:
    """Rig seconds as `YYYY-MM-DD HH:MM:SS` (rig local time), or `-`."""
    if t_s is None:
        return "-"
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=t_s)).strftime("%Y-%m-%d %H:%M:%S")


def mcg_day(ng_per_day: int) -> str:
    return units.fmt_scaled(ng_per_day, units.NG_PER_MCG, 3) + " mcg/day"


def mcg_hour(ng_per_day: int) -> str:
    # Per hour derived from the stored per-day rate, truncated (never shown higher than it is).
    return units.fmt_scaled(ng_per_day, units.NG_PER_MCG * units.H_PER_DAY, 3) + " mcg/h"


def ml(nl: int) -> str:
    return units.fmt_scaled(nl, units.NL_PER_ML, 3) + " mL"


def program_lines(p: fw_program.Program | None, data: bytes | None) -> list[tuple[str, str]]:
    """(field, value) rows describing a program for the side-by-side display."""
    if p is None or data is None:
        return [("program", "none")]
    total = p.schedule.day_total(0)[0]
    out = [
        ("program", fw_program.short_id(data)),
        ("label", p.label or "-"),
        ("drug", f"{p.drug} {p.conc_ng_per_ul} mcg/mL"),
        ("concentration", f"{p.conc_ng_per_ul} mcg/mL"),
        ("patient", f"{p.origin}, {p.age_years} y"),
        ("pump", f"{p.pump_kind}, {ml(p.reservoir_nl)}, alarm {ml(p.alarm_nl)}"),
        ("phase", p.phase),
        ("base rate", f"{mcg_day(p.base_dose_ng_per_day)} = {mcg_hour(p.base_dose_ng_per_day)}"),
    ]
    for i, (a, b, d) in enumerate(schedule_rows(p.schedule)):
        out.append((f"step {i + 1}", f"{a}-{b} {mcg_day(d)} = {mcg_hour(d)}"))
    if p.schedule.period_s == units.S_PER_DAY:
        out.append(("daily total", units.fmt_scaled(total, units.NG_PER_MCG, 3) + " mcg"))
    else:
        days = [p.schedule.day_total(i)[0] for i in range(7)]
        out.append(
            ("daily totals", " ".join(units.fmt_scaled(x, units.NG_PER_MCG, 3) for x in days) + " mcg")
        )
    for rid, reason in p.overrides:
        out.append((f"override {rid}", reason))
    out.append(("checksum", fw_program.checksum(data)))
    return out


def program_json(p: fw_program.Program | None, data: bytes | None) -> dict[str, Any] | None:
    if p is None or data is None:
        return None
    return {
        "id": fw_program.short_id(data),
        "checksum": fw_program.checksum(data),
        "encoding": data.decode("ascii"),
        "label": p.label,
        "concentration": {"value": p.conc_ng_per_ul, "unit": "mcg/mL"},
        "phase": p.phase,
        "steps": [
            {"start": a, "end": b, "dose_ng_per_day": d, "per_day": mcg_day(d), "per_hour": mcg_hour(d)}
            for a, b, d in schedule_rows(p.schedule)
        ],
        "daily_total_ng": [p.schedule.day_total(i)[0] for i in range(p.schedule.period_s // units.S_PER_DAY)],
    }


def side_by_side(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> str:
    """Old and new program in two columns; `*` marks a row that changes."""
    keys_in_order: list[str] = []
    for k, _ in old + new:
        if k not in keys_in_order:
            keys_in_order.append(k)
    o, n = dict(old), dict(new)
    width = max(len(k) for k in keys_in_order)
    col = max([len("old (on the rig)")] + [len(v) for v in o.values()])
    lines = [f"  {'':<{width}}  {'old (on the rig)':<{col}}  new (to load)"]
    for k in keys_in_order:
        a, b = o.get(k, "-"), n.get(k, "-")
        mark = "*" if a != b else " "
        lines.append(f"{mark} {k:<{width}}  {a:<{col}}  {b}")
    return "\n".join(lines)


def status_lines(st: RigStatus, client: RigClient) -> list[str]:
    info = client.info
    head = f"rig {info.rig} (fw {info.fw}, protocol {info.proto}, {info.clock} clock)" if info else "rig"
    out = [
        f"{head} on {client.link.url}",
        f"state {st.state}, program {st.prog or 'none'}, alarm {st.alarm}",
        f"rig time {rig_time(st.t_s)}; last commit {rig_time(st.t_commit_s)}",
        f"rate {mcg_day(st.rate_ng_per_day)} = {mcg_hour(st.rate_ng_per_day)}",
        f"reservoir {ml(st.reservoir_nl)} at {st.conc_ng_per_ul} mcg/mL; since the last fill delivered "
        f"{units.fmt_scaled(st.delivered_ng, units.NG_PER_MCG, 3)} mcg = {ml(st.delivered_nl)}",
        f"low-reservoir alarm at {rig_time(st.t_alarm_s)}; empty at {rig_time(st.t_empty_s)}",
    ]
    if st.bolus_nl:
        out.append(f"bridge bolus: {ml(st.bolus_nl)} still to deliver")
    if st.staged:
        out.append(f"staged (not active): {st.staged} bytes")
    return out


def log_line(e: LogEntry) -> str:
    detail = " ".join(f"{k}={v}" if v else k for k, v in e.detail.items())
    return f"{e.index:>6}  {rig_time(e.t_s)}  {e.kind:<9} {detail}"


# -- connecting -------------------------------------------------------------------------------------------


def _key_for(args: argparse.Namespace, need_key: bool) -> keys.RigKey | None:
    path = keys.key_file_from(getattr(args, "key_file", None))
    if path is None:
        if need_key:
            raise UsageError(
                "this command changes the rig and needs its key: pass --key-file PATH or set ITB_RIG_KEY_FILE"
            )
        return None
    return keys.load_key_file(path)


@contextmanager
def rig_session(
    args: argparse.Namespace, need_key: bool, start_s: int | None = None
) -> Iterator[tuple[RigClient, bool]]:
    """A connected client: to `--port`, or to a built-in virtual rig started for this command.

    Yields (client, builtin)."""
    timeout_s, retries = args.timeout, args.retries
    if timeout_s <= 0 or retries < 0:
        raise UsageError(f"--timeout must be > 0 and --retries >= 0 (got {timeout_s}, {retries})")
    if args.port:
        key = _key_for(args, need_key)
        client = RigClient.connect(args.port, key, timeout_s=timeout_s, retries=retries)
        try:
            yield client, False
        finally:
            client.close()
        return
    vr = VirtualRig(transport="pty", start_s=start_s if start_s is not None else DEFAULT_START_S)
    try:
        vr.start()
        _err(f"itb: no --port: using a built-in virtual rig on {vr.url} (state discarded on exit)")
        client = RigClient.connect(vr.url, vr.key, timeout_s=timeout_s, retries=retries)
        try:
            yield client, True
        finally:
            client.close()
    finally:
        vr.close()


# -- commands ---------------------------------------------------------------------------------------------


def _cmd_rig(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    key_path = keys.key_file_from(args.key_file) or str(state_dir / KEY_FILE_NAME)
    key, created = keys.load_or_create_key_file(key_path)
    start = DEFAULT_START_S
    if args.start:
        try:
            day = dt.date.fromisoformat(args.start)
        except ValueError:
            raise UsageError(f"--start: expected a date YYYY-MM-DD (got {args.start!r})") from None
        start = (day - dt.date(1970, 1, 1)).days * units.S_PER_DAY
    transport = "tcp" if args.tcp is not None else "pty"
    vr = VirtualRig(
        transport=transport, port=args.tcp or 0, state_dir=state_dir, key=key, start_s=start, durable=True
    )
    try:
        st = vr.rig.status()
        print(f"itb rig: serving the virtual rig on {vr.url}", flush=True)
        print(f"itb rig: key file {Path(key_path).resolve()} ({'created' if created else 'read'}, mode 0600)")
        print(f"itb rig: state in {state_dir.resolve()}; program {st.prog or 'none'}, state {st.state}")
        print(
            f"itb rig: e.g. ITB_RIG_KEY_FILE={key_path} itb status --port {vr.url}; Ctrl-C stops", flush=True
        )
        vr.serve_forever()
    except KeyboardInterrupt:
        print("itb rig: stopped", flush=True)
    finally:
        vr.close()
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    with rig_session(args, need_key=False) as (client, _builtin):
        st = client.status()
        if args.json:
            _print_json({"rig": client.info.to_json() if client.info else None, "status": st.to_json()})
        else:
            print("\n".join(status_lines(st, client)))
    return EXIT_OK


def _cmd_readback(args: argparse.Namespace) -> int:
    with rig_session(args, need_key=False) as (client, _builtin):
        st = client.status()
        if st.prog is None:
            data = None
            prog = None
        else:
            data = client.readback()
            prog = fw_program.decode(data)
        if args.json:
            _print_json({"prog": st.prog, "program": program_json(prog, data)})
        else:
            for k, v in program_lines(prog, data):
                print(f"{k:<14} {v}")
            if data is not None:
                print(f"{'encoding':<14} {data.decode('ascii')}")
    return EXIT_OK


def _cmd_log(args: argparse.Namespace) -> int:
    if args.start < 0:
        raise UsageError(f"--from: must be >= 0 (got {args.start})")
    with rig_session(args, need_key=False) as (client, _builtin):
        entries = client.log(args.start)
        if args.json:
            _print_json([e.to_json() for e in entries])
        else:
            for e in entries:
                print(log_line(e))
    return EXIT_OK


def _cmd_monitor(args: argparse.Namespace) -> int:
    if args.count < 1 or args.interval < 0:
        raise UsageError(f"--count must be >= 1 and --interval >= 0 (got {args.count}, {args.interval})")
    with rig_session(args, need_key=False) as (client, _builtin):
        for i in range(args.count):
            if i:
                time.sleep(args.interval)
            st = client.status()
            if args.json:
                print(json.dumps(st.to_json()), flush=True)
            else:
                print(
                    f"{rig_time(st.t_s)}  {st.state:<8} prog {st.prog or 'none':<16}  "
                    f"{mcg_day(st.rate_ng_per_day)} = {mcg_hour(st.rate_ng_per_day)}  "
                    f"reservoir {ml(st.reservoir_nl)}  alarm {st.alarm}",
                    flush=True,
                )
    return EXIT_OK


def _stdin_isatty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _confirm(yes: bool) -> bool:
    if yes:
        return True
    sys.stderr.write("load this program? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _parse_volume(flag: str, text: str | None) -> int | None:
    if text is None:
        return None
    from host_tools import quantities as qt  # noqa: PLC0415

    nl = qt.to_base(flag, qt.parse(flag, text, "volume", allow_zero=True), "volume")
    if nl < 0:
        raise UsageError(f"{flag}: must not be negative (got {text})")
    return nl


def _cmd_load(args: argparse.Namespace, stdin_isatty: Callable[[], bool] | None = None) -> int:
    isatty = stdin_isatty or _stdin_isatty
    if not args.yes and not isatty():
        # Refuse before touching the rig: nobody can confirm.
        raise UsageError("refusing to load without confirmation: stdin is not a terminal; pass --yes")
    source = load_program_source(args.program)
    data = source.data
    new = fw_program.decode(data)
    residual = _parse_volume("--residual", args.residual)
    with rig_session(args, need_key=True, start_s=source.fill_start_s) as (client, builtin):
        st = client.status()
        old_data = client.readback() if st.prog is not None else None
        old = fw_program.decode(old_data) if old_data is not None else None
        refill = None
        if args.fill or builtin or st.conc_ng_per_ul != new.conc_ng_per_ul:
            if not (args.fill or builtin):
                raise UsageError(
                    f"the rig's reservoir holds {st.conc_ng_per_ul} mcg/mL and the program "
                    f"{new.conc_ng_per_ul} mcg/mL: a concentration change needs a refill with the commit; "
                    "add --fill [--residual VOLUME]"
                )
            measured = residual if residual is not None else (st.reservoir_nl if st.conc_ng_per_ul else 0)
            refill = Refill(new.reservoir_nl, new.conc_ng_per_ul, measured)
        table = side_by_side(program_lines(old, old_data), program_lines(new, data))
        fill_note = (
            f"with a fill of {ml(refill.added_nl)} at {refill.conc_ng_per_ul} mcg/mL "
            f"(measured residual {ml(refill.measured_residual_nl)})"
            if refill
            else "without a refill"
        )
        if not args.json:
            print(table)
            print(f"  {fill_note}")
        if not _confirm(args.yes):
            _err(f"itb: not loaded (declined); rig left running: {client.rig_state}")
            return EXIT_REFUSED
        result = client.load(data, refill)
        if args.json:
            _print_json(
                {
                    "old": program_json(old, old_data),
                    "new": program_json(new, data),
                    "refill": None if refill is None else vars(refill),
                    "result": result.to_json(),
                }
            )
        else:
            print(
                f"loaded program {result.new_prog} (was {result.old_prog or 'none'}) at rig time "
                f"{rig_time(result.t_commit_s)}; read back {len(result.readback)} bytes, every field matches"
            )
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    source = load_program_source(args.program)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out: {out_dir} exists and is not a directory")
    with rig_session(args, need_key=True, start_s=source.fill_start_s) as (client, _builtin):
        log = (lambda _t: None) if args.json or args.quiet else (lambda t: _err(f"bench: {t}"))
        result = run_bench(
            client,
            source,
            days=args.days,
            out_dir=out_dir,
            batch_hours=args.batch,
            progress=None if not args.quiet else False,
            log=log,
        )
    if args.json:
        _print_json(result.report)
    else:
        print(summary(result))
    return EXIT_OK if result.passed else EXIT_REFUSED


# -- registration -----------------------------------------------------------------------------------------


def _add(
    sub: Any, name: str, helptext: str, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=helptext, description=helptext + " Not for clinical use."
    )
    p.set_defaults(func=func)
    return p


def _rig_options(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
    p.add_argument(
        "--port",
        metavar="URL",
        default=os.environ.get("ITB_RIG_PORT") or None,
        help="the rig: a device path or any pyserial URL (socket://127.0.0.1:PORT, rfc2217://..., loop://); "
        "default: a built-in virtual rig for this command (or ITB_RIG_PORT)",
    )
    p.add_argument(
        "--key-file", metavar="PATH", help="the rig's key file (hex, mode 0600); or ITB_RIG_KEY_FILE"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="reply timeout, seconds (default 2)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        metavar="N",
        help="retries after a timeout (default 2)",
    )
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable JSON output")


def register(sub: Any) -> None:
    """Add the rig sub-commands to the `itb` command table."""
    p = _add(
        sub, "rig", "Serve the rig firmware as a virtual rig on a pty (default) or a TCP port.", _cmd_rig
    )
    p.add_argument(
        "--tcp", type=int, metavar="PORT", help="serve on 127.0.0.1:PORT for socket:// (0: any free port)"
    )
    p.add_argument(
        "--state-dir", default=DEFAULT_STATE_DIR, help=f"rig state directory (default {DEFAULT_STATE_DIR})"
    )
    p.add_argument(
        "--key-file", metavar="PATH", help=f"key file to read or create (default STATE_DIR/{KEY_FILE_NAME})"
    )
    p.add_argument("--start", metavar="YYYY-MM-DD", help="rig clock start for a new rig (default 2026-01-05)")

    p = _add(sub, "status", "Show the rig's state, program, rate, reservoir and alarms.", _cmd_status)
    _rig_options(p)
    p = _add(sub, "readback", "Read the active program back from the rig.", _cmd_readback)
    _rig_options(p)
    p = _add(sub, "log", "Show the rig's event log.", _cmd_log)
    _rig_options(p)
    p.add_argument("--from", dest="start", type=int, default=0, metavar="N", help="first entry index")
    p = _add(sub, "monitor", "Poll the rig's status.", _cmd_monitor)
    _rig_options(p)
    p.add_argument("--count", type=int, default=10, metavar="N", help="number of polls (default 10)")
    p.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="seconds between polls (default 1)"
    )

    p = _add(
        sub,
        "load",
        "Load a program onto the rig: show old and new side by side, confirm, stage, commit, read back.",
        _cmd_load,
    )
    p.add_argument(
        "program", metavar="PROGRAM", help="PROGRAM.json (itb program build) or a prescription .toml"
    )
    _rig_options(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    p.add_argument("--fill", action="store_true", help="refill to capacity at the program's concentration")
    p.add_argument(
        "--residual", metavar="VOLUME", help="measured residual withdrawn at the fill, e.g. '3.1 mL'"
    )

    p = _add(
        sub,
        "bench",
        "Accelerated bench session: load, advance hour by hour, compare delivery with the program.",
        _cmd_bench,
    )
    p.add_argument("program", metavar="RX_OR_PROGRAM", help="a prescription .toml or a PROGRAM.json")
    _rig_options(p)
    p.add_argument("--days", type=int, default=14, help="simulated days (default 14)")
    p.add_argument("--out", default="out/bench", metavar="DIR", help="output directory (default out/bench)")
    p.add_argument(
        "--batch", type=int, default=24, metavar="H", help="hours per pipelined batch (default 24)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or event lines")


__all__ = ["EXIT_USAGE", "ProgramSource", "register", "rig_session"]
