"""Every shipped example benches on the built-in rig (host_tools/bench_builtin.py), as a new user expects; the
deliberately refused one is refused with its rule; and the set-up weakens no decision: the rig decides each
example exactly as `itb program build` does from the prescription's stated history, a program file in a
change phase is still refused (ITB-STA-01, with a hint), and with `--port` nothing is set up.

REQ: ITB-STA-01 ITB-PMP-01 ITB-PMP-02 ITB-PMP-03 ITB-TIT-01
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host_tools import bench_builtin, examples, rx
from host_tools.bench import BenchSession
from host_tools.client import RigClient
from host_tools.errors import EXIT_OK, EXIT_REFUSED
from host_tools.virtual_rig import VIRTUAL_CONFIG, VirtualRig
from tests.host.rig_support import key_file_for, run_cli, served

REFUSED = "refused-titration"
BENCHED = [n for n in examples.names() if n != REFUSED]


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("host_tools.bench_report._plots", lambda _s, _o: {})


def _written(name: str, tmp_path: Path) -> Path:
    # As the user did: `itb example NAME --out F`.
    target = tmp_path / f"{name}.toml"
    code, _out, err = run_cli(["example", name, "-o", str(target)])
    assert code == EXIT_OK, err
    return target


@pytest.mark.parametrize("name", BENCHED)
def test_every_shipped_example_benches_on_the_builtin_rig(name: str, tmp_path: Path) -> None:
    out_dir = tmp_path / "b"
    code, out, err = run_cli(["bench", str(_written(name, tmp_path)), "--days", "1", "--out", str(out_dir),
                              "--quiet"])
    assert code == EXIT_OK, err
    assert "PASS" in out, out
    assert "built-in rig set up as the program's pump:" in out and err == ""  # --quiet: stdout says it
    rep = json.loads((out_dir / "report.json").read_text())
    assert rep["result"] == "pass" and rep["builtin_rig"]["config_from_program"] is True
    prog = rx.load_source(examples.path(name)).program
    assert rep["builtin_rig"]["config"]["res"] == prog.reservoir_nl
    pred = rep["builtin_rig"]["predecessor"]
    if prog.phase in ("initial", "transfer"):
        assert pred is None
    else:  # a change phase: the [previous] program ran first, said in the summary and the report
        assert "the [previous] program" in out
        assert pred["decision"].startswith("allowed: transfer ")
        assert rep["settings"]["t_start_s"] - pred["t_load_s"] == pred["since_change_s"]
    # without --quiet stderr says it too
    _code, _out, loud = run_cli(["bench", str(_written(name, tmp_path)), "--days", "1", "--out",
                                 str(tmp_path / "loud")])
    assert "itb: built-in rig configured as the program's pump" in loud
    assert ("runs the prescription's [previous] first" in loud) == (pred is not None)


def test_the_refused_example_is_refused_with_its_rule(tmp_path: Path) -> None:
    code, out, err = run_cli(["bench", str(_written(REFUSED, tmp_path)), "--days", "1", "--out",
                              str(tmp_path / "b"), "--quiet"])
    assert code == EXIT_REFUSED and out == ""
    assert "(+40 %) is above the +30 % titration limit" in err and "[ITB-TIT-01]" in err


@pytest.mark.parametrize("name", BENCHED)
def test_the_builtin_rig_decides_as_program_build_does(name: str, tmp_path: Path) -> None:
    # The rig's history after the predecessor is the prescription's stated one: the decision on the load
    # is, word for word, the decision `itb program build` made (host_tools.rx, envelope.stated_history).
    src = rx.load_source(examples.path(name))
    setup = bench_builtin.plan(src, VIRTUAL_CONFIG)
    assert setup.start_s is not None
    with VirtualRig(transport="tcp", start_s=setup.start_s, config=setup.config) as vr, \
            RigClient.connect(vr.url, vr.key) as client:
        session = BenchSession(client, src, days=1, out_dir=tmp_path, builtin=setup, progress=False)
        assert session.run().passed
        assert vr.rig.config == setup.config
    assert src.built is not None
    assert session.decision == src.built.decision.message()


def test_a_program_file_in_a_change_phase_is_refused_with_a_hint(tmp_path: Path) -> None:
    # A program file states no [previous]: nothing to run first; the envelope refuses a refill on a rig
    # that runs nothing (ITB-STA-01), and the bench says what to do.
    prog = tmp_path / "weekend.json"
    code, _out, err = run_cli(["program", "build", str(examples.path("weekend")), "-o", str(prog)])
    assert code == EXIT_OK, err
    code, out, err = run_cli(["bench", str(prog), "--days", "1", "--out", str(tmp_path / "b"), "--quiet"])
    assert code == EXIT_REFUSED and out == ""
    assert "phase refill cannot start a pump" in err and "[ITB-STA-01]" in err
    assert bench_builtin.NO_PREVIOUS_HINT in err


def test_a_previous_the_rig_cannot_run_is_refused_naming_it(tmp_path: Path) -> None:
    # 1050 -> 1100 mcg/day with the ITB-RNG-04 override: `itb program build` allows it, but the predecessor
    # (1050 mcg/day) would need an override of its own, which the bench does not invent: refused, exit 1.
    text = examples.path("soft-override").read_text()
    text = text.replace('base = "1000 mcg/day"', 'base = "1050 mcg/day"')
    f = tmp_path / "high.toml"
    f.write_text(text)
    assert run_cli(["program", "build", str(f)])[0] == EXIT_OK
    code, out, err = run_cli(["bench", str(f), "--days", "1", "--out", str(tmp_path / "b"), "--quiet"])
    assert code == EXIT_REFUSED and out == ""
    assert "the built-in rig cannot run the [previous] the prescription states" in err
    assert "needs override (ITB-RNG-04): transfer 1050 mcg/day" in err


def test_with_a_port_nothing_is_set_up(tmp_path: Path) -> None:
    # A rig at --port keeps its own configuration (the bench pump) and history (none): the constant-flow
    # example is refused on its facts and its phase, as before.
    with served("tcp") as vr:
        kf = key_file_for(vr, tmp_path)
        code, _out, err = run_cli(["bench", str(examples.path("constant")), "--days", "1", "--out",
                                  str(tmp_path / "b"), "--quiet", "--port", vr.url, "--key-file", str(kf),
                                  "--yes"])
    assert code == EXIT_REFUSED and "built-in rig" not in err
    assert "[ITB-STA-01]" in err and bench_builtin.NO_PREVIOUS_HINT not in err
    # The facts in display units, as the host prints the envelope's text (never 40000000 nL).
    assert "program reservoir 40 mL differs from the rig's 20 mL [ITB-PMP-01]" in err, err
    assert "program catheter length 60 cm differs from the rig's 50 cm [ITB-PMP-02]" in err
    assert "program internal volume 0.25 mL differs from the rig's 0.2 mL [ITB-PMP-03]" in err
    assert " nL" not in err and " mm" not in err
