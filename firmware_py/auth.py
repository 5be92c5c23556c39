# HMAC-SHA256 (RFC 2104) on hashlib.sha256, and the sessions that bind every MAC to one rig challenge.
# Built here rather than on the hmac module, which not every MicroPython build has; a CPython test checks
# it against the stdlib hmac and RFC 4231. The key lives only inside an Auth object: never printed,
# logged, echoed or shown by repr.
#
# A session starts when the rig answers SES with a fresh random challenge (SID, 16 bytes as 32 hex
# digits). Every program-changing frame of the session carries MAC = the first 16 bytes of
# HMAC-SHA256(key, SID + " " + body) as 32 hex digits (RFC 2104 section 5 truncation to 128 bits), and a
# counter (the frame's SEQ) that rises within the session. A frame from another session, before or after
# a reset, a rollback of the rig's state or a reconnect, can never be valid, and a new session always
# starts with the whole counter space.

import hashlib

from firmware_py.errors import InputError

_BLOCK = 64  # SHA-256 block size, bytes
_HEX = "0123456789abcdef"


def _pad(key: bytes, byte: int) -> bytes:
    return bytes([b ^ byte for b in key])


def to_hex(data: bytes) -> str:
    out = []
    for b in data:
        out.append(_HEX[b >> 4] + _HEX[b & 15])
    return "".join(out)


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    inner = hashlib.sha256(_pad(key, 0x36))
    inner.update(msg)
    outer = hashlib.sha256(_pad(key, 0x5C))
    outer.update(inner.digest())
    return outer.digest()


def same(a: str, b: str) -> bool:
    # Constant-time comparison (for equal lengths): the time does not depend on where the texts differ.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= ord(a[i]) ^ ord(b[i])
    return diff == 0


def parse_key(text: str) -> bytes:
    # A key file holds the key as hex (whitespace ignored), 16 to 64 bytes. The error never shows the key.
    text = "".join(text.split()).lower()
    n = len(text)
    if n % 2 or n < 32 or n > 128 or any(c not in _HEX for c in text):
        raise InputError("key", "<hidden>", "must be 32 to 128 hex digits (16 to 64 bytes)")
    return bytes([_HEX.index(text[i]) * 16 + _HEX.index(text[i + 1]) for i in range(0, n, 2)])


class Auth:
    __slots__ = ("_ik", "_ok")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise InputError("key", "<hidden>", "must be at least 16 bytes")
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + bytes(_BLOCK - len(key))
        # Only the padded inner and outer keys are kept: two hashes per frame, no key schedule per call.
        self._ik = _pad(key, 0x36)
        self._ok = _pad(key, 0x5C)

    def __repr__(self) -> str:
        return "Auth(<key hidden>)"

    def mac(self, msg: bytes) -> str:
        inner = hashlib.sha256(self._ik)
        inner.update(msg)
        outer = hashlib.sha256(self._ok)
        outer.update(inner.digest())
        return to_hex(outer.digest())

    def check(self, msg: bytes, mac_hex: str) -> bool:
        return same(self.mac(msg), mac_hex)


MAC_HEX = 32  # digits of a session MAC
SID_BYTES = 16


class Session:
    # The host's or the rig's half of one session: the shared key's Auth and the rig's challenge.
    __slots__ = ("_auth", "sid")

    def __init__(self, auth: Auth, sid: str) -> None:
        if len(sid) != 2 * SID_BYTES or any(c not in _HEX for c in sid):
            raise InputError("sid", sid, "must be " + str(2 * SID_BYTES) + " lower-case hex digits")
        self._auth = auth
        self.sid = sid

    def __repr__(self) -> str:
        return "Session(" + self.sid[:8] + "...)"

    def mac(self, body: bytes) -> str:
        return self._auth.mac(self.sid.encode() + b" " + body)[:MAC_HEX]

    def check(self, body: bytes, mac_hex: str) -> bool:
        return same(self.mac(body), mac_hex)


Signer = Session
