"""The 810 invoice as the business sees it, and the envelopes that carry it.

Values are typed (dates as `date`, money and quantities as `Decimal`); what the file leaves out is
None rather than a made-up default, because the inbound flow must tell "no PO number" from "PO
number 0". They are plain slotted dataclasses, compared by value; treat them as values. They are
not `frozen` because a frozen dataclass costs about nine times as much to create, and a large
interchange creates millions of them.

`total_computed` is derived, never stored, so it cannot disagree with the lines it comes from;
`total_stated` is what TDS01 said, kept apart because real partners copy it from the previous
invoice or forget its implied decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from .errors import Problem

ZERO = Decimal(0)


@dataclass(slots=True)
class Reference:
    """REF: a qualifier (e.g. PO, VN, PJ for a project) and its value."""

    qualifier: str
    value: str
    description: str | None = None


@dataclass(slots=True)
class DateReference:
    """DTM: a qualified date such as 011 shipped, 150/151 service period."""

    qualifier: str
    date: date | None
    time: str | None = None


@dataclass(slots=True)
class Party:
    """An N1 loop: role (BT bill-to, ST ship-to, RE/RI remit-to, VN vendor, ...) with id and address."""

    role: str
    name: str | None = None
    id_qualifier: str | None = None
    id: str | None = None
    extra_names: tuple[str, ...] = ()
    address: tuple[str, ...] = ()
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    refs: tuple[Reference, ...] = ()


@dataclass(slots=True)
class Terms:
    """ITD terms of sale; the due date follows from `net_due_date` or `net_days`."""

    type_code: str | None = None
    basis_date_code: str | None = None
    discount_percent: Decimal | None = None
    discount_due_date: date | None = None
    discount_days: int | None = None
    net_due_date: date | None = None
    net_days: int | None = None
    discount_amount: Decimal | None = None
    description: str | None = None


@dataclass(slots=True)
class Charge:
    """SAC: an allowance (A), a charge (C) or information only (N). `amount` is positive as written."""

    indicator: str
    code: str | None = None
    amount: Decimal | None = None
    percent_qualifier: str | None = None
    percent: Decimal | None = None
    handling_code: str | None = None
    description: str | None = None

    @property
    def signed_amount(self) -> Decimal:
        """What the charge adds to the invoice total: allowances subtract, N adds nothing."""
        if self.amount is None or self.indicator not in ("A", "C"):
            return ZERO
        return -self.amount if self.indicator == "A" else self.amount


@dataclass(slots=True)
class Tax:
    """TXI: a tax type (ST sales, VA value added, ...) with its amount and/or percent."""

    type_code: str
    amount: Decimal | None = None
    percent: Decimal | None = None
    jurisdiction_qualifier: str | None = None
    jurisdiction_code: str | None = None
    exempt_code: str | None = None
    tax_id: str | None = None


@dataclass(slots=True)
class ProductId:
    """One IT1 product id pair: qualifier (UP, VP, BP, ...) and value."""

    qualifier: str
    value: str


@dataclass(slots=True)
class InvoiceLine:
    """An IT1 loop: what was billed, at what price, with its own charges and taxes."""

    line_id: str | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    price_basis: str | None = None
    product_ids: tuple[ProductId, ...] = ()
    description: str | None = None
    refs: tuple[Reference, ...] = ()
    charges: tuple[Charge, ...] = ()
    taxes: tuple[Tax, ...] = ()
    parties: tuple[Party, ...] = ()

    @property
    def amount(self) -> Decimal:
        """Quantity times unit price; a line missing either counts as zero (the validator says so)."""
        if self.quantity is None or self.unit_price is None:
            return ZERO
        return self.quantity * self.unit_price


@dataclass(slots=True)
class SourceEnvelope:
    """Where a received invoice came from: the ids and control numbers a 997 or a log refers to."""

    sender_qualifier: str = ""
    sender_id: str = ""
    receiver_qualifier: str = ""
    receiver_id: str = ""
    interchange_control: str = ""
    group_sender_id: str = ""
    group_receiver_id: str = ""
    group_control: str = ""
    version: str = ""
    set_control: str = ""
    usage: str = ""
    segment_number: int = 0


@dataclass(slots=True)
class Invoice810:
    """One 810 transaction set."""

    invoice_number: str
    invoice_date: date | None
    po_number: str | None = None
    po_date: date | None = None
    transaction_type: str | None = None
    purpose_code: str | None = None
    currency: str = "USD"
    parties: tuple[Party, ...] = ()
    refs: tuple[Reference, ...] = ()
    dates: tuple[DateReference, ...] = ()
    terms: tuple[Terms, ...] = ()
    lines: tuple[InvoiceLine, ...] = ()
    charges: tuple[Charge, ...] = ()
    taxes: tuple[Tax, ...] = ()
    total_stated: Decimal | None = None
    source: SourceEnvelope | None = field(default=None)

    @property
    def is_credit_memo(self) -> bool:
        return self.transaction_type == "CR"

    @property
    def due_date(self) -> date | None:
        """ITD06 when given, else the invoice date plus ITD07 net days (None past the year 9999)."""
        for terms in self.terms:
            if terms.net_due_date is not None:
                return terms.net_due_date
        for terms in self.terms:
            if terms.net_days is not None and self.invoice_date is not None:
                try:
                    return self.invoice_date + timedelta(days=terms.net_days)
                except OverflowError:
                    return None
        return None

    def party(self, *roles: str) -> Party | None:
        """The first party in one of `roles`, in the order asked (e.g. "VN", "SU", "SE", "II")."""
        for role in roles:
            for party in self.parties:
                if party.role == role:
                    return party
        return None

    def ref(self, qualifier: str) -> str | None:
        for reference in self.refs:
            if reference.qualifier == qualifier:
                return reference.value
        return None

    @property
    def lines_total(self) -> Decimal:
        return sum([line.quantity * line.unit_price for line in self.lines
                    if line.quantity is not None and line.unit_price is not None], ZERO)

    @property
    def total_computed(self) -> Decimal:
        """Lines, their charges and taxes, then summary charges, allowances and taxes.

        Some partners (Ariba among them) restate line-level charges at summary level: a summary
        SAC whose indicator and code match line SACs summing to the same amount is that
        restatement and is counted once. (Validation computes this for every invoice, so the
        loops stay plain.)
        """
        total = self.lines_total
        line_charges: dict[tuple[str, str | None], Decimal] = {}
        for line in self.lines:
            if line.charges:
                for charge in line.charges:
                    amount = charge.amount
                    if amount is None:
                        continue
                    if charge.indicator == "C":
                        total += amount
                    elif charge.indicator == "A":
                        total -= amount
                    key = (charge.indicator, charge.code)
                    line_charges[key] = line_charges.get(key, ZERO) + amount
            if line.taxes:
                for tax in line.taxes:
                    if tax.amount is not None:
                        total += tax.amount
        for charge in self.charges:
            key = (charge.indicator, charge.code)
            if charge.amount is not None and line_charges.get(key) == charge.amount:
                del line_charges[key]
                continue
            total += charge.signed_amount
        for tax in self.taxes:
            total += tax.amount or ZERO
        return total


@dataclass(slots=True)
class TransactionSet:
    """One ST..SE as received: its ids, what it became, and what was wrong with it."""

    set_id: str
    control_number: str
    segment_number: int
    segment_count: int = 0
    invoice: Invoice810 | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(problem.is_error for problem in self.problems)


@dataclass(slots=True)
class FunctionalGroup:
    """One GS..GE; `sets` is filled only when the caller keeps them (not while streaming)."""

    functional_id: str
    sender_id: str
    receiver_id: str
    date: str
    time: str
    control_number: str
    version: str
    segment_number: int
    set_count: int = 0
    sets: list[TransactionSet] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    enveloped: bool = True


@dataclass(slots=True)
class Interchange:
    """One ISA..IEA, or a stand-in (`enveloped` False) for a bare GS or ST with no ISA around it."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    standards_version: str
    control_number: str
    ack_requested: str
    usage: str
    segment_number: int
    component_separator: str = ">"
    repetition_separator: str | None = None
    groups: list[FunctionalGroup] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    enveloped: bool = True
