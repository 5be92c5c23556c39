# Persistence by atomic replace, with the previous generation kept as a fallback.
#
# A state is a list of (key, value) pairs; a value is text, or a tuple of texts written joined by ";" (the
# audit log, entry by entry). The file holds "gen=<n>", one "key=value" line per pair and a last line
# "sum=<sha256 hex of every byte before it>"; a file without a matching sum is ignored.
# save():  1. write <prefix>.tmp (generation n+1), streamed line by line with an incremental SHA-256, so the
#             file is never built in RAM (a board has a heap of a few tens of KiB), and flush
#          2. rename <prefix>.cur -> <prefix>.old (only when .cur is known good; else remove it)
#          3. rename <prefix>.tmp -> <prefix>.cur
# A save that fails with an error (a full flash, a MemoryError) leaves nothing that a later load() would take
# for a newer state: the .tmp is removed and a .cur already moved to .old is put back. (A reset gives no
# chance to clean up; load() handles that.)
# load() takes the valid file with the highest generation among .cur, .tmp and .old (a reset at any point
# above leaves at least one), finishes an interrupted save, and never overwrites the only good copy.
# Uses only open/os.rename/os.remove (MicroPython has no os.path and no os.replace); the file system is
# injectable (tests simulate a reset at every step).

import hashlib
import os
import sys

from firmware_py.auth import to_hex
from firmware_py.errors import InputError

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Value = str | tuple[str, ...]

# MicroPython's hashlib and binary files take a str as a buffer (its UTF-8 bytes): a long value is then
# written without an encoded copy. CPython needs bytes.
_STR_IS_BUFFER = sys.implementation.name == "micropython"


class OsFs:
    def open_write(self, path: str) -> object:
        # A binary file for a streamed write; the caller writes, flushes and closes it, then calls sync().
        return open(path, "wb")

    def sync(self) -> None:
        sync = getattr(os, "sync", None)
        if sync is not None:
            sync()

    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, path: str, data: bytes) -> None:
        f = self.open_write(path)
        try:
            f.write(data)  # type: ignore[attr-defined]
            f.flush()  # type: ignore[attr-defined]
        finally:
            f.close()  # type: ignore[attr-defined]
        self.sync()

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except OSError:  # a missing file is fine
            return


def _check(pairs: "Sequence[tuple[str, Value]]") -> None:
    for k, v in pairs:
        parts = v if isinstance(v, tuple) else (v,)
        if "=" in k or "\n" in k or any("\n" in p or (isinstance(v, tuple) and ";" in p) for p in parts):
            raise InputError("state." + k, v, "must be one line, key without '='")


class _Collect:
    # A writer that keeps what it is given (encode_state's buffer).
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: object) -> None:
        self.parts.append(data.encode() if isinstance(data, str) else bytes(data))  # type: ignore[call-overload]


def encode_state(gen: int, pairs: "Sequence[tuple[str, Value]]") -> bytes:
    # The file's bytes, as save() writes them.
    _check(pairs)
    c = _Collect()
    h = hashlib.sha256()
    _stream(c, h, gen, pairs)
    return b"".join(c.parts) + b"sum=" + to_hex(h.digest()).encode() + b"\n"


def decode_state(data: bytes | None) -> tuple[int, dict[str, str]] | None:
    # (generation, pairs) of a complete, checksum-valid file; None otherwise.
    if not data or data[-1:] != b"\n":
        return None
    i = data.rfind(b"\nsum=", 0, len(data) - 1)
    if i < 0:
        return None
    body = data[: i + 1]
    if to_hex(hashlib.sha256(body).digest()).encode() != data[i + 5 : -1]:
        return None
    try:
        lines = body.decode().split("\n")[:-1]
    except UnicodeError:
        return None
    out = {}
    for line in lines:
        j = line.find("=")
        if j <= 0:
            return None
        out[line[:j]] = line[j + 1 :]
    g = out.pop("gen", "")
    if not g.isdigit():
        return None
    return int(g), out


class Store:
    __slots__ = ("_cur_ok", "fs", "gen", "prefix", "rolled_back")

    def __init__(self, prefix: str = "itb_state", fs: OsFs | None = None) -> None:
        self.prefix = prefix
        self.fs = fs if fs is not None else OsFs()
        self.gen = 0
        self._cur_ok = False
        # After load(): the current copy existed but was damaged or rejected, so an older generation (.old)
        # was loaded, or none: the newest acknowledged change may be lost (the rig says so).
        self.rolled_back = False

    def _p(self, ext: str) -> str:
        return self.prefix + ext

    def load(self, accept: "Callable[[dict[str, str]], object] | None" = None) -> object:
        # The newest valid state: its pairs, or what accept(pairs) makes of them. accept may raise to reject
        # a file whose content does not make sense to the caller; the next older one is tried.
        # One file is held in memory at a time (a board's heap): first the generation of each valid file,
        # then the files again, newest first, until one is accepted.
        found = []
        cur_exists = False
        for ext in (".cur", ".tmp", ".old"):
            raw = self.fs.read(self._p(ext))
            if ext == ".cur":
                cur_exists = raw is not None
            d = decode_state(raw)
            raw = None
            if d is not None:
                found.append((d[0], ext))
            d = None
        found.sort(key=lambda x: -x[0])
        best = None
        for gen, ext in found:
            d = decode_state(self.fs.read(self._p(ext)))
            if d is None or d[0] != gen:  # changed under us: a file is only trusted as read
                continue
            pairs = d[1]
            d = None
            made: object = pairs
            if accept is not None:
                try:
                    made = accept(pairs)
                except MemoryError:  # no memory is no verdict on the file: never fall back to an older one
                    raise
                except Exception:  # any rejection means: try the older generation
                    continue
            best = (gen, ext, made)
            break
        cur_valid = False
        for gen, ext in found:
            if ext == ".cur":
                cur_valid = best is not None and gen <= best[0]
        self.rolled_back = cur_exists and (best is None or best[1] == ".old")
        if best is None:
            self._cur_ok = False
            return None
        self.gen = best[0]
        if best[1] == ".tmp":
            # finish the interrupted save
            if cur_valid:
                self.fs.rename(self._p(".cur"), self._p(".old"))
            else:
                self.fs.remove(self._p(".cur"))
            self.fs.rename(self._p(".tmp"), self._p(".cur"))
            self._cur_ok = True
        else:
            self._cur_ok = best[1] == ".cur"
        return best[2]

    def save(self, pairs: "Sequence[tuple[str, Value]]") -> None:
        _check(pairs)
        fs = self.fs
        tmp, cur, old = self._p(".tmp"), self._p(".cur"), self._p(".old")
        moved = False
        try:
            f = fs.open_write(tmp)
            try:
                h = hashlib.sha256()
                _stream(f, h, self.gen + 1, pairs)
                f.write(b"sum=" + to_hex(h.digest()).encode() + b"\n")  # type: ignore[attr-defined]
                f.flush()  # type: ignore[attr-defined]
            finally:
                f.close()  # type: ignore[attr-defined]
            fs.sync()
            if self._cur_ok:
                fs.rename(cur, old)
                moved = True
            else:
                fs.remove(cur)
            self._cur_ok = False
            fs.rename(tmp, cur)
        except Exception:
            # An error, not a reset: undo, so that nothing newer than the state before is left to load.
            fs.remove(tmp)
            if moved:
                try:
                    fs.rename(old, cur)
                    self._cur_ok = True
                except Exception:  # .old stays the newest valid copy; load() finds it
                    pass
            raise
        self._cur_ok = True
        self.gen += 1



def _stream(f: object, h: object, gen: int, pairs: "Sequence[tuple[str, Value]]") -> None:
    # The file's text before the sum line, written piece by piece to f and hashed by h.
    _put(f, h, "gen=" + str(gen) + "\n")
    for k, v in pairs:
        _put(f, h, k + "=")
        if isinstance(v, tuple):
            for i in range(len(v)):
                if i:
                    _put(f, h, ";")
                _put(f, h, v[i])
        else:
            _put(f, h, v)
        _put(f, h, "\n")


def _put(f: object, h: object, text: str) -> None:
    data: object = text if _STR_IS_BUFFER else text.encode()
    h.update(data)  # type: ignore[attr-defined]
    f.write(data)  # type: ignore[attr-defined]
