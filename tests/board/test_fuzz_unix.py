"""A bounded slice of the frame fuzzer (tests/fuzz/engine.py) through the rig running on the unix-port rig
image (firmware_py frozen), with the engine's oracle on CPython (tests/board/remote_rig.py).

The cases are the engine's mix, mutated (bit and byte flips, splices, truncations, noise, bodies with the
CRC fixed up) and structured (re-signed frames with a valid MAC and a fresh SEQ but wrong content, mutated
programs staged and committed with their own SHA, replays, forgeries, plain valid changes). The oracle judges
each frame from the bytes alone (CRC with binascii, MACs with hmac) and the port's state before and after.
The same seed then runs on CPython, in-process, from the same first session challenge: every reply byte of
the port must equal CPython's, and so must every count. A longer run: ``./dev board-fuzz [N]``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_py import protocol as wire
from firmware_py.state import LOG_SIZE
from tests.board.remote_rig import BoardFuzzer, RigServer, reference_run, summary_counts
from tests.fuzz import engine

pytestmark = pytest.mark.board

SLICE_FRAMES = 6_000  # about 10 s on two shared cores
SEED = 20_260_105


def test_fuzz_slice_on_the_unix_port(unix_image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with RigServer(unix_image) as server:
        where = server.where()
        fz = BoardFuzzer(server, SEED)
        st = fz.run(SLICE_FRAMES)
        requests = server.requests
    # The rig is the frozen one: a relative name, and nothing in the directory that comes before .frozen.
    path = where["path"]
    assert isinstance(path, list) and path[:2] == ["", ".frozen"], where
    assert (where["rig"], where["cwd"]) == ("firmware_py/rig.py", []), where
    refusals = sum(st.naks.values())
    with capsys.disabled():
        print(
            f"\n[fuzz-unix] {st.frames} frames, {st.bytes_fed} bytes, {refusals} refusals (NAK), "
            f"{sum(st.acks.values())} ACKs, {st.authentic} authentic frames, {requests} requests to the "
            f"port, {st.seconds:.1f} s"
        )
        print("[fuzz-unix] NAK by reason: " + engine._fmt(st.naks))
        print("[fuzz-unix] ACK by command: " + engine._fmt(st.acks))
    assert st.frames >= SLICE_FRAMES
    assert st.exceptions == st.internal_naks == 0, st.summary()
    assert st.invalid_changes == st.bad_changes == st.bad_replies == 0, st.summary()
    assert st.max_parser_buf <= wire.MAX_FRAME and st.max_reply <= wire.MAX_FRAME
    assert st.max_log <= LOG_SIZE and st.max_staged <= wire.STAGE_MAX
    # The slice reaches every layer on the port, as the CPython slice does (tests/safety/test_fuzz_smoke.py).
    for code in ("CRC", "FORMAT", "LENGTH", "COMMAND", "ARG", "AUTH", "SEQ", "SESSION", "PROGRAM", "CONFIRM"):
        assert st.naks.get(code, 0) > 0, (code, st.naks)
    for cmd in ("STG", "COM", "RF", "ADV", "STP", "SES"):
        assert st.acks.get(cmd, 0) > 0, (cmd, st.acks)
    assert "MEMORY" not in st.naks, st.naks  # the heap is generous here; a small one: test_memory.py
    # Differential: the same frames on CPython get the same replies, byte for byte.
    ref, ref_digest = reference_run(SEED, SLICE_FRAMES)
    assert fz.digest.hexdigest() == ref_digest, "the port answered some frame unlike CPython"
    assert summary_counts(st) == summary_counts(ref)


def test_the_oracle_catches_a_broken_rig_on_the_port(unix_image: Path) -> None:
    # Canary: with the MAC check disabled on the port (tests/mp/rig_server.py "M auth"), forged frames
    # change the state and the oracle must say so.
    with RigServer(unix_image) as server:
        server.break_auth()
        st = BoardFuzzer(server, 3).run(1_500)
    assert st.invalid_changes > 0, st.summary()

