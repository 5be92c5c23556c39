# The rig's own configuration: the pump facts a program must match (ITB-PMP-01..04), provisioned out of
# band like the key, never taken from a program. A board reads it from the file itb_rig.cfg, one
# "key=value" per line:
#   rig=bench1
#   pump=programmable
#   res=20000000        reservoir capacity, nL (20 or 40 mL)
#   internal=200000     pump internal volume, nL
#   cath=500            catheter length, mm
#   minstep=1800        shortest schedule step, s
# Every key is required except rig (default "rig0"); unknown keys are refused.

from firmware_py import library
from firmware_py.errors import InputError
from firmware_py.units import S_PER_DAY, S_PER_MIN, is_int

CONFIG_FILE = "itb_rig.cfg"
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
MAX_ID = 16


class Config:
    __slots__ = ("catheter_mm", "internal_nl", "min_step_s", "pump_kind", "reservoir_nl", "rig_id")

    def __init__(  # noqa: PLR0917 (the fields in the order of the ID reply)
        self, pump_kind: str, reservoir_nl: int, internal_nl: int, catheter_mm: int, min_step_s: int,
        rig_id: str = "rig0",
    ) -> None:
        self.rig_id = _rig_id(rig_id)
        self.pump_kind = library.require_choice("pump", pump_kind, library.PUMP_KINDS)
        if not is_int(reservoir_nl) or reservoir_nl not in library.param_tuple("ITB-PMP-01", "reservoirs_nl"):
            raise InputError("res", reservoir_nl, "must be one of the reservoir sizes "
                             + ", ".join([str(r) for r in library.param_tuple("ITB-PMP-01", "reservoirs_nl")])
                             + " nL [ITB-PMP-01]")
        self.reservoir_nl = reservoir_nl
        self.internal_nl = _bounded(
            "internal", internal_nl, 0, library.param("ITB-PMP-03", "max_internal_nl"), "ITB-PMP-03"
        )
        self.catheter_mm = _bounded("cath", catheter_mm, library.param("ITB-PMP-02", "min_catheter_mm"),
                                    library.param("ITB-PMP-02", "max_catheter_mm"), "ITB-PMP-02")
        self.min_step_s = _bounded(
            "minstep", min_step_s, library.param("ITB-PMP-04", "min_step_s"), S_PER_DAY, "ITB-PMP-04"
        )
        if self.min_step_s % S_PER_MIN:
            raise InputError("minstep", min_step_s, "must be on a whole minute")

    def pairs(self) -> list[tuple[str, object]]:
        # In the order of the file and of the ID reply.
        return [("rig", self.rig_id), ("pump", self.pump_kind), ("res", self.reservoir_nl),
                ("internal", self.internal_nl), ("cath", self.catheter_mm), ("minstep", self.min_step_s)]

    def text(self) -> str:
        return "".join([k + "=" + str(v) + "\n" for k, v in self.pairs()])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.pairs() == other.pairs()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return "Config(" + " ".join([k + "=" + str(v) for k, v in self.pairs()]) + ")"


# The bench pump of a virtual or emulated rig: a programmable pump with the smaller reservoir (ITB-PMP-01) and
# the shortest step (ITB-PMP-04). Its internal volume and catheter length are the project's choice (the
# labeling and DESIGN.md give none), inside ITB-PMP-02/03.
BENCH_INTERNAL_NL = 200_000  # 0.2 mL
BENCH_CATHETER_MM = 500  # 50 cm


def bench_config(rig_id: str = "rig0") -> Config:
    smallest = library.param_tuple("ITB-PMP-01", "reservoirs_nl")[0]
    return Config(library.PROGRAMMABLE, smallest, BENCH_INTERNAL_NL, BENCH_CATHETER_MM,
                  library.param("ITB-PMP-04", "min_step_s"), rig_id)


def _rig_id(value: object) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_ID
        or any(c not in _ID_CHARS for c in value)
    ):
        raise InputError("rig", value, "must be 1 to " + str(MAX_ID) + " letters, digits, '-', '_' or '.'")
    return value


def _bounded(field: str, value: object, low: int, high: int, rid: str) -> int:
    if not is_int(value) or value < low or value > high:  # type: ignore[operator]
        raise InputError(field, value, "must be between " + str(low) + " and " + str(high) + " [" + rid + "]")
    return value  # type: ignore[return-value]


def _int(field: str, text: str) -> int:
    if not text.isdigit() or len(text) > 10 or (text[0] == "0" and len(text) > 1):
        raise InputError(field, text, "must be a decimal integer")
    return int(text)


def parse(text: str) -> Config:
    # The board file: key=value lines; blank lines and lines starting with "#" are ignored.
    got: dict[str, str] = {}
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        i = line.find("=")
        if i <= 0:
            raise InputError("config", line, "must be key=value")
        key = line[:i].strip()
        if key in got:
            raise InputError(key, line, "appears twice")
        if key not in ("rig", "pump", "res", "internal", "cath", "minstep"):
            raise InputError(key, line, "is not a configuration key")
        got[key] = line[i + 1 :].strip()
    for key in ("pump", "res", "internal", "cath", "minstep"):
        if key not in got:
            raise InputError(key, None, "is missing from the configuration")
    return Config(got["pump"], _int("res", got["res"]), _int("internal", got["internal"]),
                  _int("cath", got["cath"]), _int("minstep", got["minstep"]), got.get("rig", "rig0"))


def read(path: str = CONFIG_FILE) -> Config:
    with open(path) as f:
        return parse(f.read())
