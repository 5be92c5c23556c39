# Percent-encoding for free text (reasons, labels, messages) inside program records and frames, so that
# both stay printable ASCII without spaces or delimiters. Safe characters pass through unchanged.

from firmware_py.errors import InputError

_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~"
_HEX = "0123456789ABCDEF"


def pct_encode(text: str) -> str:
    out = []
    for ch in text:
        if ch in _SAFE:
            out.append(ch)
        else:
            for byte in ch.encode("utf-8"):
                out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
    return "".join(out)


def pct_decode(field: str, text: str) -> str:
    raw = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            pair = text[i + 1 : i + 3].upper()
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                raise InputError(field, text, "has a malformed %-escape")
            raw.append(_HEX.index(pair[0]) * 16 + _HEX.index(pair[1]))
            i += 3
        elif ch in _SAFE:
            raw.append(ord(ch))
            i += 1
        else:
            raise InputError(field, text, "has a character that must be %-escaped")
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeError:
        raise InputError(field, text, "is not UTF-8 once unescaped") from None


def printable(text: str) -> bool:
    # No C0/C1 control character and no DEL: text that a terminal shows as it is.
    for ch in text:
        c = ord(ch)
        if c < 0x20 or 0x7F <= c < 0xA0:
            return False
    return True
