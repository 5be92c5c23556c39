"""End to end: the rig firmware running on real MicroPython (WebAssembly port in node), over pyserial.

tests/mp/rig_bridge.mjs serves firmware_py.rig.Rig (BenchClock, firmware_py.store in the MicroPython
filesystem) on socket://127.0.0.1:<port>; host_tools.client talks to it exactly as to a board. A program
is loaded (stage / commit with a refill / read back), bench-run for days, and the delivered totals are
compared with an independent exact re-computation; the rig is restarted to check that its state persists.
REQ: ITB-SCH-01, ITB-SCH-03 (night boost schedule delivered as programmed), ITB-REF-01 (reservoir, alarm).
"""

from fractions import Fraction
from pathlib import Path

import pytest

from firmware_py import program, schedule, windows
from host_tools.client import Refill, RigClient
from host_tools.errors import ItbError as HostError
from host_tools.keys import RigKey
from tests.mp.bridge import start_bridge
from tests.mp.host import MicroPythonUnavailableError

pytestmark = pytest.mark.micropython

KEY_HEX = "5f1e0c3a9b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5d"
ML = 1_000_000
H = 3_600
DAY = 86_400
CONC = 500  # mcg/mL == ng/uL
FILL_NL = 20 * ML
T0 = 1_700_000_000  # rig bench time at boot (a Tuesday); any start works


def _night_boost() -> tuple[bytes, schedule.Schedule]:
    # 500 mcg/day, +20 % for an effect from 22:00 to 06:00, so the pump steps at 20:00 and 04:00.
    sched = windows.build(500_000, [windows.Window(22 * H, 6 * H, change_permille=200)])
    p = program.Program(
        conc_ng_per_ul=CONC, origin="spinal", age_years=40, pump_kind="programmable", reservoir_nl=FILL_NL,
        alarm_nl=2 * ML, min_step_s=1_800, internal_nl=200_000, catheter_mm=500, phase="transfer",
        previous_ng_per_day=500_000, reason="bench", base_dose_ng_per_day=500_000, schedule=sched,
        label="mp bench",
    )  # fmt: skip
    return program.encode(p), sched


def _delivered_ng(sched: schedule.Schedule, t0: int, t1: int) -> int:
    # Independent of the rig's arithmetic: step by step over whole seconds with Fractions.
    total = Fraction(0)
    t = t0
    while t < t1:
        nxt = min(sched.next_change(t), t1)
        total += Fraction(sched.rate_at(t) * (nxt - t), DAY)
        t = nxt
    return int(total)  # floor: never more than delivered


@pytest.fixture
def key() -> RigKey:
    return RigKey(bytes.fromhex(KEY_HEX))


def test_load_and_bench_run_under_micropython(tmp_path: Path, key: RigKey) -> None:
    data, sched = _night_boost()
    state = tmp_path / "state"
    try:
        with start_bridge(KEY_HEX, state_dir=state, rig_id="mp-bench", start_s=T0) as bridge:
            with RigClient.connect(bridge.url, key) as client:
                info = client.info
                assert info is not None and info.rig == "mp-bench" and info.proto == 2
                assert info.clock == "bench"
                res = client.load(data, Refill(FILL_NL, CONC, 0))
                assert res.new_prog == program.short_id(data)
                t_com = res.t_commit_s
                st = client.status()
                assert (st.state, st.prog, st.conc_ng_per_ul, st.reservoir_nl) == (
                    "running", res.new_prog, CONC, FILL_NL,
                )  # fmt: skip
                # Bench-run 3 days 5 h in uneven steps.
                t = t_com
                for step in (5 * H + 17, DAY, 2 * DAY - 17):
                    t = client.advance(step, t_before=t).t_s
                st = client.status()
                t_end = t_com + 3 * DAY + 5 * H
                assert st.t_s == t_end
                assert st.rate_ng_per_day == sched.rate_at(t_end)
                expected = _delivered_ng(sched, t_com, t_end)
                assert st.delivered_ng == expected
                assert st.delivered_ng == sched.integral_between(t_com, t_end) // DAY
                # The reservoir follows the delivered volume to within one nL of the exact value.
                used_nl = Fraction(sched.integral_between(t_com, t_end) * 1_000, DAY * CONC)
                assert abs(Fraction(st.reservoir_nl) - (FILL_NL - used_nl)) < 1
                assert st.alarm == "none"
                before = st
            assert key.secret().hex() not in bridge.stderr  # the key is never printed
        # A new bridge on the same state directory resumes the same rig.
        with (
            start_bridge(KEY_HEX, state_dir=state, rig_id="mp-bench", start_s=T0) as bridge,
            RigClient.connect(bridge.url, key) as client,
        ):
            st = client.status()
            assert (st.state, st.prog, st.t_s, st.delivered_ng) == (
                "running", before.prog, before.t_s, before.delivered_ng,
            )  # fmt: skip
            assert client.readback() == data
    except MicroPythonUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_wrong_key_is_refused_under_micropython(key: RigKey) -> None:
    other = RigKey(bytes(reversed(key.secret())))
    try:
        with start_bridge(KEY_HEX, start_s=T0) as bridge, RigClient.connect(bridge.url, other) as client:
            with pytest.raises(HostError) as info:
                client.advance(60)
            assert "AUTH" in str(info.value)
            assert client.status().t_s == T0  # nothing moved
    except MicroPythonUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
