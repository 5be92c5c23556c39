"""How a serving command (`itb rig`) stops: Ctrl-C (SIGINT) or SIGTERM, both as KeyboardInterrupt.

A process started in the background by a non-interactive shell (`itb rig ... &` in a script) inherits SIGINT
*ignored*, and Python then installs no KeyboardInterrupt handler: `kill -INT` would never stop the rig. And
SIGTERM (`kill %1`, a service manager) would end the process without its "stopped" line or its clean close.
So while a rig serves, both signals raise KeyboardInterrupt, and the previous handlers are put back after.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["stop_on_signals"]


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM raise KeyboardInterrupt (in the main thread; elsewhere: no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
