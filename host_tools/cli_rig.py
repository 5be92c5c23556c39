"""The rig commands of `itb`: status, readback, log, monitor (rig: `cli_serve`; load and bench: `cli_load`).

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
from typing import Any

from firmware_py import config as fw_config
from firmware_py import program as fw_program
from firmware_py.rig import ROLLBACK
from host_tools import cliargs, display, keys
from host_tools.client import DEFAULT_RETRIES, RigClient
from host_tools.errors import (
    EXIT_OK,
    EXIT_USAGE,
    CommError,
    UsageError,
)
from host_tools.link import DEFAULT_TIMEOUT_S
from host_tools.replies import LogEntry, RigStatus
from host_tools.source import Source
from host_tools.virtual_rig import DEFAULT_START_S, VIRTUAL_CONFIG, VirtualRig


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
    what the rig was left running (`CommError.rig_state`). `--quiet` leaves out the built-in rig's notice."""
    timeout_s, retries = args.timeout, args.retries
    vr: VirtualRig | None = None
    client: RigClient | None = None
    try:
        if args.port:
            url, key = args.port, _key_for(args, need_key)
        else:
            vr = VirtualRig(transport="pty", start_s=start_s if start_s is not None else DEFAULT_START_S,
                            config=config)
            vr.start()
            if not getattr(args, "quiet", False):
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
            print_json({"prog": st.prog, "program": display.program_json(prog, data)})
        else:
            for k, v in display.program_rows(prog, data):
                print(f"{k:<14} {display.shown(v)}")
            if data is not None:
                print(f"{'encoding':<14} {data.decode('ascii')}")
    return EXIT_OK


def _cmd_log(args: argparse.Namespace) -> int:
    with rig_session(args, need_key=False) as (client, _builtin):
        entries = client.log(args.start)
        if args.json:
            print_json([e.to_json() for e in entries])
        else:
            for e in entries:
                print(log_line(e))
    return EXIT_OK


def _cmd_monitor(args: argparse.Namespace) -> int:
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
        type=cliargs.seconds(positive=True),
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="reply timeout, seconds (default 2)",
    )
    p.add_argument(
        "--retries",
        type=cliargs.whole(0),
        default=DEFAULT_RETRIES,
        metavar="N",
        help="retries after a timeout (default 2)",
    )
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable JSON output")


def register(sub: Any) -> None:
    """Add the rig sub-commands to the `itb` command table."""
    p = add_command(sub, "status", "Show the rig's state, program, rate, reservoir and alarms.", _cmd_status)
    rig_options(p)
    p = add_command(sub, "readback", "Read the active program back from the rig.", _cmd_readback)
    rig_options(p)
    p = add_command(sub, "log", "Show the rig's event log.", _cmd_log)
    rig_options(p)
    p.add_argument("--from", dest="start", type=cliargs.whole(0), default=0, metavar="N",
                   help="first entry index")
    p = add_command(sub, "monitor", "Poll the rig's status.", _cmd_monitor)
    rig_options(p)
    p.add_argument("--count", type=cliargs.whole(1), default=10, metavar="N",
                   help="number of polls (default 10)")
    p.add_argument(
        "--interval", type=cliargs.seconds(positive=False), default=1.0, metavar="S",
        help="seconds between polls (default 1)",
    )


__all__ = ["EXIT_USAGE", "add_command", "err", "load_source", "print_json", "register", "rig_options",
           "rig_session"]
