"""`itb rig`: serve the rig firmware as a virtual rig (a pty or a TCP port), or as a MicroPython image on an
emulated board, with its state, key and pump facts kept in a state directory.

Every value was checked while parsing (`cliargs`), and what the set-up creates for a new rig (the state
directory, the key file) is removed again when the set-up fails (a port in use): a refused `itb rig` leaves
nothing behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firmware_py import config as fw_config
from firmware_py import units
from host_tools import cliargs, keys
from host_tools.cli_rig import add_command
from host_tools.errors import EXIT_OK, EXIT_REFUSED, UsageError
from host_tools.signals import stop_on_signals
from host_tools.virtual_rig import DEFAULT_START_S, VIRTUAL_CONFIG, VirtualRig

DEFAULT_STATE_DIR = "itb-rig-state"
KEY_FILE_NAME = "itb_key.hex"


@contextmanager
def _undo_on_failure(state_dir: Path, key_path: str) -> Iterator[None]:
    """Remove the state directory and the key file when they did not exist and the set-up fails."""
    if state_dir.exists() and not state_dir.is_dir():
        raise UsageError(f"--state-dir: '{state_dir}' is not a directory", field="--state-dir")
    new_dir, new_key = not state_dir.exists(), not Path(key_path).exists()
    try:
        yield
    except BaseException:
        if new_key:
            Path(key_path).unlink(missing_ok=True)
        if new_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
        raise


def _config(state_dir: Path) -> tuple[Path, fw_config.Config]:
    cfg_path = state_dir / fw_config.CONFIG_FILE
    if not cfg_path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        cfg_path.write_text(VIRTUAL_CONFIG.text())
        return cfg_path, VIRTUAL_CONFIG
    try:
        return cfg_path, fw_config.parse(cfg_path.read_text())
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"{cfg_path}: cannot be read: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"{cfg_path}: {exc}") from None


def _serve(ready: list[str], serve: Callable[[], None]) -> bool:
    """Print `ready`, then `serve()` until Ctrl-C or SIGTERM (True) or until it returns (False). The signals
    stop it from before the first line: a script that waits for the lines and then signals is never lost."""
    try:
        with stop_on_signals():
            for line in ready:
                print(f"itb rig: {line}", flush=True)
            serve()
    except KeyboardInterrupt:
        print("itb rig: stopped", flush=True)
        return True
    return False


def _cmd_rig_board(args: argparse.Namespace, state_dir: Path, key_path: str) -> int:
    from host_tools.board import EmulatedBoard  # noqa: PLC0415 (only with --board)

    with _undo_on_failure(state_dir, key_path):
        key, created = keys.load_or_create_key_file(key_path)
        board = EmulatedBoard(args.board, state_dir / f"board-{args.board}", heap=args.heap)
        if not board.provisioned():
            print(f"itb rig: provisioning a new {args.board} board (key, itb_rig.cfg, main.py)", flush=True)
            board.provision(key)
    try:
        board.start()
        stopped = _serve(
            [f"serving the rig firmware on an emulated {args.board} board on {board.url}",
             f"image {board.image}; flash/file system in {board.dir.resolve()}",
             f"key file {Path(key_path).resolve()} ({'created' if created else 'read'}, mode 0600)",
             f"e.g. ITB_RIG_KEY_FILE={key_path} itb status --port {board.url}; Ctrl-C stops"],
            lambda: _wait_while(lambda: board.running),
        )  # fmt: skip
        if not stopped:
            print(f"itb rig: the board exited: {board.output[-3:]}", flush=True)
            return EXIT_REFUSED
    finally:
        board.stop()
    return EXIT_OK


def _wait_while(cond: Callable[[], bool]) -> None:
    while cond():
        time.sleep(0.5)


def _cmd_rig(args: argparse.Namespace) -> int:
    cliargs.requires(args, "--heap", "--board", lambda a: a.board is not None)
    state_dir = Path(args.state_dir)
    key_path = keys.key_file_from(args.key_file) or str(state_dir / KEY_FILE_NAME)
    if args.board:
        return _cmd_rig_board(args, state_dir, key_path)
    start = DEFAULT_START_S
    if args.start is not None:
        start = (args.start - dt.date(1970, 1, 1)).days * units.S_PER_DAY
    with _undo_on_failure(state_dir, key_path):
        key, created = keys.load_or_create_key_file(key_path)
        cfg_path, config = _config(state_dir)
        vr = VirtualRig(
            transport="tcp" if args.tcp is not None else "pty", port=args.tcp or 0, state_dir=state_dir,
            key=key, start_s=start, durable=True, config=config,
        )  # fmt: skip
    try:
        st = vr.rig.status()
        _serve(
            [f"serving the virtual rig on {vr.url}",
             f"key file {Path(key_path).resolve()} ({'created' if created else 'read'}, mode 0600)",
             f"state in {state_dir.resolve()}; program {st.prog or 'none'}, state {st.state}",
             f"configuration {cfg_path.resolve()}: " + " ".join(f"{k}={v}" for k, v in config.pairs()),
             f"e.g. ITB_RIG_KEY_FILE={key_path} itb status --port {vr.url}; Ctrl-C stops"],
            vr.serve_forever,
        )  # fmt: skip
    finally:
        vr.close()
    return EXIT_OK


def register(sub: Any) -> None:
    """Add `itb rig` to the `itb` command table."""
    p = add_command(
        sub, "rig", "Serve the rig firmware as a virtual rig on a pty (default) or a TCP port.", _cmd_rig
    )
    p.add_argument(
        "--tcp", type=cliargs.whole(0, 65535), metavar="PORT",
        help="serve on 127.0.0.1:PORT for socket:// (0: any free port)",
    )
    p.add_argument(
        "--state-dir", default=DEFAULT_STATE_DIR, help=f"rig state directory (default {DEFAULT_STATE_DIR})"
    )
    p.add_argument(
        "--key-file", metavar="PATH", help=f"key file to read or create (default STATE_DIR/{KEY_FILE_NAME})"
    )
    p.add_argument("--start", type=cliargs.date, metavar="YYYY-MM-DD",
                   help="rig clock start for a new rig (default 2026-01-05)")
    p.add_argument(
        "--board",
        choices=("qemu", "unix"),
        help="run the firmware as a MicroPython image: qemu (emulated Cortex-M3, MPS2-AN385) or unix "
        "(32-bit unix port); its UART/REPL on a pty; flash in STATE_DIR/board-KIND (kept)",
    )
    p.add_argument(
        "--heap", type=cliargs.whole(1), metavar="BYTES", help="with --board: the image's heap size"
    )
