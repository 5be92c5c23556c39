# MicroPython board entry point: copy firmware_py to the board, put the rig key (hex) in itb_key.hex,
# then `import firmware_py.main; firmware_py.main.run()` (or call it from boot/main.py).
# The link is a UART (uart_id given) or the USB serial REPL stream (sys.stdin/sys.stdout buffers).
# The clock starts at the later of the stored rig time and time.time(), so rig time never runs backwards.
# Machine-specific imports stay inside functions: importing this module works on CPython too.

import sys
import time

from firmware_py.auth import parse_key
from firmware_py.clock import BoardClock
from firmware_py.rig import Rig
from firmware_py.store import Store, decode_state

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable

KEY_FILE = "itb_key.hex"
STATE_PREFIX = "itb_state"
HEARTBEAT_S = 600  # persist at least this often, so a reset loses little rig time


def read_key(path: str = KEY_FILE) -> bytes:
    with open(path) as f:
        return parse_key(f.read())


def start_s(store: Store) -> int:
    t = int(time.time())
    for ext in (".cur", ".tmp", ".old"):
        d = decode_state(store.fs.read(store.prefix + ext))
        if d is not None and d[1].get("t_s", "").isdigit():
            t = max(t, int(d[1]["t_s"]))
    return t


def make_rig(rig_id: str = "board") -> Rig:
    store = Store(STATE_PREFIX)
    return Rig(read_key(), BoardClock(start_s(store)), store, rig_id)


def run(uart_id: int | None = None, baud: int = 115_200) -> None:
    rig = make_rig()
    if uart_id is None:
        rx = sys.stdin.buffer  # type: ignore[attr-defined, unused-ignore]
        tx = sys.stdout.buffer  # type: ignore[attr-defined, unused-ignore]
        loop_stream(rig, rx.read, tx.write, None)
        return
    import machine  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 (board only)

    uart = machine.UART(uart_id, baud)
    loop_stream(rig, uart.read, uart.write, uart.any)


def _idle() -> None:
    sleep_ms = getattr(time, "sleep_ms", None)
    if sleep_ms is not None:
        sleep_ms(10)
    else:
        time.sleep(0.01)


def loop_stream(
    rig: Rig,
    read: "Callable[[int], bytes | None]",
    write: "Callable[[bytes], object]",
    avail: "Callable[[], int] | None",
) -> None:
    # Feed what arrives, write replies, poll alarms; persist a heartbeat every HEARTBEAT_S.
    last = rig.now_s()
    while True:
        n = avail() if avail is not None else 1
        data = read(n) if n else None
        if data:
            out = rig.feed(bytes(data))
            if out:
                write(out)
        else:
            _idle()
        rig.poll()
        now = rig.now_s()
        if now - last >= HEARTBEAT_S:
            rig.save()
            last = now
