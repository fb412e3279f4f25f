"""Segments of one 810 in, one `Invoice810` out.

The builder is fed one segment at a time so a set is never held whole, and it never complains:
whatever it cannot read becomes None and the validator, walking the same segments, says why.
Context is kept the way the 810 layout defines it: N2/N3/N4/REF after an N1 belong to that party,
PID/SAC/TXI/REF/N1 after an IT1 belong to that line, SAC and TXI after TDS are invoice level.

This is the inner loop of every parse, so handlers index elements directly (short segments are
padded first), build typed objects as soon as their segment is seen, and grow a line's or party's
small tuples in place instead of keeping drafts to convert later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from .model import (
    Charge,
    DateReference,
    Invoice810,
    InvoiceLine,
    Party,
    ProductId,
    Reference,
    SourceEnvelope,
    Tax,
    Terms,
)
from .values import parse_date, parse_implied, parse_int

HEADING, DETAIL, SUMMARY = 0, 1, 2
_PAD = [""] * 32

Handler = Callable[["InvoiceBuilder", list[str]], None]


def _padded(e: list[str], size: int) -> list[str]:
    """`e` with at least `size` elements: X12 drops trailing empty elements, handlers do not care."""
    return e if len(e) >= size else e + _PAD[: size - len(e)]


def _decimal(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _day(value: str) -> date | None:
    return parse_date(value) if value else None


def _count(value: str) -> int | None:
    return parse_int(value) if value else None


class InvoiceBuilder:
    """Collects one 810 from its segments, fed through `HANDLERS` (or `feed`)."""

    def __init__(self, source: SourceEnvelope | None = None) -> None:
        self.source = source
        self.area = HEADING
        self.big: list[str] = []
        self.currency = "USD"
        self.total_stated: Decimal | None = None
        self.parties: list[Party] = []
        self.refs: list[Reference] = []
        self.dates: list[DateReference] = []
        self.terms: list[Terms] = []
        self.lines: list[InvoiceLine] = []
        self.charges: list[Charge] = []
        self.taxes: list[Tax] = []
        self.party: Party | None = None
        self.line: InvoiceLine | None = None

    def other(self, e: list[str]) -> None:
        """Any segment the model does not read ends an N1 loop (PER and DMG, members, do not)."""
        self.party = None

    def feed(self, e: list[str]) -> None:
        HANDLERS.get(e[0], InvoiceBuilder.other)(self, e)

    def _big(self, e: list[str]) -> None:
        self.party = None
        if not self.big:
            self.big = _padded(e, 9)

    def _cur(self, e: list[str]) -> None:
        self.party = None
        if self.area == HEADING and len(e) > 2 and e[2]:
            self.currency = e[2]

    def _ref(self, e: list[str]) -> None:
        if len(e) < 4:
            e = e + _PAD[: 4 - len(e)]
        reference = Reference(e[1], e[2], e[3] or None)
        if self.party is not None:
            self.party.refs += (reference,)
        elif self.line is not None:
            self.line.refs += (reference,)
        elif self.area == HEADING:
            self.refs.append(reference)

    def _n1(self, e: list[str]) -> None:
        if len(e) < 5:
            e = e + _PAD[: 5 - len(e)]
        party = self.party = Party(e[1], e[2] or None, e[3] or None, e[4] or None)
        if self.line is not None:
            self.line.parties += (party,)
        elif self.area == HEADING:
            self.parties.append(party)

    def _n2(self, e: list[str]) -> None:
        if self.party is not None:
            self.party.extra_names += tuple(filter(None, e[1:3]))

    def _n3(self, e: list[str]) -> None:
        if self.party is not None:
            self.party.address += tuple(filter(None, e[1:3]))

    def _n4(self, e: list[str]) -> None:
        party = self.party
        if party is not None:
            if len(e) < 5:
                e = e + _PAD[: 5 - len(e)]
            party.city, party.state, party.postal_code, party.country = e[1] or None, e[2] or None, e[3] or None, \
                e[4] or None

    def _itd(self, e: list[str]) -> None:
        self.party = None
        if self.area != HEADING:
            return
        if len(e) < 13:
            e = e + _PAD[: 13 - len(e)]
        self.terms.append(Terms(e[1] or None, e[2] or None, _decimal(e[3]), _day(e[4]), _count(e[5]), _day(e[6]),
                                _count(e[7]), parse_implied(e[8]), e[12] or None))

    def _dtm(self, e: list[str]) -> None:
        self.party = None
        if self.area == HEADING:
            if len(e) < 4:
                e = e + _PAD[: 4 - len(e)]
            self.dates.append(DateReference(e[1], _day(e[2]), e[3] or None))

    def _it1(self, e: list[str]) -> None:
        self.party = None
        self.area = DETAIL
        size = len(e)
        if size < 6:
            e = e + _PAD[: 6 - size]
        ids: tuple[ProductId, ...] = ()
        if size > 6:
            if size % 2 == 0 and "" not in e[6:]:
                ids = tuple(map(ProductId, e[6::2], e[7::2]))
            else:
                if size % 2:
                    e = e + [""]
                ids = tuple(ProductId(e[index], e[index + 1]) for index in range(6, size, 2)
                            if e[index] or e[index + 1])
        try:
            quantity = Decimal(e[2]) if e[2] else None
            price = Decimal(e[4]) if e[4] else None
        except InvalidOperation:
            quantity, price = _decimal(e[2]), _decimal(e[4])
        if quantity is not None and not quantity.is_finite():
            quantity = None
        if price is not None and not price.is_finite():
            price = None
        line = self.line = InvoiceLine(e[1] or None, quantity, e[3] or None, price, e[5] or None, ids)
        self.lines.append(line)

    def _pid(self, e: list[str]) -> None:
        self.party = None
        line = self.line
        if line is not None and len(e) > 5 and e[5]:
            line.description = e[5] if line.description is None else f"{line.description} {e[5]}"

    def _sac(self, e: list[str]) -> None:
        self.party = None
        if len(e) < 16:
            e = e + _PAD[: 16 - len(e)]
        amount = _decimal(e[5])
        if amount is not None and "." not in e[5]:
            amount = amount.scaleb(-2)
        charge = Charge(e[1], e[2] or None, amount, e[6] or None, _decimal(e[7]) if e[7] else None, e[12] or None,
                        e[15] or None)
        if self.line is not None:
            self.line.charges += (charge,)
        else:
            self.charges.append(charge)

    def _txi(self, e: list[str]) -> None:
        self.party = None
        if len(e) < 10:
            e = e + _PAD[: 10 - len(e)]
        try:
            amount = Decimal(e[2]) if e[2] else None
            percent = Decimal(e[3]) if e[3] else None
        except InvalidOperation:
            amount, percent = _decimal(e[2]), _decimal(e[3])
        if amount is not None and not amount.is_finite():
            amount = None
        if percent is not None and not percent.is_finite():
            percent = None
        tax = Tax(e[1], amount, percent, e[4] or None, e[5] or None, e[6] or None, e[9] or None)
        if self.line is not None:
            self.line.taxes += (tax,)
        else:
            self.taxes.append(tax)

    def _tds(self, e: list[str]) -> None:
        self.party = None
        self.line = None
        self.area = SUMMARY
        if self.total_stated is None and len(e) > 1:
            self.total_stated = parse_implied(e[1])

    def finish(self) -> Invoice810:
        big = _padded(self.big, 9)
        return Invoice810(
            invoice_number=big[2],
            invoice_date=_day(big[1]),
            po_number=big[4] or None,
            po_date=_day(big[3]),
            transaction_type=big[7] or None,
            purpose_code=big[8] or None,
            currency=self.currency,
            parties=tuple(self.parties),
            refs=tuple(self.refs),
            dates=tuple(self.dates),
            terms=tuple(self.terms),
            lines=tuple(self.lines),
            charges=tuple(self.charges),
            taxes=tuple(self.taxes),
            total_stated=self.total_stated,
            source=self.source,
        )


def _ignore(builder: InvoiceBuilder, e: list[str]) -> None:
    """PER and DMG belong to the N1 loop: they keep it open but the model does not read them."""


HANDLERS: dict[str, Handler] = {
    "BIG": InvoiceBuilder._big, "CUR": InvoiceBuilder._cur, "REF": InvoiceBuilder._ref, "N1": InvoiceBuilder._n1,
    "N2": InvoiceBuilder._n2, "N3": InvoiceBuilder._n3, "N4": InvoiceBuilder._n4, "ITD": InvoiceBuilder._itd,
    "DTM": InvoiceBuilder._dtm, "IT1": InvoiceBuilder._it1, "PID": InvoiceBuilder._pid, "SAC": InvoiceBuilder._sac,
    "TXI": InvoiceBuilder._txi, "TDS": InvoiceBuilder._tds, "PER": _ignore, "DMG": _ignore,
}
"""Segment id to the function reading it, called as handler(builder, elements); built once."""

