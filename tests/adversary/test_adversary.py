"""The model-based adversary in the normal suite: a bounded slice of sequences (the long run is
`./dev adversary [N]`), the canary that shows the invariants can fail, and checks of the model itself."""

from __future__ import annotations

from fractions import Fraction

from firmware_py import library
from firmware_py import program as pg
from tests.adversary import machine
from tests.adversary import model as mdl
from tests.adversary.canary import envelope_off
from tests.adversary.model import DAY, WEEK, Facts, Model, Spec, Steps
from tests.core.support import T0

SLICE_SEQUENCES = 120  # about 8 s on an idle core; the long run is ./dev adversary
CANARY_SEQUENCES = 60

FACTS = Facts("programmable", 20_000_000, 200_000, 500, 1800)


def spec(steps: list[tuple[int, int]] | int, phase: str = "titration", period: int = DAY,
         **kw: object) -> Spec:
    st = [(0, steps)] if isinstance(steps, int) else steps
    f: dict[str, object] = dict(conc=500, origin="spinal", age=40, pump="programmable", res=20_000_000,
                                alarm=2_000_000, minstep=1800, internal=200_000, cath=500, phase=phase, scr=0,
                                eff=0, prev=0, why="", base=min(r for _s, r in st), period=period, steps=st)
    f.update(kw)
    return Spec(**f)  # type: ignore[arg-type]


def running_model(rate: int = 500_000, t: int = T0) -> Model:
    m = Model(FACTS, t)
    s = spec(rate, "transfer", prev=rate, why="bench")
    m.commit(s, s.encode(), (20_000_000, 500, 0))
    return m


# -- the model's own arithmetic -------------------------------------------------------------------------


def test_steps_rate_integral_solve() -> None:
    s = Steps(DAY, [(3600, 200), (7200, 100)])  # 00:00-01:00 runs the last step (100), 01:00-02:00 200
    assert s.rate(T0) == 100 and s.rate(T0 + 3600) == 200 and s.rate(T0 + 7199) == 200
    assert s.rate(T0 + 7200) == 100 and s.rate(T0 + DAY - 1) == 100
    assert s.integral(T0, T0 + DAY) == 100 * 82_800 + 200 * 3600
    assert s.integral(T0 + 3000, T0 + 2 * DAY + 4000) == 2 * s.total + 600 * 100 + 400 * 200
    t = s.solve(T0 + 3000, Fraction(600 * 100 + 10 * 200))
    assert t == T0 + 3610
    assert s.low_between(T0 + 3600, T0 + 7200) == 200 and s.low_between(T0 + 3600, T0 + 7201) == 100


def test_weekly_phase_starts_on_monday() -> None:
    assert (T0 + 3 * DAY) % WEEK == 0  # T0 is a Monday 00:00 (rig second 0 was a Thursday)
    s = Steps(WEEK, [(0, 1), (DAY, 2)])
    assert s.rate(T0) == 1 and s.rate(T0 + DAY - 1) == 1 and s.rate(T0 + DAY) == 2 and s.rate(T0 + WEEK) == 1
    daily = Steps(DAY, [(0, 5), (43_200, 6)])
    ps = mdl.pieces([s, daily])
    assert ps[0] == (0, 43_200, [1, 5]) and ps[1] == (43_200, DAY, [1, 6])
    assert ps[2] == (DAY, DAY + 43_200, [2, 5])


def test_encoder_matches_the_protocol_example() -> None:
    # docs/protocol.md section 7's example, written by the adversary's own encoder.
    doc = ("ITB2;drug=baclofen;conc=500;origin=spinal;age=40;pump=programmable;res=20000000;alarm=2000000;"
           "minstep=1800;internal=200000;cath=500;phase=transfer;scr=0;eff=0;prev=100000;why=bench;base=100000;"
           "period=86400;steps=0:100000,72000:120000;ovr=;label=example")
    s = spec([(0, 100_000), (72_000, 120_000)], "transfer", prev=100_000, why="bench", label="example")
    assert s.encode().decode() == doc
    s2 = spec(1_200_000, ovr=[("ITB-ESC-01", "x y"), ("ITB-RNG-04", "ok")], label="a b/c")
    assert pg.encode(pg.decode(s2.encode())) == s2.encode()  # canonical for the rig's decoder too
    assert mdl.canonical(DAY, [(0, 5), (600, 5), (1200, 7), (1800, 5)]) == [(1200, 7), (1800, 5)]
    assert mdl.canonical(DAY, [(0, 5), (600, 5)]) == [(0, 5)]


def test_rule_numbers_typed_from_the_labeling_match_the_library_data() -> None:
    for rid, (lo, hi) in mdl.RANGES.items():
        assert (library.param(rid, "low_ng_per_day"), library.param(rid, "high_ng_per_day")) == (lo, hi)
    assert library.param("ITB-TIT-01", "max_step_permille") == mdl.TITRATION_BAND[0]
    assert library.param("ITB-TIT-02", "max_step_permille") == mdl.TITRATION_BAND[1]
    assert library.param("ITB-TIT-03", "max_step_permille") == mdl.TITRATION_BAND[1]
    assert library.param("ITB-MNT-01", "max_step_permille") == mdl.REFILL_BAND[0]
    assert library.param("ITB-MNT-02", "max_step_permille") == mdl.REFILL_BAND[1]
    assert library.param("ITB-DIS-01", "max_step_reduction_permille") == mdl.MAX_CUT
    assert library.param("ITB-TIT-04", "programmable_interval_s") == mdl.INCREASE_INTERVAL_S["programmable"]
    assert library.param("ITB-TIT-04", "constant_flow_interval_s") == mdl.INCREASE_INTERVAL_S["constant-flow"]
    assert library.param("ITB-RNG-04", "above_ng_per_day") == mdl.SOFT_HIGH
    assert library.param("ITB-ESC-01", "max_increase_permille") == mdl.ESC_RISE
    assert library.param("ITB-INI-02", "effect_longer_than_s") == mdl.LONG_EFFECT_S
    assert library.param("ITB-BRG-01", "catheter_nl_per_cm") == mdl.CATH_NL_PER_MM * 10
    assert library.param("ITB-SCR-04", "max_test_dose_ng") == max(mdl.SCREENING_DOSES)


# -- the invariants on hand-made histories --------------------------------------------------------------


def breaks(m: Model) -> list[tuple[int, str]]:
    return [(b.inv, b.tag) for b in m.breaks]


def test_invariant_band_and_spacing_edges() -> None:
    m = running_model(500_000)
    m.advance(T0 + DAY)
    ok = spec(650_000, ovr=[("ITB-ESC-01", "x")])  # +30 % exactly, 24 h after the start
    m.commit(ok, ok.encode(), None)
    assert breaks(m) == []
    m.advance(T0 + 2 * DAY - 1)
    over = spec(845_001, ovr=[("ITB-ESC-01", "x")])  # +30 % and 1 ng/day, 1 s early
    m.commit(over, over.encode(), None)
    assert breaks(m) == [(2, "band-titration"), (3, "spacing")]


def test_invariant_cut_counts_every_schedule_of_the_last_24_h() -> None:
    m = running_model(500_000)
    m.advance(T0 + 3600)
    a = spec(400_000, "side-effects")  # -20 %: allowed
    m.commit(a, a.encode(), None)
    m.advance(T0 + 7200)
    b = spec(399_999, "taper")  # 1 ng/day under 80 % of the 500 000 that ran 2 h ago
    m.commit(b, b.encode(), None)
    assert breaks(m) == [(4, "cut")]


def test_invariant_cut_counts_a_transfer_s_stated_dose() -> None:
    m = running_model(500_000)  # a transfer from 500 000 at 500 000
    m.advance(T0 + 60)
    a = spec(400_000, "taper")
    m.commit(a, a.encode(), None)
    assert breaks(m) == []
    m2 = Model(FACTS, T0)
    s = spec(400_000, "transfer", prev=500_000, why="bench")  # a transfer at -20 %
    m2.commit(s, s.encode(), (20_000_000, 500, 0))
    m2.advance(T0 + 60)
    b = spec(320_000, "taper")  # another -20 % a minute later: -36 % from the stated dose
    m2.commit(b, b.encode(), None)
    assert breaks(m2) == [(4, "cut-transfer-prev")]


def test_invariant_initial_dose_and_start_phase() -> None:
    m = Model(FACTS, T0)
    s = spec(100_001, "initial", scr=50_000, eff=6 * 3600)
    m.commit(s, s.encode(), (20_000_000, 500, 0))
    assert breaks(m) == [(5, "initial-dose")]
    m2 = Model(FACTS, T0)
    s2 = spec(50_001, "restart", scr=50_000, eff=8 * 3600 + 1)  # effect > 8 h: at most the screening dose
    m2.commit(s2, s2.encode(), (20_000_000, 500, 0))
    assert breaks(m2) == [(5, "initial-dose")]


def test_invariant_bolus_cap_and_bolus_cut() -> None:
    m = running_model(500_000)
    conc = spec(500_000, "refill", conc=1000)
    m.commit(conc, conc.encode(), (20_000_000, 1000, 18_000_000))
    assert m.pending_old == 500
    dead = mdl.dead_volume_nl(FACTS.internal, FACTS.cath)  # 200 000 + 500 mm * 260 nL = 330 000 nL
    dur = dead * DAY * 500 // (500_000 * 1000)  # the old flow: 1 mL/day at 500 mcg/day of 500 mcg/mL
    m.start_bolus(dead, dur)
    m.advance(m.t + dur)
    assert breaks(m) == []
    m2 = running_model(500_000)
    m2.commit(conc, conc.encode(), (20_000_000, 1000, 18_000_000))
    m2.start_bolus(dead + 1, dur)
    m2.advance(m2.t + 3 * dur)
    assert breaks(m2) == [(6, "volume"), (6, "flow")]
    m3 = running_model(500_000)
    m3.commit(conc, conc.encode(), (20_000_000, 1000, 18_000_000))
    m3.start_bolus(1000, DAY)  # 1 uL over a day: 1.5 mcg/day where 500 ran
    m3.advance(m3.t + DAY)
    assert breaks(m3) == [(4, "bolus-slow")]


def test_model_alarm_and_empty_times() -> None:
    m = Model(FACTS, T0)
    s = spec(864_000, "transfer", prev=864_000, why="bench", alarm=1_000_000)
    m.commit(s, s.encode(), (3_000_000, 500, 0))  # 3 mL at 500 mcg/mL, 864 mcg/day: 1.728 mL/day
    t_low = T0 + int(Fraction(2_000_000 * DAY, 1_728_000))
    t_empty = T0 + int(Fraction(3_000_000 * DAY, 1_728_000))
    assert m.next_event() == (t_low, 1)
    m.advance(t_empty)
    assert m.state == "alarm" and m.alarm == "empty" and m.reservoir_nl() == 0
    assert [k for k, _t, _d in m.log] == ["refill", "commit", "low", "empty"]
    assert [t for k, t, _d in m.log if k in ("low", "empty")] == [t_low, t_empty]


# -- the adversary against the rig ----------------------------------------------------------------------


def test_adversary_bounded_slice() -> None:
    """A bounded slice of the long run: fails on any invariant break that is not a known rig break (those
    have their own strict-xfail reproductions in test_breaks.py), on any disagreement between the model and
    the rig, and on any error in the adversary."""
    s = machine.run(SLICE_SEQUENCES, seed=20_260_105, strict=True)
    assert s.unknown_breaks() == 0, s.summary()
    assert s.errors == 0, s.summary()
    assert s.by_invariant()[0] == 0, s.summary()
    # it reaches the interesting states
    assert s.sequences >= SLICE_SEQUENCES and s.steps > 10 * SLICE_SEQUENCES
    assert s.acks.get("COM", 0) > SLICE_SEQUENCES and s.acks.get("BOL", 0) > 5 and s.acks.get("STP", 0) > 5
    assert s.acks.get("RF", 0) > 5 and s.changes > SLICE_SEQUENCES // 2 and s.restarts > 5
    for reason in ("COM LIMIT", "COM TITRATION", "COM PROGRAM", "BOL LIMIT", "STP CONFIRM"):
        assert s.naks.get(reason, 0) > 0, reason


def test_canary_the_adversary_finds_breaks_with_the_envelope_off() -> None:
    """With the rig's envelope switched off (every decision allowed) the same adversary must break the
    invariants: at least 1, 2, 3, 4 and 6 (the issue's list), and here 5 and 7 as well."""
    with envelope_off():
        s = machine.run(CANARY_SEQUENCES, seed=7, strict=False)
    inv = s.by_invariant()
    for i in (1, 2, 3, 4, 5, 6, 7):
        assert inv[i] > 0, f"invariant {i} never broke with the envelope off:\n{s.summary()}"
    assert s.errors == 0, s.summary()
