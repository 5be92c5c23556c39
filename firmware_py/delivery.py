# The delivery engine: pure functions of a State and a time t >= anchor_s.
#
# Delivery is never accumulated per tick. Reservoir use since the last fill is kept in q units
# (firmware_py/refill.py): q = nL * conc * 864 = 10 * schedule integral (ng*s/day), exact integers for
# both the schedule and a bridge bolus, so no rounding builds up across commits. Shown values are floors:
# del_nl = q // (conc * 864), del_ng = q // 864000, res_nl = fill_nl - del_nl. Alarm and empty times come
# from refill.time_to_use, the same function as the host's forecast.

from firmware_py.bridge import bolus_rate
from firmware_py.protocol import STATUS_FIELDS
from firmware_py.refill import Q_PER_INTEGRAL, Q_PER_NL_CONC, time_to_use
from firmware_py.state import ALARM, EMPTY, LOW, NONE, RUNNING, State
from firmware_py.units import NL_PER_UL

Q_PER_NG = Q_PER_NL_CONC * NL_PER_UL  # q per ng of drug


def used_q(s: State, t: int) -> int:
    # Reservoir use since the last fill at time t (q units), before the empty cap.
    p = s.prog
    if s.state != RUNNING or p is None or t <= s.anchor_s:
        return s.used_q
    b = s.bolus
    if b is None:
        return s.used_q + Q_PER_INTEGRAL * p.schedule.integral_between(s.anchor_s, t)
    bq = b[2] * s.conc * Q_PER_NL_CONC
    if t <= b[1]:
        return s.used_q + bq * (t - b[0]) // (b[1] - b[0])
    return s.used_q + bq + Q_PER_INTEGRAL * p.schedule.integral_between(b[1], t)


def time_at_q(s: State, target_q: int) -> int | None:
    # The second at which use reaches target_q (the last whole second not after the exact instant);
    # None when delivery never gets there.
    p = s.prog
    if s.state != RUNNING or p is None:
        return None
    need = target_q - s.used_q
    if need <= 0:
        return s.anchor_s
    t0 = s.anchor_s
    b = s.bolus
    if b is not None:
        bq = b[2] * s.conc * Q_PER_NL_CONC
        if need <= bq:
            return b[0] + need * (b[1] - b[0]) // bq
        need -= bq
        t0 = b[1]
    return time_to_use(p.schedule, t0, need)


def thresholds_q(s: State) -> tuple[int, int]:
    # (low-alarm q, empty q). ITB-REF-01: low fires when res_nl <= alarm_nl, before empty.
    unit = s.conc * Q_PER_NL_CONC
    alarm_nl = s.prog.alarm_nl if s.prog is not None else 0
    return max(s.fill_nl - alarm_nl, 0) * unit, s.fill_nl * unit


def reservoir_nl(s: State, t: int) -> int:
    if s.conc == 0:
        return 0
    q = min(used_q(s, t), s.fill_nl * s.conc * Q_PER_NL_CONC)
    return s.fill_nl - q // (s.conc * Q_PER_NL_CONC)


def close_segment(s: State, t: int) -> None:
    # Fold the use up to t into used_q and re-anchor at t (a bolus in progress ends here).
    q = used_q(s, t)
    if s.bolus is not None and t < s.bolus[1]:
        s.bolus = None
    s.used_q = min(q, s.fill_nl * s.conc * Q_PER_NL_CONC)
    s.anchor_s = t


def next_event(s: State) -> tuple[int, int] | None:
    # (time, kind) of the next event: 0 bolus end, 1 low alarm, 2 empty; None when none is due.
    if s.state != RUNNING:
        return None
    low_q, empty_q = thresholds_q(s)
    ev = []
    if s.bolus is not None:
        ev.append((s.bolus[1], 0))
    if s.alarm == NONE:
        t = time_at_q(s, low_q)
        if t is not None:
            ev.append((t, 1))
    t = time_at_q(s, empty_q)
    if t is not None:
        ev.append((t, 2))
    if not ev:
        return None
    ev.sort()
    return ev[0]


def advance(s: State, now: int) -> bool:
    # Fire every event due up to now at its exact time: bolus end, low alarm, empty. True if any fired.
    fired = False
    while True:
        ev = next_event(s)
        if ev is None or ev[0] > now:
            return fired
        t, kind = ev
        fired = True
        if kind == 0:
            b = s.bolus
            if b is not None:
                s.used_q += b[2] * s.conc * Q_PER_NL_CONC
                s.anchor_s = b[1]
                s.bolus = None
                s.add_log(t, "bolus_end", "nl:" + str(b[2]))
        elif kind == 1:
            s.alarm = LOW
            s.add_log(t, "low", "res_nl:" + str(reservoir_nl(s, t)))
        else:
            s.used_q = thresholds_q(s)[1]
            s.anchor_s = t
            s.bolus = None
            s.state = ALARM
            s.alarm = EMPTY
            s.add_log(t, "empty", "res_nl:0")


def set_alarm(s: State, t: int) -> None:
    # After a fill or a new program: the alarm from the reservoir as it is now.
    low_q, empty_q = thresholds_q(s)
    if s.used_q >= empty_q:
        if s.state == RUNNING:
            s.state = ALARM
        s.alarm = EMPTY
    elif s.used_q >= low_q:
        if s.alarm != LOW:
            s.add_log(t, "low", "res_nl:" + str(reservoir_nl(s, t)))
        s.alarm = LOW
    else:
        s.alarm = NONE


def running_bolus_rate(b: tuple[int, int, int, int]) -> int:
    # A running bolus (t0, t1, volume_nl, old_conc): its dose rate (firmware_py.bridge.bolus_rate).
    return bolus_rate(b[2], b[3], b[1] - b[0])


def rate_at(s: State, t: int) -> int:
    # The dose rate at t, ng/day (0 when not delivering).
    p = s.prog
    if s.state != RUNNING or p is None:
        return 0
    b = s.bolus
    if b is not None and t < b[1]:
        return running_bolus_rate(b)
    return p.schedule.rate_at(t)


class Status:
    # The ST reply (protocol.STATUS_FIELDS).
    __slots__ = (
        "alarm",
        "bolus_nl",
        "chk",
        "conc_ng_per_ul",
        "delivered_ng",
        "delivered_nl",
        "events",
        "prog",
        "rate_ng_per_day",
        "reservoir_nl",
        "staged",
        "state",
        "t_alarm_s",
        "t_com_s",
        "t_empty_s",
        "t_s",
    )

    def __init__(self, s: State, t: int) -> None:
        from firmware_py import program as pg  # noqa: PLC0415 (short_id only)

        unit = s.conc * Q_PER_NL_CONC
        q = min(used_q(s, t), s.fill_nl * unit)
        self.state = s.state
        self.alarm = s.alarm
        self.t_s = t
        self.prog = pg.short_id(s.prog_b) if s.prog_b else None
        self.conc_ng_per_ul = s.conc
        self.delivered_nl = q // unit if unit else 0
        self.delivered_ng = q // Q_PER_NG
        self.reservoir_nl = s.fill_nl - self.delivered_nl
        self.rate_ng_per_day = rate_at(s, t)
        b = s.bolus
        self.bolus_nl = 0
        if b is not None:
            self.bolus_nl = b[2] - b[2] * (min(t, b[1]) - b[0]) // (b[1] - b[0])
        low_q, empty_q = thresholds_q(s)
        self.t_alarm_s = time_at_q(s, low_q) if s.alarm == NONE else None
        self.t_empty_s = time_at_q(s, empty_q)
        self.staged = len(s.staged)
        self.t_com_s = s.t_com if s.t_com >= 0 else None
        self.events = s.log_total
        self.chk = s.chk

    def pairs(self) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        for key, attr, _is_int in STATUS_FIELDS:
            v = getattr(self, attr)
            out.append((key, NONE if v is None else v))
        return out
