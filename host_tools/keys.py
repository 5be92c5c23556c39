"""Per-rig HMAC keys, provisioned out of band.

A key file holds the key as hex on one line (64 hex digits for the usual 32-byte key) and has mode 0600.
`--key-file PATH` or the environment variable `ITB_RIG_KEY_FILE` names it. The built-in virtual rig makes a
random key per session and hands the same `RigKey` object to the rig and to the client, in process.

The key itself never appears in output, logs, exceptions or `repr`: `RigKey` hides its bytes, and every error
here names the file, never its content.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from firmware_py import auth as fw_auth
from firmware_py.errors import ItbError
from host_tools.errors import UsageError

KEY_FILE_ENV = "ITB_RIG_KEY_FILE"
KEY_BYTES = 32
MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 64
_MODE = 0o600


class RigKey:
    """An HMAC key for one rig. Its bytes are reachable only through `secret()`; repr/str hide them."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray):
            raise UsageError("rig key: must be bytes")
        if not MIN_KEY_BYTES <= len(secret) <= MAX_KEY_BYTES:
            raise UsageError(f"rig key: must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes long")
        self._secret = bytes(secret)

    def secret(self) -> bytes:
        """The raw key, for the HMAC code in `firmware_py.auth` only. Never print it."""
        return self._secret

    def auth(self) -> fw_auth.Auth:
        """A `firmware_py.auth.Auth` for this key (the single HMAC implementation, host and rig)."""
        return fw_auth.Auth(self._secret)

    def __repr__(self) -> str:
        return "RigKey(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RigKey) and secrets.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a RigKey is not picklable")


def generate_key() -> RigKey:
    """A fresh random key (for a virtual rig's session)."""
    return RigKey(secrets.token_bytes(KEY_BYTES))


def _check_mode(path: Path, mode: int) -> None:
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"key file {path}: readable by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )


def load_key_file(path: str | os.PathLike[str]) -> RigKey:
    """Read a key file (hex). It must be a regular file that only its owner can read (mode 0600)."""
    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"key file {p}: not a regular file")
        if os.name == "posix":
            _check_mode(p, st.st_mode)
        text = p.read_text(encoding="ascii").strip()
    except UsageError:
        raise
    except UnicodeError:
        raise UsageError(f"key file {p}: not hex text") from None
    except OSError as exc:
        raise UsageError(f"key file {p}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        raw = fw_auth.parse_key(text)  # the firmware's parser: one implementation on both sides
    except ItbError as exc:
        # The content is never echoed: it may be a key with one typo.
        raise UsageError(f"key file {p}: {exc.reason}") from None
    return RigKey(raw)


def create_key_file(path: str | os.PathLike[str]) -> RigKey:
    """Create a new key file with a random key, mode 0600, refusing to overwrite an existing file."""
    p = Path(path)
    key = generate_key()
    try:
        if p.parent != Path():
            p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _MODE)
    except FileExistsError:
        raise UsageError(f"key file {p}: already exists") from None
    except OSError as exc:
        raise UsageError(f"key file {p}: cannot be created ({exc.strerror or type(exc).__name__})") from None
    try:
        os.fchmod(fd, _MODE)  # the umask cannot widen it, but be explicit
        os.write(fd, fw_auth.to_hex(key.secret()).encode() + b"\n")
    finally:
        os.close(fd)
    return key


def load_or_create_key_file(path: str | os.PathLike[str]) -> tuple[RigKey, bool]:
    """Read the key file at `path`, or create it if it does not exist. Returns (key, created)."""
    if Path(path).exists():
        return load_key_file(path), False
    return create_key_file(path), True


def key_file_from(arg: str | None) -> str | None:
    """The key file named by `--key-file`, else by `ITB_RIG_KEY_FILE`, else None."""
    if arg:
        return arg
    env = os.environ.get(KEY_FILE_ENV, "").strip()
    return env or None
