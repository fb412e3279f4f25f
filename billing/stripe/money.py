"""Amounts as Stripe takes them: integers in the currency's smallest unit.

Two cents of USD are `2`; two yen are `2` too, because JPY has no minor unit (a
"zero-decimal" currency); the three-decimal currencies (BHD, KWD...) count thousandths.
A Vantagepoint amount converts only when it is exact in that unit: 12.345 USD is a data
failure naming the line, never a rounding.
"""
from __future__ import annotations

from decimal import Decimal

from connector.failures import DataFailure

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
MAX_DECIMAL_PLACES = 12  # what unit_amount_decimal accepts, in the smallest unit


def minor_unit_exponent(currency: str) -> int:
    currency = currency.lower()
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def minor_units(amount: Decimal, currency: str, *, what: str) -> int:
    """`amount` (in the currency's major unit) as an integer of its smallest unit, exactly."""
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise DataFailure(f"{what}: {amount} {currency.upper()} is not a whole number of the currency's smallest unit "
                          f"({Decimal(1).scaleb(-minor_unit_exponent(currency))})", system="stripe")
    return int(scaled)


def unit_amount_decimal(unit_price: Decimal, currency: str, *, what: str) -> Decimal:
    """A unit price in the smallest unit with at most 12 places, as `unit_amount_decimal`
    takes it (written without an exponent: "15000", not "1.5E+4")."""
    scaled = Decimal(format(unit_price.scaleb(minor_unit_exponent(currency)).normalize(), "f"))
    places = -int(scaled.as_tuple().exponent)
    if places > MAX_DECIMAL_PLACES:
        raise DataFailure(f"{what}: unit price {unit_price} {currency.upper()} has more than {MAX_DECIMAL_PLACES} "
                          "decimal places in the smallest unit", system="stripe")
    return scaled


def major_units(amount: int, currency: str) -> Decimal:
    """The inverse: 1050 USD cents is Decimal("10.50"), 1050 JPY is Decimal("1050")."""
    return Decimal(amount).scaleb(-minor_unit_exponent(currency))
