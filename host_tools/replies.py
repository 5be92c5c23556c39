"""The rig's replies as typed records (docs/protocol.md), built from the fields the rig sent.

`RigStatus` follows `firmware_py.protocol.STATUS_FIELDS`, the table the rig builds its `ST` reply from. The
acknowledgements of program-changing commands say whether they came from the reply itself or, after a lost
reply, were read back from the rig's audit log and status (`recovered`); nothing here is ever made up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from firmware_py import protocol
from firmware_py.config import Config
from firmware_py.errors import ItbError
from firmware_py.text import pct_decode
from host_tools.errors import CommError, RefusedError


class RigReplyError(CommError):
    """The rig answered with something this host cannot use (missing or malformed field). Exit 3."""


class RigRefusedError(RefusedError):
    """The rig refused a command (NAK). Exit 1. `reason_code` is the protocol's reason; `rule_ids` the
    drug-library rules the rig's envelope applied. `detail`, when given, is the full text of the same
    decision made on the host."""

    def __init__(self, command: str, reason_code: str, fields_: dict[str, str], detail: str = "") -> None:
        msg = ""
        if "msg" in fields_:
            try:
                msg = pct_decode("msg", fields_["msg"])
            except ItbError:
                msg = fields_["msg"]
        rules = [r for r in fields_.get("rules", "").split(",") if r and r != "none"]
        text = f"rig refused {command}: {reason_code}"
        if reason_code == protocol.AUTH:
            text += " (the key does not match this rig's key: check --key-file / ITB_RIG_KEY_FILE)"
        if detail:
            text += f": {detail}"
        elif msg:
            text += f": {msg}"
        extra = {k: v for k, v in fields_.items() if k not in ("msg", "rules")}
        if extra:
            text += " (" + " ".join(f"{k}={v}" for k, v in extra.items()) + ")"
        super().__init__("", None, text, rules)
        self.command = command
        self.reason_code = reason_code
        self.fields = fields_


def _int(r: protocol.Reply, key: str) -> int:
    text = r.fields.get(key)
    if text is None or not text.isdigit() or len(text) > 15:
        raise RigReplyError(f"bad reply: {r.name} field {key}={text!r} is not a whole number")
    return int(text)


def _opt_int(r: protocol.Reply, key: str) -> int | None:
    return None if r.fields.get(key) == "none" else _int(r, key)


def _str(r: protocol.Reply, key: str) -> str:
    text = r.fields.get(key)
    if text is None:
        raise RigReplyError(f"bad reply: {r.name} has no field {key}")
    return text


@dataclass(frozen=True)
class RigInfo:
    """What `ID` says: firmware, protocol, frame sizes, clock, and the rig's own pump facts."""

    fw: str
    proto: int
    caps: tuple[str, ...]
    maxframe: int
    chunk: int
    clock: str
    config: Config

    @classmethod
    def from_reply(cls, r: protocol.Reply) -> RigInfo:
        proto = _int(r, "proto")
        if proto != protocol.PROTO_VERSION:
            raise RigReplyError(f"bad reply: rig speaks protocol {proto}, this host {protocol.PROTO_VERSION}")
        try:
            config = Config(_str(r, "pump"), _int(r, "res"), _int(r, "internal"), _int(r, "cath"),
                            _int(r, "minstep"), _str(r, "rig"))
        except ItbError as exc:
            raise RigReplyError(f"bad reply: ID configuration: {exc}") from None
        return cls(
            fw=_str(r, "fw"),
            proto=proto,
            caps=tuple(c for c in _str(r, "caps").split(",") if c),
            maxframe=_int(r, "maxframe"),
            chunk=_int(r, "chunk"),
            clock=_str(r, "clock"),
            config=config,
        )

    @property
    def rig(self) -> str:
        return self.config.rig_id

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"fw": self.fw, "proto": self.proto, "caps": list(self.caps),
                             "maxframe": self.maxframe, "chunk": self.chunk, "clock": self.clock}
        d["config"] = {k: v for k, v in self.config.pairs()}
        return d


@dataclass(frozen=True)
class RigStatus:
    """What `ST` says, field by field as `protocol.STATUS_FIELDS` lists them. Every quantity is an int in
    the base unit its name states; None where the rig says `none`."""

    state: str
    t_s: int
    prog: str | None
    reservoir_nl: int
    conc_ng_per_ul: int
    rate_ng_per_day: int
    delivered_ng: int
    delivered_nl: int
    alarm: str
    t_alarm_s: int | None
    t_empty_s: int | None
    bolus_nl: int
    staged: int
    t_com_s: int | None
    events: int
    chk: str

    @classmethod
    def from_reply(cls, r: protocol.Reply) -> RigStatus:
        values: dict[str, Any] = {}
        for key, attr, is_int in protocol.STATUS_FIELDS:
            text = _str(r, key)
            if is_int:
                values[attr] = None if text == "none" else _int(r, key)
            else:
                values[attr] = None if text == "none" and key == "prog" else text
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def status_attributes() -> list[str]:
    """The attribute names of `RigStatus` (a test checks they are the protocol table's)."""
    return [f.name for f in fields(RigStatus)]


@dataclass(frozen=True)
class LogEntry:
    """One audit-log entry: its sequence number, rig time, kind, and its `k:v` details."""

    index: int
    t_s: int
    kind: str
    detail: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> LogEntry:
        parts = text.split(",", 3)
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            raise RigReplyError(f"bad reply: log entry {text[:40]!r} is not index,t,kind,detail")
        detail: dict[str, str] = {}
        if parts[3] not in ("", "-"):
            for item in parts[3].split("/"):
                k, _, v = item.partition(":")
                detail[k] = v
        return cls(int(parts[0]), int(parts[1]), parts[2], detail)

    def to_json(self) -> dict[str, Any]:
        """The entry with its details typed (docs/cli.md, `itb log`): amounts, times and counts as integers,
        the flags `pocket` and `rf` as booleans, a program `none` as null, the rest as the rig's text."""
        return {"index": self.index, "t_s": self.t_s, "kind": self.kind,
                "detail": {k: _log_value(self, k, v) for k, v in self.detail.items()}}


LOG_INTEGERS = ("nl", "conc", "exp", "meas", "s", "old", "res_nl", "n")  # docs/protocol.md, `LG`
LOG_FLAGS = ("pocket", "rf")


def _log_value(e: LogEntry, key: str, text: str) -> object:
    if key in LOG_INTEGERS:
        if not text.isdigit() or len(text) > 15:
            raise RigReplyError(f"bad reply: log entry {e.index} {key}:{text[:24]!r} is not a whole number")
        return int(text)
    if key in LOG_FLAGS:
        if text not in ("0", "1"):
            raise RigReplyError(f"bad reply: log entry {e.index} {key}:{text[:24]!r} is not 0 or 1")
        return text == "1"
    return None if key == "prog" and text == "none" else text


@dataclass(frozen=True)
class Refill:
    """A refill: `added_nl` of drug at `conc_ng_per_ul`, after withdrawing `measured_residual_nl`."""

    added_nl: int
    conc_ng_per_ul: int
    measured_residual_nl: int

    @classmethod
    def full(cls, capacity_nl: int, conc_ng_per_ul: int, st: RigStatus,
             measured_residual_nl: int | None = None) -> Refill:
        """A fill to `capacity_nl`: the residual withdrawn is the measured one, else what the rig reports it
        holds (none when it holds no drug)."""
        if measured_residual_nl is None:
            measured_residual_nl = st.reservoir_nl if st.conc_ng_per_ul else 0
        return cls(capacity_nl, conc_ng_per_ul, measured_residual_nl)

    def args(self) -> list[str]:
        return [str(self.added_nl), str(self.conc_ng_per_ul), str(self.measured_residual_nl)]


def _pocket(text: str) -> bool | None:
    return None if text == "none" else text == "1"


@dataclass(frozen=True)
class CommitAck:
    """`COM` done: the active program now, the commit time, the reservoir, and the pocket-fill flag of a
    refill that came with it (None without a refill)."""

    prog: str
    t_s: int
    reservoir_nl: int
    pocket: bool | None
    recovered: bool = False

    @classmethod
    def from_reply(cls, r: protocol.Reply) -> CommitAck:
        return cls(_str(r, "prog"), _int(r, "t"), _int(r, "res_nl"), _pocket(_str(r, "pocket")))


@dataclass(frozen=True)
class RefillAck:
    """`RF` done: the reservoir after it, the rig's expected residual before it, the pocket-fill flag."""

    reservoir_nl: int
    expected_nl: int
    pocket: bool
    recovered: bool = False

    @classmethod
    def from_reply(cls, r: protocol.Reply) -> RefillAck:
        return cls(_int(r, "res_nl"), _int(r, "expected_nl"), _str(r, "pocket") == "1")


@dataclass(frozen=True)
class StopAck:
    t_s: int
    recovered: bool = False


@dataclass(frozen=True)
class BolusAck:
    t_end_s: int
    rate_ng_per_day: int
    recovered: bool = False


@dataclass(frozen=True)
class Reading:
    """One interval of a batched `ADV`: ng and nL delivered in it, and the alarms that fired in it."""

    delivered_ng: int
    delivered_nl: int
    low: bool
    empty: bool


@dataclass(frozen=True)
class AdvanceAck:
    """`ADV` done: the rig time after it, and the readings it returned (None when recovered: the rig time
    was read back, the intervals' readings were lost with the reply)."""

    t_s: int
    readings: list[Reading] | None
    recovered: bool = False

    @classmethod
    def from_reply(cls, r: protocol.Reply) -> AdvanceAck:
        readings = None
        if "d" in r.fields:
            readings = []
            for item in r.fields["d"].split(","):
                marks = item.lstrip("0123456789:")
                ng, _, nl = item[: len(item) - len(marks)].partition(":")
                if not ng.isdigit() or not nl.isdigit() or marks.strip("LE"):
                    raise RigReplyError(f"bad reply: ADV reading {item[:24]!r}")
                readings.append(Reading(int(ng), int(nl), "L" in marks, "E" in marks))
        return cls(_int(r, "t"), readings)
