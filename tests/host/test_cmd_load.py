"""`itb load`, `status`, `readback`, `log`, `monitor` end to end on a virtual rig: the side-by-side view,
confirmation, --yes, no stdin, JSON output.

REQ: ITB-SCH-01, ITB-SCH-03 (night boost shown per hour AND per day), ITB-REF-01 (fill and alarm).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from firmware_py import program as pg
from host_tools import cli_load
from host_tools.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from host_tools.replies import Refill
from tests.host.rig_support import NIGHT_BOOST, key_file_for, run_cli, served


def _as_refill(tmp: Path) -> Path:
    # night-boost.toml at a refill of the running pump: the same program, the change phase "refill".
    text = NIGHT_BOOST.read_text()
    start = text.index("[start]")
    text = text[:start] + '[previous]\nbase = "500 mcg/day"\nsince_change = "30 days"\n\n' + text[
        text.index("[[window]]"):]
    path = tmp / "night-refill.toml"
    path.write_text(text.replace('phase = "transfer"', 'phase = "refill"'))
    return path


def test_load_yes_then_status_readback_log_json(tmp_path: Path) -> None:
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        port = ["--port", vr.url, "--key-file", str(kf)]
        code, out, err = run_cli(["load", str(NIGHT_BOOST), "--yes", "--fill", *port])
        assert code == EXIT_OK, err
        # side by side, every rate per day AND per hour (ITB-SCH-03 night step 600 mcg/day = 25 mcg/h)
        assert "old (on the rig)" in out and "new (to load)" in out
        assert "20:00-04:00 600 mcg/day (25 mcg/h)" in out
        assert "04:00-20:00 500 mcg/day (20.833 mcg/h)" in out
        assert "533.333 mcg" in out and "verified: the rig runs program" in out
        code, out, _ = run_cli(["status", "--json", *port])
        st = json.loads(out)["status"]
        assert code == 0 and st["state"] == "running" and st["conc_ng_per_ul"] == 500
        code, out, _ = run_cli(["readback", "--json", "--port", vr.url])  # read-only: no key needed
        doc = json.loads(out)["program"]
        assert code == 0 and doc["id"] == st["prog"] and pg.short_id(doc["encoding"].encode()) == st["prog"]
        per_hour = [{"value": 20.833, "unit": "mcg/h"}, {"value": 25, "unit": "mcg/h"}]
        assert [s["per_hour"] for s in doc["steps"]] == per_hour
        code, out, _ = run_cli(["log", "--json", "--port", vr.url])
        kinds = [e["kind"] for e in json.loads(out)]
        assert code == 0 and "commit" in kinds and "refill" in kinds
        code, out, _ = run_cli(["monitor", "--count", "3", "--interval", "0", "--json", "--port", vr.url])
        assert code == 0 and [json.loads(x)["state"] for x in out.splitlines()] == ["running"] * 3
        # a second load (the same program at a refill) shows the active program as "old" and needs no fill
        # (same concentration); a transfer cannot change a running pump (ITB-STA-01)
        code, _out, err = run_cli(["load", str(NIGHT_BOOST), "--yes", "--json", *port])
        assert code == EXIT_REFUSED and "ITB-STA-01" in err
        code, out, err = run_cli(["load", str(_as_refill(tmp_path)), "--yes", "--json", *port])
        assert code == EXIT_OK, err
        res = json.loads(out)
        assert res["old"]["id"] == st["prog"] and res["new"]["phase"] == "refill" and res["refill"] is None
        assert res["old"]["steps"] == res["new"]["steps"]


def test_load_without_stdin_refuses_before_touching_the_rig(tmp_path: Path) -> None:
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        before = vr.frames_in
        code, out, err = run_cli(["load", str(NIGHT_BOOST), "--port", vr.url, "--key-file", str(kf)])
        assert code == EXIT_USAGE and "pass --yes" in err and out == ""
        assert vr.frames_in == before


@pytest.mark.parametrize(
    ("answer", "expected"), [("y\n", EXIT_OK), ("n\n", EXIT_REFUSED), ("\n", EXIT_REFUSED)]
)
def test_load_interactive_confirmation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, expected: int
) -> None:
    monkeypatch.setattr(cli_load, "_stdin_isatty", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        code, _out, err = run_cli(
            ["load", str(NIGHT_BOOST), "--fill", "--port", vr.url, "--key-file", str(kf)]
        )
        assert code == expected
        assert (vr.rig.status().prog is not None) == (expected == EXIT_OK)
        if expected != EXIT_OK:
            assert "not loaded" in err and "rig left running: no program" in err


def test_load_on_a_port_without_key_is_usage_error() -> None:
    with served("tcp") as vr:
        code, _out, err = run_cli(["load", str(NIGHT_BOOST), "--yes", "--port", vr.url])
    assert code == EXIT_USAGE and "--key-file" in err


def test_a_concentration_change_gives_the_bridge_bolus(tmp_path: Path) -> None:
    # REQ: ITB-BRG-01: a rig running 600 mcg/day at 500 mcg/mL; loading the concentration-change example
    # (750 mcg/mL, with --fill) shows the bridge bolus before the confirmation and gives it after the commit:
    # the rig's dead volume (0.2 mL + 50 cm at 2.6 uL/cm = 0.33 mL) of the old drug at 600 mcg/day.
    from host_tools.client import RigClient  # noqa: PLC0415
    from tests.core import support as fixtures  # noqa: PLC0415

    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        first = pg.encode(fixtures.program(600_000, "transfer", 500, age_years=47))
        with RigClient.connect(vr.url, vr.key) as c:
            c.load(first, Refill(20_000_000, 500, 0))
        rx = NIGHT_BOOST.parent / "concentration-change.toml"
        port = ["--port", vr.url, "--key-file", str(kf)]
        code, out, err = run_cli(["load", str(rx), "--yes", "--fill", *port])
        assert code == EXIT_OK, err
        assert "then a bridge bolus (ITB-BRG-01): 0.33 mL of the old 500 mcg/mL drug" in out, out
        assert "bridge bolus running until rig time" in out, out
        st = vr.rig.status()
        assert st.bolus_nl > 0 and st.rate_ng_per_day <= 600_000
        code, out, err = run_cli(["load", str(rx), "--residual", "1 mL", "--port", vr.url, "--yes",
                                  "--key-file", str(kf)])
        assert code == EXIT_USAGE and "--residual" in err and "--fill" in err


@pytest.mark.parametrize("failure", [None, "refused", "link"])
def test_load_json_says_what_became_of_the_bridge_bolus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str | None
) -> None:
    # `itb load --json` after a change of concentration: the bolus in `bridge` (docs/cli.md); when the rig
    # refuses it or the link fails, the load stands, `given` is false and the JSON is still written.
    from host_tools.client import RigClient  # noqa: PLC0415
    from host_tools.errors import EXIT_COMM, CommError  # noqa: PLC0415
    from host_tools.replies import RigRefusedError  # noqa: PLC0415
    from tests.core import support as fixtures  # noqa: PLC0415

    def fails(*_args: object) -> object:
        if failure == "refused":
            raise RigRefusedError("BOL", "RULE", {})
        raise CommError("no reply")

    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        first = pg.encode(fixtures.program(600_000, "transfer", 500, age_years=47))
        with RigClient.connect(vr.url, vr.key) as c:
            c.load(first, Refill(20_000_000, 500, 0))
        if failure is not None:
            monkeypatch.setattr(RigClient, "bolus", fails)
        rx = NIGHT_BOOST.parent / "concentration-change.toml"
        code, out, err = run_cli(["load", str(rx), "--yes", "--fill", "--json", "--port", vr.url,
                                  "--key-file", str(kf)])
        assert code == (EXIT_COMM if failure == "link" else EXIT_OK), err
        doc = json.loads(out)
        assert doc["result"]["new_prog"] == vr.rig.status().prog
        bridge = doc["bridge"]
        assert bridge["volume_nl"] == 330_000 and bridge["given"] is (failure is None), bridge
        if failure is None:
            assert bridge["t_end_s"] > doc["result"]["t_commit_s"] and bridge["rate_ng_per_day"] <= 600_000
            assert vr.rig.status().bolus_nl > 0
        else:
            assert bridge["t_end_s"] is None and bridge["rate_ng_per_day"] is None
            assert ("bridge bolus was refused" if failure == "refused" else "no reply") in err
