# The rules on a change of dose: a running pump's new program, and a transfer that raises its stated dose.
# Every rule compares rates at the same instant of the day or week (firmware_py/schedule.segments) with the
# old schedule, the rig's dose history or the stated dose, exactly in integers (permille). Called by
# firmware_py/envelope.py, the one decision.

from firmware_py import library
from firmware_py.config import Config
from firmware_py.decision import Decision, change_text, mcg, pct
from firmware_py.history import History
from firmware_py.program import Program
from firmware_py.schedule import Schedule, common_period, phase_label, segments
from firmware_py.units import PERMILLE, S_PER_DAY, S_PER_H, fmt_scaled

P = PERMILLE


def hours(s: int) -> str:
    return fmt_scaled(s, S_PER_H, 0)


def ago(s: int) -> str:
    # "23 h 59 min": a time span for people, truncated to the minute.
    return str(s // S_PER_H) + " h " + str(s % S_PER_H // 60) + " min"


def when(period: int, t0: int, t1: int) -> str:
    return phase_label(period, t0) + "-" + phase_label(period, t1)


def at_span(period: int, t0: int, t1: int) -> str:
    # " at 20:00-04:00" for a part of the period; "" when the span is all of it (a constant rate).
    return "" if t1 - t0 >= period else " at " + when(period, t0, t1)


def change(d: Decision, h: History, old: Schedule, p: Program, cfg: Config, *, ov: dict[str, str],
            now: int) -> None:
    new = p.schedule
    up = False
    down = False
    for _a, _b, r in segments([old, new]):
        up = up or r[1] > r[0]
        down = down or r[1] < r[0]
    if not up and not down:
        d.note("ITB-DIS-01", "no change of dose")
        return
    if up:
        increase(d, h, p, old, cfg, ov=ov, now=now)
    dis_w = library.param("ITB-DIS-01", "window_s")
    no_abrupt_cut(d, h.window(now, dis_w) + [old], h.ceil_in(now, dis_w), new)
    if p.phase == library.SIDE_EFFECTS and down:
        side_effect_cut(d, old, new)
    elif p.phase == library.TAPER:
        d.apply("ITB-HOL-01")


def increase(d: Decision, h: History, p: Program, old: Schedule, cfg: Config, *, ov: dict[str, str],
              now: int) -> None:
    if p.phase == library.SIDE_EFFECTS:
        d.refuse("ITB-MNT-03", "the side-effects phase only reduces the dose; this program raises it")
        return
    if p.phase == library.TAPER:
        d.refuse("ITB-HOL-01", "a taper only reduces the dose; this program raises it")
        return
    spacing(d, h, cfg, now)
    programmable = cfg.pump_kind == library.PROGRAMMABLE
    rid = "ITB-INI-03" if programmable else "ITB-INI-04"
    wait = library.param(rid, "no_increase_s")
    d.apply(rid)
    if now - h.t_start < wait:
        d.refuse(rid, "no increase in the first " + hours(wait) + " h after the pump started; it started "
                 + ago(now - h.t_start) + " ago")
    band(d, p, old, p.schedule, p.phase)
    esc_w = library.param("ITB-ESC-01", "window_s")
    escalation(d, h.window(now, esc_w) + [old], h.floor_in(now, esc_w), old, p.schedule, ov=ov)


def rises(refs: list[Schedule], new: Schedule) -> bool:
    # At some instant the new rate is above every reference's rate there.
    return any(r[-1] > max(r[:-1]) for _a, _b, r in segments(refs + [new]))


def increase_interval(cfg: Config) -> int:
    # ITB-TIT-04: one increase per 24 h on a programmable pump, per 48 h on a constant-flow one.
    name = "programmable_interval_s" if cfg.pump_kind == library.PROGRAMMABLE else "constant_flow_interval_s"
    return library.param("ITB-TIT-04", name)


def spacing(d: Decision, h: History, cfg: Config, now: int) -> None:
    # ITB-TIT-04: one increase per interval, counted from the last change.
    interval = increase_interval(cfg)
    since = now - h.t_change()
    d.apply("ITB-TIT-04")
    if since < interval:
        d.refuse("ITB-TIT-04", "an increase needs " + hours(interval)
                 + " h since the last change of dose on a "
                 + cfg.pump_kind + " pump; the last was " + ago(since) + " ago")


def band(d: Decision, p: Program, old: Schedule, new: Schedule, phase: str) -> None:
    # The increase band of the phase (ITB-TIT-01/02/03, ITB-MNT-01/02) at every instant that rises.
    rid = library.step_rule(p.origin, p.age_years, phase)
    lo = library.param(rid, "min_step_permille")
    hi = library.param(rid, "max_step_permille")
    d.apply(rid)
    worst = None
    rose = False
    small = True  # every rise is below the band's low end
    for a, b, r in segments([old, new]):
        if r[1] <= r[0]:
            continue
        rose = True
        if r[1] * P > r[0] * (P + hi) and (worst is None or r[1] * worst[2] > worst[3] * r[0]):
            worst = (a, b, r[0], r[1])
        if r[1] * P >= r[0] * (P + lo):
            small = False
    period = common_period([old, new])
    if worst is not None:
        a, b, cur, want = worst
        d.refuse(rid, mcg(cur) + " -> " + mcg(want) + " mcg/day (" + change_text(cur, want) + ")"
                 + at_span(period, a, b) + " is above the +" + pct(hi) + " % " + phase + " limit for "
                 + library.group_text(p.origin, p.age_years) + " (at most " + mcg(cur * (P + hi) // P)
                 + " mcg/day)")
    elif rose and small:  # nothing rose: no band to be below
        d.note(rid, "below the usual +" + pct(lo) + " to +" + pct(hi) + " % step (allowed, more cautious)")


def no_abrupt_cut(d: Decision, refs: list[Schedule], ceiling: int, new: Schedule) -> None:
    # ITB-DIS-01: at every instant, at most 20 % below the highest rate the pump ran there within 24 h.
    most = library.param("ITB-DIS-01", "max_step_reduction_permille")
    d.apply("ITB-DIS-01")
    worst = None
    for a, b, r in segments(refs + [new]):
        top = max(r[:-1] + [ceiling])
        if r[-1] * P < top * (P - most) and (worst is None or r[-1] * worst[2] < worst[3] * top):
            worst = (a, b, top, r[-1])
    if worst is not None:
        a, b, top, want = worst
        period = common_period(refs + [new])
        d.refuse("ITB-DIS-01", mcg(top) + " -> " + mcg(want) + " mcg/day (" + change_text(top, want) + ")"
                 + at_span(period, a, b) + " cuts more than " + pct(most) + " % within "
                 + hours(library.param("ITB-DIS-01", "window_s"))
                 + " h: an abrupt discontinuation; taper, or stop "
                 "with a confirmed STP")


def side_effect_cut(d: Decision, old: Schedule, new: Schedule) -> None:
    # ITB-MNT-03: a side-effect reduction of 10 % to 20 % at every instant it cuts.
    lo = library.param("ITB-MNT-03", "min_reduction_permille")
    hi = library.param("ITB-MNT-03", "max_reduction_permille")
    d.apply("ITB-MNT-03")
    small = True
    for _a, _b, r in segments([old, new]):
        if r[1] * P < r[0] * (P - hi):
            d.refuse("ITB-MNT-03", "side-effect reduction above " + pct(hi) + " % ("
                     + change_text(r[0], r[1]) + ")")
            return
        if r[1] < r[0] and r[1] * P <= r[0] * (P - lo):
            small = False
    if small:
        d.note("ITB-MNT-03", "below the usual " + pct(lo) + " to " + pct(hi)
               + " % side-effect reduction (allowed)")


def escalation(d: Decision, refs: list[Schedule], floor: int, old: Schedule, new: Schedule, *,
                ov: dict[str, str]) -> None:
    # ITB-ESC-01 (soft): at every instant the change raises, more than +50 % over the lowest rate the pump
    # ran there within 7 days.
    most = library.param("ITB-ESC-01", "max_increase_permille")
    d.apply("ITB-ESC-01")
    for a, b, r in segments([old] + refs + [new]):
        if r[-1] <= r[0]:
            continue
        low = min(r[1:-1] + ([floor] if floor else []))
        if r[-1] * P > low * (P + most):
            period = common_period([old] + refs + [new])
            d.warn("ITB-ESC-01", "the rate" + at_span(period, a, b) + " rose " + change_text(low, r[-1])
                   + " ("
                   + mcg(low) + " -> " + mcg(r[-1]) + " mcg/day) within "
                   + fmt_scaled(library.param("ITB-ESC-01", "window_s"), S_PER_DAY, 0)
                   + " days, above +" + pct(most)
                   + " %: check catheter and pump", ov)
            d.note("ITB-HOL-03", library.refractory_text())
            return
