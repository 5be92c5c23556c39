# Core tests of firmware_py.dilution. MicroPython subset: plain test_* functions and asserts, helpers from
# tests.core.support only. Expected numbers come from the labeling (shared/labeling/*.txt, cited by
# file) and DESIGN.md pump facts, or are worked out by hand in the comment next to them.

from firmware_py import dilution
from firmware_py.errors import InputError, RefusedError
from tests.core.support import ML, names_field, raises
from tests.core.support import refused_naming as _bad


def test_dilute_exact_case() -> None:
    # REQ: ITB-CON-02. 20 mL of 500 mcg/mL from 2000 mcg/mL stock: 5 mL stock + 15 mL saline.
    d = dilution.dilute(2_000, 500, 20 * ML)
    assert d.stock_nl == 5 * ML and d.diluent_nl == 15 * ML
    assert d.achieved_conc_ng_per_ul == 500 and d.shortfall_ppm == 0 and d.tolerance_ppm == 10_000
    assert "preservative-free" in d.diluent


def test_dilute_rounds_stock_down_to_a_whole_mcg_per_ml() -> None:
    # REQ: ITB-CON-02, ITB-CON-04, ITB-DIL-01. 20 mL of 333 mcg/mL from 2000 at 0.1 mL: exact stock 3.33 mL
    # -> 3.3 mL; achieved 2000 * 3.3 / 20 = 330 mcg/mL exactly; shortfall 3/333 = 9009.009 ppm -> 9010
    # (rounded up), within 1 %. The program states 330, the strength in the reservoir.
    d = dilution.dilute(2_000, 333, 20 * ML)
    assert d.stock_nl == 3_300_000 and d.diluent_nl == 16_700_000
    assert d.achieved_conc_ng_per_ul == 330 and d.shortfall_ppm == 9_010
    # 1500 from 2000 in 18 mL: 180 steps of 0.1 mL, whole mcg/mL in steps of 2000/gcd(180, 2000) = 100;
    # 13.5 mL of stock gives exactly 1500.
    d = dilution.dilute(2_000, 1_500, 18 * ML)
    assert (
        d.stock_nl == 13_500_000 and d.achieved_conc_ng_per_ul == 1_500 and d.strength_step_ng_per_ul == 100
    )


def test_dilute_shortfall_beyond_the_tolerance_is_refused() -> None:
    # REQ: ITB-DIL-01. 2000 -> 150 mcg/mL in 2 mL at 0.1 mL: 0.15 mL of stock rounds to 0.1 mL, 100 mcg/mL
    # (-33 %): refused, naming what is achievable.
    exc = raises(RefusedError, dilution.dilute, 2_000, 150, 2 * ML)
    assert isinstance(exc, RefusedError) and exc.rule_ids == ["ITB-DIL-01"]
    assert names_field(exc, "target_conc_ng_per_ul", 150) and "100 mcg/mL" in str(exc)
    # A stated tolerance of 40 % allows it.
    assert dilution.dilute(2_000, 150, 2 * ML, tolerance_ppm=400_000).achieved_conc_ng_per_ul == 100
    # 750 in 18 mL: whole strengths come in steps of 100, 700 is -6.7 %; a final volume that works is named
    # (and does work).
    exc = raises(RefusedError, dilution.dilute, 2_000, 750, 18 * ML)
    assert "700 mcg/mL" in str(exc) and "17.600 mL works" in str(exc)
    assert dilution.dilute(2_000, 750, 17_600_000).achieved_conc_ng_per_ul == 750
    # 1990 in 20 mL at 1 mL steps: strengths come in steps of 100, and no final volume from 15 to 25 mL
    # reaches 1 % (1 mL steps in f mL give steps of 2000 / f mcg/mL); 0.2 mL steps do: 19.8 mL of stock,
    # 1980 mcg/mL, 0.5 % short. The hint names them (and they do work).
    exc = raises(RefusedError, dilution.dilute, 2_000, 1_990, 20 * ML, ML)
    assert "1900 mcg/mL" in str(exc) and "no final volume within 25 % works" in str(exc)
    assert "20.000 mL measured in steps of 0.200 mL does" in str(exc)
    assert dilution.dilute(2_000, 1_990, 20 * ML, 200_000).achieved_conc_ng_per_ul == 1_980
    # The tolerance boundary: 505 from 1000 in 2 mL at 0.1 mL: 20 steps, whole strengths in steps of 50;
    # 500 is 5/505 = 9900.99 ppm short -> 9901, allowed at 1 % and at 9901 ppm, refused at 9900.
    assert dilution.dilute(1_000, 505, 2 * ML).shortfall_ppm == 9_901
    assert dilution.dilute(1_000, 505, 2 * ML, tolerance_ppm=9_901).stock_nl == ML
    raises(RefusedError, dilution.dilute, 1_000, 505, 2 * ML, tolerance_ppm=9_900)


def test_dilute_target_equal_to_stock_and_above_it() -> None:
    # REQ: ITB-CON-04: never above the stock.
    d = dilution.dilute(500, 500, 20 * ML)
    assert d.stock_nl == 20 * ML and d.diluent_nl == 0
    _bad(RefusedError, "target_conc_ng_per_ul", 501, dilution.dilute, 500, 501, 20 * ML)
    _bad(InputError, "stock_conc_ng_per_ul", 2_001, dilution.dilute, 2_001, 500, 20 * ML)
    # REQ: ITB-SCR-05: the 50 mcg/mL screening ampule is never diluted for a pump; REQ: ITB-CON-01: a stock is
    # a labeled strength.
    _bad(RefusedError, "stock_conc_ng_per_ul", 50, dilution.dilute, 50, 25, 20 * ML)
    _bad(RefusedError, "stock_conc_ng_per_ul", 51, dilution.dilute, 51, 25, 20 * ML)


def test_dilute_resolution_limits() -> None:
    # 1 mL of 200 mcg/mL from 2000 needs exactly 0.1 mL of stock: one resolution step.
    assert dilution.dilute(2_000, 200, ML).stock_nl == 100_000
    # 199 mcg/mL needs 0.0995 mL: no whole step of stock at or below the target.
    exc = raises(RefusedError, dilution.dilute, 2_000, 199, ML)
    assert "nothing at or below" in str(exc)
    # The final volume must be a whole number of resolution steps.
    _bad(InputError, "final_volume_nl", ML + 1, dilution.dilute, 2_000, 500, ML + 1)


def test_dilute_bad_inputs() -> None:
    _bad(InputError, "target_conc_ng_per_ul", 0, dilution.dilute, 2_000, 0, ML)
    _bad(InputError, "stock_conc_ng_per_ul", -2_000, dilution.dilute, -2_000, 500, ML)
    _bad(InputError, "final_volume_nl", 0, dilution.dilute, 2_000, 500, 0)
    _bad(InputError, "final_volume_nl", -ML, dilution.dilute, 2_000, 500, -ML)
    _bad(InputError, "resolution_nl", 0, dilution.dilute, 2_000, 500, ML, resolution_nl=0)
    _bad(InputError, "tolerance_ppm", -1, dilution.dilute, 2_000, 500, ML, tolerance_ppm=-1)
