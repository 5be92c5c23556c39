"""The rig commands of `itb`: rig, status, readback, log, monitor (load and bench: `cli_load`).

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

from firmware_py import config as fw_config
from firmware_py import program as fw_program
from firmware_py import units
from firmware_py.rig import ROLLBACK
from firmware_py.schedule import rows as schedule_rows
from host_tools import display, keys
from host_tools.client import DEFAULT_RETRIES, RigClient
from host_tools.errors import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CommError,
    UsageError,
)
from host_tools.link import DEFAULT_TIMEOUT_S
from host_tools.replies import LogEntry, RigStatus
from host_tools.signals import stop_on_signals
from host_tools.source import Source
from host_tools.virtual_rig import DEFAULT_START_S, VIRTUAL_CONFIG, VirtualRig

DEFAULT_STATE_DIR = "itb-rig-state"
KEY_FILE_NAME = "itb_key.hex"


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2))


# -- formatting -------------------------------------------------------------------------------------------


def rig_time(t_s: int | None) -> str:
    """Rig seconds as `YYYY-MM-DD HH:MM:SS` (rig local time), or `-`."""
    if t_s is None:
        return "-"
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=t_s)).strftime("%Y-%m-%d %H:%M:%S")


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
            {"start": a, "end": b, "dose_ng_per_day": d, "per_day": display.mcg_per_day(d),
             "per_hour": display.mcg_per_hour(d)}
            for a, b, d in schedule_rows(p.schedule)
        ],
        "daily_total_ng": [p.schedule.day_total(i)[0] for i in range(p.schedule.period_s // units.S_PER_DAY)],
    }


def status_lines(st: RigStatus, client: RigClient) -> list[str]:
    info = client.info
    head = f"rig {info.rig} (fw {info.fw}, protocol {info.proto}, {info.clock} clock)" if info else "rig"
    out = [
        f"{head} on {client.link.url}",
        f"state {st.state}, program {st.prog or 'none'}, alarm {st.alarm}",
        f"rig time {rig_time(st.t_s)}; last commit {rig_time(st.t_com_s)}",
        f"rate {display.dose(st.rate_ng_per_day)}",
        f"reservoir {display.ml(st.reservoir_nl)} at {display.conc(st.conc_ng_per_ul)}; since the last fill "
        f"delivered {display.mcg(st.delivered_ng)} = {display.ml(st.delivered_nl)}",
        f"low-reservoir alarm at {rig_time(st.t_alarm_s)}; empty at {rig_time(st.t_empty_s)}",
    ]
    if st.bolus_nl:
        out.append(f"bridge bolus: {display.ml(st.bolus_nl)} still to deliver")
    if st.staged:
        out.append(f"staged (not active): {st.staged} bytes")
    if st.chk != "ok":
        parts = st.chk.split("+")
        if ROLLBACK in parts:
            out.append("boot check: the newest copy of the rig's state was damaged, so the rig runs the copy "
                       "before it: the last change (a commit, a refill or a stop) may be lost; check the "
                       "program and the reservoir, then commit")
        rules = [p for p in parts if p != ROLLBACK]
        if rules:
            out.append(f"boot check: the stored program fails {', '.join(rules)} (delivery goes on)")
    return out


def log_line(e: LogEntry) -> str:
    # Everything but the index and the time comes from the rig as text: shown escaped (display.shown).
    detail = " ".join(f"{display.shown(k)}={display.shown(v)}" if v else display.shown(k)
                      for k, v in e.detail.items())
    return f"{e.index:>6}  {rig_time(e.t_s)}  {display.shown(e.kind):<9} {detail}"


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
    args: argparse.Namespace, need_key: bool, start_s: int | None = None,
    config: fw_config.Config = VIRTUAL_CONFIG,
) -> Iterator[tuple[RigClient, bool]]:
    """A connected client: to `--port`, or to a built-in virtual rig started for this command (with
    `config`, the bench pump unless a command sets it up for its program: `itb bench`).

    Yields (client, builtin). For a command that changes the rig (need_key), a communication failure says
    what the rig was left running (`CommError.rig_state`)."""
    timeout_s, retries = args.timeout, args.retries
    if timeout_s <= 0 or retries < 0:
        raise UsageError(f"--timeout must be > 0 and --retries >= 0 (got {timeout_s}, {retries})")
    vr: VirtualRig | None = None
    client: RigClient | None = None
    try:
        if args.port:
            url, key = args.port, _key_for(args, need_key)
        else:
            vr = VirtualRig(transport="pty", start_s=start_s if start_s is not None else DEFAULT_START_S,
                            config=config)
            vr.start()
            err(f"itb: no --port: using a built-in virtual rig on {vr.url} (state discarded on exit)")
            url, key = vr.url, vr.key
        client = RigClient.connect(url, key, timeout_s=timeout_s, retries=retries)
        yield client, vr is not None
    except CommError as exc:
        if not need_key or exc.rig_state is not None:
            raise
        state = client.left_running() if client is not None else "its program, unchanged: nothing was sent"
        raise type(exc)(exc.detail, state) from None
    finally:
        if client is not None:
            client.close()
        if vr is not None:
            vr.close()


# -- commands ---------------------------------------------------------------------------------------------


def load_source(path: str) -> Source:
    from host_tools import rx  # noqa: PLC0415 (pint and TOML only when a file is loaded)

    return rx.load_source(path)


def _cmd_rig_board(args: argparse.Namespace) -> int:
    from host_tools.board import EmulatedBoard  # noqa: PLC0415 (only with --board)

    state_dir = Path(args.state_dir)
    key_path = keys.key_file_from(args.key_file) or str(state_dir / KEY_FILE_NAME)
    key, created = keys.load_or_create_key_file(key_path)
    board = EmulatedBoard(args.board, state_dir / f"board-{args.board}", heap=args.heap)
    if not board.provisioned():
        print(f"itb rig: provisioning a new {args.board} board (key, itb_rig.cfg, main.py)", flush=True)
        board.provision(key)
    try:
        board.start()
        print(
            f"itb rig: serving the rig firmware on an emulated {args.board} board on {board.url}", flush=True
        )
        print(f"itb rig: image {board.image}; flash/file system in {board.dir.resolve()}")
        print(f"itb rig: key file {Path(key_path).resolve()} ({'created' if created else 'read'}, mode 0600)")
        print(
            f"itb rig: e.g. ITB_RIG_KEY_FILE={key_path} itb status --port {board.url}; Ctrl-C stops",
            flush=True,
        )
        with stop_on_signals():
            while board.running:
                time.sleep(0.5)
        print(f"itb rig: the board exited: {board.output[-3:]}", flush=True)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("itb rig: stopped", flush=True)
    finally:
        board.stop()
    return EXIT_OK


def _cmd_rig(args: argparse.Namespace) -> int:
    if args.board:
        return _cmd_rig_board(args)
    state_dir = Path(args.state_dir)
    key_path = keys.key_file_from(args.key_file) or str(state_dir / KEY_FILE_NAME)
    key, created = keys.load_or_create_key_file(key_path)
    cfg_path = state_dir / fw_config.CONFIG_FILE
    if cfg_path.exists():
        try:
            config = fw_config.parse(cfg_path.read_text())
        except (OSError, UnicodeError) as exc:
            raise UsageError(f"{cfg_path}: cannot be read: {exc}") from None
        except ValueError as exc:
            raise UsageError(f"{cfg_path}: {exc}") from None
    else:
        state_dir.mkdir(parents=True, exist_ok=True)
        config = VIRTUAL_CONFIG
        cfg_path.write_text(config.text())
    start = DEFAULT_START_S
    if args.start:
        try:
            day = dt.date.fromisoformat(args.start)
        except ValueError:
            raise UsageError(f"--start: expected a date YYYY-MM-DD (got {args.start!r})") from None
        start = (day - dt.date(1970, 1, 1)).days * units.S_PER_DAY
    transport = "tcp" if args.tcp is not None else "pty"
    vr = VirtualRig(
        transport=transport, port=args.tcp or 0, state_dir=state_dir, key=key, start_s=start, durable=True,
        config=config,
    )
    try:
        st = vr.rig.status()
        print(f"itb rig: serving the virtual rig on {vr.url}", flush=True)
        print(f"itb rig: key file {Path(key_path).resolve()} ({'created' if created else 'read'}, mode 0600)")
        print(f"itb rig: state in {state_dir.resolve()}; program {st.prog or 'none'}, state {st.state}")
        print(
            f"itb rig: configuration {cfg_path.resolve()}: " + " ".join(f"{k}={v}" for k, v in config.pairs())
        )
        print(
            f"itb rig: e.g. ITB_RIG_KEY_FILE={key_path} itb status --port {vr.url}; Ctrl-C stops", flush=True
        )
        with stop_on_signals():
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
            print_json({"rig": client.info.to_json() if client.info else None, "status": st.to_json()})
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
            print_json({"prog": st.prog, "program": program_json(prog, data)})
        else:
            for k, v in display.program_rows(prog, data):
                print(f"{k:<14} {display.shown(v)}")
            if data is not None:
                print(f"{'encoding':<14} {data.decode('ascii')}")
    return EXIT_OK


def _cmd_log(args: argparse.Namespace) -> int:
    if args.start < 0:
        raise UsageError(f"--from: must be >= 0 (got {args.start})")
    with rig_session(args, need_key=False) as (client, _builtin):
        entries = client.log(args.start)
        if args.json:
            print_json([e.to_json() for e in entries])
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
                    f"{display.dose(st.rate_ng_per_day)}  "
                    f"reservoir {display.ml(st.reservoir_nl)}  alarm {st.alarm}",
                    flush=True,
                )
    return EXIT_OK


# -- registration -----------------------------------------------------------------------------------------


def add_command(
    sub: Any, name: str, helptext: str, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=helptext, description=helptext + " Not for clinical use."
    )
    p.set_defaults(func=func)
    return p


def rig_options(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
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
    p = add_command(
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
    p.add_argument(
        "--board",
        choices=("qemu", "unix"),
        help="run the firmware as a MicroPython image: qemu (emulated Cortex-M3, MPS2-AN385) or unix "
        "(32-bit unix port); its UART/REPL on a pty; flash in STATE_DIR/board-KIND (kept)",
    )
    p.add_argument("--heap", type=int, metavar="BYTES", help="with --board: the image's heap size")

    p = add_command(sub, "status", "Show the rig's state, program, rate, reservoir and alarms.", _cmd_status)
    rig_options(p)
    p = add_command(sub, "readback", "Read the active program back from the rig.", _cmd_readback)
    rig_options(p)
    p = add_command(sub, "log", "Show the rig's event log.", _cmd_log)
    rig_options(p)
    p.add_argument("--from", dest="start", type=int, default=0, metavar="N", help="first entry index")
    p = add_command(sub, "monitor", "Poll the rig's status.", _cmd_monitor)
    rig_options(p)
    p.add_argument("--count", type=int, default=10, metavar="N", help="number of polls (default 10)")
    p.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="seconds between polls (default 1)"
    )


__all__ = ["EXIT_USAGE", "add_command", "err", "load_source", "print_json", "register", "rig_options",
           "rig_session"]
