"""X12 numbers and dates to and from Python values, money always as Decimal.

X12 has two decimal types that are easy to confuse: R carries an explicit point (IT104 "12.34"),
N2 an implied one (TDS01 "255438" is 2554.38, and a point there is an error). Reading is tolerant
(a point in an N2 value is taken at its word, the validator reports it); writing is strict (a
value that cannot be written exactly is refused, never rounded behind the caller's back).

Reading never raises, whatever the text. Two traps stand in the way, and each is closed once here:
`str.isdigit()` is also true for superscripts ("²") and other digits that `int()` refuses, so
every digit test is `is_digits`; and `Decimal` takes exponents ("1E2896035") that overflow the
first sum or scaling, so a number beyond `MAX_MAGNITUDE` digits either side of the point is not
read (the validator names what is wrong with its text).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

MAX_MAGNITUDE = 60
"""Digits before (or zeros after) the point beyond which a text is not read as a number. X12's
longest numeric element has 18 digits; the bound only has to keep products and sums of what is
read far from the Decimal context's limits (an exponent of 999999), so arithmetic never overflows."""

MAX_INT_DIGITS = 18
"""Digits beyond which an N0 text (a count, a control number) is not read as an int: X12 allows
at most 9, and `int()` refuses texts of more than 4300 digits."""


def is_digits(value: str) -> bool:
    """True for one or more ASCII digits: the only digits X12 has, and the only ones to `int()`.

    Every digit test in the library is this one: `str.isdigit()` alone is also true for "²" and
    for other scripts' digits, which `int()` refuses or X12 does not allow.
    """
    return value.isascii() and value.isdigit()


@lru_cache(maxsize=8192)
def parse_date(value: str) -> date | None:
    """CCYYMMDD to a date; None when it is not one. Cached: invoice files repeat their dates."""
    if len(value) != 8 or not is_digits(value):
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def parse_short_date(value: str) -> date | None:
    """YYMMDD (ISA09, GS04 before 4010) with the usual 1950 pivot."""
    if len(value) != 6 or not is_digits(value):
        return None
    year = int(value[:2])
    try:
        return date(year + (1900 if year >= 50 else 2000), int(value[2:4]), int(value[4:]))
    except ValueError:
        return None


def is_time(value: str) -> bool:
    """HHMM, HHMMSS or HHMMSSD/DD as X12 TM allows."""
    if not 4 <= len(value) <= 8 or not is_digits(value) or len(value) == 5:
        return False
    if int(value[:2]) > 23 or int(value[2:4]) > 59:
        return False
    return len(value) < 6 or int(value[4:6]) <= 59


def parse_decimal(value: str) -> Decimal | None:
    """An R value ("12.34", "-5", ".5") as Decimal; None when it is not a finite number of at most
    `MAX_MAGNITUDE` digits either side of the point."""
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if is_readable(number) else None


def is_readable(number: Decimal) -> bool:
    """Finite and within `MAX_MAGNITUDE`: a number whose sums and products cannot overflow."""
    return number.is_finite() and -MAX_MAGNITUDE <= number.adjusted() <= MAX_MAGNITUDE


def parse_implied(value: str, places: int = 2) -> Decimal | None:
    """An N2 value ("255438" is 2554.38). A value that has a point anyway is read as written."""
    number = parse_decimal(value)
    if number is None or "." in value:
        return number
    return number.scaleb(-places)


def parse_int(value: str) -> int | None:
    """An N0 value as int; None when it is not digits (with an optional minus) or too long to be one."""
    digits = value[1:] if value[:1] == "-" else value
    if not is_digits(digits) or len(digits) > MAX_INT_DIGITS:
        return None
    return int(value)


def parse_count(value: str) -> int | None:
    """A count or control number (IEA01, GE01, SE01, ISA13, GS06, ST02) as int: digits only, no sign."""
    return int(value) if is_digits(value) and len(value) <= MAX_INT_DIGITS else None


def is_integer_text(value: str) -> bool:
    """Digits with an optional leading minus: the shape of N0 and N2 values."""
    return is_digits(value[1:] if value[:1] == "-" else value)


def is_decimal_text(value: str) -> bool:
    """Digits with an optional minus and at most one point: the shape of R values."""
    digits = value[1:] if value[:1] == "-" else value
    whole, point, fraction = digits.partition(".")
    return is_digits(whole + fraction) and (not point or "." not in fraction)


def digit_count(value: str) -> int:
    """Length of a numeric value as X12 counts it: sign and decimal point excluded."""
    return len(value) - value.startswith("-") - ("." in value)


def format_decimal(value: Decimal) -> str:
    """An R value: plain notation, no exponent, no trailing zeros, no negative zero."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    text = format(value.normalize(), "f")
    if text.startswith("-") and text.strip("-0.") == "":
        return "0"
    return text


def format_implied(value: Decimal, places: int = 2) -> str:
    """An N2 value; raises ValueError when `value` has more decimals than the type can carry."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {places} decimals")
    return str(int(scaled))


def format_date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"
