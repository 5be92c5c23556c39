"""A program to load onto a rig, with what the pictures and the display need.

`host_tools.rx.load_source` makes one from a prescription or a program file; `Source.from_bytes` from a
canonical encoding alone (a bench session on bytes, the Python API). This module needs neither pint nor
TOML, so a bench session on bytes imports neither.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from firmware_py import program as core_program
from firmware_py.program import Program
from firmware_py.windows import Window

if TYPE_CHECKING:
    from host_tools.rx import BuiltProgram


@dataclasses.dataclass(frozen=True)
class Source:
    """A program to load: built from a prescription or read from a program file, checked either way."""

    path: str
    program: Program
    encoding: bytes
    checksum: str
    label: str
    windows: list[Window]
    lead_s: int
    fill_start_s: int | None
    lines: list[str]  # the summary for people
    built: BuiltProgram | None  # None for a program file or bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> Source:
        """A canonical encoding, decoded and checked by the core (ProgramError on anything else)."""
        prog = core_program.decode(data)
        return cls("<bytes>", prog, data, core_program.checksum(data), prog.label, [], 0, None, [], None)
