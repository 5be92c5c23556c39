# Core tests of firmware_py.screening. MicroPython subset: plain test_* functions and asserts, helpers from
# tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt, cited by
# file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import screening
from firmware_py.errors import InputError
from tests.core.support import DAY, MCG, ML, H
from tests.core.support import refused_naming as _bad


def test_screening_plan_labeling_numbers() -> None:
    # REQ: ITB-SCR-01, ITB-SCR-03 (002: 1 mL = 50 mcg, 1.5 mL = 75 mcg, 2 mL = 100 mcg, 24 h apart,
    # observe 4-8 h).
    plan = screening.screening_plan()
    assert [p.dose_ng for p in plan] == [50 * MCG, 75 * MCG, 100 * MCG]
    assert [p.volume_nl for p in plan] == [1 * ML, 1_500_000, 2 * ML]
    assert [p.start_offset_s for p in plan] == [0, 86_400, 172_800]
    for p in plan:
        assert p.observe_min_s == 4 * H and p.observe_max_s == 8 * H


def test_screening_plan_very_small_child() -> None:
    # REQ: ITB-SCR-02, ITB-SCR-03. 25 mcg first (0.5 mL of the 50 mcg/mL ampule), then 75 and 100.
    plan = screening.screening_plan(very_small_child=True)
    assert [p.dose_ng for p in plan] == [25 * MCG, 75 * MCG, 100 * MCG]
    assert [p.volume_nl for p in plan] == [500_000, 1_500_000, 2 * ML]
    _bad(InputError, "very_small_child", 1, screening.screening_plan, 1)


def test_screening_next_sequence() -> None:
    # REQ: ITB-SCR-01, ITB-SCR-04.
    step = screening.screening_next(False, [])
    assert step.kind == "dose" and step.dose is not None and step.dose.dose_ng == 50 * MCG
    step = screening.screening_next(False, [False])
    assert step.dose is not None and step.dose.dose_ng == 75 * MCG and step.dose.start_offset_s == DAY
    step = screening.screening_next(False, [False, False])
    assert step.dose is not None and step.dose.dose_ng == 100 * MCG
    step = screening.screening_next(False, [False, False, False])
    assert step.kind == "not_candidate" and step.dose is None and "ITB-SCR-04" in step.rule_ids
    step = screening.screening_next(False, [True])
    assert step.kind == "positive" and step.positive_dose_ng == 50 * MCG and "50" in step.message
    step = screening.screening_next(False, [False, True])
    assert step.positive_dose_ng == 75 * MCG
    step = screening.screening_next(False, [False, False, True])
    assert step.kind == "positive" and step.positive_dose_ng == 100 * MCG


def test_screening_next_with_a_plan_and_a_small_child() -> None:
    # REQ: ITB-SCR-02.
    assert screening.screening_next(True, [True]).positive_dose_ng == 25 * MCG
    plan = screening.screening_plan(True)
    step = screening.screening_next(plan, [])
    assert step.dose is not None and step.dose.volume_nl == 500_000


def test_screening_next_bad_inputs() -> None:
    _bad(InputError, "responses", [True, False], screening.screening_next, False, [True, False])
    _bad(InputError, "responses", [False] * 4, screening.screening_next, False, [False] * 4)
    _bad(InputError, "responses", 1, screening.screening_next, False, [1])
    _bad(InputError, "plan_or_child_flag", "yes", screening.screening_next, "yes", [])
    _bad(InputError, "plan_or_child_flag", [], screening.screening_next, [], [])


def test_initial_dose_labeling_numbers() -> None:
    # REQ: ITB-INI-01, ITB-INI-02 (001, 002): 2 x 50 mcg = 100 mcg/day; 75 mcg lasting 9 h -> 75 mcg/day;
    # "more than 8 hours": exactly 8 h still doubles -> 150 mcg/day; 8 h + 1 s -> 75.
    assert screening.initial_daily_dose(50 * MCG, 4 * H) == 100 * MCG
    assert screening.initial_daily_dose(75 * MCG, 9 * H) == 75 * MCG
    assert screening.initial_daily_dose(75 * MCG, 8 * H) == 150 * MCG
    assert screening.initial_daily_dose(75 * MCG, 8 * H + 1) == 75 * MCG
    assert screening.initial_daily_dose(100 * MCG, 1) == 200 * MCG
    assert screening.initial_daily_dose(25 * MCG, 5 * H) == 50 * MCG  # ITB-SCR-02 dose


def test_initial_dose_bad_inputs() -> None:
    _bad(InputError, "screening_dose_ng", 60 * MCG, screening.initial_daily_dose, 60 * MCG, 4 * H)
    _bad(InputError, "screening_dose_ng", 50, screening.initial_daily_dose, 50, 4 * H)  # mcg, not ng
    _bad(InputError, "effect_duration_s", 0, screening.initial_daily_dose, 50 * MCG, 0)
    assert screening.initial_daily_dose(50 * MCG, DAY) == 50 * MCG
    _bad(InputError, "effect_duration_s", DAY + 1, screening.initial_daily_dose, 50 * MCG, DAY + 1)
