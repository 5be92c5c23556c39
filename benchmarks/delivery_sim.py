# A time-stepped run on the rig: open a session, load a program through signed frames, then advance the
# bench clock a day at a time with `ADV 86400 3600` (24 hourly readings per frame, as
# `itb bench --batch 24` asks for them) and refill every `refill_days` days. Runs unchanged on CPython and
# on MicroPython (the benchmarks copy this file into the WebAssembly port's file system), so it uses only
# what both have.

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth, Session
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
HOUR_S = 3_600
ZERO_SID = "0" * 32  # the session challenge of a rig whose random source gives zero bytes


def zero_random(n: int) -> bytes:
    # A deterministic random source, so the host's frames can be made ahead of time (benchmarks only).
    return bytes(n)


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
        self.session = None  # type: Session | None
        self.seq = 0
        self.frames = 0

    def send(self, cmd: str, args: list[str], signed: bool) -> wire.Reply:
        self.seq += 1
        self.frames += 1
        if signed and self.session is None:
            self.session = Session(self.auth, self.send("SES", [], False).fields["sid"])
        frame = wire.request(self.seq, cmd, args, self.session if signed else None)
        r = parse(self.rig.feed(frame))
        if not r.ok:
            raise RuntimeError(cmd + " refused: " + r.name + " " + repr(r.fields))
        return r


def load_frames(
    prog_b: bytes, rf: str | None, first_seq: int, key: bytes, sid: str = ZERO_SID
) -> list[bytes]:
    # The host's frames to open a session, stage and commit prog_b (rf: "rf=added,conc,residual" or None),
    # for a rig whose session challenge is `sid`.
    ses = Session(Auth(key), sid)
    out = [wire.request(first_seq, "SES", [])]
    seq = first_seq + 1
    off = 0
    while off < len(prog_b):
        chunk = prog_b[off : off + wire.CHUNK]
        out.append(wire.request(seq, "STG", [str(off), chunk.decode()], ses))
        seq += 1
        off += len(chunk)
    args = [str(len(prog_b)), pg.checksum(prog_b)[: wire.SHA_LEN]]
    if rf is not None:
        args.append(rf)
    out.append(wire.request(seq, "COM", args, ses))
    return out


def readings(text: str) -> "list[tuple[int, int]]":
    # The d= field of an ADV reply: "<ng>:<nl>[L][E]," per interval -> [(ng, nl)].
    out = []
    for item in text.split(","):
        ng, nl = item.split(":")
        out.append((int(ng), int(nl.rstrip("LE"))))
    return out


def simulate(
    prog_b: bytes, key: bytes, t0_s: int, *, days: int, refill_days: int, fill_nl: int
) -> "dict[str, Any]":
    # Returns the hourly readings [(ng, nl)] in order, the fills (t_start, t_end, del_ng, del_nl), and times.
    conc = pg.decode(prog_b).conc_ng_per_ul
    rig = Rig(key, BenchClock(t0_s), None, None, zero_random)
    link = Link(rig, key)
    t_load = _now_us()
    frames = load_frames(prog_b, "rf=" + str(fill_nl) + "," + str(conc) + ",0", 1, key)
    for f in frames:
        parse(rig.feed(f))
    link.seq = len(frames)
    link.session = Session(link.auth, ZERO_SID)
    load_us = _elapsed_us(t_load)
    hourly = []
    fills = []  # (t_start, t_end, delivered_ng, delivered_nl) over each fill, from ST
    seg_start = t0_s
    t_run = _now_us()
    for day in range(1, days + 1):
        hourly.extend(readings(link.send("ADV", [str(DAY_S), str(HOUR_S)], True).fields["d"]))
        if day % refill_days == 0 and day < days:
            st = rig.status()
            fills.append((seg_start, st.t_s, st.delivered_ng, st.delivered_nl))
            link.send("RF", [str(fill_nl), str(conc), str(st.reservoir_nl)], True)
            seg_start = st.t_s
    st = rig.status()
    fills.append((seg_start, st.t_s, st.delivered_ng, st.delivered_nl))
    run_us = _elapsed_us(t_run)
    return {
        "hourly": hourly,
        "fills": fills,
        "load_us": load_us,
        "run_us": run_us,
        "state": st.state,
        "alarm": st.alarm,
        "t_end_s": st.t_s,
        "frames": link.frames + len(frames),
    }
