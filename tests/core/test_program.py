# Core tests of firmware_py.program: the record, its canonical codec, checksum and structural checks
# (run by pytest and under MicroPython).

from firmware_py.errors import ProgramError
from firmware_py.program import Program, checksum, decode, encode, short_id
from firmware_py.program_checks import problems, validate
from firmware_py.schedule import Schedule
from firmware_py.text import pct_encode
from firmware_py.windows import Window, build
from tests.core.support import names_field, raises

H = 3600
DAY = 86400
MCG = 1000
ML = 1000000

NIGHT_BYTES = (
    b"ITB2;drug=baclofen;conc=500;origin=spinal;age=34;pump=programmable;res=20000000;alarm=2000000;"
    b"minstep=1800;internal=200;cath=500;phase=titration;scr=0;eff=0;prev=0;why=;base=500000;period=86400;"
    b"steps=14400:500000,72000:600000;ovr=;label=night%20boost"
)


def pct(text: str) -> bytes:
    return pct_encode(text).encode()


def night_program(**changes: object) -> Program:
    # 500 mcg/day with the labeling's +20 % night boost (ITB-SCH-03), 500 mcg/mL in a 20 mL pump.
    kw: dict[str, object] = {
        "conc_ng_per_ul": 500,
        "origin": "spinal",
        "age_years": 34,
        "pump_kind": "programmable",
        "reservoir_nl": 20 * ML,
        "alarm_nl": 2 * ML,
        "min_step_s": 1800,
        "internal_nl": 200,
        "catheter_mm": 500,
        "phase": "titration",
        "base_dose_ng_per_day": 500 * MCG,
        "schedule": build(500 * MCG, [Window(22 * H, 6 * H, change_permille=200)]),
        "label": "night boost",
    }
    for k, v in changes.items():
        kw[k] = v
    return Program(**kw)


def thirteen_steps() -> Schedule:
    # 13 steps a day at high rates (7 digits), the longest realistic daily program.
    return Schedule(DAY, [(i * 6600, 2003000 - (i % 2) * 100000 - i * 1000) for i in range(13)])


def test_encode_is_byte_exact() -> None:
    # REQ: ITB-SCH-03 -- the night-boost program's canonical bytes.
    assert encode(night_program()) == NIGHT_BYTES


def test_round_trips() -> None:
    p = night_program()
    assert decode(encode(p)) == p
    assert encode(decode(NIGHT_BYTES)) == NIGHT_BYTES
    assert decode(bytearray(NIGHT_BYTES)) == p
    q = night_program(
        overrides=[("ITB-RNG-04", "reviewed: >1000 mcg/day; Dr. Müller"), ("ITB-ESC-01", "catheter imaged")],
        label="",
        schedule=thirteen_steps(),
        base_dose_ng_per_day=2003000,
        origin="cerebral",
        pump_kind="programmable",
        phase="side-effects",
        age_years=0,
        internal_nl=0,
        catheter_mm=0,
    )
    b = encode(q)
    assert decode(b) == q
    assert encode(decode(b)) == b
    weekly = night_program(schedule=build(500 * MCG, [Window(22 * H, 6 * H, change_permille=200, days=[4])]))
    assert decode(encode(weekly)) == weekly
    assert b";period=604800;steps=417600:600000,446400:500000;" in encode(weekly)


def test_encoding_travels_in_a_frame() -> None:
    # printable ASCII, no spaces, no frame delimiters, even with hostile free text
    p = night_program(overrides=[("ITB-RNG-04", "a*b>c<d e;=|:%")], label="x*y <z> ;|:=% ü")
    b = encode(p)
    for c in b:
        assert 0x21 <= c <= 0x7E and c not in b"*<>", c
    assert decode(b) == p


def test_thirteen_step_program_fits_one_frame() -> None:
    # A 13-step program with two overrides and a label: 502 bytes, well under 560 (one 640-byte frame
    # with the STG frame overhead).
    p = night_program(
        schedule=thirteen_steps(),
        base_dose_ng_per_day=2003000,
        conc_ng_per_ul=2000,
        reservoir_nl=40 * ML,
        internal_nl=250,
        catheter_mm=1000,
        overrides=[
            ("ITB-RNG-04", "above 1000 mcg/day, reviewed by Dr X"),
            ("ITB-ESC-01", "catheter checked"),
        ],
        label="night boost v2",
    )
    n = len(encode(p))
    assert n == 502, n
    assert n < 560


def test_checksum() -> None:
    # FIPS 180-2 test vector, then the record's own
    assert checksum(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert short_id(b"abc") == "ba7816bf8f01cfea"
    c = checksum(NIGHT_BYTES)
    assert len(c) == 64 and c == c.lower() and short_id(NIGHT_BYTES) == c[:16]
    assert checksum(NIGHT_BYTES.replace(b"age=34", b"age=35")) != c


def test_value_equality() -> None:
    a = night_program(overrides=[("ITB-RNG-04", "r1"), ("ITB-ESC-01", "r2")])
    b = night_program(overrides=[("ITB-ESC-01", "r2"), ("ITB-RNG-04", "r1")])
    assert a == b and (a != b) is False
    assert a.overrides == [("ITB-ESC-01", "r2"), ("ITB-RNG-04", "r1")]
    assert a != night_program()
    assert night_program() != night_program(label="other")
    assert night_program() != night_program(age_years=35)
    assert night_program() != "program"


def test_replace() -> None:
    p = night_program()
    q = p.replace(age_years=40)
    assert q.age_years == 40 and p.age_years == 34
    assert q.replace(age_years=34) == p
    e = raises(ProgramError, p.replace, colour="red")
    assert names_field(e, "colour", "red")


def test_constructor_rejects_bad_fields() -> None:
    cases = [
        ("version", 2),
        ("drug", "morphine"),
        ("conc_ng_per_ul", 0),
        ("conc_ng_per_ul", 500.0),
        ("conc_ng_per_ul", True),
        ("origin", "spine"),
        ("age_years", -1),
        ("age_years", 131),
        ("pump_kind", "fixed"),
        ("reservoir_nl", 0),
        ("alarm_nl", -1),
        ("min_step_s", 59),
        ("internal_nl", -1),
        ("catheter_mm", "500"),
        ("phase", "maintenance"),
        ("base_dose_ng_per_day", 0),  # ITB-DIS-01
        ("schedule", [(0, 500000)]),
        ("overrides", "ITB-RNG-04"),
        ("label", 5),
        ("label", "x" * 97),
    ]
    for field, value in cases:
        e = raises(ProgramError, night_program, **{field: value})
        assert names_field(e, field, value), (field, str(e))
    e = raises(ProgramError, night_program, overrides=[("ITB-RNG-04", "")])
    assert names_field(e, "overrides.reason", "")
    e = raises(ProgramError, night_program, overrides=[("itb-rng-04", "why")])
    assert names_field(e, "overrides.rule_id", "itb-rng-04")
    e = raises(ProgramError, night_program, overrides=[("ITB-RNG-04", "a"), ("ITB-RNG-04", "b")])
    assert names_field(e, "overrides.rule_id", "ITB-RNG-04")
    e = raises(ProgramError, night_program, overrides=[("ITB-RNG-04",)])
    assert names_field(e, "overrides", ("ITB-RNG-04",))


def _bad(b: object, field: str, value: object) -> None:
    e = raises(ProgramError, decode, b)
    assert names_field(e, field, value), (b, field, str(e))


def test_decode_rejects_non_canonical_ints() -> None:
    for bad in ("007", "+5", "-0", "-5", "", "5.0", "1e3", "0x10", "1234567890123456"):
        b = NIGHT_BYTES.replace(b"age=34", b"age=" + bad.encode())
        e = raises(ProgramError, decode, b)
        assert "age" in str(e), (bad, str(e))
    _bad(NIGHT_BYTES.replace(b"age=34", b"age=007"), "age", "007")
    _bad(NIGHT_BYTES.replace(b"age=34", b"age=+5"), "age", "+5")
    _bad(NIGHT_BYTES.replace(b"age=34", b"age=-0"), "age", "-0")
    _bad(NIGHT_BYTES.replace(b"res=20000000", b"res=020000000"), "res", "020000000")
    _bad(NIGHT_BYTES.replace(b"14400:500000", b"14400:0500000"), "steps", "0500000")
    # "0" itself is canonical
    assert decode(NIGHT_BYTES.replace(b"age=34", b"age=0")).age_years == 0


def test_decode_rejects_bad_keys() -> None:
    # unknown
    _bad(NIGHT_BYTES.replace(b";age=34;", b";agee=34;"), "agee", "agee=34")
    # missing
    _bad(NIGHT_BYTES.replace(b";age=34;", b";"), "age", "pump=programmable")
    # duplicate (in place of the next key, and at the end)
    _bad(NIGHT_BYTES.replace(b";age=34;", b";age=34;age=34;"), "age", "age=34")
    _bad(NIGHT_BYTES + b";age=34", "age", "age=34")
    # out of order
    swapped = NIGHT_BYTES.replace(b";age=34;pump=programmable;", b";pump=programmable;age=34;")
    _bad(swapped, "age", "pump=programmable")
    # no '=' at all
    _bad(NIGHT_BYTES.replace(b";age=34;", b";age;"), "age", "age")
    # truncated
    _bad(NIGHT_BYTES[: NIGHT_BYTES.index(b";ovr=")], "ovr", None)
    _bad(b"ITB2", "drug", None)


def test_decode_rejects_junk_and_bytes() -> None:
    _bad(NIGHT_BYTES + b";", "program", "")
    _bad(NIGHT_BYTES + b";x=1", "program", "x=1")
    _bad(b"ITB1" + NIGHT_BYTES[4:], "version", "ITB1")
    _bad(b"", "version", "")
    _bad(NIGHT_BYTES.replace(b"boost", b"b\xc3\xb6ost"), "program", b"\xc3")
    _bad(NIGHT_BYTES.replace(b"boost", b"b ost"), "program", b" ")
    _bad(NIGHT_BYTES.replace(b"boost", b"b*ost"), "program", b"*")
    _bad(NIGHT_BYTES.replace(b"boost", b"b>ost"), "program", b">")
    _bad(NIGHT_BYTES.replace(b"boost", b"b<ost"), "program", b"<")
    _bad(NIGHT_BYTES + b"\n", "program", b"\n")
    _bad(NIGHT_BYTES + b"\x00", "program", b"\x00")
    _bad(NIGHT_BYTES.decode(), "program", NIGHT_BYTES.decode())  # str, not bytes
    _bad(NIGHT_BYTES + b"x" * 2048, "program", len(NIGHT_BYTES) + 2048)


def test_decode_rejects_bad_enum_values() -> None:
    _bad(NIGHT_BYTES.replace(b"drug=baclofen", b"drug=Baclofen"), "drug", "Baclofen")
    _bad(NIGHT_BYTES.replace(b"origin=spinal", b"origin=brain"), "origin", "brain")
    _bad(NIGHT_BYTES.replace(b"pump=programmable", b"pump=manual"), "pump_kind", "manual")
    _bad(NIGHT_BYTES.replace(b"phase=titration", b"phase=TITRATION"), "phase", "TITRATION")


def test_decode_rejects_bad_steps() -> None:
    # not canonical: unmerged neighbours, unsorted, repeated, constant not at 0
    _bad(NIGHT_BYTES.replace(b"steps=14400:500000,72000:600000", b"steps=0:500000,14400:500000,72000:600000"),
         "steps", "0:500000,14400:500000,72000:600000")  # fmt: skip
    _bad(NIGHT_BYTES.replace(b"steps=14400:500000,72000:600000", b"steps=72000:600000,14400:500000"),
         "steps", "14400:500000")  # fmt: skip
    _bad(NIGHT_BYTES.replace(b"steps=14400:500000,72000:600000", b"steps=14400:500000,14400:600000"),
         "steps", "14400:600000")  # fmt: skip
    _bad(NIGHT_BYTES.replace(b"steps=14400:500000,72000:600000", b"steps=60:500000"), "steps", "60:500000")
    # zero rate (ITB-DIS-01), off-minute start, out of period
    _bad(NIGHT_BYTES.replace(b"72000:600000", b"72000:0"), "steps", "14400:500000,72000:0")
    _bad(NIGHT_BYTES.replace(b"72000:600000", b"72030:600000"), "steps", "14400:500000,72030:600000")
    _bad(NIGHT_BYTES.replace(b"72000:600000", b"86400:600000"), "steps", "14400:500000,86400:600000")
    _bad(NIGHT_BYTES.replace(b"period=86400", b"period=3600"), "steps", "14400:500000,72000:600000")
    _bad(NIGHT_BYTES.replace(b"72000:600000", b"72000"), "steps", "72000")
    _bad(NIGHT_BYTES.replace(b"72000:600000", b"72000:600000:1"), "steps", "72000:600000:1")
    _bad(NIGHT_BYTES.replace(b"steps=14400:500000,72000:600000", b"steps="), "steps", "")
    _bad(NIGHT_BYTES.replace(b"period=86400", b"period=086400"), "period", "086400")


def test_decode_rejects_bad_text() -> None:
    # escapes must be canonical: upper-case hex, safe characters never escaped
    _bad(NIGHT_BYTES.replace(b"night%20boost", b"night%2fboost"), "label", "night%2fboost")
    _bad(NIGHT_BYTES.replace(b"night%20boost", b"%6Eight"), "label", "%6Eight")
    _bad(NIGHT_BYTES.replace(b"night%20boost", b"night%G0"), "label", "night%G0")
    _bad(NIGHT_BYTES.replace(b"night%20boost", b"night%2"), "label", "night%2")
    _bad(NIGHT_BYTES.replace(b"night%20boost", b"night=boost"), "label", "night=boost")
    _bad(NIGHT_BYTES.replace(b"night%20boost", b"%FF"), "label", "%FF")
    ovr = b"ovr=ITB-ESC-01:r2|ITB-RNG-04:r1;"
    got = decode(NIGHT_BYTES.replace(b"ovr=;", ovr)).overrides
    assert got == [("ITB-ESC-01", "r2"), ("ITB-RNG-04", "r1")]
    _bad(NIGHT_BYTES.replace(b"ovr=;", b"ovr=ITB-RNG-04:r1|ITB-ESC-01:r2;"), "ovr", "ITB-ESC-01:r2")
    _bad(NIGHT_BYTES.replace(b"ovr=;", b"ovr=ITB-RNG-04:r1|ITB-RNG-04:r2;"), "ovr", "ITB-RNG-04:r2")
    _bad(NIGHT_BYTES.replace(b"ovr=;", b"ovr=ITB-RNG-04;"), "ovr", "ITB-RNG-04")
    _bad(NIGHT_BYTES.replace(b"ovr=;", b"ovr=ITB-RNG-04:;"), "overrides.reason", "")
    _bad(NIGHT_BYTES.replace(b"ovr=;", b"ovr=RNG-04:why;"), "ovr", "RNG-04")
    _bad(NIGHT_BYTES.replace(b"ovr=;", b"ovr=ITB-RNG-04:a%20b:c;"), "ovr", "ITB-RNG-04:a%20b:c")
    _bad(NIGHT_BYTES.replace(b"ovr=;", b"ovr=|;"), "ovr", "")


def test_validate_accepts_the_night_program() -> None:
    # REQ: ITB-SCH-03
    validate(night_program())
    assert problems(night_program()) == []


def _problem(p: Program, field: str, value: object) -> None:
    e = raises(ProgramError, validate, p)
    assert names_field(e, field, value), (field, str(e))
    assert len([x for x in problems(p) if x.field == field]) >= 1


def test_validate_alarm_and_reservoir() -> None:
    # REQ: ITB-REF-01 -- the low-reservoir alarm must come before empty
    _problem(night_program(alarm_nl=20 * ML), "alarm_nl", 20 * ML)
    _problem(night_program(alarm_nl=0), "alarm_nl", 0)
    validate(night_program(alarm_nl=20 * ML - 1))


def test_validate_concentration() -> None:
    # REQ: ITB-CON-04, ITB-SCR-05
    validate(night_program(conc_ng_per_ul=2000))
    _problem(night_program(conc_ng_per_ul=2001), "conc_ng_per_ul", 2001)
    _problem(night_program(conc_ng_per_ul=50), "conc_ng_per_ul", 50)
    validate(night_program(conc_ng_per_ul=51))
    validate(night_program(conc_ng_per_ul=1))


def test_validate_step_length_boundary() -> None:
    s_ok = Schedule(DAY, [(0, 500000), (10 * H, 600000), (10 * H + 1800, 500000 + 1)])
    validate(night_program(schedule=s_ok))
    s_short = Schedule(DAY, [(0, 500000), (10 * H, 600000), (10 * H + 1740, 500000 + 1)])
    _problem(night_program(schedule=s_short), "steps", (10 * H, 600000))
    _problem(night_program(min_step_s=1830), "min_step_s", 1830)


def test_validate_thirteen_steps_ok_fourteen_refused() -> None:
    s13 = Schedule(DAY, [(i * 3600, 500000 + (i % 2) * 1000) for i in range(12)] + [(12 * H, 700000)])
    assert len(s13.steps) == 13
    validate(night_program(schedule=s13))
    s14 = Schedule(DAY, [(i * 3600, 500000 + (i % 2) * 1000) for i in range(13)] + [(13 * H, 700000)])
    _problem(night_program(schedule=s14), "steps_per_day", 14)


def test_validate_base_dose_among_rates() -> None:
    _problem(night_program(base_dose_ng_per_day=550000), "base_dose_ng_per_day", 550000)
    validate(night_program(base_dose_ng_per_day=600000))


def test_validate_start_fields_follow_the_phase() -> None:
    # REQ: ITB-STA-01: initial and restart state the screening dose and its effect, a transfer the other
    # pump's dose and a reason; a change phase states none.
    ok = night_program(phase="initial", screening_dose_ng=100 * MCG, effect_s=6 * H)
    validate(ok)
    assert decode(encode(ok)) == ok
    _problem(night_program(phase="initial"), "screening_dose_ng", 0)
    _problem(night_program(screening_dose_ng=100 * MCG, effect_s=6 * H), "screening_dose_ng", 100 * MCG)
    t = night_program(phase="transfer", previous_ng_per_day=500 * MCG, reason="from the old pump")
    validate(t)
    assert b";prev=500000;why=from%20the%20old%20pump;" in encode(t)
    _problem(night_program(phase="transfer", previous_ng_per_day=500 * MCG), "previous_ng_per_day", 500 * MCG)
    _problem(night_program(reason="why"), "previous_ng_per_day", 0)


def test_text_is_printable_and_overrides_name_soft_rules() -> None:
    # Control characters in a label or a reason are refused (they would reach terminals), also after
    # decoding; an override must name a soft rule.
    for bad in ("a\x00b", "\x1b[2J", "ok\nitb: OK", "bell\x07", "del\x7f", "c1\x9b"):
        e = raises(ProgramError, night_program, label=bad)
        assert names_field(e, "label", bad), bad
        _bad(NIGHT_BYTES.replace(b"night%20boost", pct(bad)), "label", bad)
    _problem(night_program(overrides=[("ITB-RNG-01", "no")]), "overrides", "ITB-RNG-01")
    validate(night_program(overrides=[("ITB-RNG-04", "reviewed")]))


def test_validate_lists_every_problem() -> None:
    p = night_program(alarm_nl=30 * ML, conc_ng_per_ul=50, phase="initial")
    fields = [x.field for x in problems(p)]
    assert fields == ["alarm_nl", "conc_ng_per_ul", "screening_dose_ng"], fields
    e = raises(ProgramError, validate, "ITB2;")
    assert names_field(e, "program", "ITB2;")
