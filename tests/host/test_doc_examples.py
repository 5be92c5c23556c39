"""The example sessions in docs/cli.md are true: each fenced block that starts with `$ itb ...` is run as
written (in process, `host_tools.cli.main`) and its output must be the block's other lines, exactly."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.host.conftest import ROOT, Itb

CLI_MD = ROOT / "docs" / "cli.md"
_BLOCK = re.compile(r"^```\n(\$ itb [^\n]*)\n(.*?)^```$", re.M | re.S)


def sessions() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(CLI_MD.read_text())]


def test_the_document_has_example_sessions() -> None:
    assert len(sessions()) >= 2


@pytest.mark.parametrize(("command", "output"), sessions(), ids=[c.split()[2] for c, _o in sessions()])
def test_an_example_session_prints_what_the_document_shows(itb: Itb, command: str, output: str) -> None:
    r = itb(*shlex.split(command)[2:])  # without `$ itb`
    assert r.rc == 0, r.err
    assert r.out == output
