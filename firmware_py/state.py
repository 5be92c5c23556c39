# Everything the rig knows, and its persisted form (firmware_py/store.py saves the pairs atomically).
#
# Not persisted: the staging buffer, the decoded program (decoded again from prog_b), the session, and the
# recent unauthenticated refusals (only their count is kept). The audit log holds authenticated events
# only (boot, resume, commit, refill, low, empty, bolus, bolus_end, stop, refused, check, adv), each with
# its own sequence number; unauthenticated traffic can never evict it.

from firmware_py import history as hist
from firmware_py import program as pg

LOG_SIZE = 32
RUNNING = "running"
STOPPED = "stopped"
ALARM = "alarm"
NONE = "none"
LOW = "low"
EMPTY = "empty"
STATE_VERSION = "2"
# The persisted integer fields, as decimal text.
INT_FIELDS = ("conc", "fill_nl", "used_q", "anchor_s", "prev_conc", "t_com", "t_s", "log_total", "unauth")


def line(index: int, t: int, kind: str, detail: str, count: int) -> str:
    return str(index) + "," + str(t) + "," + kind + "," + detail + ("/n:" + str(count) if count > 1 else "")


def entry(text: str) -> "tuple[int, int, str, str, int]":
    # One log line -> (index, t_s, kind, detail, count); raises ValueError on anything else.
    f = text.split(",")
    if len(f) != 4 or not f[2] or not f[3]:
        raise ValueError("log entry")
    detail = f[3]
    n = 1
    k = detail.rfind("/n:")
    if k >= 0:
        n = int(detail[k + 3 :])
        detail = detail[:k]
    return int(f[0]), int(f[1]), f[2], detail, n


class State:
    __slots__ = ("alarm", "anchor_s", "bolus", "chk", "conc", "fill_nl", "hist", "log", "log_total",
                 "prev_conc", "prog", "prog_b", "staged", "state", "t_com", "t_s", "unauth", "used_q")

    def __init__(self) -> None:
        self.state = STOPPED
        self.alarm = NONE
        self.prog: pg.Program | None = None
        self.prog_b = b""
        self.staged = b""
        self.conc = 0  # reservoir concentration, ng/uL (0: never filled)
        self.fill_nl = 0  # volume at the last fill
        self.used_q = 0  # use since the last fill, up to anchor_s (q units, firmware_py/refill.py)
        self.anchor_s = 0
        # A bridge bolus: (t0_s, t1_s, volume_nl, old_conc_ng_per_ul); anchor_s == t0_s while it runs.
        self.bolus: tuple[int, int, int, int] | None = None
        self.prev_conc = 0  # concentration before the last change of concentration (a bridge is pending)
        self.t_com = -1  # last commit (-1: none)
        self.t_s = 0  # latest rig time seen
        self.hist = hist.History()
        # The log as LG lines "index,t_s,kind,detail" (detail + "/n:count" when an entry counts repeats),
        # oldest first: kept, saved and sent as this text, so it costs one string per entry.
        self.log: list[str] = []
        self.log_total = 0
        self.unauth = 0  # unauthenticated frames refused, ever
        # The boot check: "ok", or "+"-joined "rollback" (booted from the previous copy of the state, kept
        # until the next commit) and the rule IDs the stored program failed.
        self.chk = "ok"

    def copy(self) -> "State":
        n = State()
        for name in State.__slots__:
            setattr(n, name, getattr(self, name))
        n.log = list(self.log)
        n.hist = self.hist.copy()
        return n

    def running_program(self) -> pg.Program | None:
        # The program the envelope compares with: None on a fresh rig and after a confirmed stop.
        return self.prog if self.state != STOPPED else None

    def add_log(self, t: int, kind: str, detail: str) -> None:
        # Consecutive identical refusals are counted in one entry; consecutive ADVs add up in one entry.
        if self.log and kind in ("refused", "adv"):
            i, t0, k, d, n = entry(self.log[-1])
            if k == kind == "refused" and d == detail:
                self.log[-1] = line(i, t, kind, detail, n + 1)
                return
            if k == kind == "adv":
                self.log[-1] = line(i, t0, kind, "s:" + str(int(d[2:]) + int(detail[2:])), 1)
                return
        self.log.append(line(self.log_total, t, kind, detail, 1))
        self.log_total += 1
        if len(self.log) > LOG_SIZE:
            self.log.pop(0)

    def entries(self) -> "list[tuple[int, int, str, str, int]]":
        # The log as (index, t_s, kind, detail, count) tuples.
        return [entry(e) for e in self.log]

    def pairs(self) -> list[tuple[str, str]]:
        b = self.bolus
        bol = NONE if b is None else ",".join([str(x) for x in b])
        log = ";".join(self.log)
        sha = pg.checksum(self.prog_b) if self.prog_b else NONE
        return (
            [("v", STATE_VERSION), ("state", self.state), ("alarm", self.alarm)]
            + [(name, str(getattr(self, name))) for name in INT_FIELDS]
            + [("bolus", bol), ("chk", self.chk), ("log", log), ("hist", self.hist.text()), ("prog_sha", sha),
               ("prog", self.prog_b.decode())]
        )  # fmt: skip

    @staticmethod
    def from_pairs(d: dict[str, str]) -> "State":
        # Raises (KeyError, ValueError, ItbError) on anything that does not make sense.
        s = State()
        if d["v"] != STATE_VERSION or d["state"] not in (RUNNING, STOPPED, ALARM) or d["alarm"] not in (
                NONE, LOW, EMPTY):
            raise ValueError("state")
        s.state = d["state"]
        s.alarm = d["alarm"]
        for name in INT_FIELDS:
            setattr(s, name, int(d[name]))
        if d["bolus"] != NONE:
            b = [int(x) for x in d["bolus"].split(",")]
            s.bolus = (b[0], b[1], b[2], b[3])
        if d["log"]:
            s.log = d["log"].split(";")
            for e in s.log:
                entry(e)  # raises on a malformed entry
        s.chk = d["chk"]
        s.hist = hist.parse(d["hist"])
        s.prog_b = d["prog"].encode()
        if s.prog_b:
            if pg.checksum(s.prog_b) != d["prog_sha"]:
                raise ValueError("prog_sha")
            s.prog = pg.decode(s.prog_b)
        elif s.state != STOPPED:
            raise ValueError("state without program")
        return s
