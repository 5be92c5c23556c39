# Persistence by atomic replace, with the previous generation kept as a fallback.
#
# A state is a list of (key, value) text pairs. The file holds "gen=<n>", one "key=value" line per pair and
# a last line "sum=<sha256 hex of every byte before it>"; a file without a matching sum is ignored.
# save():  1. write <prefix>.tmp (generation n+1) and flush
#          2. rename <prefix>.cur -> <prefix>.old (only when .cur is known good; else remove it)
#          3. rename <prefix>.tmp -> <prefix>.cur
# load() takes the valid file with the highest generation among .cur, .tmp and .old (a reset at any point
# above leaves at least one), finishes an interrupted save, and never overwrites the only good copy.
# Uses only open/os.rename/os.remove (MicroPython has no os.path and no os.replace); the file system is
# injectable (tests simulate a reset at every step).

import hashlib
import os

from firmware_py.auth import to_hex
from firmware_py.errors import InputError

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable


class OsFs:
    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, path: str, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
        sync = getattr(os, "sync", None)
        if sync is not None:
            sync()

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except OSError:  # a missing file is fine
            return


def encode_state(gen: int, pairs: list[tuple[str, str]]) -> bytes:
    lines = ["gen=" + str(gen)]
    for k, v in pairs:
        if "=" in k or "\n" in k or "\n" in v:
            raise InputError("state." + k, v, "must be one line, key without '='")
        lines.append(k + "=" + v)
    body = ("\n".join(lines) + "\n").encode()
    return body + b"sum=" + to_hex(hashlib.sha256(body).digest()).encode() + b"\n"


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
    __slots__ = ("_cur_ok", "fs", "gen", "prefix")

    def __init__(self, prefix: str = "itb_state", fs: OsFs | None = None) -> None:
        self.prefix = prefix
        self.fs = fs if fs is not None else OsFs()
        self.gen = 0
        self._cur_ok = False

    def _p(self, ext: str) -> str:
        return self.prefix + ext

    def load(self, accept: "Callable[[dict[str, str]], object] | None" = None) -> dict[str, str] | None:
        # The newest valid state. accept(pairs) may raise to reject a file whose content does not make
        # sense to the caller; the next older one is tried.
        found = []
        for ext in (".cur", ".tmp", ".old"):
            d = decode_state(self.fs.read(self._p(ext)))
            if d is not None:
                found.append((d[0], ext, d[1]))
        found.sort(key=lambda x: -x[0])
        best = None
        for gen, ext, pairs in found:
            if accept is not None:
                try:
                    accept(pairs)
                except Exception:  # any rejection means: try the older generation
                    continue
            best = (gen, ext, pairs)
            break
        cur_valid = False
        for gen, ext, _pairs in found:
            if ext == ".cur":
                cur_valid = best is not None and gen <= best[0]
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

    def save(self, pairs: list[tuple[str, str]]) -> None:
        data = encode_state(self.gen + 1, pairs)
        self.fs.write(self._p(".tmp"), data)
        if self._cur_ok:
            self.fs.rename(self._p(".cur"), self._p(".old"))
        else:
            self.fs.remove(self._p(".cur"))
        self._cur_ok = False
        self.fs.rename(self._p(".tmp"), self._p(".cur"))
        self._cur_ok = True
        self.gen += 1
