"""Host = rig: on the adversary's sequences (random daily and weekly programs of up to 13 steps in any phase,
with overrides, fills, boluses, stops, restarts and power cuts, so random histories), the decision the host
makes before it sends a program (`RigClient.decide` over the wire, as `itb load` makes it) is the rig's on
`COM`: both accept, or both refuse with the same NAK reason and rule IDs (tests/adversary/differential.py).
Two host mutants (one forgets the older history, one ignores the fill that comes with the commit) must
disagree, so the comparison can fail.

REQ: ITB-RNG-01 ITB-TIT-01 ITB-TIT-04 ITB-DIS-01 ITB-ESC-01 ITB-STA-01 ITB-REF-01
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from host_tools.client import RigClient
from tests.adversary import machine
from tests.adversary.differential import Agreement

SEQUENCES = 250  # 2 191 compared loads whatever ran first (tests/seeded.py); ./dev adversary N --host-rig
MUTANT_SEQUENCES = 60


def test_host_and_rig_make_the_same_decision() -> None:
    tally = Agreement()
    s = machine.run(SEQUENCES, seed=20_261_201, host_rig=tally)
    assert s.errors == 0, s.summary()
    assert tally.disagreements == [], "\n".join(tally.disagreements[:5])
    assert tally.compared >= 2_000, tally
    assert tally.accepted > 200 and tally.refused > 1_000, tally


@contextmanager
def _forgetful_host() -> Iterator[None]:
    # The host keeps only the running schedule of the rig's history (what was checked before the envelope:
    # the new program against the old one).
    orig = RigClient.history

    def history(self: RigClient) -> object:
        h = orig(self)
        h.entries = [e for e in h.entries[-1:] if e[1] < 0]
        h.floor_rate = h.ceil_rate = 0
        h.floor_until = h.ceil_until = -1
        return h

    RigClient.history = history  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        RigClient.history = orig  # type: ignore[method-assign]


@contextmanager
def _host_ignoring_the_fill() -> Iterator[None]:
    orig = RigClient.decide

    def decide(self: RigClient, program: object, st: object = None, refill: object = None) -> object:
        return orig(self, program, st)  # type: ignore[arg-type]

    RigClient.decide = decide  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        RigClient.decide = orig  # type: ignore[method-assign]


@pytest.mark.parametrize("mutant", [_forgetful_host, _host_ignoring_the_fill])
def test_a_host_that_decides_otherwise_is_caught(mutant: object) -> None:
    tally = Agreement()
    with mutant():  # type: ignore[operator]
        machine.run(MUTANT_SEQUENCES, seed=5, host_rig=tally)
    assert tally.disagreements, tally
