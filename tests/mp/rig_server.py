# MicroPython-side: one rig (firmware_py.rig.Rig, as frozen into the board image) served on stdin/stdout,
# so that a CPython process drives it frame by frame and observes its state (tests/board/remote_rig.py; the
# fuzz slice on the unix-port image). It also runs on CPython. Only what both interpreters have is used.
#
# One request per line, one answer per line:
#   N             a new rig: tests.core.support.make_rig() (bench clock, a store on an in-memory file system
#                 whose operation trace is not kept)
#   F <hex>       rig.feed(bytes)            -> R <hex of the reply bytes> <link> <state>
#   L             rig.link_reset()           -> R - <link> <state>
#   S             nothing                    -> R - <link> <every field>
#   M auth        a deliberately broken rig from now on (Session.check accepts any MAC: a canary)
#   I             where the rig comes from   -> R - 0,0 {"rig": <its __file__>, "path": ..., "cwd": ...}
#   Q             end
# <link> is "<parser pending>,<NAK credit>" (rig.parser.pending(), rig.nak_budget). <state> is the repr of
# a dict of the rig's State fields that changed since the last answer (every field after N and for S; prog,
# the decoded program, left out; the history's fields as "hist.<name>"): Python literals only. An exception
# escaping rig.feed (which must never raise) is answered "X <hex of Type: message> <link> <state>"; a bad
# request "E <text>".

import binascii
import sys

from firmware_py import auth
from firmware_py.history import History
from firmware_py.state import State
from tests.core import support


class _NoTrace:
    # In place of MemFs.trace, a list of every file operation that would fill the heap in a long run.
    def append(self, item: object) -> None:
        return None


def fields(s: State) -> "list[tuple[str, object]]":
    # Every State field but prog (decoded from prog_b), the history's as "hist.<name>".
    out: list[tuple[str, object]] = []
    for name in State.__slots__:
        if name == "hist":
            for k in History.__slots__:
                out.append(("hist." + k, getattr(s.hist, k)))
        elif name != "prog":
            out.append((name, getattr(s, name)))
    return out


_LAST: dict[str, object] = {}


def state_repr(s: State, full: bool = False) -> str:
    # The fields that changed since the last answer (all of them after N, or when full), as a dict literal.
    d = {}
    for name, value in fields(s):
        if full or name not in _LAST or _LAST[name] != value:
            d[name] = value
            _LAST[name] = list(value) if isinstance(value, list) else value  # a list may change in place
    return repr(d)


def _hex(b: bytes) -> str:
    return binascii.hexlify(b).decode() or "-"


def _answer(rig: object, head: str, payload: bytes, full: bool = False) -> str:
    link = str(rig.parser.pending()) + "," + str(rig.nak_budget)  # type: ignore[attr-defined]
    return head + " " + _hex(payload) + " " + link + " " + state_repr(rig.s, full)  # type: ignore[attr-defined]


def handle(rig: object, line: str) -> "tuple[object, str | None]":
    # One request: (the rig afterwards, the answer line; None to end).
    cmd = line[:1]
    if cmd == "N":
        rig, _clock, fs = support.make_rig()
        fs.trace = _NoTrace()  # type: ignore[assignment]  # MemFs lists every operation: unbounded on a heap
        _LAST.clear()
        return rig, _answer(rig, "R", b"")
    if cmd == "Q":
        return rig, None
    if cmd == "I":
        import os  # noqa: PLC0415

        from firmware_py import rig as rig_module  # noqa: PLC0415

        where = {"rig": rig_module.__file__, "path": sys.path, "cwd": os.listdir(".")}
        return rig, "R - 0,0 " + repr(where)
    if line.strip() == "M auth":
        auth.Session.check = lambda self, body, mac_hex: True  # type: ignore[method-assign]
        return rig, "R - 0,0 {}"
    if rig is None:
        return rig, "E no rig"
    if cmd == "F":
        data = binascii.unhexlify(line[2:].strip())
        try:
            out = rig.feed(data)  # type: ignore[attr-defined]
        except Exception as exc:  # the rig promises never to raise: reported, not hidden
            return rig, _answer(rig, "X", (type(exc).__name__ + ": " + str(exc)).encode())
        return rig, _answer(rig, "R", out)
    if cmd == "L":
        rig.link_reset()  # type: ignore[attr-defined]
        return rig, _answer(rig, "R", b"")
    if cmd == "S":
        return rig, _answer(rig, "R", b"", True)
    return rig, "E unknown request " + line[:20]


def serve() -> None:
    rig = None
    write = sys.stdout.write
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        rig, ans = handle(rig, line)
        line = ""
        if ans is None:
            return
        write(ans + "\n")
        ans = None
        flush = getattr(sys.stdout, "flush", None)
        if flush is not None:
            flush()
