# Base units, exact integer conversions, rounding helpers and argument checks.
#
# Every quantity inside firmware_py is an int in a base unit named in its identifier:
#   mass   ng        (1 mcg = 1_000 ng, 1 mg = 1_000_000 ng)
#   volume nL        (1 uL = 1_000 nL, 1 mL = 1_000_000 nL)
#   time   s
#   concentration ng/uL, which is numerically mcg/mL (conc_ng_per_ul)
#   dose rate ng/day (dose_ng_per_day); a per-hour figure is derived, never stored
# Every division goes through floor_div or ceil_div below, so each one states how it rounds and
# returns what rounding dropped (or added) as the second element.

from firmware_py.errors import InputError

NG_PER_MCG = 1_000
NG_PER_MG = 1_000_000
NL_PER_UL = 1_000
NL_PER_ML = 1_000_000
MM_PER_CM = 10
S_PER_MIN = 60
S_PER_H = 3_600
S_PER_DAY = 86_400
S_PER_WEEK = 7 * S_PER_DAY
H_PER_DAY = 24
PERCENT = 100
PERMILLE = 1_000
PPM = 1_000_000
PG_PER_NG = 1_000
MS_PER_S = 1_000
NS_PER_MS = 1_000_000


def floor_div(num: int, den: int) -> tuple[int, int]:
    # Round toward minus infinity. Returns (quotient, remainder) with 0 <= remainder < den:
    # quotient * den + remainder == num exactly.
    if den <= 0:
        raise InputError("denominator", den, "must be a positive int")
    q = num // den
    return q, num - q * den


def ceil_div(num: int, den: int) -> tuple[int, int]:
    # Round toward plus infinity. Returns (quotient, excess) with 0 <= excess < den:
    # quotient * den - excess == num exactly.
    if den <= 0:
        raise InputError("denominator", den, "must be a positive int")
    q = -((-num) // den)
    return q, q * den - num


def per_hour(per_day: int) -> tuple[int, int]:
    # The one per-day -> per-hour conversion (display only; every stored rate is per day): rounded down,
    # with the residue per day.
    return floor_div(per_day, H_PER_DAY)


def is_int(value: object) -> bool:
    # bool is an int subclass; a True dose is always a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def require_int(field: str, value: object) -> int:
    if not is_int(value):
        raise InputError(field, value, "must be an integer in the base unit its name states")
    return value  # type: ignore[return-value]


def require_bool(field: str, value: object) -> bool:
    if value is not True and value is not False:
        raise InputError(field, value, "must be True or False")
    return bool(value)


def require_positive(field: str, value: object) -> int:
    v = require_int(field, value)
    if v <= 0:
        raise InputError(field, value, "must be greater than zero")
    return v


def require_non_negative(field: str, value: object) -> int:
    v = require_int(field, value)
    if v < 0:
        raise InputError(field, value, "must not be negative")
    return v


def require_range(field: str, value: object, low: int, high: int) -> int:
    # Inclusive bounds.
    v = require_int(field, value)
    if v < low or v > high:
        raise InputError(field, value, f"must be between {low} and {high}")
    return v


def fmt_scaled(value: int, scale: int, digits: int) -> str:
    # Exact fixed-point text of value / scale, truncated toward zero to `digits` decimals.
    # For logs and status lines on the rig, where there is no float and no pint.
    sign = "-" if value < 0 else ""
    value = -value if value < 0 else value
    whole, frac = floor_div(value, scale)
    if digits <= 0:
        return sign + str(whole)
    text = str(frac * 10**digits // scale)
    return sign + str(whole) + "." + "0" * (digits - len(text)) + text


def fmt_exact(value: int, scale: int) -> str:
    # value / scale exactly, for `scale` a power of ten (every base unit is a power of ten of its display
    # unit), trailing zeros dropped: (20000000, NL_PER_ML) -> "20", (20833, NG_PER_MCG) -> "20.833".
    digits = len(str(scale)) - 1
    return fmt_scaled(value, scale, digits).rstrip("0").rstrip(".") if digits else str(value)


def hhmm(tod_s: int) -> str:
    # Time of day in seconds -> "HH:MM" (seconds are dropped; schedules are on whole minutes).
    tod_s = tod_s % S_PER_DAY
    h, rest = floor_div(tod_s, S_PER_H)
    m = rest // S_PER_MIN
    return f"{h:02d}:{m:02d}"


def parse_hhmm(field: str, text: str) -> int:
    # "HH:MM" -> seconds since midnight; "24:00" is accepted as the end of the day.
    parts = text.split(":")
    if len(parts) != 2 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[1]) != 2:
        raise InputError(field, text, "must be a time of day as HH:MM")
    h = int(parts[0])
    m = int(parts[1])
    if m > 59 or h > 24 or (h == 24 and m != 0):
        raise InputError(field, text, "must be a time of day between 00:00 and 24:00")
    return h * S_PER_H + m * S_PER_MIN
