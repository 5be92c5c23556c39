# The one error hierarchy of itb, rooted in ItbError. host_tools/errors.py adds the host's errors below
# the same root. Every error keeps the field and the value it rejects (as the user or the wire gave it),
# the rule IDs of the drug library that refused (if any), and the exit code the `itb` command returns;
# its message names the field and the value, so a user sees what to fix (pyserial/pint style).
#
# The root subclasses ValueError and nothing else: MicroPython allows one native base class per class
# ("multiple bases have instance lay-out conflict"), so the firmware hierarchy has a single native root.
# Bugs are never ItbErrors: an assertion, an IndexError or a MemoryError is not a refusal.

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable

EXIT_OK = 0
EXIT_REFUSED = 1  # a hard rule of the drug library refused, or a verification failed
EXIT_USAGE = 2  # bad usage or input
EXIT_COMM = 3  # the rig could not be reached
EXIT_INTERRUPTED = 130  # Ctrl-C (as a shell reports SIGINT)


class ItbError(ValueError):
    exit_code = EXIT_USAGE

    def __init__(self, field: str, value: object, reason: str, rule_ids: list[str] | None = None) -> None:
        text = reason
        if field:
            text = field + ": " + reason + " (got " + repr(value) + ")"
        if rule_ids and any(r not in text for r in rule_ids):
            text += " [" + ", ".join(rule_ids) + "]"
        super().__init__(text)
        self.field = field
        self.value = value
        self.reason = reason
        self.rule_ids = list(rule_ids) if rule_ids else []


class InputError(ItbError):
    # A value that is malformed, of the wrong kind, zero or negative where it must be positive, ...
    pass


class ScheduleError(InputError):
    # Overlapping windows, steps shorter than the pump allows, too many steps, ...
    pass


class ProgramError(InputError):
    # A program record that does not decode, or does not hang together.
    pass


class OverrideError(InputError):
    # An override that may not be given: of a hard or info rule, of an unknown rule, or without a reason.
    pass


# Called with the rule IDs of every refusal (firmware_py/decision.py records them as applied).
refused_hook: "Callable[..., None] | None" = None


class RefusedError(ItbError):
    # A rule of the drug library refuses the request; rule_ids names the rules.
    exit_code = EXIT_REFUSED

    def __init__(self, field: str, value: object, reason: str, rule_ids: list[str] | None = None) -> None:
        super().__init__(field, value, reason, rule_ids)
        if refused_hook is not None and rule_ids:
            refused_hook(*rule_ids)


class ProtocolError(ItbError):
    # A frame that does not parse. reason_code is the NAK reason sent back on the wire.
    def __init__(self, field: str, value: object, reason: str, reason_code: str) -> None:
        super().__init__(field, value, reason)
        self.reason_code = reason_code
