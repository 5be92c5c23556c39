# One small hierarchy, rooted in ValueError. Every error keeps the field and the value it rejects,
# and its message names both, so a user sees what to fix (pyserial/pint style).


class ItbError(ValueError):
    # Root of every error the core raises on bad input or a refused request.
    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}: {reason} (got {value!r})")
        self.field = field
        self.value = value
        self.reason = reason


class InputError(ItbError):
    # A value that is malformed, of the wrong kind, zero or negative where it must be positive, ...
    pass


class ScheduleError(InputError):
    # Overlapping windows, steps shorter than the pump allows, too many steps, ...
    pass


class LimitError(ItbError):
    # A labeling rule refuses the request. rule_ids names the rules from firmware_py.library.
    def __init__(self, field: str, value: object, reason: str, rule_ids: list[str]) -> None:
        super().__init__(field, value, reason + " [" + ", ".join(rule_ids) + "]")
        self.rule_ids = rule_ids


class ProgramError(ItbError):
    # A program record that does not decode, fails its checksum, or fails validation.
    pass


class ProtocolError(ItbError):
    # A frame that does not parse. reason_code is the NAK reason sent back on the wire.
    def __init__(self, field: str, value: object, reason: str, reason_code: str) -> None:
        super().__init__(field, value, reason)
        self.reason_code = reason_code
