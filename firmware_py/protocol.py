# Wire protocol version 2 (docs/protocol.md): frames, CRC-16/CCITT-FALSE, the command table, the status
# field table, NAK reasons.
#
#   host -> rig  ">" BODY "*" CRC "\n"        rig -> host  "<" BODY "*" CRC "\n"
#   BODY = SEQ " " CMD *(" " ARG) [" @" MAC]
#   MAC = 32 lower-case hex digits: the first 16 bytes of HMAC-SHA256(key, SID " " BODY-before-" @"), where
#   SID is the session's 32-hex-digit challenge from "SES" (firmware_py/auth.py).
#
# Nothing here touches a port: FrameParser is fed bytes and returns complete lines; parse_request and
# parse_reply turn a line into fields or raise FrameError with the NAK reason code.

from firmware_py.errors import ProtocolError

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from firmware_py.auth import Signer

PROTO_VERSION = 2
MAX_FRAME = 640  # bytes, start char to "\n" inclusive
MAX_BODY = MAX_FRAME - 7  # start char, "*", 4 CRC digits, "\n"
MAC_LEN = 32
SHA_LEN = 32  # hex digits of the program's SHA-256 that COM names
SEQ_MAX = 2_147_483_647
STAGE_MAX = 4_000  # staging buffer capacity, bytes (offsets have at most 4 digits)
# STG data bytes that always fit one frame (10-digit SEQ, 4-digit offset, MAC); see docs/protocol.md.
CHUNK = MAX_BODY - 10 - 4 - 8 - MAC_LEN  # "SEQ STG OFFSET DATA @MAC": 8 = " STG ", " ", " @"
HOST_START = 0x3E  # ">"
RIG_START = 0x3C  # "<"

# NAK reason codes
CRC = "CRC"
FORMAT = "FORMAT"
LENGTH = "LENGTH"
COMMAND = "COMMAND"
SESSION = "SESSION"
SEQ = "SEQ"
AUTH = "AUTH"
ARG = "ARG"
ORDER = "ORDER"
INCOMPLETE = "INCOMPLETE"
CHECKSUM = "CHECKSUM"
PROGRAM = "PROGRAM"
LIMIT = "LIMIT"
CONC = "CONC"
TITRATION = "TITRATION"
OVERRIDE = "OVERRIDE"
STATE = "STATE"
CONFIRM = "CONFIRM"
STORE = "STORE"
MEMORY = "MEMORY"
REASONS = (CRC, FORMAT, LENGTH, COMMAND, SESSION, SEQ, AUTH, ARG, ORDER, INCOMPLETE, CHECKSUM, PROGRAM, LIMIT,
           CONC, TITRATION, OVERRIDE, STATE, CONFIRM, STORE, MEMORY)

# Command table: name -> (needs MAC, min args, max args). Read-only commands need no MAC and no session.
COMMANDS = {
    "ID": (False, 0, 0),
    "ST": (False, 0, 0),
    "RB": (False, 0, 2),
    "LG": (False, 0, 1),
    "RJ": (False, 0, 0),
    "HIS": (False, 0, 1),
    "SES": (False, 0, 0),
    "STG": (True, 2, 2),
    "COM": (True, 2, 3),
    "RF": (True, 3, 3),
    "ADV": (True, 1, 2),
    "STP": (True, 2, 2),
    "BOL": (True, 2, 2),
}
CAPS = ("ID", "ST", "RB", "LG", "RJ", "HIS", "SES", "STG", "COM", "RF", "STP", "BOL", "ADV")

# ST reply fields, in wire order: (key, attribute of the rig's and the client's status, is an int). An int
# field may be "none" where it does not apply. Units: docs/protocol.md.
STATUS_FIELDS = (
    ("state", "state", False), ("t", "t_s", True), ("prog", "prog", False), ("res_nl", "reservoir_nl", True),
    ("conc", "conc_ng_per_ul", True), ("rate", "rate_ng_per_day", True), ("del_ng", "delivered_ng", True),
    ("del_nl", "delivered_nl", True), ("alarm", "alarm", False), ("t_alarm", "t_alarm_s", True),
    ("t_empty", "t_empty_s", True), ("bolus_nl", "bolus_nl", True), ("staged", "staged", True),
    ("t_com", "t_com_s", True), ("events", "events", True), ("chk", "chk", False),
)  # fmt: skip

_HEXU = "0123456789ABCDEF"
_HEXL = "0123456789abcdef"


def _crc_nibbles() -> tuple[int, ...]:
    out = []
    for i in range(16):
        c = i << 12
        for _ in range(4):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
        out.append(c)
    return tuple(out)


_CRC_T = _crc_nibbles()


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    # CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no xor-out. crc16(b"123456789") == 0x29B1.
    t = _CRC_T
    for b in data:
        crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b >> 4)]
        crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b & 15)]
    return crc


def crc_hex(data: bytes) -> str:
    c = crc16(data)
    return _HEXU[c >> 12] + _HEXU[(c >> 8) & 15] + _HEXU[(c >> 4) & 15] + _HEXU[c & 15]


class FrameError(ProtocolError):
    # A frame refused before its command ran; seq is the request's SEQ (0 when unreadable).
    def __init__(self, code: str, seq: int, field: str, value: object, reason: str) -> None:
        super().__init__(field, value, reason, code)
        self.seq = seq


def uint(field: str, text: str, low: int, high: int, code: str = ARG, *, seq: int = 0) -> int:
    # Strict decimal: digits only, no sign, no leading zero, at most 10 digits, low <= value <= high.
    if not text or len(text) > 10 or not text.isdigit() or (text[0] == "0" and len(text) > 1):
        raise FrameError(code, seq, field, text, "must be a decimal integer without sign or leading zeros")
    v = int(text)
    if v < low or v > high:
        raise FrameError(code, seq, field, v, "must be between " + str(low) + " and " + str(high))
    return v


def _body_ok(body: bytes) -> bool:
    # printable ASCII except "*" (0x2A), "<" (0x3C), ">" (0x3E)
    return all(0x20 <= b <= 0x7E and b not in (0x2A, 0x3C, 0x3E) for b in body)


def _check_line(line: bytes) -> str:
    # line = BODY "*" CRC (start char and "\n" already removed) -> BODY text, or FrameError.
    n = len(line)
    if n + 2 > MAX_FRAME:
        raise FrameError(LENGTH, 0, "frame", n + 2, "is longer than " + str(MAX_FRAME) + " bytes")
    if n < 6 or line[n - 5] != 0x2A:
        raise FrameError(FORMAT, 0, "frame", n, "must end in '*' and 4 CRC hex digits")
    body = line[: n - 5]
    crc = line[n - 4 :]
    if not _body_ok(body) or any(c not in b"0123456789ABCDEF" for c in crc):
        raise FrameError(FORMAT, 0, "frame", n, "holds a byte outside printable ASCII or a misplaced *<>")
    if crc_hex(body).encode() != crc:
        raise FrameError(CRC, 0, "crc", crc.decode(), "does not match the body")
    return body.decode()


class Request:
    # A checked host frame. signed is the text the MAC covers (BODY before " @"); mac is None when absent.
    __slots__ = ("args", "cmd", "mac", "seq", "signed")

    def __init__(self, seq: int, cmd: str, args: list[str], mac: str | None, signed: str) -> None:
        self.seq = seq
        self.cmd = cmd
        self.args = args
        self.mac = mac
        self.signed = signed

    def __repr__(self) -> str:
        return "Request(" + str(self.seq) + " " + self.cmd + " " + " ".join(self.args) + ")"


def parse_request(line: bytes) -> Request:
    # Check CRC and syntax, split SEQ, CMD, ARGs and the MAC. Authentication and SEQ order are the rig's.
    body = _check_line(line)
    toks = body.split(" ")
    seq = 0
    if toks[0].isdigit() and len(toks[0]) <= 10:
        seq = int(toks[0])
    uint("seq", toks[0], 1, SEQ_MAX, FORMAT)
    if "" in toks or len(toks) < 2:
        raise FrameError(FORMAT, seq, "body", len(toks), "must be SEQ CMD [ARG ...] with single spaces")
    mac = None
    signed = body
    last = toks[-1]
    if last[0] == "@":
        if len(last) != MAC_LEN + 1 or any(c not in _HEXL for c in last[1:]):
            raise FrameError(FORMAT, seq, "mac", len(last) - 1, "must be @ and " + str(MAC_LEN)
                             + " lower-case hex digits")
        mac = last[1:]
        signed = body[: -(MAC_LEN + 2)]
        toks.pop()
        if len(toks) < 2:
            raise FrameError(FORMAT, seq, "body", len(toks), "must be SEQ CMD [ARG ...] before the MAC")
    cmd = toks[1]
    spec = COMMANDS.get(cmd)
    if spec is None:
        raise FrameError(
            COMMAND, seq, "command", cmd[:8], "is not a command of protocol " + str(PROTO_VERSION)
        )
    nargs = len(toks) - 2
    if nargs < spec[1] or nargs > spec[2]:
        raise FrameError(ARG, seq, "arguments", nargs, cmd + " takes " + str(spec[1]) + ".." + str(spec[2]))
    return Request(seq, cmd, toks[2:], mac, signed)


def frame(start: int, body: str) -> bytes:
    b = body.encode()
    return bytes([start]) + b + b"*" + crc_hex(b).encode() + b"\n"


def request(seq: int, cmd: str, args: list[str], signer: "Signer | None" = None) -> bytes:
    # A host frame; with a signer (a session), the MAC over "SEQ CMD ARGS" is appended as " @<hex>".
    body = str(seq) + " " + cmd
    if args:
        body += " " + " ".join(args)
    if signer is not None:
        body += " @" + signer.mac(body.encode())
    return frame(HOST_START, body)


def reply(seq: int, kind: str, name: str, pairs: list[tuple[str, object]]) -> bytes:
    # "<SEQ ACK CMD k=v ..." or "<SEQ NAK REASON k=v ...". pairs is a list: its order is the wire order.
    parts = [str(seq), kind, name]
    for k, v in pairs:
        parts.append(k + "=" + str(v))
    return frame(RIG_START, " ".join(parts))


class Reply:
    # A checked rig frame: seq, ok (ACK) or not (NAK), name (command or reason code), fields k -> v.
    __slots__ = ("fields", "name", "ok", "seq")

    def __init__(self, seq: int, ok: bool, name: str, fields: dict[str, str]) -> None:
        self.seq = seq
        self.ok = ok
        self.name = name
        self.fields = fields

    def __repr__(self) -> str:
        return "Reply(" + str(self.seq) + (" ACK " if self.ok else " NAK ") + self.name + ")"


def parse_reply(line: bytes) -> Reply:
    body = _check_line(line)
    toks = body.split(" ")
    if len(toks) < 3 or toks[1] not in ("ACK", "NAK") or "" in toks:
        raise FrameError(FORMAT, 0, "reply", body[:16], "must be SEQ ACK|NAK NAME [k=v ...]")
    seq = uint("seq", toks[0], 0, SEQ_MAX, FORMAT)
    fields = {}
    for t in toks[3:]:
        i = t.find("=")
        if i <= 0 or t[:i] in fields:
            raise FrameError(FORMAT, seq, "field", t[:16], "must be a unique k=v")
        fields[t[:i]] = t[i + 1 :]
    return Reply(seq, toks[1] == "ACK", toks[2], fields)


class FrameParser:
    # Fed bytes from any source; returns complete lines (BODY "*" CRC, without the start char, "\n" and an
    # optional "\r") and None for each frame dropped for length (answer it with NAK LENGTH). Bytes before a
    # start char are dropped; a start char inside a frame drops the partial frame and starts a new one.
    # The buffer never holds more than MAX_FRAME bytes.
    __slots__ = ("_buf", "_in", "_over", "_start")

    def __init__(self, start: int = HOST_START) -> None:
        self._start = bytes([start])
        self._buf = bytearray()
        self._in = False
        self._over = False

    def reset(self) -> None:
        self._buf = bytearray()
        self._in = False
        self._over = False

    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        i = 0
        n = len(data)
        start = self._start
        while i < n:
            if not self._in:
                j = data.find(start, i)
                if j < 0:
                    break
                self._in = True
                self._over = False
                self._buf = bytearray()
                i = j + 1
                continue
            nl = data.find(b"\n", i)
            end = n if nl < 0 else nl
            j = data.find(start, i, end)
            if j >= 0:
                self._buf = bytearray()
                self._over = False
                i = j + 1
                continue
            if not self._over:
                if len(self._buf) + end - i > MAX_FRAME - 1:
                    self._over = True
                    self._buf = bytearray()
                    out.append(None)
                else:
                    self._buf.extend(data[i:end])
            if nl < 0:
                break
            self._in = False
            if not self._over:
                line = bytes(self._buf)
                if line[-1:] == b"\r":
                    line = line[:-1]
                out.append(line if len(line) <= MAX_FRAME - 2 else None)
            self._buf = bytearray()
            self._over = False
            i = nl + 1
        return out
