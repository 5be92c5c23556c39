"""The frame fuzzer (tests/fuzz/engine.py) against the rig running on the unix-port rig image.

The rig image (firmware_py frozen, as on a board) runs tests/mp/rig_server.py, loaded from this checkout
(MICROPYPATH = ``.frozen`` first, in an empty directory, so the rig is the frozen one: `RigServer.where`).
`RemoteRig` is a stand-in for the in-process Rig that the fuzzer drives: `feed`, `link_reset`,
`parser.pending()` and `nak_budget` go to the port, and `s` is a CPython `State` rebuilt field by field
from the port's answer after every call (never through the rig's own persisted form). `BoardFuzzer` is the
engine's Fuzzer with its rig on the port; everything else, the case generator and the oracle (frames split
by the protocol rules, CRC with binascii, MACs with hmac, the NAK credit, the snapshot comparisons and
rules), is the engine's, on CPython.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from firmware_py import program as pg
from firmware_py.history import History
from firmware_py.rig import Rig
from firmware_py.state import State
from tests.core import support
from tests.fuzz import engine
from tests.mp.host import REPO_ROOT
from tests.safety import kit

FUZZ_HEAP = 256 * 1024  # the test helpers compiled on the port and their transfers need more than a board


class RigServerError(BaseException):
    """The port did not answer as tests/mp/rig_server.py does (it died, or answered garbage). A
    BaseException: the fuzzer counts an Exception from feed as the rig's, and must not count this one."""


class _Parser:
    def __init__(self) -> None:
        self.n = 0

    def pending(self) -> int:
        return self.n


_DECODED: dict[bytes, pg.Program] = {}


def _decoded(b: bytes) -> pg.Program:
    p = _DECODED.get(b)
    if p is None:
        if len(_DECODED) > 256:
            _DECODED.clear()
        p = _DECODED[b] = pg.decode(b)
    return p


def state_from(d: dict[str, object]) -> State:
    # A CPython State with the port's field values; prog decoded here (the oracle's rate check needs it).
    s = State()
    h = History()
    for k, v in d.items():
        if k.startswith("hist."):
            setattr(h, k[5:], v)
        else:
            setattr(s, k, v)
    s.hist = h
    s.prog = _decoded(s.prog_b) if s.prog_b else None
    return s


class RigServer:
    """tests/mp/rig_server.py on the unix-port ``image`` (a subprocess on pipes). Context manager."""

    def __init__(self, image: Path, heap: int = FUZZ_HEAP) -> None:
        # An empty working directory: the port puts it first on sys.path, before .frozen.
        self._cwd = tempfile.TemporaryDirectory(prefix="itb-rig-server-")
        self.proc = subprocess.Popen(
            [str(image), "-X", f"heapsize={heap}", "-c", "import tests.mp.rig_server as s\ns.serve()"],
            cwd=self._cwd.name,
            env={"PATH": os.environ.get("PATH", ""), "MICROPYPATH": ".frozen:" + str(REPO_ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.requests = 0

    def __enter__(self) -> RigServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("Q\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        self._cwd.cleanup()

    def where(self) -> dict[str, object]:
        """Where the port imported the rig from, its sys.path and its (empty) working directory."""
        got = ast.literal_eval(self.ask("I").split(" ", 3)[3])
        assert isinstance(got, dict)
        return got

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests += 1
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            ans = self.proc.stdout.readline()
        except OSError as exc:
            ans = f"({exc})\n"
        if not ans.startswith(("R ", "X ")):
            raise RigServerError(f"to {line[:60]!r} the port answered {ans[:300]!r}: {self._rest()}")
        return ans.rstrip("\n")

    def _rest(self) -> str:
        # What the port wrote after a bad answer (the unix port prints an uncaught exception on stdout).
        try:
            out, err = self.proc.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            self.proc.kill()
            return "(no exit)"
        return f"exit {self.proc.returncode}; stdout {out[-1500:]!r}; stderr {err[-1500:]!r}"

    def new_rig(self, digest: hashlib._Hash | None = None) -> RemoteRig:
        return RemoteRig(self, digest)

    def break_auth(self) -> None:
        """A canary: from now on the port's rig accepts any MAC."""
        self.ask("M auth")


class RemoteRig:
    """The rig on the port, as the fuzzer sees a Rig (see the module doc). The port answers each call with
    the fields that changed; every ``CHECK_EVERY`` calls all fields are fetched and must match."""

    CHECK_EVERY = 64

    def __init__(self, server: RigServer, digest: hashlib._Hash | None = None) -> None:
        self.server = server
        self.digest = digest  # of every reply byte
        self.parser = _Parser()
        self.fields: dict[str, object] = {}
        self.nak_budget = 0  # the rig's NAK credit (the fuzzer models it)
        self.calls = 0
        self.s = State()
        self._update(server.ask("N"))

    def _update(self, ans: str) -> bytes:
        head, out_hex, link, state = ans.split(" ", 3)
        pending, credit = link.split(",")
        self.parser.n = int(pending)
        self.nak_budget = int(credit)
        self.fields.update(ast.literal_eval(state))
        self.calls += 1
        if self.calls % self.CHECK_EVERY == 0:
            full = ast.literal_eval(self.server.ask("S").split(" ", 3)[3])
            if full != self.fields:
                diff = sorted(k for k in set(full) | set(self.fields) if full.get(k) != self.fields.get(k))
                raise RigServerError(f"the port's state differs from the changes it reported: {diff}")
        self.s = state_from(self.fields)
        out = b"" if out_hex == "-" else bytes.fromhex(out_hex)
        if head == "X":
            raise RuntimeError("on the port: " + out.decode("utf-8", "replace"))
        return out

    def feed(self, data: bytes) -> bytes:
        out = self._update(self.server.ask("F " + data.hex()))
        if self.digest is not None:
            self.digest.update(out)
        return out

    def link_reset(self) -> None:
        self._update(self.server.ask("L"))


class BoardFuzzer(engine.Fuzzer):
    """The engine's fuzzer, its rig on the port (re-created there every ``reset_every`` cases); ``digest``
    is a SHA-256 of every byte the port answered."""

    def __init__(self, server: RigServer, seed: int, reset_every: int = 3000) -> None:
        self.server = server
        self.digest = hashlib.sha256()
        super().__init__(seed, reset_every)

    def _new_rig(self) -> None:
        # As engine.Fuzzer._new_rig, with the rig on the port (no clock or file system on this side).
        self.rig = self.server.new_rig(self.digest)  # type: ignore[assignment]
        _first_fill(self)


def _first_fill(fz: engine.Fuzzer) -> None:
    # The rest of engine.Fuzzer._new_rig: the first program and fill, the NAK credit it left, and the
    # oracle's session.
    h = kit.first_fill(fz.rig, kit.program13(fz.rnd.choice((200_000, 500_000, 800_000))))
    fz.credit = fz.rig.nak_budget
    fz.seq = h.seq
    assert h.session is not None
    fz.sid = h.session.sid
    fz.ctr = h.seq
    fz.history = []
    fz.valid_prog = pg.decode(fz.rig.s.prog_b)


class _Recorded:
    """An in-process Rig whose replies also go into a digest (the CPython reference run)."""

    def __init__(self, rig: Rig, digest: hashlib._Hash) -> None:
        self._rig = rig
        self._digest = digest

    def feed(self, data: bytes) -> bytes:
        out = self._rig.feed(data)
        self._digest.update(out)
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self._rig, name)


class _ReferenceFuzzer(engine.Fuzzer):
    def __init__(self, seed: int, reset_every: int = 3000) -> None:
        self.digest = hashlib.sha256()
        super().__init__(seed, reset_every)

    def _new_rig(self) -> None:
        rig, self.clock, self.fs = kit.make_rig()
        self.rig = _Recorded(rig, self.digest)  # type: ignore[assignment]
        _first_fill(self)


def reference_run(seed: int, frames: int) -> tuple[engine.Stats, str]:
    """The same fuzz run on CPython, in-process, from the same first session challenge as a fresh port
    (tests.core.support.counter_random starts again at 0; afterwards it goes on above every value drawn)."""
    saved = support._DRAWS[0]
    support._DRAWS[0] = 0
    try:
        fz = _ReferenceFuzzer(seed)
        st = fz.run(frames)
    finally:
        support._DRAWS[0] = max(saved, support._DRAWS[0])
    return st, fz.digest.hexdigest()


def summary_counts(st: engine.Stats) -> dict[str, object]:
    """Every count of a run (not its time or examples)."""
    return {k: v for k, v in vars(st).items() if k not in ("seconds", "examples")}
