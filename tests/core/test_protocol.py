# Frame codec, CRC, parser and the documented exchange (docs/protocol.md), byte for byte.
# REQ: wire protocol v1; ITB-DIS-01 (STP needs confirmation) via the example

import hashlib

try:
    import hmac
except ImportError:  # the unix port's standard variant has no hmac: an RFC 2104 one (tests/mp)
    from tests.mp import hmac2104 as hmac  # type: ignore[no-redef]

from firmware_py import program as pg
from firmware_py import protocol as wire
from firmware_py.auth import Auth, Session, to_hex
from firmware_py.clock import BenchClock
from firmware_py.rig import Rig
from firmware_py.schedule import Schedule
from tests.core.support import CONFIG, raises

KEY = bytes(range(32))  # the documented test key 000102...1f
T0 = 1_767_225_600  # 2026-01-01 00:00
SID = "101112131415161718191a1b1c1d1e1f"  # the documented session challenge
SES = Session(Auth(KEY), SID)


_CALLS = [0]


def doc_random(n: int) -> bytes:
    # The documented example's random source: the challenge 10 11 ... 1f, then 20 21 ... 2f.
    _CALLS[0] += 1
    return bytes([0x10 * _CALLS[0] + i for i in range(n)])


def test_crc_known_vectors() -> None:
    assert wire.crc16(b"123456789") == 0x29B1
    assert wire.crc16(b"") == 0xFFFF
    assert wire.crc16(b"A") == 0xB915
    assert wire.crc_hex(b"123456789") == "29B1"


def test_frame_bytes_exact() -> None:
    assert wire.frame(wire.HOST_START, "1 ID") == b">1 ID*" + wire.crc_hex(b"1 ID").encode() + b"\n"
    body = "7 STG 0 abc"
    f = wire.request(7, "STG", ["0", "abc"], SES)
    # The MAC covers the session challenge: HMAC-SHA256(key, SID " " body), first 16 bytes.
    mac = to_hex(hmac.new(KEY, (SID + " " + body).encode(), hashlib.sha256).digest())[:32]
    signed = body + " @" + mac
    assert f == (">" + signed + "*" + wire.crc_hex(signed.encode()) + "\n").encode()
    r = wire.parse_request(f[1:-1])
    assert (r.seq, r.cmd, r.args, r.mac, r.signed) == (7, "STG", ["0", "abc"], mac, body)


def _code(line: bytes) -> str:
    exc = raises(wire.FrameError, wire.parse_request, line)
    return exc.reason_code  # type: ignore[attr-defined, no-any-return]


def _line(body: str) -> bytes:
    return (body + "*" + wire.crc_hex(body.encode())).encode()


def test_parse_errors_have_reason_codes() -> None:
    assert _code(b"1 ID*0000") == wire.CRC
    assert _code(b"1 ID*19c6") == wire.FORMAT  # lower-case CRC digits
    assert _code(b"1 ID") == wire.FORMAT
    assert _code(_line("1  ID")) == wire.FORMAT
    assert _code(_line("01 ID")) == wire.FORMAT
    assert _code(_line("0 ID")) == wire.FORMAT
    assert _code(_line("2147483648 ID")) == wire.FORMAT
    assert _code(_line("1 ID\x01")) == wire.FORMAT
    assert _code(_line("1 XYZ")) == wire.COMMAND
    assert _code(_line("1 ST extra")) == wire.ARG
    assert _code(_line("1 STG 0 a @" + "A" * 32)) == wire.FORMAT
    assert _code(_line("1 STG 0 a @" + "a" * 64)) == wire.FORMAT
    assert _code(b"x" * 700) == wire.LENGTH
    ok = wire.parse_request(_line("2147483647 ST"))
    assert ok.seq == wire.SEQ_MAX and ok.mac is None


def test_parser_garbage_split_and_restart() -> None:
    f1 = wire.frame(wire.HOST_START, "1 ID")
    f2 = wire.frame(wire.HOST_START, "2 ST")
    p = wire.FrameParser()
    out = []
    for b in b"\x00garbage<1 ACK\n" + f1[:3] + b">" + f1[1:] + f2:
        out += p.feed(bytes([b]))
    assert out == [f1[1:-1], f2[1:-1]]
    assert p.feed(b">1 ID*19C6\r\n") == [b"1 ID*19C6"]


def test_parser_oversize_is_capped_and_reported_once() -> None:
    p = wire.FrameParser()
    out = p.feed(b">" + b"a" * 639)
    assert out == [] and p.pending() == 639
    out = p.feed(b"b" * 5000)
    assert out == [None] and p.pending() == 0
    got = p.feed(b"c" * 100 + b"\n" + wire.frame(wire.HOST_START, "3 ST"))
    assert got == [b"3 ST*" + wire.crc_hex(b"3 ST").encode()]
    # exactly 640 bytes is a frame; 641 is not
    body = "1 RB " + "0" * (640 - 7 - 5)
    f = wire.frame(wire.HOST_START, body)
    assert len(f) == 640 and wire.FrameParser().feed(f) == [f[1:-1]]
    assert wire.FrameParser().feed(f[:-1] + b"00\n") == [None]


def test_reply_roundtrip() -> None:
    r = wire.reply(5, "NAK", wire.SEQ, [("expected", 6)])
    assert r == b"<5 NAK SEQ expected=6*" + wire.crc_hex(b"5 NAK SEQ expected=6").encode() + b"\n"
    rep = wire.parse_reply(r[1:-1])
    assert (rep.seq, rep.ok, rep.name, rep.fields) == (5, False, "SEQ", {"expected": "6"})
    raises(wire.FrameError, wire.parse_reply, _line("5 NAK SEQ a=1 a=2"))


def test_chunk_fits_worst_case_frame() -> None:
    data = "x" * wire.CHUNK
    f = wire.request(wire.SEQ_MAX, "STG", ["3999", data], SES)
    assert len(f) == wire.MAX_FRAME
    big = wire.request(wire.SEQ_MAX, "STG", ["3999", data + "x"], SES)
    assert wire.FrameParser().feed(big) == [None]


# ---------------------------------------------------------------------------------------------
# The documented exchange


def example_program() -> bytes:
    p = pg.Program(conc_ng_per_ul=500, origin="spinal", age_years=40, pump_kind="programmable",
                   reservoir_nl=20_000_000, alarm_nl=2_000_000, min_step_s=1800, internal_nl=200_000,
                   catheter_mm=500, phase="transfer", previous_ng_per_day=100_000, reason="bench",
                   base_dose_ng_per_day=100_000, schedule=Schedule(86400, [(0, 100_000), (72000, 120_000)]),
                   label="example")
    return pg.encode(p)


def example_exchange() -> str:
    _CALLS[0] = 0
    rig = Rig(KEY, BenchClock(T0), None, CONFIG, doc_random)
    b = example_program()
    stale = Session(Auth(KEY), "202122232425262728292a2b2c2d2e2f")
    frames = [
        wire.request(1, "ID", []),
        wire.request(1, "SES", []),
        wire.request(1, "STG", ["0", b.decode()], SES),
        wire.request(2, "COM", [str(len(b)), pg.checksum(b)[: wire.SHA_LEN], "rf=20000000,500,0"], SES),
        wire.request(3, "RB", ["0"]),
        wire.request(2, "STG", ["0", "x"], SES),  # a replayed counter
        wire.request(3, "STP", ["STOP", "0123456789abcdef"], SES),
        wire.request(9, "ADV", ["60"], stale),  # a MAC of another session
        wire.request(4, "ST", []),
    ]
    out = []
    for f in frames:
        out.append(f.decode().rstrip("\n"))
        out.append(rig.feed(f).decode().rstrip("\n"))
    return "\n".join(out) + "\n"


def test_doc_example_matches_codec() -> None:
    text = example_exchange()
    lines = text.split("\n")
    assert lines[1].startswith("<1 ACK ID fw=")
    assert lines[3].startswith("<1 ACK SES sid=" + SID + " ")
    assert lines[7].startswith("<2 ACK COM prog=" + pg.short_id(example_program()))
    assert "data=" + example_program().decode() + "*" in lines[9]
    assert lines[11].startswith("<2 NAK SEQ expected=3*")
    assert lines[13].startswith("<3 NAK CONFIRM ")
    assert lines[15].startswith("<9 NAK AUTH*")
    try:
        with open("docs/protocol.md") as f:
            doc = f.read()
    except OSError:
        # MicroPython: the docs are not in its filesystem; the CPython run checks the file, and both runs
        # check the same digest of the generated exchange.
        doc = None
    digest = to_hex(hashlib.sha256(text.encode()).digest())
    if doc is not None:
        start = doc.index("```text\n", doc.index("## Exchange example")) + 8
        block = doc[start : doc.index("```", start)]
        assert block == text
        marker = "sha256 of the block: "
        i = doc.index(marker) + len(marker)
        assert doc[i : i + 64] == digest
    else:
        assert digest == DOC_DIGEST


DOC_DIGEST = "47b9cdc122a9aed01c36582988c19d6daa406823cef92d959d839c837b9abf94"
