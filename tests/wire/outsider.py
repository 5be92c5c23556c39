"""An outsider's minimal client for the itb rig, written from ``docs/protocol.md`` alone.

Nothing here comes from the project's protocol, authentication or program code: the CRC, the frame
syntax, the HMAC signature, the counter, the percent-encoding and the program encoding are all
re-implemented from the text of the document (sections named in the comments), with only the standard
library and pyserial.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

MAX_FRAME = 640  # section 1: a frame, start character to "\n" inclusive
MAX_SEQ = 2_147_483_647  # section 1
MAC_HEX = 32  # section 2: first 16 bytes of HMAC-SHA256 as lower-case hex
SIGNED = frozenset({"STG", "COM", "RF", "ADV", "STP", "BOL"})  # section 2
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~")  # section 7
PROGRAM_KEYS = (  # section 7, in this order, each once
    "drug", "conc", "origin", "age", "pump", "res", "alarm", "minstep", "internal", "cath", "phase",
    "scr", "eff", "prev", "why", "base", "period", "steps", "ovr", "label",
)


class OutsiderError(Exception):
    """A reply that breaks the document's rules, or no reply at all."""


# --- section 1: CRC and frames -------------------------------------------------------------------------


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def body_allowed(body: bytes) -> bool:
    return all(0x20 <= b <= 0x7E and b not in b"*<>" for b in body)


def frame(body: str, start: str = ">") -> bytes:
    """``>`` BODY ``*`` CRC ``\\n`` (host to rig) or ``<`` ... (rig to host)."""
    raw = body.encode("ascii")
    if not body_allowed(raw):
        raise ValueError(f"byte outside 0x20-0x7E or one of *<> in {body!r}")
    out = start.encode() + raw + b"*" + f"{crc16(raw):04X}".encode() + b"\n"
    if len(out) > MAX_FRAME:
        raise ValueError(f"frame of {len(out)} bytes > {MAX_FRAME}")
    return out


def unframe(line: bytes, start: str = "<") -> str:
    """The BODY of one frame, after checking start character, CRC and allowed bytes."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line.startswith(start.encode()) or len(line) < 6 or line[-5:-4] != b"*":
        raise OutsiderError(f"not a frame: {line!r}")
    body, crc_hex = line[1:-5], line[-4:]
    if not body_allowed(body):
        raise OutsiderError(f"bad bytes in {line!r}")
    if crc_hex.decode("ascii") != f"{crc16(body):04X}":
        raise OutsiderError(f"CRC of {line!r}: want {crc16(body):04X}")
    return body.decode("ascii")


# --- section 2: MAC ------------------------------------------------------------------------------------


def mac(key: bytes, sid: str, body: str) -> str:
    """First 16 bytes (32 lower-case hex digits) of HMAC-SHA256(key, SID + " " + BODY-before-" @")."""
    return hmac.new(key, f"{sid} {body}".encode("ascii"), hashlib.sha256).hexdigest()[:MAC_HEX]


def signed_body(key: bytes, sid: str, body: str) -> str:
    return f"{body} @{mac(key, sid, body)}"


def read_key_hex(text: str) -> bytes:
    """Section 2, key file: hex, either case, whitespace and line breaks ignored, 16 to 64 bytes."""
    digits = "".join(text.split())
    if not 32 <= len(digits) <= 128 or len(digits) % 2:
        raise ValueError("a key is 32 to 128 hex digits")
    return bytes.fromhex(digits)


# --- section 4: replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    seq: int
    ok: bool
    word: str  # the command for ACK, the reason code for NAK
    fields: dict[str, str]
    order: tuple[str, ...]  # the keys in the order the rig sent them

    def __getitem__(self, key: str) -> str:
        return self.fields[key]

    def int(self, key: str) -> int:
        return int(self.fields[key])

    def text(self) -> str:
        return f"{'ACK' if self.ok else 'NAK'} {self.word} " + " ".join(
            f"{k}={v}" for k, v in self.fields.items()
        )


def parse_reply(line: bytes) -> Reply:
    tokens = unframe(line).split(" ")
    if len(tokens) < 3 or tokens[1] not in ("ACK", "NAK"):
        raise OutsiderError(f"not a reply: {line!r}")
    fields: dict[str, str] = {}
    for token in tokens[3:]:
        key, eq, value = token.partition("=")
        if not eq or key in fields:
            raise OutsiderError(f"bad field {token!r} in {line!r}")
        fields[key] = pct_decode(value) if key == "msg" else value
    return Reply(int(tokens[0]), tokens[1] == "ACK", tokens[2], fields, tuple(fields))


# --- section 7: percent-encoding and the program ------------------------------------------------------


def pct_encode(text: str) -> str:
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def _control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


def pct_decode(text: str) -> str:
    """Accepts only the canonical form; refuses control characters once decoded."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            hexpart = text[i + 1 : i + 3]
            if len(hexpart) != 2 or any(c not in "0123456789ABCDEF" for c in hexpart):
                raise ValueError(f"non-canonical escape at {i} in {text!r}")
            byte = int(hexpart, 16)
            if byte in UNRESERVED:
                raise ValueError(f"%{hexpart} escapes an unreserved character in {text!r}")
            out.append(byte)
            i += 3
        elif ord(ch) in UNRESERVED:
            out.append(ord(ch))
            i += 1
        else:
            raise ValueError(f"{ch!r} must be escaped in {text!r}")
    decoded = out.decode("utf-8")  # raises on invalid UTF-8
    if any(_control(c) for c in decoded):
        raise ValueError(f"control character in {decoded!r}")
    return decoded


def canonical_int(value: int) -> str:
    if value < 0 or len(str(value)) > 15:
        raise ValueError(f"{value} is not a 0..15-digit integer")
    return str(value)


@dataclass(frozen=True)
class Program:
    """Section 7. Rates ng/day, volumes nL, times s, ``conc`` ng/uL."""

    steps: tuple[tuple[int, int], ...]
    conc: int = 500
    origin: str = "spinal"
    age: int = 40
    pump: str = "programmable"
    res: int = 20_000_000
    alarm: int = 2_000_000
    minstep: int = 1800
    internal: int = 200_000
    cath: int = 500
    phase: str = "transfer"
    scr: int = 0
    eff: int = 0
    prev: int = 0
    why: str = ""
    base: int = 0
    period: int = 86_400
    ovr: tuple[tuple[str, str], ...] = ()
    label: str = ""
    drug: str = "baclofen"

    def values(self) -> dict[str, str]:
        steps = ",".join(f"{canonical_int(s)}:{canonical_int(r)}" for s, r in self.steps)
        ovr = "|".join(f"{rule}:{pct_encode(reason)}" for rule, reason in self.ovr)
        base = self.base or self.steps[0][1]
        return {
            "drug": self.drug, "conc": canonical_int(self.conc), "origin": self.origin,
            "age": canonical_int(self.age), "pump": self.pump, "res": canonical_int(self.res),
            "alarm": canonical_int(self.alarm), "minstep": canonical_int(self.minstep),
            "internal": canonical_int(self.internal), "cath": canonical_int(self.cath),
            "phase": self.phase, "scr": canonical_int(self.scr), "eff": canonical_int(self.eff),
            "prev": canonical_int(self.prev), "why": pct_encode(self.why), "base": canonical_int(base),
            "period": canonical_int(self.period), "steps": steps, "ovr": ovr,
            "label": pct_encode(self.label),
        }

    def encode(self) -> bytes:
        values = self.values()
        text = "ITB2" + "".join(f";{k}={values[k]}" for k in PROGRAM_KEYS)
        data = text.encode("ascii")
        if len(data) > 2048 or not body_allowed(data) or b" " in data:
            raise ValueError("a program encoding is at most 2048 printable bytes without space * < >")
        return data

    def daily_dose_ng(self) -> float:
        """ng per period of the schedule (section 7: a step lasts until the next start, the last wraps)."""
        total = 0
        for i, (start, rate) in enumerate(self.steps):
            end = self.steps[i + 1][0] if i + 1 < len(self.steps) else self.period
            total += rate * (end - start)
        return total / 86_400


def decode_program(data: bytes) -> dict[str, str]:
    """The key=value pairs of an encoding, in order; text values decoded."""
    text = data.decode("ascii")
    head, *pairs = text.split(";")
    if head != "ITB2":
        raise ValueError("a program starts with ITB2")
    out: dict[str, str] = {}
    for pair, want in zip(pairs, PROGRAM_KEYS):
        key, eq, value = pair.partition("=")
        if not eq or key != want:
            raise ValueError(f"key {key!r} where {want!r} belongs")
        out[key] = pct_decode(value) if key in ("why", "label") else value
    if len(pairs) != len(PROGRAM_KEYS):
        raise ValueError("a program has every key once")
    return out


def program_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def program_sha(data: bytes) -> str:
    """``COM``'s checksum: the first 32 hex digits of the SHA-256 (lower case, as in the example)."""
    return hashlib.sha256(data).hexdigest()[:32]


def canonical_steps(steps: Sequence[tuple[int, int]], period: int, minstep: int) -> bool:
    """Section 7's schedule rules, as far as the document states them."""
    if not steps or steps[0][0] < 0:
        return False
    starts = [s for s, _ in steps]
    if any(b <= a for a, b in itertools.pairwise(starts)) or starts[-1] >= period:
        return False
    if any(s % 60 or r <= 0 for s, r in steps):
        return False
    if len(steps) == 1:
        return steps[0][0] == 0
    rates = [r for _, r in steps]
    if any(a == b for a, b in itertools.pairwise(rates)) or rates[-1] == rates[0]:
        return False
    lengths = [b - a for a, b in itertools.pairwise(starts)] + [period - starts[-1] + starts[0]]
    return all(n >= minstep for n in lengths)


# --- section 5: the ADV readings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    ng: int
    nl: int
    low: bool
    empty: bool


def parse_readings(d: str) -> list[Reading]:
    out = []
    for item in d.split(","):
        ng, _, rest = item.partition(":")
        digits = rest.rstrip("LE")
        flags = rest[len(digits) :]
        if flags not in ("", "L", "E", "LE"):
            raise OutsiderError(f"bad reading {item!r}")
        out.append(Reading(int(ng), int(digits), "L" in flags, "E" in flags))
    return out


# --- the client ----------------------------------------------------------------------------------------


class Port(Protocol):
    """What the client needs of a pyserial port."""

    def write(self, data: bytes, /) -> int | None: ...
    def readline(self, size: int = -1, /) -> bytes: ...
    def reset_input_buffer(self) -> None: ...


@dataclass
class Client:
    port: Port
    key: bytes
    tries: int = 3
    sid: str | None = None
    seq: int = 1
    sent: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    # transport
    def open(self, settle: float = 0.2) -> None:
        """Section 8: a host that opens the port first sends a newline, then reads what that brought back."""
        self.port.write(b"\n")
        time.sleep(settle)  # a reply to a completed partial frame, if any, then drop it
        self.port.reset_input_buffer()

    def _exchange(self, raw: bytes, seq: int) -> Reply | None:
        self.port.write(raw)
        self.sent.append(raw)
        while True:
            line = self.port.readline()
            if not line:
                return None
            self.received.append(line)
            reply = parse_reply(line)
            if reply.seq in (seq, 0):
                return reply

    def _next_seq(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    def read(self, cmd: str, *args: object) -> Reply:
        """A read-only command: any SEQ, no MAC. Resent on silence (harmless)."""
        seq = self._next_seq()
        raw = frame(" ".join([str(seq), cmd, *map(str, args)]))
        for _ in range(self.tries):
            reply = self._exchange(raw, seq)
            if reply is not None:
                return reply
        raise OutsiderError(f"no reply to {raw!r}")

    def session(self) -> Reply:
        reply = self.read("SES")
        if not reply.ok:
            raise OutsiderError(f"SES refused: {reply.text()}")
        sid = reply["sid"]
        if len(sid) != 32 or any(c not in "0123456789abcdef" for c in sid):
            raise OutsiderError(f"sid {sid!r} is not 32 lower-case hex digits")
        self.sid = sid
        self.seq = 1  # section 2: a new session starts the whole counter space again
        return reply

    def signed(self, cmd: str, *args: object) -> Reply:
        """A program-changing command, in the session, with a fresh counter; resent unchanged on silence."""
        if self.sid is None or self.seq > MAX_SEQ:
            self.session()
        assert self.sid is not None
        seq = self._next_seq()
        raw = frame(signed_body(self.key, self.sid, " ".join([str(seq), cmd, *map(str, args)])))
        for attempt in range(self.tries):
            reply = self._exchange(raw, seq)
            if reply is None:
                continue
            if attempt and not reply.ok and reply.word == "SEQ":
                raise OutsiderError(f"{cmd} ran but its reply was lost: read ST and LG")
            return reply
        raise OutsiderError(f"no reply to {raw!r}")

    # commands
    def identify(self) -> Reply:
        return self.read("ID")

    def status(self) -> Reply:
        return self.read("ST")

    def stage(self, data: bytes, chunk: int) -> Reply:
        off = 0
        reply: Reply | None = None
        while off < len(data):
            piece = data[off : off + chunk].decode("ascii")
            reply = self.signed("STG", off, piece)
            if not reply.ok:
                return reply
            off += len(piece)
            if reply.int("staged") != off:
                raise OutsiderError(f"staged={reply['staged']} after {off} bytes")
        assert reply is not None
        return reply

    def commit(self, data: bytes, rf: tuple[int, int, int] | None = None) -> Reply:
        args: list[object] = [len(data), program_sha(data)]
        if rf is not None:
            args.append("rf=" + ",".join(map(str, rf)))
        return self.signed("COM", *args)

    def read_back(self) -> tuple[str, bytes]:
        """RB from 0 until off + len(data) = total."""
        off, out, prog = 0, bytearray(), ""
        while True:
            reply = self.read("RB", off)
            if not reply.ok:
                raise OutsiderError(f"RB: {reply.text()}")
            if reply.int("off") != off:
                raise OutsiderError(f"RB off={reply['off']} for {off}")
            prog = reply["prog"]
            out += reply["data"].encode("ascii")
            off = len(out)
            if off >= reply.int("total"):
                return prog, bytes(out)

    def read_slice(self, off: int, length: int) -> bytes:
        reply = self.read("RB", off, length)
        if not reply.ok:
            raise OutsiderError(f"RB {off} {length}: {reply.text()}")
        return reply["data"].encode("ascii")

    def advance(self, seconds: int, every: int | None = None) -> tuple[Reply, list[Reading]]:
        reply = self.signed("ADV", seconds) if every is None else self.signed("ADV", seconds, every)
        readings = parse_readings(reply["d"]) if reply.ok and every is not None else []
        return reply, readings

    def refill(self, added: int, conc: int, residual: int) -> Reply:
        return self.signed("RF", added, conc, residual)

    def stop(self, prog: str) -> Reply:
        return self.signed("STP", "CONFIRM", prog)

    def log(self, start: int = 0) -> list[str]:
        """Every kept audit entry from ``start`` (LG pages on ``next``)."""
        entries: list[str] = []
        while True:
            reply = self.read("LG", start)
            if not reply.ok:
                raise OutsiderError(f"LG: {reply.text()}")
            got = [e for e in reply.fields.get("e", "").split(";") if e and e != "none"]
            entries += got
            nxt = reply.int("next")
            if nxt >= reply.int("total") or not got:
                return entries
            start = nxt


# --- section 6/7: the schedule in time, and the forecast -----------------------------------------------


def phase_of(t: int, period: int) -> int:
    """Section 7: weekly phase 0 is Monday 00:00 (rig second 0 was a Thursday); daily is t mod 86 400."""
    return (t + 259_200) % 604_800 if period == 604_800 else t % period


def rate_at(steps: Sequence[tuple[int, int]], phase: int) -> int:
    """The step running at ``phase``: the last start not after it, or the last step wrapping around."""
    rate = steps[-1][1]
    for start, r in steps:
        if start <= phase:
            rate = r
    return rate


def _segments(steps: Sequence[tuple[int, int]], period: int, t: int) -> tuple[int, int]:
    """(rate, seconds until the next step change) at rig time ``t``."""
    phase = phase_of(t, period)
    later = [s for s, _ in steps if s > phase]
    nxt = later[0] if later else period + steps[0][0]
    return rate_at(steps, phase), nxt - phase


def delivered_ng(steps: Sequence[tuple[int, int]], period: int, t0: int, t1: int) -> Fraction:
    """Exact ng delivered over [t0, t1] by a schedule of ng/day rates."""
    total = Fraction(0)
    t = t0
    while t < t1:
        rate, left = _segments(steps, period, t)
        span = min(left, t1 - t)
        total += Fraction(rate * span, 86_400)
        t += span
    return total


def time_to_deliver_nl(
    steps: Sequence[tuple[int, int]], period: int, conc: int, t0: int, nl: int
) -> int:
    """The last whole second not after the exact instant ``nl`` nL have been delivered from ``t0``.

    Section 6: alarm and empty times are "the last whole second not after the exact instant".
    nL = ng * 1000 / conc (conc in ng/uL).
    """
    need = Fraction(nl * conc, 1000)  # in ng
    per_period = delivered_ng(steps, period, t0, t0 + period)
    whole = int(need // per_period) if per_period else 0
    t = t0 + whole * period
    need -= whole * per_period
    while True:
        rate, left = _segments(steps, period, t)
        chunk = Fraction(rate * left, 86_400)
        if chunk >= need:
            exact = t + need * 86_400 / rate
            return int(exact)  # floor, exact >= 0
        need -= chunk
        t += left
