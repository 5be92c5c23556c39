"""The host's errors, below the one root of itb (`firmware_py.errors.ItbError`).

Every error carries the rule IDs that refused (if any) and the exit code of the `itb` command, and subclasses
both its place in the itb hierarchy and the matching built-in (pint style), so callers of the Python API can
catch either: a `CommError` is also an `OSError`, a `VerificationError` an `ArithmeticError`, and every itb
error a `ValueError` (the firmware root; MicroPython allows one native base). Bugs are never itb errors.
Only `host_tools.cli.main` prints them.
"""

from __future__ import annotations

from firmware_py.errors import (
    EXIT_COMM,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    InputError,
    ItbError,
    RefusedError,
)

__all__ = [
    "EXIT_COMM",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "CommError",
    "InterruptedLoadError",
    "ItbError",
    "RefusedError",
    "UsageError",
    "VerificationError",
]


class UsageError(InputError):
    """Bad usage or input: a wrong unit, a malformed file, a missing field. Exit 2.

    ``message`` is the whole text for people; ``field`` and ``value`` are kept for programs.
    """

    def __init__(
        self, message: str, *, field: str = "", value: object = None, rule_ids: list[str] | None = None
    ) -> None:
        super().__init__("", None, message, rule_ids)
        self.field = field
        self.value = value


class VerificationError(ItbError, ArithmeticError):
    """An independent re-computation or a read-back disagreed with the result. Exit 1."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str) -> None:
        super().__init__("", None, message)


class CommError(ItbError, OSError):
    """The rig could not be reached, timed out or disconnected. Exit 3.

    ``rig_state`` says what the rig was last known to run, when a change was attempted (else None), so the
    message can tell the user.
    """

    exit_code = EXIT_COMM

    def __init__(self, message: str, rig_state: str | None = None) -> None:
        text = message if rig_state is None else f"{message} (rig left running: {rig_state})"
        super().__init__("", None, text)
        self.detail = message
        self.rig_state = rig_state


class InterruptedLoadError(ItbError):
    """Ctrl-C during a command that changes the rig; the message says what the rig was left running.
    Exit 130, as a shell reports SIGINT."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str) -> None:
        super().__init__("", None, message)
