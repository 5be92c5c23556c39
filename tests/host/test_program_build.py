"""`itb program build`: prescriptions built from the core and decided by the envelope exactly as the rig will
decide them; start and change phases; every example builds; program files written and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_py import envelope, library
from firmware_py import program as core_program
from firmware_py.config import Config
from firmware_py.decision import Decision
from firmware_py.history import History
from host_tools import dates, rx
from host_tools.errors import RefusedError, UsageError, VerificationError
from tests.host.conftest import EXAMPLES, Itb

NIGHT = (EXAMPLES / "night-boost.toml").read_text()
BUILDS = ["night-boost", "constant", "weekend", "soft-override", "initial", "concentration-change"]


@pytest.mark.parametrize("name", BUILDS)
def test_every_example_builds(itb: Itb, name: str, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    r = itb("program", "build", str(EXAMPLES / f"{name}.toml"), "-o", str(out))
    assert r.rc == 0, r.err
    doc = json.loads(out.read_bytes())
    assert out.read_bytes() == rx.canonical_json(doc)
    assert core_program.checksum(doc["encoding"].encode()) == doc["checksum"]
    assert rx.json_checksum(doc) == doc["json_checksum"]
    assert rx.read_program_json(out)["checksum"] == doc["checksum"]
    assert doc["decision"].startswith("allowed: ")


def test_the_refused_example_is_refused_and_leaves_no_file(itb: Itb, tmp_path: Path) -> None:
    """REQ: ITB-TIT-01. +40 % in a titration: exit 1, the decision's rule, no file."""
    out = tmp_path / "p.json"
    itb("program", "build", str(EXAMPLES / "refused-titration.toml"), "-o", str(out)).one_line_error(
        1,
        "refused: titration 500 -> 700 mcg/day",
        "(+40 %) is above the +30 % titration limit",
        "[ITB-TIT-01]",
    )
    assert list(tmp_path.iterdir()) == []


def _rig_decision(built: rx.BuiltProgram, history: History, running: object, now: int) -> Decision:
    p = built.program
    cfg = Config(p.pump_kind, p.reservoir_nl, p.internal_nl, p.catheter_mm, p.min_step_s)
    return envelope.decide(history, running, envelope.Commit(p), cfg, now)  # type: ignore[arg-type]


def test_night_boost_starts_a_fresh_rig_as_the_rig_decides() -> None:
    """REQ: ITB-STA-01, ITB-TIT-01, ITB-SCH-01. The main job: a transfer from a 500 mcg/day pump, +20 % at
    night; the rig's own decision on a fresh rig (empty history, nothing running) is the build's, word for
    word."""
    b = rx.build_program(rx.load_prescription(EXAMPLES / "night-boost.toml"))
    assert b.program.phase == library.TRANSFER and b.program.previous_ng_per_day == 500_000
    now = dates.day_start_s(b.rx.fill_date)
    fresh = _rig_decision(b, History(), None, now)
    assert fresh.allowed and fresh.message() == b.decision.message()
    assert "ITB-TIT-01" in b.decision.applied and "ITB-STA-01" in b.decision.applied
    doc = b.to_json()
    assert [(s["start"], s["end"]) for s in doc["steps"]] == [("04:00", "20:00"), ("20:00", "04:00")]
    # 18 mL x 500 mcg/mL at 533.333 mcg/day: 16.87 days -> 2025-03-19
    assert doc["refill"] == {**doc["refill"], "fill_date": "2025-03-03", "alarm_date": "2025-03-19"}
    assert doc["start"] == {
        "previous": {
            "per_day": {"value": 500, "unit": "mcg/day"},
            "per_hour": {"value": 20.833, "unit": "mcg/h"},
        },
        "reason": "pump replaced at the end of its battery life",
    }


def test_a_change_is_decided_against_the_stated_history() -> None:
    """The build's history is envelope.stated_history of [previous]: the same decision as the rig with that
    history and the previous program running."""
    b = rx.build_program(rx.load_prescription(EXAMPLES / "soft-override.toml"))
    now = dates.day_start_s(b.rx.fill_date)
    prev = b.rx.previous
    assert prev is not None
    from firmware_py.schedule import Schedule  # noqa: PLC0415

    running = Schedule(86_400, [(0, prev.base.base())])
    h = envelope.stated_history(now, running, prev.since_change.base(), None)
    assert _rig_decision(b, h, running, now).message() == b.decision.message()
    assert "overridden ITB-RNG-04" in b.decision.message()


def _build_text(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "rx.toml"
    f.write_text(text)
    return f


def test_a_soft_limit_without_override_is_refused(itb: Itb, tmp_path: Path) -> None:
    """REQ: ITB-RNG-04."""
    text = (EXAMPLES / "soft-override.toml").read_text().split("\n[[override]]")[0]
    itb("program", "build", str(_build_text(tmp_path, text))).one_line_error(
        1, "needs override (ITB-RNG-04)", "add an [[override]] with rule and reason for ITB-RNG-04"
    )


def test_a_hard_range_is_refused_even_with_overrides(itb: Itb, tmp_path: Path) -> None:
    """REQ: ITB-RNG-01."""
    text = (
        (EXAMPLES / "soft-override.toml")
        .read_text()
        .replace('base = "1100 mcg/day"', 'base = "2100 mcg/day"')
    )
    itb("program", "build", str(_build_text(tmp_path, text))).one_line_error(1, "[ITB-RNG-01]")


def test_toml_days_cover_every_day(tmp_path: Path) -> None:
    """Issue 12: TOML days = ["Mon-Fri"] gave Monday only."""
    text = NIGHT.replace('effect = "22:00-06:00"', 'effect = "08:00-10:00"\ndays = ["Mon-Fri"]')
    b = rx.build_program(rx.load_prescription(_build_text(tmp_path, text)))
    totals = [t["value"] for t in b.to_json()["daily_totals"]]
    assert totals == [508.333] * 5 + [500, 500]  # +100 mcg/day for 2 h on each weekday
    assert b.to_json()["windows"] == [
        {"effect": "08:00-10:00", "change": "+20%", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"]}
    ]


def test_a_concentration_change_states_the_bridge_and_the_dilution(itb: Itb) -> None:
    """REQ: ITB-BRG-01, ITB-DIL-01. 500 -> 750 mcg/mL: the program states the achieved 750 mcg/mL and the
    build
    says the bridge bolus (volume, duration)."""
    r = itb("program", "build", str(EXAMPLES / "concentration-change.toml"))
    assert r.rc == 0
    assert "bridge bolus needed: 0.33 mL of 500 mcg/mL at 1.2 mL/day (50 uL/h) for 6 h 36 min" in r.out
    assert "dilution     7.5 mL of 2000 mcg/mL + 12.5 mL preservative-free 0.9% NaCl = 750 mcg/mL" in r.out
    doc = itb("program", "build", str(EXAMPLES / "concentration-change.toml"), "--json").json()
    assert doc["concentration"] == {"value": 750, "unit": "mcg/mL"} and "conc=750;" in doc["encoding"]
    assert doc["bridge"]["bridge_volume"] == {"value": 0.33, "unit": "mL"}


def test_a_dilution_beyond_tolerance_is_refused(itb: Itb, tmp_path: Path) -> None:
    text = (
        (EXAMPLES / "concentration-change.toml")
        .read_text()
        .replace('concentration = "750 mcg/mL"', 'concentration = "745 mcg/mL"')
    )
    text = text.replace('resolution = "0.1 mL"', 'resolution = "0.1 mL"\ntolerance = "0.5%"')
    itb("program", "build", str(_build_text(tmp_path, text))).one_line_error(
        1, "drug.concentration: '745 mcg/mL' cannot be made within 0.5 %", "[ITB-DIL-01]"
    )


START = NIGHT.split("[start]")[0]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (START, "start: is missing: phase transfer starts a pump"),
        (
            START + '[start]\nprevious = "500 mcg/day"\n',
            "start.reason: is missing; phase transfer states previous",
        ),
        (START + '[start]\nprevious = "500 mcg/day"\nreason = " "\n', "start.reason: ' ' is empty"),
        (
            START + '[start]\nscreening_dose = "50 mcg"\neffect = "6 h"\n',
            "start.screening_dose: '50 mcg' is not for phase transfer",
        ),
        (
            NIGHT + '\n[previous]\nbase = "500 mcg/day"\nsince_change = "1 day"\n',
            "previous: '[previous]' describes a running pump",
        ),
        (
            NIGHT.replace('phase = "transfer"', 'phase = "refill"'),
            "start: '[start]' is for a phase that starts",
        ),
        (
            NIGHT.replace('phase = "transfer"', 'phase = "boost"'),
            "dose.phase: 'boost' is not one of initial, restart, transfer, titration",
        ),
        (
            START.replace('phase = "transfer"', 'phase = "initial"') + '[start]\nscreening_dose = "60 mcg"\n'
            'effect = "6 h"\n',
            "start.screening_dose: '60 mcg' is not a screening test dose",
        ),
    ],
)
def test_start_and_previous_tables_fit_the_phase(itb: Itb, tmp_path: Path, text: str, needle: str) -> None:
    itb("program", "build", str(_build_text(tmp_path, text))).one_line_error(2, needle)


def test_an_initial_dose_above_the_screening_rule_is_refused(itb: Itb, tmp_path: Path) -> None:
    """REQ: ITB-INI-01."""
    text = (EXAMPLES / "initial.toml").read_text().replace('base = "100 mcg/day"', 'base = "150 mcg/day"')
    itb("program", "build", str(_build_text(tmp_path, text))).one_line_error(
        1, "an initial dose of at most 100 mcg/day follows from the 50 mcg screening dose", "[ITB-INI-01]"
    )


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            'concentration = "500 mcg/mL"',
            'concentration = "500"',
            "drug.concentration: '500' is a bare number",
        ),
        (
            'concentration = "500 mcg/mL"',
            'concentration = "500 zz/mL"',
            "drug.concentration: '500 zz/mL' has an unknown unit",
        ),
        (
            'base = "500 mcg/day"',
            'base = "-500 mcg/day"',
            "dose.base: '-500 mcg/day' must be greater than zero",
        ),
        ('reservoir = "20 mL"\n', "", "pump.reservoir: is missing"),
        ('reservoir = "20 mL"', 'reservoir = "30 mL"', "pump.reservoir: '30 mL' is not a reservoir size"),
        ('catheter_length = "50 cm"', 'catheter_length = "0.5 m"', None),
        (
            'catheter_length = "50 cm"',
            'catheter_length = "100 m"',
            "pump.catheter_length: '100 m' is not 10 cm",
        ),
        ('min_step = "30 min"', 'min_step = "10 min"', "pump.min_step: '10 min' is shorter than the 30 min"),
        ("age = 34", 'age = "34"', "patient.age: '34' is not an integer"),
        ("age = 34", "age = true", "patient.age: 'True' is not an integer"),
        ("age = 34", "age = 34\nage = 35", "patient.age: '35' is a second value for the same key"),
        ("[patient]", "[patient]\nweight = 70", "patient.weight: '70' is not a field of this table"),
        (
            'effect = "22:00-06:00"',
            'effect = "22:00-22:10"',
            "window[0].change: '22:00-22:10=+20%' lasts 10 min",
        ),
        ('change = "+20%"', 'change = "20%"', "window[0].change: '20%' has no sign"),
        (
            'change = "+20%"',
            'change = "+20%"\ndays = ["Monkey"]',
            "window[0].days: 'Monkey' is not a weekday",
        ),
        ("[drug]", "[drug", "is malformed TOML"),
        ('lead = "2 h"', 'lead = "30 h"', "dose.lead: '30 h' is not less than 24 h"),
        (
            'concentration = "500 mcg/mL"',
            'concentration = "50 mcg/mL"',
            "drug.concentration: '50 mcg/mL' is the screening strength, for bolus test doses only",
        ),
        (
            'alarm_volume = "2 mL"',
            'alarm_volume = "0 mL"',
            "pump.alarm_volume: '0 mL' is not above 0 mL and below pump.reservoir '20 mL'",
        ),
    ],
)
def test_bad_prescriptions_exit_2_naming_the_field(
    itb: Itb, tmp_path: Path, old: str, new: str, needle: str | None
) -> None:
    assert old in NIGHT
    out = tmp_path / "p.json"
    r = itb("program", "build", str(_build_text(tmp_path, NIGHT.replace(old, new))), "-o", str(out))
    if needle is None:
        assert r.rc == 0, r.err
        return
    r.one_line_error(2, needle)
    assert not out.exists()


def test_overlapping_windows_in_toml(itb: Itb, tmp_path: Path) -> None:
    text = NIGHT + '\n[[window]]\neffect = "05:00-07:00"\nchange = "+10%"\n'
    itb("program", "build", str(_build_text(tmp_path, text))).one_line_error(
        2, "window[0].change: '22:00-06:00=+20%' and '05:00-07:00=+10%' overlap"
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ('\n[[override]]\nrule = "ITB-RNG-01"\nreason = "x"\n', "override: 'ITB-RNG-01=x' names a hard rule"),
        ('\n[[override]]\nrule = "ITB-RNG-04"\nreason = "  "\n', "override[0].reason: '  ' is empty"),
    ],
)
def test_override_refusals(itb: Itb, tmp_path: Path, extra: str, needle: str) -> None:
    itb("program", "build", str(_build_text(tmp_path, NIGHT + extra))).one_line_error(2, needle)


def test_files_that_are_not_prescriptions(itb: Itb, tmp_path: Path) -> None:
    f = tmp_path / "rx.toml"
    f.write_bytes(NIGHT.encode().replace(b"night boost", b"night \xff boost"))
    itb("program", "build", str(f)).one_line_error(2, "is not UTF-8")
    f.write_text(NIGHT + "#" * (rx.MAX_RX_BYTES + 1))
    itb("program", "build", str(f)).one_line_error(2, "is larger than 65536 bytes")
    itb("program", "build", str(tmp_path / "missing.toml")).one_line_error(2, "cannot be read")


def test_output_to_stdout(itb: Itb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: '-o -' wrote a file named '-'."""
    monkeypatch.chdir(tmp_path)
    r = itb("program", "build", str(EXAMPLES / "night-boost.toml"), "-o", "-")
    assert r.rc == 0 and list(tmp_path.iterdir()) == []
    doc = json.loads(r.out)
    assert r.out.encode() == rx.canonical_json(doc)


def _doc(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / "p.json"
    rx.write_json_atomic(out, rx.build_program(rx.load_prescription(EXAMPLES / "night-boost.toml")).to_json())
    return out, json.loads(out.read_text())


def test_a_tampered_program_file_fails_verification(tmp_path: Path) -> None:
    out, doc = _doc(tmp_path)
    doc["encoding"] = doc["encoding"].replace("base=500000", "base=5000000")
    doc["json_checksum"] = rx.json_checksum(doc)
    out.write_bytes(rx.canonical_json(doc))
    with pytest.raises(VerificationError, match="checksum does not match the program encoding"):
        rx.load_source(out)


def test_an_edited_document_fails_its_json_checksum(tmp_path: Path) -> None:
    """A reader sees the document; an edit that leaves the encoding alone still fails (json_checksum)."""
    out, doc = _doc(tmp_path)
    doc["label"] = "edited"
    out.write_bytes(rx.canonical_json(doc))
    with pytest.raises(VerificationError, match="json_checksum does not match the document"):
        rx.read_program_json(out)


def test_a_duplicated_key_is_refused(tmp_path: Path) -> None:
    out = _doc(tmp_path)[0]
    out.write_text(out.read_text().replace('{"base_dose"', '{"label":"x","base_dose"', 1))
    with pytest.raises(UsageError, match="is a key written twice"):
        rx.read_program_json(out)


def test_load_source_reads_both_kinds_alike(tmp_path: Path) -> None:
    """The one program-source loader: the same program, windows, lead and fill time from the prescription
    and from the file built from it."""
    out = _doc(tmp_path)[0]
    a, b = rx.load_source(EXAMPLES / "night-boost.toml"), rx.load_source(out)
    assert (a.encoding, a.checksum, a.windows, a.lead_s, a.fill_start_s) == (
        b.encoding,
        b.checksum,
        b.windows,
        b.lead_s,
        b.fill_start_s,
    )
    assert a.built is not None and b.built is None
    with pytest.raises(UsageError, match="is neither a prescription"):
        rx.load_source(tmp_path / "p.txt")


def test_refusal_is_a_refused_error() -> None:
    with pytest.raises(RefusedError) as exc:
        rx.build_program(rx.load_prescription(EXAMPLES / "refused-titration.toml"))
    assert exc.value.rule_ids == ["ITB-TIT-01"] and exc.value.exit_code == 1
