"""The canary: the rig with its envelope switched off, so that the adversary must find breaks.

`envelope_off()` replaces `firmware_py.envelope.decide` (which the rig's COM, RF and BOL handlers and its
boot check call through the module) with one that allows everything. Structural program checks
(`firmware_py.program_checks.validate`), the concentration match and the state checks stay on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from firmware_py import envelope
from firmware_py.decision import Decision


def _allow(*_args: object, **_kwargs: object) -> Decision:
    return Decision("canary: the envelope is off")


@contextlib.contextmanager
def envelope_off() -> Iterator[None]:
    saved = envelope.decide
    envelope.decide = _allow
    try:
        yield
    finally:
        envelope.decide = saved
