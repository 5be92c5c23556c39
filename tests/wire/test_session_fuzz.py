"""The session-layer stateful fuzz (``tests/wire/session_fuzz.py``), bounded for the suite: a fixed set of
sequences (derandomized), well under 20 s. ``./dev sessions [N]`` runs N random sequences and prints the
counts."""

from __future__ import annotations

from hypothesis.stateful import run_state_machine_as_test

from tests.seeded import fixed_constants
from tests.wire import session_fuzz as sf


def test_session_layer_state_machine() -> None:
    sf.COUNTS.clear()
    with fixed_constants():  # the same sequences, whatever the suite imported before
        run_state_machine_as_test(sf.SessionMachine, settings=sf.SETTINGS_IN_SUITE)
    c = sf.COUNTS
    assert c["stale_accepted"] == 0 and c["lockouts"] == 0 and c["fresh_refused"] == 0
    assert c["sequences"] >= 20
    assert c["stale_refused"] > 100 and c["fresh_accepted"] > 100  # the machine reached both sides
    assert c["resets"] > 0 and c["rollbacks"] > 0 and c["reconnects"] > 0
