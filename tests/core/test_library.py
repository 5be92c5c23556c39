# The drug library's rows: every requirement ID once, well formed, the labeling's own numbers, lookups
# and overrides. The checks that apply the rows are tests/core/test_envelope.py's.
# Numbers are the labeling's own (mcg/day, %, h), converted here by hand: 1 mcg = 1000 ng.
# Runs under MicroPython too: plain asserts, helpers from tests.core.support only.

from firmware_py import library as lib
from firmware_py.errors import InputError, OverrideError
from tests.core.support import names_field, raises

MCG = 1000  # ng
H = 3600  # s
DAY = 24 * H

# The requirement IDs of the project brief, typed here independently of RULES.
BRIEF_IDS = (
    "ITB-SCR-01", "ITB-SCR-02", "ITB-SCR-03", "ITB-SCR-04", "ITB-SCR-05",
    "ITB-INI-01", "ITB-INI-02", "ITB-INI-03", "ITB-INI-04", "ITB-STA-01", "ITB-PAT-01",
    "ITB-TIT-01", "ITB-TIT-02", "ITB-TIT-03", "ITB-TIT-04",
    "ITB-MNT-01", "ITB-MNT-02", "ITB-MNT-03",
    "ITB-RNG-01", "ITB-RNG-02", "ITB-RNG-03", "ITB-RNG-04", "ITB-RNG-05",
    "ITB-ESC-01", "ITB-CON-01", "ITB-CON-02", "ITB-CON-03", "ITB-CON-04", "ITB-DIL-01",
    "ITB-SCH-01", "ITB-SCH-02", "ITB-SCH-03", "ITB-PMP-01", "ITB-PMP-02", "ITB-PMP-03", "ITB-PMP-04",
    "ITB-REF-01", "ITB-REF-02", "ITB-BRG-01",
    "ITB-HOL-01", "ITB-HOL-02", "ITB-HOL-03", "ITB-DIS-01",
)
SOURCES = (
    "000_bca09fe69b9ab955.txt", "001_75f866482c9c42d7.txt", "002_2ca3bb212e8effd8.txt",
    "003_1843e882944188f3.txt", "004_3f2ccdd1b920df0c.txt", "DESIGN.md",
)
UNIT_SUFFIXES = (
    "_ng",
    "_nl",
    "_s",
    "_permille",
    "_ppm",
    "_per_day",
    "_ng_per_ul",
    "_years",
    "_nl_per_cm",
    "_mm",
)


# ---------------------------------------------------------------- the table itself

def test_every_brief_id_is_one_row() -> None:
    seen = [r.req_id for r in lib.rules()]
    for rid in BRIEF_IDS:
        assert seen.count(rid) == 1, rid
    assert len(seen) == len(BRIEF_IDS)


def test_rows_are_well_formed() -> None:
    for r in lib.rules():
        assert r.kind in ("hard", "soft", "info"), r.req_id
        assert r.title and r.source, r.req_id
        # a hard rule names its NAK reason; soft and info rules none
        assert (r.reply in ("LIMIT", "TITRATION")) == (r.kind == "hard"), r.req_id
        for name in r.source.split(", "):
            assert name in SOURCES, (r.req_id, name)
        for key in r.params:
            value = r.params[key]
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                assert isinstance(v, int) and not isinstance(v, bool) and v > 0, (r.req_id, key)
            if key != "factor":
                ok = False
                for suffix in UNIT_SUFFIXES:
                    if key.endswith(suffix) or key.endswith(suffix + "s"):
                        ok = True
                assert ok, (r.req_id, key)  # every number names its unit


def test_rule_lookup() -> None:
    assert lib.rule("ITB-RNG-01").kind == "hard"
    assert lib.rule("ITB-RNG-04").kind == "soft"
    exc = raises(InputError, lib.rule, "ITB-RNG-99")
    assert names_field(exc, "req_id", "ITB-RNG-99")
    exc = raises(InputError, lib.param, "ITB-RNG-01", "no_such_param")
    assert "ITB-RNG-01.no_such_param" in str(exc)


def test_screening_rows_match_labeling() -> None:
    # REQ: ITB-SCR-01 ITB-SCR-02 ITB-SCR-03 ITB-SCR-04
    assert lib.rule("ITB-SCR-01").param_tuple("doses_ng") == (50 * MCG, 75 * MCG, 100 * MCG)
    assert lib.param("ITB-SCR-01", "interval_s") == 24 * H
    assert lib.param("ITB-SCR-01", "observe_min_s") == 4 * H
    assert lib.param("ITB-SCR-01", "observe_max_s") == 8 * H
    assert lib.param("ITB-SCR-02", "first_dose_min_ng") == 25 * MCG
    assert lib.param("ITB-SCR-02", "first_dose_max_ng") == 50 * MCG
    # 002: 1 mL = 50 mcg, 1.5 mL = 75 mcg, 2 mL = 100 mcg of the 50 mcg/mL ampule; 0.5 mL = 25 mcg.
    scr3 = lib.rule("ITB-SCR-03")
    doses, volumes = scr3.param_tuple("doses_ng"), scr3.param_tuple("volumes_nl")
    pairs = [(doses[i], volumes[i]) for i in range(len(doses))]
    assert pairs == [
        (25 * MCG, 500_000), (50 * MCG, 1_000_000), (75 * MCG, 1_500_000), (100 * MCG, 2_000_000)]
    for dose_ng, vol_nl in pairs:
        assert vol_nl * scr3.param("conc_ng_per_ul") == dose_ng * 1000  # ng/uL x nL = ng x 1000
    # Every SCR-01 dose and SCR-02's small first dose has a volume in SCR-03's table.
    for dose_ng in lib.rule("ITB-SCR-01").param_tuple("doses_ng"):
        assert dose_ng in doses
    assert lib.param("ITB-SCR-02", "first_dose_min_ng") in doses
    # SCR-04: nothing above the third test dose.
    assert lib.param("ITB-SCR-04", "max_test_dose_ng") == 100 * MCG
    assert lib.rule("ITB-SCR-01").param_tuple("doses_ng")[-1] == 100 * MCG
    assert lib.rule("ITB-SCR-04").kind == "hard"


def test_initial_dose_rows_match_labeling() -> None:
    # REQ: ITB-INI-01 ITB-INI-02 (applied by screening.py and envelope.py)
    assert lib.param("ITB-INI-01", "factor") == 2 and lib.param("ITB-INI-01", "over_s") == DAY
    assert lib.param("ITB-INI-02", "factor") == 1
    assert lib.param("ITB-INI-02", "effect_longer_than_s") == 8 * H


def test_pump_fact_rows_match_sources() -> None:
    # REQ: ITB-SCH-01 ITB-SCH-03 ITB-REF-01 ITB-REF-02 ITB-BRG-01 ITB-PMP-01 ITB-PMP-02 ITB-PMP-03 ITB-PMP-04
    assert lib.param("ITB-SCH-01", "lead_s") == 2 * H
    assert lib.param("ITB-SCH-03", "night_increase_permille") == 200
    assert lib.param("ITB-REF-01", "low_alarm_nl") == 2 * 1_000_000
    assert lib.param("ITB-REF-01", "book_min_s") == 3 * DAY
    assert lib.param("ITB-REF-01", "book_max_s") == 5 * DAY
    ref2 = lib.rule("ITB-REF-02")
    assert ref2.kind == "info"
    assert ref2.param("other_permille") == 50
    assert ref2.param_tuple("reservoirs_nl") == (20_000_000, 40_000_000)
    assert ref2.param_tuple("tolerances_nl") == (1_000_000, 2_000_000)
    # 0.0026 mL/cm = 2.6 uL/cm = 2600 nL/cm
    assert lib.param("ITB-BRG-01", "catheter_nl_per_cm") * 10_000 == 26 * 1_000_000
    # SynchroMed II reservoirs (DESIGN.md): 20 and 40 mL; a 30 min shortest step.
    assert lib.param_tuple("ITB-PMP-01", "reservoirs_nl") == (20_000_000, 40_000_000)
    assert lib.param("ITB-PMP-04", "min_step_s") == 30 * 60
    assert (
        lib.param("ITB-PMP-02", "max_catheter_mm") == 1_500
        and lib.param("ITB-PMP-03", "max_internal_nl") == 10**6
    )


def test_holiday_rows_keep_both_refractory_figures() -> None:
    # REQ: ITB-HOL-03 ITB-HOL-01 ITB-HOL-02: sources disagree (~5 % in 000, up to 10 % in 003); both kept.
    hol3 = lib.rule("ITB-HOL-03")
    assert hol3.kind == "info"
    assert hol3.param("refractory_000_permille") == 50
    assert hol3.param("refractory_003_permille") == 100
    assert "000_bca09fe69b9ab955.txt" in hol3.source and "003_1843e882944188f3.txt" in hol3.source
    assert "5 %" in hol3.title and "10 %" in hol3.title
    text = lib.refractory_text()
    assert "approximately 5 %" in text and "up to 10 %" in text and "003_1843e882944188f3.txt" in text
    assert (lib.param("ITB-HOL-01", "min_s"), lib.param("ITB-HOL-01", "max_s")) == (14 * DAY, 28 * DAY)
    assert lib.rule("ITB-HOL-02").kind == "hard"


def test_groups_and_bands() -> None:
    # REQ: ITB-RNG-01 ITB-RNG-02 ITB-RNG-03 ITB-TIT-03 ITB-MNT-01 ITB-MNT-02
    assert lib.range_rule("spinal", 30) == "ITB-RNG-01" and lib.range_rule("spinal", 17) == "ITB-RNG-02"
    assert lib.range_rule("cerebral", 12) == "ITB-RNG-02" and lib.range_rule("spinal", 11) == "ITB-RNG-03"
    assert lib.step_rule("spinal", 18, "titration") == "ITB-TIT-01"
    assert lib.step_rule("cerebral", 18, "titration") == "ITB-TIT-02"
    assert lib.step_rule("spinal", 17, "transfer") == "ITB-TIT-03"
    assert (
        lib.step_rule("spinal", 18, "refill") == "ITB-MNT-01"
        and lib.step_rule("spinal", 17, "refill") == "ITB-MNT-02"
    )
    exc = raises(InputError, lib.step_rule, "spinal", 30, "taper")
    assert names_field(exc, "phase", "taper")
    exc = raises(InputError, lib.range_rule, "spine", 30)
    assert names_field(exc, "origin", "spine")
    exc = raises(InputError, lib.range_rule, "spinal", 131)
    assert names_field(exc, "age_years", 131)


def test_overrides_of_hard_rules_and_empty_reasons_are_refused() -> None:
    # REQ: ITB-RNG-04: only soft rules can be overridden, and only with a printable reason.
    exc = raises(OverrideError, lib.validate_overrides, {"ITB-RNG-01": "please"})
    assert names_field(exc, "overrides", "ITB-RNG-01") and "hard" in str(exc)
    exc = raises(OverrideError, lib.validate_overrides, {"ITB-SCH-01": "x"})
    assert "info" in str(exc)
    exc = raises(OverrideError, lib.validate_overrides, {"ITB-XYZ-01": "x"})
    assert names_field(exc, "overrides", "ITB-XYZ-01")
    for bad in ("", "   ", "line\nbreak", "tab\there", "esc\x1b[2J", None, 5, "x" * 121):
        exc = raises(OverrideError, lib.validate_overrides, {"ITB-RNG-04": bad})
        assert names_field(exc, "overrides[ITB-RNG-04]", bad), bad
    assert lib.validate_overrides({"ITB-RNG-04": "x" * 120}) == {"ITB-RNG-04": "x" * 120}
    raises(OverrideError, lib.validate_overrides, ["ITB-RNG-04"])
