"""Host = rig, checked differentially on the adversary's sequences.

At every load the adversary sends, the host first makes its own decision as `itb load` does:
`host_tools.client.RigClient.decide` over the wire, from the rig's `ID`, `ST` and `HIS` replies. The rig then
decides on `COM`. Both must agree: the program accepted by both, or refused by both with the same NAK reason
and the same rule IDs. Loads the rig refuses before it decides (a program that does not decode or validate,
a concentration that is not the reservoir's, a glitched checksum) are counted apart, not compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_py import library
from firmware_py import program as fw_program
from firmware_py import protocol as wire
from firmware_py.decision import Decision
from firmware_py.errors import ItbError
from firmware_py.rig import Rig
from host_tools.client import RigClient
from host_tools.link import Link
from host_tools.replies import Refill

DECIDED = (library.LIMIT, library.TITRATION, "OVERRIDE")  # the NAK reasons of the envelope's decision


class _RigPort:
    """pyserial's port, as `host_tools.link.Link` uses it, over an in-process rig: a write is fed to the
    rig, its replies are read back."""

    def __init__(self, rig_of: Callable[[], Rig]) -> None:
        self.rig_of = rig_of
        self.buf = b""
        self.is_open = True
        self.timeout: float | None = 0.0

    @property
    def in_waiting(self) -> int:
        return len(self.buf)

    def read(self, size: int = 1) -> bytes:
        out, self.buf = self.buf[:size], self.buf[size:]
        return out

    def write(self, data: bytes, /) -> int:
        self.buf += self.rig_of().feed(data)
        return len(data)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self.buf = b""

    def close(self) -> None:
        self.is_open = False


@dataclass
class Agreement:
    compared: int = 0
    accepted: int = 0  # by both
    refused: int = 0  # by both, same reason and rule IDs
    not_decided: int = 0  # refused by the rig before its envelope decided
    disagreements: list[str] = field(default_factory=list)


class HostCheck:
    """The host's side of one adversary sequence."""

    def __init__(self, rig_of: Callable[[], Rig], tally: Agreement) -> None:
        self.client = RigClient(Link(_RigPort(rig_of), "in-process"), None, timeout_s=1.0, retries=0)
        self.tally = tally

    def before(self, data: bytes, rf: tuple[int, int, int] | None) -> Decision | None:
        try:
            return self.client.decide(fw_program.decode(data), refill=None if rf is None else Refill(*rf))
        except ItbError:  # does not decode or validate: the rig refuses it before deciding
            return None

    def after(self, host: Decision | None, data: bytes, reply: wire.Reply) -> None:
        t = self.tally
        if host is None or (not reply.ok and reply.name not in DECIDED):
            t.not_decided += 1
            return
        t.compared += 1
        rig_rules = [r for r in reply.fields.get("rules", "").split(",") if r and r != "none"]
        if reply.ok and host.allowed:
            t.accepted += 1
        elif not reply.ok and host.reply() == reply.name and host.rule_ids() == rig_rules:
            t.refused += 1
        else:
            rig = "ACK" if reply.ok else f"NAK {reply.name} rules={','.join(rig_rules)}"
            t.disagreements.append(f"{data.decode()[:200]}: host {host.message()} "
                                   f"(reply {host.reply()}, rules {host.rule_ids()}); rig {rig}")
