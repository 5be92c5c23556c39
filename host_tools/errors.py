"""Errors of the host tools and the exit code each maps to.

Core errors (`firmware_py.errors.ItbError`, a ValueError) are bad input unless they are a `LimitError`,
which is a refusal by the drug library. Host errors subclass both `HostError` and the matching built-in, so
callers of the Python API can catch either (pint's style).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1  # refused by a hard limit, or failed verification
EXIT_USAGE = 2  # bad usage or input
EXIT_COMM = 3  # communication failure


class HostError(Exception):
    """Root of every error the host tools raise on purpose."""

    exit_code = EXIT_USAGE


class UsageError(HostError, ValueError):
    """Bad usage or input: a wrong unit, a malformed file, a missing field. Exit 2."""

    exit_code = EXIT_USAGE


class RefusedError(HostError):
    """A hard limit refused the request, or a verification failed. Exit 1."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, rule_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.rule_ids = list(rule_ids or [])


class VerificationError(RefusedError):
    """An independent re-computation or a read-back disagreed with the result. Exit 1."""


class InternalError(RefusedError, ArithmeticError):
    """pint disagrees with the core, or a dimension is wrong: a bug, not a warning. Exit 1."""


class CommError(HostError, OSError):
    """The rig could not be reached, timed out or disconnected. Exit 3.

    `rig_state` says what the rig was last known to be running, so the message can tell the user.
    """

    exit_code = EXIT_COMM

    def __init__(self, message: str, rig_state: str = "unknown") -> None:
        super().__init__(message)
        self.rig_state = rig_state

    def __str__(self) -> str:
        return f"{super().__str__()} (rig left running: {self.rig_state})"
