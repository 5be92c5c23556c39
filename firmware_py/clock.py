# Injected clocks. The rig asks clock.now_s() for whole seconds of rig time (seconds since 1970-01-01
# 00:00 rig local time) and never sleeps. BenchClock moves only when told (tests, the virtual rig, ADV);
# BoardClock counts time.ticks_ms on MicroPython (time.monotonic_ns on CPython) from a start second.

import time

from firmware_py.units import MS_PER_S, NS_PER_MS, require_non_negative, require_positive

_ticks_ms = getattr(time, "ticks_ms", None)
_ticks_diff = getattr(time, "ticks_diff", None)
_mono_ns = getattr(time, "monotonic_ns", None)  # CPython


def _ms() -> int:
    if _ticks_ms is not None:
        return int(_ticks_ms())
    if _mono_ns is not None:
        return int(_mono_ns()) // NS_PER_MS
    return int(time.time()) * MS_PER_S


def _diff_ms(new: int, old: int) -> int:
    if _ticks_diff is not None:
        return int(_ticks_diff(new, old))  # ticks_ms wraps; ticks_diff undoes the wrap
    return new - old


class BenchClock:
    __slots__ = ("_t",)
    bench = True

    def __init__(self, start_s: int = 0) -> None:
        self._t = require_non_negative("start_s", start_s)

    def now_s(self) -> int:
        return self._t

    def advance(self, s: int) -> int:
        self._t += require_positive("s", s)
        return self._t


class BoardClock:
    # Call now_s() at least every few days (ticks_diff is exact for spans below 2**29 ms): main.py polls.
    __slots__ = ("_base", "_last", "_ms")
    bench = False

    def __init__(self, start_s: int = 0) -> None:
        self._base = require_non_negative("start_s", start_s)
        self._ms = 0
        self._last = _ms()

    def now_s(self) -> int:
        t = _ms()
        d = _diff_ms(t, self._last)
        if d > 0:
            self._ms += d
        self._last = t
        return self._base + self._ms // MS_PER_S

    def advance(self, s: int) -> int:
        raise NotImplementedError("a board clock follows real time")
