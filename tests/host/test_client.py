"""RigClient against the firmware served on a real pty and on 127.0.0.1 (socket://).

REQ: ITB-DIS-01 (an interrupted load never leaves the user guessing what runs), ITB-REF-01 (fill, alarm),
ITB-SCH-01, ITB-SCH-03 (the night-boost program read back field by field).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firmware_py import program as pg
from firmware_py import protocol
from host_tools.client import Refill, RigClient, RigRefusedError
from host_tools.errors import EXIT_COMM, EXIT_REFUSED, CommError, VerificationError
from host_tools.keys import generate_key
from host_tools.link import RigDisconnectedError, RigTimeoutError
from tests.host.rig_support import client_for, encoded, program, served

TRANSPORTS = ["pty", "tcp"]
FILL = Refill(20_000_000, 500, 0)


def _rewrite(frame: bytes, change: Callable[[str], str]) -> bytes:
    # A tampered rig: rewrite a reply body and give it a valid CRC, so only the content is wrong.
    body = frame[1 : frame.index(b"*")].decode()
    return protocol.frame(protocol.RIG_START, change(body))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_identify_status_load_readback(transport: str) -> None:
    data = encoded()
    with served(transport) as vr, client_for(vr) as c:
        info = c.identify()
        assert (info.proto, info.clock, info.rig) == (2, "bench", "virtual")
        assert info.config.reservoir_nl == 20_000_000
        assert "ADV" in info.caps
        assert c.status().prog is None
        res = c.load(data, FILL)
        assert res.old_prog is None and res.new_prog == pg.short_id(data)
        assert res.checksum == pg.checksum(data) and 0 <= res.sample_offset < len(data)
        st = c.status()
        assert (st.state, st.prog, st.reservoir_nl, st.conc_ng_per_ul) == (
            "running",
            res.new_prog,
            20_000_000,
            500,
        )
        # 04:00-20:00 at 500 mcg/day; the rig starts at midnight, inside the night step (ITB-SCH-03: +20 %)
        assert st.rate_ng_per_day == 600_000
        assert pg.decode(c.readback()) == program()
        kinds = [e.kind for e in c.log()]
        assert kinds[0] == "boot" and "commit" in kinds


def test_second_load_shows_old_and_new() -> None:
    first, second = encoded(), encoded(phase="refill", label="second")
    with served() as vr, client_for(vr) as c:
        c.load(first, FILL)
        res = c.load(second)
        assert (res.old_prog, res.new_prog) == (pg.short_id(first), pg.short_id(second))


def test_lost_adv_reply_is_not_applied_twice() -> None:
    # The ADV reply is lost once: the client resends the same frame (same counter, same MAC); the rig says
    # NAK SEQ (it ran), and the client reads the outcome (the rig time) instead of advancing twice.
    with served() as vr, client_for(vr, timeout_s=0.2) as c:
        c.load(encoded(), FILL)
        t0 = c.status().t_s
        dropped: list[bytes] = []

        def drop_once(frame: bytes) -> bytes:
            if b" ACK ADV " in frame and not dropped:
                dropped.append(frame)
                return b""
            return frame

        vr.reply_filter = drop_once
        ack = c.advance(3600, t_before=t0)
        assert (ack.t_s, ack.recovered, ack.readings) == (t0 + 3600, True, None)
        assert dropped and c.recovered == 1
        assert c.status().t_s == t0 + 3600


def test_lost_request_is_resent_unchanged() -> None:
    # The COM frame is lost on the way once: the client resends it unchanged (same counter and MAC), the rig
    # runs it once.
    seen: list[int] = []

    def lose_first_com(line: bytes) -> bool:
        if b" COM " in line:
            seen.append(int(line[1:].split(b" ")[0]))
            return len(seen) == 1
        return False

    with served() as vr, client_for(vr, timeout_s=0.2) as c:
        vr.drop_request = lose_first_com
        res = c.load(encoded(), FILL)
        assert res.new_prog == c.status().prog
        assert len(seen) == 2 and seen[1] == seen[0]
        assert [e.kind for e in c.log()].count("commit") == 1


def test_a_new_session_after_another_host() -> None:
    # b's SES ends a's session; a's next command is refused as stale (AUTH) and a opens a new session.
    with served("tcp") as vr:
        with client_for(vr) as a:
            a.load(encoded(), FILL)
            t = a.status().t_s
        with client_for(vr) as b:
            assert b.advance(60, t_before=t).t_s == t + 60
        with client_for(vr) as a2:
            assert a2.advance(60, t_before=t + 60).t_s == t + 120


def test_wrong_key_is_refused_exit_1_and_key_not_shown() -> None:
    other = generate_key()
    with served() as vr:
        c = RigClient.connect(vr.url, other, timeout_s=0.5)
        with pytest.raises(RigRefusedError) as exc:
            c.load(encoded(), FILL)
        c.close()
    assert exc.value.reason_code == protocol.AUTH and exc.value.exit_code == EXIT_REFUSED
    text = str(exc.value) + repr(exc.value)
    assert other.secret().hex() not in text and vr.key.secret().hex() not in text
    assert "key" in text


def test_tampered_readback_fails() -> None:
    data = encoded()

    def tamper(frame: bytes) -> bytes:
        if b" ACK RB " not in frame:
            return frame
        return _rewrite(frame, lambda body: body[:-1] + ("x" if body[-1] != "x" else "y"))

    with served() as vr, client_for(vr) as c:
        vr.reply_filter = tamper
        with pytest.raises(VerificationError) as exc:
            c.load(data, FILL)
    assert exc.value.exit_code == EXIT_REFUSED
    assert "read-back of 32 bytes at offset" in str(exc.value)


def test_tampered_commit_acknowledgement_fails() -> None:
    data = encoded()

    def tamper(frame: bytes) -> bytes:
        if b" ACK COM " not in frame:
            return frame
        return _rewrite(frame, lambda body: body.replace(pg.short_id(data), "0" * 16))

    with served() as vr, client_for(vr) as c:
        vr.reply_filter = tamper
        with pytest.raises(VerificationError):
            c.load(data, FILL)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_disconnect_during_load_says_so(transport: str) -> None:
    data = encoded()

    def pull_cable_at_commit(frame: bytes) -> bytes:
        if b" ACK COM " in frame:
            vr.disconnect()
            return b""
        return frame

    with served(transport) as vr, client_for(vr) as c:
        vr.reply_filter = pull_cable_at_commit
        with pytest.raises(RigDisconnectedError) as exc:
            c.load(data, FILL)
    msg = str(exc.value)
    assert exc.value.exit_code == EXIT_COMM and "\n" not in msg
    assert msg.startswith("disconnect: ")
    assert msg.endswith(f"(rig left running: unknown (no program or new program {pg.short_id(data)}))")


def test_timeout_on_commit_reports_new_program_active() -> None:
    # The COM ran but neither its reply nor the answers to its resends come back; ST still answers: the
    # message says the NEW program is active.
    data = encoded()
    with served() as vr, client_for(vr, timeout_s=0.1, retries=1) as c:
        vr.reply_filter = lambda f: b"" if (b" ACK COM " in f or b" NAK SEQ " in f) else f
        with pytest.raises(RigTimeoutError) as exc:
            c.load(data, FILL)
    assert str(exc.value).startswith("timeout: ")
    assert str(exc.value).endswith(f"(rig left running: new program {pg.short_id(data)})")


def test_timeout_with_commit_never_arriving_reports_old_program() -> None:
    first, second = encoded(), encoded(phase="refill", label="second")
    with served() as vr, client_for(vr, timeout_s=0.1, retries=1) as c:
        c.load(first, FILL)
        vr.drop_request = lambda line: b" COM " in line
        with pytest.raises(CommError) as exc:
            c.load(second)
        assert c.status().prog == pg.short_id(first)
    assert str(exc.value).endswith(f"(rig left running: old program {pg.short_id(first)})")


def test_stop_needs_the_active_program_id() -> None:
    data = encoded()
    with served() as vr, client_for(vr) as c:
        c.load(data, FILL)
        with pytest.raises(RigRefusedError) as exc:
            c.stop("0" * 16)
        assert exc.value.reason_code == protocol.CONFIRM
        assert c.stop(pg.short_id(data)).t_s == c.status().t_s
        assert c.status().state == "stopped"
