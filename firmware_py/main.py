# MicroPython board entry point. Provision the board's file system with the rig key (hex) in itb_key.hex
# (and the rig configuration in itb_rig.cfg), then run `import firmware_py.main; firmware_py.main.run()`
# from the board's main.py (docs/board.md).
# The link is a UART (uart_id given: machine.UART) or the board's REPL stream (sys.stdin / sys.stdout: the
# USB serial of rp2 and esp32, UART0 of the QEMU MPS2-AN385 image, stdin/stdout of the unix port). On a
# REPL stream a 0x03 byte would raise KeyboardInterrupt and end the rig loop, so run() first turns that off
# with micropython.kbd_intr(-1); the rig's frames are printable ASCII, so no byte of them is lost.
# Clocks: a board clock starts at the later of the stored rig time and time.time(), so rig time never runs
# backwards; bench=True gives the rig a bench clock instead (time moves only with ADV: emulated boards and
# accelerated bench sessions), which resumes at the stored rig time.
# The loop never ends on an error: a MemoryError or any other exception that escapes the rig (which answers
# every frame itself and never raises by design) is counted, the heap collected, and the loop goes on.
# Machine-specific imports stay inside functions: importing this module works on CPython too.

import gc
import sys
import time

from firmware_py import config
from firmware_py.auth import parse_key
from firmware_py.clock import BenchClock, BoardClock
from firmware_py.rig import Rig
from firmware_py.store import Store, decode_state
from firmware_py.units import S_PER_DAY

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable

KEY_FILE = "itb_key.hex"
STATE_PREFIX = "itb_state"
HEARTBEAT_S = 600  # persist at least this often (rig seconds), so a reset loses little rig time
DIAG_S = S_PER_DAY  # with a diag callback: one heap reading per this many rig seconds
READ_MAX = 256  # bytes taken from the stream per loop turn
GC_THRESHOLD = 4096  # bytes allocated between automatic collections (gc.threshold)


def read_key(path: str = KEY_FILE) -> bytes:
    with open(path) as f:
        return parse_key(f.read())


def stored_s(store: Store) -> int:
    # The latest rig time in any stored generation (0 when none).
    t = 0
    for ext in (".cur", ".tmp", ".old"):
        d = decode_state(store.fs.read(store.prefix + ext))
        if d is not None and d[1].get("t_s", "").isdigit():
            t = max(t, int(d[1]["t_s"]))
    return t


def wall_s() -> int:
    now = getattr(time, "time", None)  # ports without an RTC may lack time.time
    return int(now()) if now is not None else 0


def start_s(store: Store) -> int:
    return max(stored_s(store), wall_s())


def make_rig(bench: bool = False) -> Rig:
    # The key from itb_key.hex, the pump facts from itb_rig.cfg, the state from flash.
    store = Store(STATE_PREFIX)
    clock = BenchClock(stored_s(store) or wall_s()) if bench else BoardClock(start_s(store))
    return Rig(read_key(), clock, store, config.read())


def run(
    uart_id: int | None = None,
    baud: int = 115_200,
    bench: bool = False,
    diag: "Callable[[str], object] | None" = None,
) -> None:
    # diag(text): a diagnostics line sink (never the rig's link), given one heap reading per DIAG_S.
    threshold = getattr(gc, "threshold", None)
    if threshold is not None:
        # Collect after every GC_THRESHOLD bytes allocated, not only when the heap is full: a command's
        # transient objects are freed before they spread the long-lived ones over the heap (fragmentation).
        threshold(GC_THRESHOLD)
    rig = None
    while rig is None:
        try:
            rig = make_rig(bench=bench)
        except MemoryError:
            # Booting needs more memory than running (the state file is read whole). A file is never taken
            # for damaged for lack of memory, so the rig waits and tries again rather than boot an older copy.
            gc.collect()
            _idle()
    if uart_id is None:
        read, write, avail = repl_stream()
    else:
        import machine  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 (board only)

        uart = machine.UART(uart_id, baud)
        read, write, avail = uart.read, uart.write, uart.any
    loop_stream(rig, read, write, avail, diag)


def repl_stream() -> "tuple[Callable[[int], bytes | None], Callable[[bytes], object], Callable[[], int]]":
    # The REPL's byte streams with Ctrl-C off, and a non-blocking count of waiting bytes (0 or 1).
    import select  # noqa: PLC0415

    import micropython  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 (MicroPython only)

    micropython.kbd_intr(-1)
    rx = sys.stdin.buffer  # type: ignore[attr-defined, unused-ignore]
    tx = sys.stdout.buffer  # type: ignore[attr-defined, unused-ignore]
    poller = select.poll()
    poller.register(sys.stdin, select.POLLIN)

    def avail() -> int:
        return 1 if poller.poll(0) else 0

    def write(data: bytes) -> object:
        n = tx.write(data)
        flush = getattr(tx, "flush", None)
        if flush is not None:
            flush()
        return n

    return rx.read, write, avail


def _idle() -> None:
    sleep_ms = getattr(time, "sleep_ms", None)
    if sleep_ms is not None:
        sleep_ms(5)
    else:
        time.sleep(0.005)


class Counters:
    # What the loop saw: frames' bytes in, errors that escaped the rig (by kind).
    __slots__ = ("bytes_in", "mem_errors", "other_errors")

    def __init__(self) -> None:
        self.bytes_in = 0
        self.mem_errors = 0
        self.other_errors = 0


def heap_line(rig: Rig, c: Counters) -> str:
    gc.collect()
    alloc = getattr(gc, "mem_alloc", None)
    free = getattr(gc, "mem_free", None)
    a = alloc() if alloc is not None else -1
    f = free() if free is not None else -1
    return (
        "itb-heap t=" + str(rig.now_s()) + " alloc=" + str(a) + " free=" + str(f) + " in=" + str(c.bytes_in)
        + " oom=" + str(c.mem_errors) + " err=" + str(c.other_errors)
    )  # fmt: skip


def loop_stream(  # noqa: PLR0917 (the stream functions are positional, as main.run passes them)
    rig: Rig,
    read: "Callable[[int], bytes | None]",
    write: "Callable[[bytes], object]",
    avail: "Callable[[], int] | None",
    diag: "Callable[[str], object] | None" = None,
    turns: int = -1,
) -> Counters:
    # Feed what arrives, write replies, poll alarms; persist a heartbeat every HEARTBEAT_S rig seconds.
    # turns < 0: forever (a board); else that many loop turns (tests).
    c = Counters()
    bench = bool(getattr(rig.clock, "bench", False))
    last = rig.now_s()
    last_poll = last
    last_diag = last - DIAG_S
    while turns != 0:
        turns -= 1
        try:
            data = _take(read, avail)
            if data:
                c.bytes_in += len(data)
                out: bytes | None = rig.feed(data)
                data = None
                if out:
                    write(out)
                out = None
                # Free each frame's garbage at once: allocation stays first-fit near the bottom of the heap,
                # so long-lived objects do not spread over it and large blocks stay free (without this a
                # 96 KiB heap with 66 KiB free failed a 1.9 KiB allocation after days of ADV on QEMU).
                gc.collect()
            else:
                _idle()
            now = rig.now_s()
            if now != last_poll:  # alarms fire at their exact second whenever polled; once a second is enough
                rig.poll()
                last_poll = now
            if now - last >= HEARTBEAT_S:
                if not bench:  # a bench clock moves only by ADV, which saves; a board clock needs this
                    rig.save()
                last = now
            if diag is not None and now - last_diag >= DIAG_S:
                last_diag = now
                diag(heap_line(rig, c))
        except MemoryError:
            c.mem_errors += 1
            data = None
            out = None
            gc.collect()
        except Exception:  # the rig answers every frame itself; this only keeps the loop alive
            c.other_errors += 1
    return c


def _take(read: "Callable[[int], bytes | None]", avail: "Callable[[], int] | None") -> bytes | None:
    # What is waiting on the stream (up to READ_MAX bytes) without blocking when nothing is.
    if avail is None:
        return read(1)
    n = avail()
    if not n:
        return None
    if n > 1:  # a UART reports its buffered count
        return read(min(n, READ_MAX))
    buf = bytearray()
    while n and len(buf) < READ_MAX:
        b = read(1)
        if not b:
            break
        buf.extend(b)
        n = avail()
    return bytes(buf)
