"""An outsider's client against the rig, and against the byte-exact examples of ``docs/protocol.md``.

The codec is ``tests/wire/outsider.py``, written from the document alone. The only project import is
``VirtualRig``, to get a served rig (a pty or 127.0.0.1 TCP) and its key.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
import serial

from host_tools.virtual_rig import VirtualRig
from tests.wire import outsider as o

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DOC_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
DOC_SID_1 = bytes(range(0x10, 0x20)).hex()
DOC_SID_2 = bytes(range(0x20, 0x30)).hex()
DOC_T0 = 1_767_225_600
ID_FIELDS = ("fw", "proto", "caps", "maxframe", "chunk", "clock", "rig", "pump", "res", "internal", "cath",
             "minstep")
CAPS = ["ID", "ST", "RB", "LG", "RJ", "HIS", "SES", "STG", "COM", "RF", "STP", "BOL", "ADV"]
ST_FIELDS = ("state", "t", "prog", "res_nl", "conc", "rate", "del_ng", "del_nl", "alarm", "t_alarm",
             "t_empty", "bolus_nl", "staged", "t_com", "events", "chk")
DOC_BLOCK_SHA = "47b9cdc122a9aed01c36582988c19d6daa406823cef92d959d839c837b9abf94"


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def doc_block() -> str:
    """The exchange example's code block, each line with its ``\\n``."""
    text = doc_text().split("## Exchange example", 1)[1]
    return text.split("```text\n", 1)[1].split("```", 1)[0]


def doc_lines() -> list[bytes]:
    return [line.encode("ascii") + b"\n" for line in doc_block().splitlines()]


def doc_program_example() -> bytes:
    """Section 7's example, an inline code span broken over lines ("one line, no spaces")."""
    match = re.search(r"\*\*Example\*\*[^`]*`([^`]*)`", doc_text())
    assert match is not None
    return "".join(match.group(1).split()).encode("ascii")


def doc_program() -> o.Program:
    return o.Program(
        steps=((0, 100_000), (72_000, 120_000)), conc=500, prev=100_000, why="bench", base=100_000,
        label="example",
    )


# --- the document's examples against my codec ----------------------------------------------------------


def test_crc_check_value() -> None:
    assert f"{o.crc16(b'123456789'):04X}" == "29B1"


def test_block_is_what_its_sha256_says() -> None:
    assert hashlib.sha256(doc_block().encode("ascii")).hexdigest() == DOC_BLOCK_SHA


def test_every_example_frame_rebuilds_byte_for_byte() -> None:
    lines = doc_lines()
    assert len(lines) == 18
    for line in lines:
        start = chr(line[0])
        body = o.unframe(line, start)  # recomputes the CRC
        assert o.frame(body, start) == line
        assert len(line) <= o.MAX_FRAME


def test_every_example_mac_recomputes_from_the_key_and_challenge() -> None:
    signed = 0
    for line in doc_lines():
        if not line.startswith(b">"):
            continue
        body = o.unframe(line, ">")
        cmd = body.split(" ")[1]
        if cmd not in o.SIGNED:
            assert " @" not in body
            continue
        signed += 1
        before, _, got = body.rpartition(" @")
        # The last one is "a frame signed in another session": the second challenge, 2021...2f.
        sid = DOC_SID_2 if before == "9 ADV 60" else DOC_SID_1
        assert o.mac(DOC_KEY, sid, before) == got, before
        other = DOC_SID_1 if sid == DOC_SID_2 else DOC_SID_2
        assert o.mac(DOC_KEY, other, before) != got
    assert signed == 5


def test_example_replies_parse_and_match_the_replies_table() -> None:
    replies = [o.parse_reply(line) for line in doc_lines() if line.startswith(b"<")]
    ident, ses, stg, com, rb, nseq, ncon, nauth, st = replies
    assert ident.order == ID_FIELDS
    assert ident["caps"].split(",") == CAPS
    assert (ident.int("maxframe"), ident.int("chunk"), ident["clock"]) == (640, 579, "bench")
    assert ses["sid"] == DOC_SID_1 and ses.int("t") == DOC_T0
    assert stg.int("staged") == len(doc_program_example())
    assert com.order == ("prog", "t", "res_nl", "pocket")
    assert rb.order == ("prog", "off", "total", "data")
    assert (nseq.ok, nseq.word, nseq["expected"]) == (False, "SEQ", "3")
    assert (ncon.word, ncon["msg"]) == ("CONFIRM", "STP CONFIRM <sha16 of the active program>")
    assert (nauth.word, nauth.fields) == ("AUTH", {})
    assert st.order == ST_FIELDS
    # section 4: every reply echoes the request's SEQ
    requests = [o.unframe(line, ">") for line in doc_lines() if line.startswith(b">")]
    assert [r.seq for r in replies] == [int(b.split(" ")[0]) for b in requests]


def test_chunk_579_is_what_fits_a_frame_with_a_10_digit_seq_and_4_digit_offset() -> None:
    body = f"{o.MAX_SEQ} STG 4000 " + "x" * 579
    line = o.frame(o.signed_body(DOC_KEY, DOC_SID_1, body))
    assert len(line) == o.MAX_FRAME
    with pytest.raises(ValueError):
        o.frame(o.signed_body(DOC_KEY, DOC_SID_1, body + "x"))


def test_program_example_is_my_encoding_and_its_ids() -> None:
    data = doc_program().encode()
    assert data == doc_program_example()
    stg_body = o.unframe(doc_lines()[4], ">")
    assert stg_body.startswith("1 STG 0 ") and stg_body[len("1 STG 0 ") :].split(" @")[0].encode() == data
    com_body = o.unframe(doc_lines()[6], ">").split(" ")
    assert com_body[2:4] == [str(len(data)), o.program_sha(data)]
    assert o.parse_reply(doc_lines()[7])["prog"] == o.program_id(data)
    assert o.parse_reply(doc_lines()[9])["data"].encode() == data
    assert o.parse_reply(doc_lines()[17])["prog"] == o.program_id(data)
    decoded = o.decode_program(data)
    assert list(decoded) == list(o.PROGRAM_KEYS)
    assert o.canonical_steps(doc_program().steps, 86_400, 1_800)
    assert len(data) <= 2048 and b" " not in data


def test_example_status_matches_my_own_forecast() -> None:
    """ST's alarm and empty times: the last whole second not after the exact instant (section 6)."""
    st = o.parse_reply(doc_lines()[17])
    p = doc_program()
    assert st.int("rate") == o.rate_at(p.steps, o.phase_of(st.int("t"), p.period))
    assert st.int("t_alarm") == o.time_to_deliver_nl(p.steps, p.period, p.conc, DOC_T0, p.res - p.alarm)
    assert st.int("t_empty") == o.time_to_deliver_nl(p.steps, p.period, p.conc, DOC_T0, p.res)


@pytest.mark.parametrize(
    ("text", "enc"),
    [
        ("example", "example"),
        ("bench transfer", "bench%20transfer"),
        ("a.b-c_d~e", "a.b-c_d~e"),
        ("50% <x>", "50%25%20%3Cx%3E"),
        ("µg", "%C2%B5g"),
        ("a;b=c|d:e*f", "a%3Bb%3Dc%7Cd%3Ae%2Af"),
    ],
)
def test_percent_encoding(text: str, enc: str) -> None:
    assert o.pct_encode(text) == enc
    assert o.pct_decode(enc) == text


@pytest.mark.parametrize("bad", ["%2a", "%41", "a b", "%0A", "%1B%5B2J", "%00", "%7F", "%C2%85", "%C2", "%4"])
def test_percent_decoder_takes_only_the_canonical_form_without_controls(bad: str) -> None:
    with pytest.raises(ValueError):
        o.pct_decode(bad)


def test_thirteen_step_program_is_canonical() -> None:
    p = thirteen_step_program(o.Program(steps=((0, 1),)))
    assert len(p.steps) == 13 and p.steps[0][0] == 0
    assert o.canonical_steps(p.steps, p.period, p.minstep)
    assert not o.canonical_steps(p.steps[:-1] + ((p.steps[-1][0], p.steps[0][1]),), p.period, p.minstep)


# --- against a served rig ------------------------------------------------------------------------------


def thirteen_step_program(facts: o.Program) -> o.Program:
    """A daily 13-step transfer program (section 7: at most 13 steps a day when the day starts at 0)."""
    steps = tuple((6_600 * i, 100_000 + 1_000 * i) for i in range(13))  # 110-min steps, last one 120 min
    return o.Program(
        steps=steps, conc=500, pump=facts.pump, res=facts.res, internal=facts.internal, cath=facts.cath,
        minstep=facts.minstep, alarm=facts.res // 10, phase="transfer", prev=100_000,
        why="from the outsider's other pump", base=100_000, label="outsider 13 steps",
    )


def facts_of(ident: o.Reply) -> o.Program:
    return o.Program(
        steps=((0, 1),), pump=ident["pump"], res=ident.int("res"), internal=ident.int("internal"),
        cath=ident.int("cath"), minstep=ident.int("minstep"),
    )


@pytest.fixture(params=["pty", "tcp"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[o.Client, serial.SerialBase]]:
    with VirtualRig(transport=request.param) as rig:
        url = rig.url
        assert url.startswith("/dev/") or url.startswith("socket://127.0.0.1:")
        port = serial.serial_for_url(url, baudrate=115_200, timeout=2)
        try:
            client = o.Client(port, rig.key.secret())
            client.open()
            yield client, port
        finally:
            port.close()


def expected_readings(p: o.Program, t0: int, start: int, every: int, n: int) -> list[tuple[int, int]]:
    """Readings as differences of the floored cumulative ng and nL since the fill at ``t0``."""
    out = []
    for k in range(n):
        a = o.delivered_ng(p.steps, p.period, t0, start + k * every)
        b = o.delivered_ng(p.steps, p.period, t0, start + (k + 1) * every)
        out.append((int(b) - int(a), int(b * 1000 / p.conc) - int(a * 1000 / p.conc)))
    return out


def test_full_day_cycle(served: tuple[o.Client, serial.SerialBase]) -> None:
    client, _ = served
    ident = client.identify()
    assert ident.ok and ident.int("proto") == 2 and ident["clock"] == "bench"
    assert set(o.SIGNED) <= set(ident["caps"].split(","))
    ses = client.session()
    t0 = ses.int("t")
    p = thirteen_step_program(facts_of(ident))
    data = p.encode()
    assert len(data) > 64 * 6  # several STG frames below

    # stage in 64-byte pieces (several STG frames), then commit with the first fill
    staged = client.stage(data, 64)
    assert staged.ok and staged.int("staged") == len(data)
    assert client.status().int("staged") == len(data)
    com = client.commit(data, (p.res, p.conc, 0))
    assert com.ok, com.text()
    assert (com["prog"], com.int("t"), com.int("res_nl"), com["pocket"]) == (
        o.program_id(data), t0, p.res, "0"
    )

    # read back: whole, and a sample of slices
    prog, back = client.read_back()
    assert (prog, back) == (o.program_id(data), data)
    rng = random.Random(13)
    for _ in range(8):
        off = rng.randrange(len(data))
        length = rng.randint(1, 640)
        assert client.read_slice(off, length) == data[off : off + length]
    assert client.read_slice(len(data) - 1, 1) == data[-1:]

    st = client.status()
    assert (st["state"], st["prog"], st.int("res_nl"), st.int("conc")) == ("running", prog, p.res, p.conc)
    assert st.int("rate") == p.steps[0][1]
    assert st.int("t_alarm") == o.time_to_deliver_nl(p.steps, p.period, p.conc, t0, p.res - p.alarm)
    assert st.int("t_empty") == o.time_to_deliver_nl(p.steps, p.period, p.conc, t0, p.res)

    # three days of hourly readings
    total_ng = 0
    for day in range(3):
        adv, readings = client.advance(86_400, 3_600)
        assert adv.ok, adv.text()
        assert adv.int("t") == t0 + (day + 1) * 86_400
        assert len(readings) == 24 and not any(r.low or r.empty for r in readings)
        want = expected_readings(p, t0, t0 + day * 86_400, 3_600, 24)
        assert [(r.ng, r.nl) for r in readings] == want
        total_ng += sum(r.ng for r in readings)
    st = client.status()
    assert st.int("del_ng") == total_ng
    exact = o.delivered_ng(p.steps, p.period, t0, t0 + 3 * 86_400)
    assert st.int("del_ng") == int(exact) and Fraction(int(exact)) <= exact
    assert st.int("res_nl") == p.res - st.int("del_nl")
    assert st.int("rate") == p.steps[0][1]  # midnight again

    # refill: the measured residual is what the rig expects, the reservoir is topped up
    residual = st.int("res_nl")
    rf = client.refill(p.res - p.alarm, p.conc, residual)
    assert rf.ok, rf.text()
    assert (rf.int("res_nl"), rf.int("expected_nl"), rf["pocket"]) == (p.res - p.alarm, residual, "0")
    st = client.status()
    assert (st.int("res_nl"), st.int("del_ng"), st["state"]) == (p.res - p.alarm, 0, "running")
    t1 = st.int("t")
    assert st.int("t_empty") == o.time_to_deliver_nl(p.steps, p.period, p.conc, t1, p.res - p.alarm)

    # a pocket-sized discrepancy is flagged (ITB-REF-02: 1 mL on a 20 mL pump)
    adv, _ = client.advance(3_600)
    assert adv.ok and "d" not in adv.fields
    rf = client.refill(p.res - p.alarm, p.conc, client.status().int("res_nl") - 1_500_000)
    assert rf.ok and rf["pocket"] == "1"

    # the audit log holds what happened, in order
    kinds = [entry.split(",")[2] for entry in client.log()]
    assert kinds[0] == "boot"
    for kind in ("commit", "refill", "adv"):
        assert kind in kinds
    assert kinds.count("refill") == 3  # the first fill and two refills


def test_replays_and_other_sessions_are_refused(served: tuple[o.Client, serial.SerialBase]) -> None:
    client, port = served
    ident = client.identify()
    client.session()
    p = thirteen_step_program(facts_of(ident))
    data = p.encode()
    assert client.stage(data, ident.int("chunk")).ok
    assert client.commit(data, (p.res, p.conc, 0)).ok
    adv = client.advance(60)[0]
    assert adv.ok
    captured = client.sent[-1]
    seq = int(o.unframe(captured, ">").split(" ")[0])

    # a replay in the same session: NAK SEQ with the next expected counter
    port.write(captured)
    reply = o.parse_reply(port.readline())
    assert (reply.ok, reply.word, reply.seq, reply.int("expected")) == (False, "SEQ", seq, seq + 1)

    # a refused command consumes its counter: a wrong STP cannot pass later
    bad = client.signed("STP", "CONFIRM", "0" * 16)
    assert (bad.ok, bad.word) == (False, "CONFIRM")
    port.write(client.sent[-1])
    assert o.parse_reply(port.readline()).word == "SEQ"

    # a new session: the old frame is now another session's
    client.session()
    port.write(captured)
    assert o.parse_reply(port.readline()).word == "AUTH"
    assert client.advance(60)[0].ok  # the counter starts again at 1

    # a wrong key, and a program-changing command without a MAC
    port.write(o.frame(o.signed_body(b"\x01" * 32, client.sid or "", f"{client.seq} ADV 60")))
    assert o.parse_reply(port.readline()).word == "AUTH"
    port.write(o.frame(f"{client.seq} ADV 60"))
    assert o.parse_reply(port.readline()).word == "AUTH"

    # steps 1-4 of section 3, before any session check
    port.write(b">1 ST*0000\n")
    reply = o.parse_reply(port.readline())
    assert (reply.seq, reply.word) == (0, "CRC")
    port.write(o.frame("1 NOPE"))
    assert o.parse_reply(port.readline()).word == "COMMAND"
    port.write(o.frame("01 ST"))
    assert o.parse_reply(port.readline()).word == "FORMAT"
    port.write(o.frame("1  ST"))
    assert o.parse_reply(port.readline()).word == "FORMAT"
    port.write(o.frame("1 ADV"))
    assert o.parse_reply(port.readline()).word == "ARG"
    port.write(b">" + b"1 ST " + b"x" * 700 + b"\n")
    reply = o.parse_reply(port.readline())
    assert (reply.seq, reply.word, reply.int("max")) == (0, "LENGTH", 640)

    # RJ counts the unauthenticated refusals; nothing of it reached the audit log
    rj = client.read("RJ")
    assert rj.int("n") >= 9 and len(rj["e"].split(";")) == 4
    kinds = [entry.split(",")[2] for entry in client.log()]
    assert kinds.count("refused") == 1  # only the authenticated STP
    assert client.status()["state"] == "running"


def test_stop_then_restart_needs_a_start_phase(served: tuple[o.Client, serial.SerialBase]) -> None:
    client, _ = served
    ident = client.identify()
    p = thirteen_step_program(facts_of(ident))
    data = p.encode()
    assert client.stage(data, ident.int("chunk")).ok
    assert client.commit(data, (p.res, p.conc, 0)).ok
    stp = client.stop(o.program_id(data))
    assert stp.ok and stp["state"] == "stopped"
    assert client.stop(o.program_id(data)).word == "STATE"
    st = client.status()
    assert (st["state"], st.int("rate")) == ("stopped", 0)
    # the same transfer program starts it again (a start, section 6)
    assert client.stage(data, ident.int("chunk")).ok
    assert client.commit(data).ok
    assert client.status()["state"] == "running"


def test_the_outsider_imports_nothing_of_the_project_but_the_virtual_rig() -> None:
    import ast  # noqa: PLC0415

    here = Path(__file__).resolve().parent
    for name in ("outsider.py", "test_outsider_client.py"):
        tree = ast.parse((here / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            for mod in mods:
                top = mod.split(".")[0]
                assert top not in ("firmware_py",), (name, mod)
                assert top != "host_tools" or mod == "host_tools.virtual_rig", (name, mod)
                assert top != "tests" or mod == "tests.wire", (name, mod)
