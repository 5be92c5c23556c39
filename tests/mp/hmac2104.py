# HMAC (RFC 2104) for the MicroPython ports that have no `hmac` module: the unix port's standard variant
# (micropython-lib is not frozen into it), where the core tests run from the unix-test image. Only what
# tests/core uses: new(key, msg, digestmod).digest() / .hexdigest() / .update(), for a hash with a 64-byte
# block (SHA-256, SHA-1, MD5). Written from the RFC, independently of firmware_py.auth, and checked against
# CPython's hmac in tests/board/test_core_frozen.py; CPython and the WebAssembly port use their own hmac.

import binascii

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False  # type: ignore[misc]
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

BLOCK = 64


class HMAC:
    def __init__(self, key: bytes, msg: bytes | None, digestmod: "Callable[..., Any] | None") -> None:
        if digestmod is None:
            raise TypeError("digestmod is required")
        self._new = digestmod
        if len(key) > BLOCK:
            key = digestmod(key).digest()
        key = bytes(key) + bytes(BLOCK - len(key))
        self._inner = digestmod(bytes([b ^ 0x36 for b in key]))
        self._outer_key = bytes([b ^ 0x5C for b in key])
        self._done: bytes | None = None
        if msg is not None:
            self.update(msg)

    def update(self, msg: bytes) -> None:
        if self._done is not None:
            raise ValueError("update after digest")  # MicroPython's hashes cannot be copied
        self._inner.update(msg)

    def digest(self) -> bytes:
        if self._done is None:
            outer = self._new(self._outer_key)
            outer.update(self._inner.digest())
            self._done = bytes(outer.digest())
        return self._done

    def hexdigest(self) -> str:
        return binascii.hexlify(self.digest()).decode()


def new(key: bytes, msg: bytes | None = None, digestmod: "Callable[..., Any] | None" = None) -> HMAC:
    return HMAC(key, msg, digestmod)
