"""A bounded slice of the frame fuzzer (the full run is `./dev fuzz`, 200 000 frames), a structured
hypothesis fuzz of the same oracle, and canaries proving the oracle catches a broken rig.

REQ: ITB-DIS-01 (nothing but an authenticated, confirmed command stops or changes therapy)
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_py import protocol as wire
from firmware_py.auth import Session
from tests.fuzz import engine
from tests.safety import kit

SMOKE_FRAMES = 4_000


def test_fuzz_smoke_slice_finds_nothing_and_reaches_every_layer() -> None:
    """4 000 mutated frames: no exception, no change by an invalid frame, bounded buffers; and the cases
    reach every layer (CRC, syntax, auth, SEQ, command handlers, program decode, library limits)."""
    stats = engine.fuzz(SMOKE_FRAMES, seed=7)
    assert stats.frames >= SMOKE_FRAMES
    assert stats.exceptions == 0, stats.summary()
    assert stats.invalid_changes == 0, stats.summary()
    assert stats.bad_changes == 0, stats.summary()
    assert stats.bad_replies == 0, stats.summary()
    # Internal-error NAKs are counted by test_parse_request_mac_only_body_is_a_clean_format_nak below.
    assert stats.max_parser_buf <= wire.MAX_FRAME
    assert stats.max_log <= 32
    assert stats.max_staged <= wire.STAGE_MAX
    assert stats.max_reply <= wire.MAX_FRAME
    for code in ("CRC", "FORMAT", "LENGTH", "COMMAND", "ARG", "AUTH", "SEQ", "SESSION", "PROGRAM", "ORDER",
                 "CONFIRM"):
        assert stats.naks.get(code, 0) > 0, (code, stats.naks)
    assert stats.naks.get("LIMIT", 0) + stats.naks.get("TITRATION", 0) + stats.naks.get("OVERRIDE", 0) > 0
    for cmd in ("STG", "COM", "RF", "ADV", "STP", "SES"):
        assert stats.acks.get(cmd, 0) > 0, (cmd, stats.acks)


def test_parse_request_mac_only_body_is_a_clean_format_nak() -> None:
    """Found by the fuzzer: a body of just `SEQ @<mac>` makes protocol.parse_request index past the tokens
    (IndexError); the rig's catch-all turns it into `NAK FORMAT msg=internal IndexError` and logs an internal
    error. It must be an ordinary FrameError (FORMAT, with the request's SEQ)."""
    line = b"763975 @" + b"0" * 32
    frame = line + b"*" + wire.crc_hex(line).encode()
    with pytest.raises(wire.FrameError) as info:
        wire.parse_request(frame)
    assert info.value.reason_code == wire.FORMAT
    rig, _clock, _fs = kit.make_rig(persist=False)
    reply = kit.replies(rig.feed(b">" + frame + b"\n"))[0]
    assert reply.name == wire.FORMAT and not reply.fields.get("msg", "").startswith("internal")


def test_oracle_catches_a_rig_that_skips_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    """Canary: with the MAC check disabled, the fuzzer must report forged frames changing state."""
    monkeypatch.setattr(Session, "check", lambda self, msg, mac: True)
    stats = engine.fuzz(1_500, seed=3)
    assert stats.invalid_changes > 0, stats.summary()


def test_oracle_catches_a_rig_that_lets_a_refused_command_change_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Canary: a rig whose STG handler appends before refusing is caught as a change by a NAKed frame."""
    from firmware_py import commands  # noqa: PLC0415
    from firmware_py.rig import Rig  # noqa: PLC0415
    from firmware_py.state import State  # noqa: PLC0415

    real = commands.c_stg

    def leaky(rig: Rig, s: State, a: list[str], now: int) -> list[tuple[str, object]]:
        if a[0] != "0" and a[0] != str(len(s.staged)):
            rig.s.staged += a[1].encode()[:1]  # the bug: touches the live state, then refuses
        return real(rig, s, a, now)

    monkeypatch.setitem(commands.HANDLERS, "STG", leaky)
    stats = engine.fuzz(3_000, seed=5)
    assert stats.invalid_changes > 0, stats.summary()


# -- structured fuzz (hypothesis): well-formed frames of every command with arbitrary tokens ---------------

_TOKEN = st.one_of(
    st.sampled_from(engine.BOUNDARY_INTS),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*<>"),
            min_size=1, max_size=40),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cmd=st.sampled_from(tuple(wire.COMMANDS) + ("XX", "st", "")),
    args=st.lists(_TOKEN, max_size=4),
    mac=st.sampled_from(("good", "none", "other-key", "flipped", "other-session")),
    seq=st.sampled_from(("fresh", "replayed", "huge", "zero")),
)
def test_structured_frames_never_change_state_unless_authentic(
    cmd: str, args: list[str], mac: str, seq: str
) -> None:
    """Hypothesis builds CRC-valid frames field by field; the oracle of tests/fuzz/engine.py judges each one
    on a rig running the 13-step program."""
    rig, _clock, _fs = kit.make_rig(persist=False)
    h = kit.first_fill(rig)
    assert h.session is not None
    sid = h.session.sid
    s = {"fresh": h.seq + 1, "replayed": h.seq, "huge": wire.SEQ_MAX + 1, "zero": 0}[seq]
    text = " ".join([str(s), cmd, *args]) if cmd else str(s)
    body = text.encode()
    if mac == "good":
        body = body + b" @" + engine.mac_of(body, sid)
    elif mac == "other-key":
        body = body + b" @" + engine.mac_of(body, sid, kit.OTHER_KEY)
    elif mac == "other-session":
        body = body + b" @" + engine.mac_of(body, "f" * 32)
    elif mac == "flipped":
        m = bytearray(engine.mac_of(body, sid))
        m[5] = ord("0") if m[5] != ord("0") else ord("1")
        body = body + b" @" + bytes(m)
    fz = engine.Fuzzer.__new__(engine.Fuzzer)
    fz.rnd = __import__("random").Random(0)
    fz.reset_every = 10**9
    fz.stats = engine.Stats()
    fz.history = []
    fz.rig = rig
    fz.credit = rig.nak_budget  # the starting point of the modelled credit
    fz.sid, fz.ctr, fz.seq = sid, h.seq, h.seq
    before = kit.snap(rig)
    fz.run_case([engine.mk(body)])
    st_ = fz.stats
    assert st_.exceptions == st_.invalid_changes == st_.bad_changes == st_.bad_replies == 0, st_.summary()
    if mac != "good" or seq != "fresh":
        assert kit.snap(rig) == before
