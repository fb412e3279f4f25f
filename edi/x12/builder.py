"""Segments of one 810 in, one `Invoice810` out.

The builder is fed one segment at a time so a set is never held whole, and it never complains:
whatever it cannot read becomes None and the validator, walking the same segments, says why.
Context is kept the way the 810 layout defines it: N2/N3/N4/REF after an N1 belong to that party,
PID/SAC/TXI/REF/N1 after an IT1 belong to that line, SAC and TXI after TDS are invoice level.

This is the inner loop of every parse, and on a large invoice its cost is the objects it makes,
so handlers index elements directly (padding only the short segments that need it), build typed
objects as soon as their segment is seen through constructors that skip the class-call machinery,
read each distinct number once per set, and grow a line's or party's small tuples in place
instead of keeping drafts to convert later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

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
from .values import is_digits, parse_date, parse_decimal, parse_implied, parse_int

HEADING, DETAIL, SUMMARY = 0, 1, 2
_PAD = [""] * 32

_NUMBERS_KEPT = 4096
"""Distinct number texts a builder remembers the Decimal of. Quantities, rates and prices repeat
within an invoice; past this many, numbers are still read, just not remembered."""

Handler = Callable[["InvoiceBuilder", list[str]], None]
T = TypeVar("T")


def constructor(cls: type[T]) -> Callable[..., T]:
    """A function making `cls` exactly as `cls(...)` does, for a slotted dataclass, only cheaper.

    Calling a class goes through `type.__call__`, which runs the dataclass `__init__` in a frame of
    its own; this sets the same slots, with the same defaults, from one plain function call. It is
    generated from `dataclasses.fields`, so a field added to the model is never left unset, and it
    refuses classes whose construction does more than set fields.
    """
    if (not dataclasses.is_dataclass(cls) or "__slots__" not in vars(cls) or hasattr(cls, "__post_init__")
            or vars(cls).get("__init__") is None):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass that only sets its fields")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params, body = [], []
    for spec in dataclasses.fields(cls):
        if not spec.init or spec.kw_only or spec.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{spec.name} is not a plain positional field")
        if spec.default is dataclasses.MISSING:
            params.append(spec.name)
        else:
            namespace[f"_default_{spec.name}"] = spec.default
            params.append(f"{spec.name}=_default_{spec.name}")
        body.append(f"    made.{spec.name} = {spec.name}")
    name = f"new_{cls.__name__}"
    exec(f"def {name}({', '.join(params)}):\n    made = _new(_cls)\n" + "\n".join(body) + "\n    return made\n",
         namespace)  # noqa: S102 - source built above from the dataclass's own fields
    made: Callable[..., T] = namespace[name]
    return made


_new_reference = constructor(Reference)
_new_party = constructor(Party)
_new_product_id = constructor(ProductId)
_new_line = constructor(InvoiceLine)
_new_charge = constructor(Charge)
_new_tax = constructor(Tax)


def _product_ids(e: list[str]) -> tuple[ProductId, ...]:
    """IT106 onwards as (qualifier, value) pairs; a pair with both sides empty is left out."""
    size = len(e)
    if size % 2:
        e = e + [""]
    return tuple(_new_product_id(e[index], e[index + 1]) for index in range(6, size, 2) if e[index] or e[index + 1])


def _pairs_reader(size: int) -> Callable[[list[str]], tuple[ProductId, ...]]:
    """`_product_ids` for an IT1 of `size` elements, as straight-line code when none is empty (the
    shape nearly every IT1 has): no iterator, no list to convert, no call per pair (each ProductId's
    slots are set here, from the dataclass's fields, as `constructor` does)."""
    qualifier, value = (spec.name for spec in dataclasses.fields(ProductId))
    lines = ["def pairs(e):", '    if "" in e[6:]:', "        return general(e)"]
    names = []
    for index in range(6, size, 2):
        name = f"p{index}"
        names.append(name)
        lines += [f"    {name} = new(ProductId)", f"    {name}.{qualifier} = e[{index}]",
                  f"    {name}.{value} = e[{index + 1}]"]
    lines.append(f"    return ({', '.join(names)},)")
    namespace: dict[str, Any] = {"new": object.__new__, "ProductId": ProductId, "general": _product_ids}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from our own field names
    reader: Callable[[list[str]], tuple[ProductId, ...]] = namespace["pairs"]
    return reader


_PAIRS = {size: _pairs_reader(size) for size in range(8, 27, 2)}
"""IT1 lengths with one to ten id pairs (IT106 to IT125) to their readers; `_product_ids` reads
any other length."""


def _number(kept: dict[str, Decimal], value: str) -> Decimal | None:
    """An R value as `parse_decimal` reads it (None when empty or not a number), remembered in `kept`.

    Callers look in `kept` first (`kept.get(v) or _number(kept, v)`); a Decimal is immutable, so
    lines that bill the same quantity or rate can share it.
    """
    number = parse_decimal(value)
    if number is not None and len(kept) < _NUMBERS_KEPT:
        kept[value] = number
    return number


def _implied(kept: dict[str, Decimal], value: str) -> Decimal | None:
    """An N2 value as `parse_implied` reads it, remembered in `kept` like `_number` does.

    Plain digits (nearly every SAC05) are read as `digits + "E-2"`: the same coefficient and
    exponent that scaling by 10**-2 gives, in one operation instead of two.
    """
    if is_digits(value) and len(value) <= 28:
        number: Decimal | None = Decimal(value + "E-2")
    else:
        number = parse_implied(value) if value else None
    if number is not None and len(kept) < _NUMBERS_KEPT:
        kept[value] = number
    return number


def _padded(e: list[str], size: int) -> list[str]:
    """`e` with at least `size` elements: X12 drops trailing empty elements, handlers do not care."""
    return e if len(e) >= size else e + _PAD[: size - len(e)]


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
        self.numbers: dict[str, Decimal] = {}
        self.implied: dict[str, Decimal] = {}

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
        if len(e) > 3:
            reference = _new_reference(e[1], e[2], e[3] or None)
        else:
            if len(e) < 3:
                e = e + _PAD[: 3 - len(e)]
            reference = _new_reference(e[1], e[2], None)
        party = self.party
        if party is not None:
            party.refs += (reference,)
        elif (line := self.line) is not None:
            line.refs += (reference,)
        elif self.area == HEADING:
            self.refs.append(reference)

    def _n1(self, e: list[str]) -> None:
        if len(e) < 5:
            e = e + _PAD[: 5 - len(e)]
        party = self.party = _new_party(e[1], e[2] or None, e[3] or None, e[4] or None)
        if self.line is not None:
            self.line.parties += (party,)
        elif self.area == HEADING:
            self.parties.append(party)

    def _n2(self, e: list[str]) -> None:
        party = self.party
        if party is not None:
            party.extra_names += (e[1], e[2]) if len(e) > 2 and e[1] and e[2] else tuple(filter(None, e[1:3]))

    def _n3(self, e: list[str]) -> None:
        party = self.party
        if party is not None:
            party.address += (e[1], e[2]) if len(e) > 2 and e[1] and e[2] else tuple(filter(None, e[1:3]))

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
        self.terms.append(Terms(e[1] or None, e[2] or None, parse_decimal(e[3]), _day(e[4]), _count(e[5]), _day(e[6]),
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
        kept = self.numbers
        quantity = kept.get(e[2]) or _number(kept, e[2])
        price = kept.get(e[4]) or _number(kept, e[4])
        ids = _PAIRS.get(size, _product_ids)(e) if size > 6 else ()
        line = self.line = _new_line(e[1] or None, quantity, e[3] or None, price, e[5] or None, ids)
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
        implied, kept = self.implied, self.numbers
        percent = (kept.get(e[7]) or _number(kept, e[7])) if e[7] else None
        charge = _new_charge(e[1], e[2] or None, implied.get(e[5]) or _implied(implied, e[5]), e[6] or None,
                             percent, e[12] or None, e[15] or None)
        line = self.line
        if line is not None:
            line.charges += (charge,)
        else:
            self.charges.append(charge)

    def _txi(self, e: list[str]) -> None:
        self.party = None
        size = len(e)
        if size < 4:
            e = e + _PAD[: 4 - size]
        kept = self.numbers
        amount = kept.get(e[2]) or _number(kept, e[2])
        percent = kept.get(e[3]) or _number(kept, e[3])
        if size > 4:
            if size < 10:
                e = e + _PAD[: 10 - size]
            tax = _new_tax(e[1], amount, percent, e[4] or None, e[5] or None, e[6] or None, e[9] or None)
        else:
            tax = _new_tax(e[1], amount, percent)
        line = self.line
        if line is not None:
            line.taxes += (tax,)
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
