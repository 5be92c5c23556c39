# A decision of the envelope (firmware_py/envelope.py): allowed or refused, the rules applied, refused,
# warned about and overridden, and one text for people. Host and rig build the same Decision from the same
# inputs, so they report the same rule IDs and the same text.
#
# applied() is the one place a rule is recorded as applied at run time: tests install a recorder
# (tests/conftest.py) so that the traceability matrix counts a rule as implemented and tested only when a
# test made a decision apply it.

from firmware_py import errors, library
from firmware_py.units import (
    MM_PER_CM,
    NG_PER_MCG,
    NL_PER_ML,
    PERCENT,
    PERMILLE,
    S_PER_H,
    S_PER_MIN,
    fmt_exact,
    fmt_scaled,
)

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable

recorder: "Callable[[str], None] | None" = None


def applied(*rule_ids: str) -> None:
    if recorder is not None:
        for rid in rule_ids:
            recorder(rid)


errors.refused_hook = applied  # a refusal applies its rules


def mcg(ng: int) -> str:
    # ng (or ng/day) as mcg, exactly to the ng, truncated toward zero, trailing zeros dropped (display only;
    # the host's precision policy, docs/cli.md): 12000000 -> "12000", 20833 -> "20.833".
    return fmt_exact(ng, NG_PER_MCG)


def ml(nl: int) -> str:
    # A volume in the display unit, exactly to the nL: 20000000 -> "20 mL", 250000 -> "0.25 mL".
    return fmt_exact(nl, NL_PER_ML) + " mL"


def cm(mm: int) -> str:
    # A catheter length in the display unit: 500 -> "50 cm", 455 -> "45.5 cm".
    return fmt_exact(mm, MM_PER_CM) + " cm"


def span(s: int) -> str:
    # A duration for people, exact: 1800 -> "30 min", 5400 -> "1 h 30 min", 90 -> "1 min 30 s".
    parts = []
    for n, unit in ((s // S_PER_H, " h"), (s % S_PER_H // S_PER_MIN, " min"), (s % S_PER_MIN, " s")):
        if n:
            parts.append(str(n) + unit)
    return " ".join(parts) if parts else "0 s"


def pct(permille: int) -> str:
    # 300 -> "30", 125 -> "12.5"
    return fmt_scaled(permille, 10, 0 if permille % 10 == 0 else 1)


def change_text(cur: int, new: int) -> str:
    # The exact change to 0.001 %, truncated toward zero, trailing zeros dropped ("+40 %", "+12.5 %").
    diff = new - cur
    sign = "+" if diff >= 0 else "-"
    q = abs(diff) * PERCENT * PERMILLE // cur
    return sign + fmt_exact(q, PERMILLE) + " %"


class Decision:
    __slots__ = ("applied", "needs_override", "notes", "overridden", "refusals", "summary", "warnings")

    def __init__(self, summary: str = "") -> None:
        self.summary = summary
        self.applied: list[str] = []
        self.refusals: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        self.needs_override: list[str] = []
        self.overridden: list[tuple[str, str]] = []
        self.notes: list[tuple[str, str]] = []

    @property
    def allowed(self) -> bool:
        return not self.refusals and not self.needs_override

    def apply(self, rid: str) -> None:
        if rid not in self.applied:
            self.applied.append(rid)
            applied(rid)

    def refuse(self, rid: str, text: str) -> None:
        self.apply(rid)
        self.refusals.append((rid, text + " [" + rid + "]"))

    def note(self, rid: str, text: str) -> None:
        self.apply(rid)
        self.notes.append((rid, text + " [" + rid + "]"))

    def warn(self, rid: str, text: str, overrides: dict[str, str]) -> None:
        # A soft rule: allowed only with an override (rule ID -> reason) recorded in the program.
        self.apply(rid)
        if any(w[0] == rid for w in self.warnings):
            return
        self.warnings.append((rid, text + " [" + rid + "]"))
        reason = overrides.get(rid)
        if reason is None:
            self.needs_override.append(rid)
        else:
            self.overridden.append((rid, reason))

    def rule_ids(self) -> list[str]:
        # The rules that decided a refusal (for the NAK's rules=), in the order they refused.
        out: list[str] = []
        for rid in [r[0] for r in self.refusals] if self.refusals else self.needs_override:
            if rid not in out:
                out.append(rid)
        return out

    def reply(self) -> str | None:
        # The NAK reason: a limit first, then a change rule, then a missing override; None when allowed.
        codes = [library.reply(r[0]) for r in self.refusals]
        if library.LIMIT in codes:
            return library.LIMIT
        if codes:
            return library.TITRATION
        if self.needs_override:
            return "OVERRIDE"
        return None

    def message(self) -> str:
        parts = []
        if self.refusals:
            parts.append("refused: " + self.summary + ": " + "; ".join([r[1] for r in self.refusals]))
        elif self.needs_override:
            parts.append("needs override (" + ", ".join(self.needs_override) + "): " + self.summary)
        else:
            parts.append("allowed: " + self.summary)
        if not self.refusals:
            parts += ["warning: " + w[1] for w in self.warnings]
        for rid, reason in self.overridden:
            parts.append("overridden " + rid + ": " + reason)
        parts += ["note: " + n[1] for n in self.notes]
        return "; ".join(parts)

    def __repr__(self) -> str:
        return "Decision(" + self.message() + ")"
