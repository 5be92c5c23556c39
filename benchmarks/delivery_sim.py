# A year on the rig: load a program through frames, then advance the bench clock a day at a time, reading the
# status every day and refilling every `refill_days` days. Runs unchanged on CPython and on MicroPython (the
# benchmarks copy this file into the WebAssembly port's file system), so it uses only what both have.

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth
from firmware_py.clock import BenchClock
from firmware_py.rig import Rig

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from typing import Any

try:
    from time import ticks_diff, ticks_us  # type: ignore[attr-defined]

    def _now_us() -> int:
        return int(ticks_us())

    def _elapsed_us(t0: int) -> int:
        return int(ticks_diff(ticks_us(), t0))

except ImportError:
    from time import perf_counter_ns

    def _now_us() -> int:
        return perf_counter_ns() // 1000

    def _elapsed_us(t0: int) -> int:
        return perf_counter_ns() // 1000 - t0


DAY_S = 86_400


def parse(raw: bytes) -> wire.Reply:
    # One reply frame "<BODY*CRC\n" as the rig sends it.
    if raw[:1] != b"<" or raw[-1:] != b"\n":
        raise RuntimeError("not one reply frame: " + repr(raw[:60]))
    return wire.parse_reply(raw[1:-1])


class Link:
    # Frames in, replies out, straight into a Rig (no transport): what the host would send, signed.
    def __init__(self, rig: Rig, key: bytes) -> None:
        self.rig = rig
        self.auth = Auth(key)
        self.seq = 0

    def send(self, cmd: str, args: list[str], signed: bool) -> wire.Reply:
        self.seq += 1
        frame = wire.request(self.seq, cmd, args, self.auth if signed else None)
        r = parse(self.rig.feed(frame))
        if not r.ok:
            raise RuntimeError(cmd + " refused: " + r.name + " " + repr(r.fields))
        return r


def load_frames(prog_b: bytes, rf: str | None, first_seq: int, key: bytes) -> list[bytes]:
    # The host's frames to stage and commit prog_b (rf: "rf=added,conc,residual" or None).
    auth = Auth(key)
    out = []
    seq = first_seq
    off = 0
    while off < len(prog_b):
        chunk = prog_b[off : off + wire.CHUNK]
        out.append(wire.request(seq, "STG", [str(off), chunk.decode()], auth))
        seq += 1
        off += len(chunk)
    args = [str(len(prog_b)), pg.checksum(prog_b)]
    if rf is not None:
        args.append(rf)
    out.append(wire.request(seq, "COM", args, auth))
    return out


def simulate(
    prog_b: bytes, key: bytes, t0_s: int, *, days: int, refill_days: int, fill_nl: int
) -> "dict[str, Any]":
    p = pg.decode(prog_b)
    conc = p.conc_ng_per_ul
    clock = BenchClock(t0_s)
    rig = Rig(key, clock, None)
    link = Link(rig, key)
    t_load = _now_us()
    for f in load_frames(prog_b, "rf=" + str(fill_nl) + "," + str(conc) + ",0", 1, key):
        r = parse(rig.feed(f))
        if not r.ok:
            raise RuntimeError("load refused: " + r.name + " " + repr(r.fields))
    link.seq = 1 + (len(prog_b) + wire.CHUNK - 1) // wire.CHUNK
    load_us = _elapsed_us(t_load)
    segments = []  # (t_start, t_end, delivered_ng over the fill)
    seg_start = t0_s
    alarms = 0
    t_run = _now_us()
    for day in range(1, days + 1):
        clock.advance(DAY_S)
        st = rig.status()
        if st.state != "running" or st.alarm != "none":
            alarms += 1
        if day % refill_days == 0 and day < days:
            segments.append((seg_start, st.t_s, st.delivered_ng))
            link.send("RF", [str(fill_nl), str(conc), str(st.reservoir_nl)], True)
            seg_start = st.t_s
    st = rig.status()
    segments.append((seg_start, st.t_s, st.delivered_ng))
    run_us = _elapsed_us(t_run)
    return {
        "segments": segments,
        "delivered_ng": sum([s[2] for s in segments]),
        "load_us": load_us,
        "run_us": run_us,
        "alarms": alarms,
        "state": st.state,
        "t_end_s": st.t_s,
        "frames": link.seq,
    }
