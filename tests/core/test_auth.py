# HMAC-SHA256 (firmware_py.auth) against RFC 4231 test vectors, and key hygiene.
# REQ: protocol authentication (docs/protocol.md)

import hashlib

try:
    import hmac
except ImportError:  # the unix port's standard variant has no hmac: an RFC 2104 one (tests/mp)
    from tests.mp import hmac2104 as hmac  # type: ignore[no-redef]

from firmware_py.auth import Auth, hmac_sha256, parse_key, same, to_hex
from firmware_py.errors import InputError
from tests.core.support import raises


def _h(text: str) -> bytes:
    return bytes([int(text[i : i + 2], 16) for i in range(0, len(text), 2)])


def test_rfc4231_case_1() -> None:
    mac = to_hex(hmac_sha256(b"\x0b" * 20, b"Hi There"))
    assert mac == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"


def test_rfc4231_case_2_short_key() -> None:
    mac = to_hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?"))
    assert mac == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_rfc4231_case_3() -> None:
    mac = to_hex(hmac_sha256(b"\xaa" * 20, b"\xdd" * 50))
    assert mac == "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"


def test_rfc4231_case_6_key_longer_than_block() -> None:
    msg = b"Test Using Larger Than Block-Size Key - Hash Key First"
    mac = to_hex(hmac_sha256(b"\xaa" * 131, msg))
    assert mac == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    assert Auth(b"\xaa" * 131).mac(msg) == mac


def test_auth_object_matches_function_and_checks() -> None:
    key = _h("000102030405060708090a0b0c0d0e0f")
    a = Auth(key)
    assert a.mac(b"1 STG 0 x") == to_hex(hmac_sha256(key, b"1 STG 0 x"))
    assert a.check(b"1 STG 0 x", a.mac(b"1 STG 0 x"))
    assert not a.check(b"1 STG 0 y", a.mac(b"1 STG 0 x"))
    assert not a.check(b"1 STG 0 x", a.mac(b"1 STG 0 x")[:-1])


def test_key_never_in_repr_or_errors() -> None:
    key = b"SECRETKEY-123456"
    a = Auth(key)
    assert "SECRET" not in repr(a) and "SECRET" not in str(a)
    exc = raises(InputError, parse_key, "zz" * 20)
    assert "zz" not in str(exc)
    assert raises(InputError, Auth, b"short")


def test_parse_key_hex() -> None:
    assert parse_key(" 00010203 04050607\n08090a0b0C0D0E0F\n") == bytes(range(16))
    raises(InputError, parse_key, "0001")


def test_same_is_exact() -> None:
    assert same("abc", "abc")
    assert not same("abc", "abd")
    assert not same("abc", "ab")


def test_matches_stdlib_hmac() -> None:
    for n in (16, 32, 64, 65, 100):
        key = bytes([(i * 7 + n) & 255 for i in range(n)])
        for msg in (b"", b"1 COM 376 abc", b"x" * 300):
            want = hmac.new(key, msg, hashlib.sha256).digest()
            assert hmac_sha256(key, msg) == want
            assert Auth(key).mac(msg) == to_hex(want)
