"""Invoices to X12 text, for 004010 and 005010, refusing anything a partner would reject.

Every segment is checked against the same element rules the validator uses before it is
written, and any value that contains a delimiter or does not fit its element stops the render
with a `RenderError` naming the element ("BIG02 invoice number '...' is 25 characters; max 22").
X12 4010 has no escape character, so the only safe answer to a bad value is to refuse it and let
the caller fix the source data.

Control numbers are the caller's: they come from a persistent counter per partner that this
pure library does not own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from .elements import check_elements, fast_checks
from .errors import Problem, RenderError
from .grammar import SegmentRule, rules_for
from .model import Charge, Invoice810, InvoiceLine, Party, Reference, Tax, Terms
from .values import format_date, format_decimal, format_implied

CREDIT_AS_BIG07 = "BIG07"
CREDIT_AS_NEGATIVE = "negative"
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class EnvelopeSettings:
    """What a partner agreement fixes: ids, qualifiers, version, delimiters and a few conventions.

    `version` is GS08 (e.g. "004010", "005010", "004010VICS"); ISA12 follows from it. `usage` is
    ISA15, T for test or P for production. `credit_memo` says how a credit memo (transaction type
    CR, amounts positive in the model) is written: BIG07 "CR" with positive amounts, or negative
    amounts without BIG07. `newline` puts a line break after each terminator for partners (and
    people) who like one.
    """

    sender_id: str
    receiver_id: str
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    group_sender_id: str | None = None
    group_receiver_id: str | None = None
    version: str = "004010"
    usage: str = "T"
    ack_requested: bool = False
    element_separator: str = "*"
    component_separator: str = ">"
    segment_terminator: str = "~"
    repetition_separator: str = "^"
    newline: bool = False
    write_ctt: bool = True
    credit_memo: str = CREDIT_AS_BIG07

    @property
    def is_5010(self) -> bool:
        return self.version.startswith("00501")


@dataclass(frozen=True, slots=True)
class ControlNumbers:
    """ISA13, GS06 and the first ST02 (later sets count up from it)."""

    interchange: int
    group: int
    first_set: int = 1


class _Writer:
    """Collects segments, checking each one before it is kept."""

    def __init__(self, envelope: EnvelopeSettings) -> None:
        self.envelope = envelope
        self.rules = rules_for(envelope.version)
        self.sep = envelope.element_separator
        newline = envelope.newline and envelope.segment_terminator not in "\r\n"
        self.end = envelope.segment_terminator + ("\n" if newline else "")
        forbidden = {envelope.segment_terminator, envelope.component_separator}
        if envelope.is_5010:
            forbidden.add(envelope.repetition_separator)
        self.forbidden = tuple(forbidden)
        self._has_forbidden = re.compile("[" + re.escape("".join(forbidden)) + "]").search
        self.fast = fast_checks(self.rules)
        self.segments: list[str] = []
        self.invoice_number: str | None = None
        self.line = 0
        _check_delimiters(envelope)

    @property
    def context(self) -> str:
        """Where the renderer is, for error messages: built only when one is raised."""
        if self.invoice_number is None:
            return ""
        return f"invoice {self.invoice_number!r}{f' line {self.line}' if self.line else ''}: "

    def write(self, elements: list[str]) -> None:
        while len(elements) > 1 and not elements[-1]:
            elements.pop()
        text = self.sep.join(elements)
        if text.count(self.sep) != len(elements) - 1 or self._has_forbidden(text) or not text.isprintable():
            self._refuse_delimiter(elements)
        fast = self.fast.get(elements[0])
        if fast is not None and not fast(elements):
            self._check(elements, self.rules[elements[0]])
        self.segments.append(text)

    def _check(self, elements: list[str], rule: SegmentRule) -> None:
        problems: list[Problem] = []
        check_elements(elements, rule, 0, None, problems)
        if problems:
            first = problems[0]
            field = f"{rule.id}{first.position.element or 0:02d}"
            raise RenderError(field, self.context + first.message, first.code.slug)

    def _refuse_delimiter(self, elements: list[str]) -> None:
        characters = (self.sep, *self.forbidden)
        for index, value in enumerate(elements[1:], start=1):
            bad = [char for char in characters if char in value]
            if bad or not value.isprintable():
                field = f"{elements[0]}{index:02d}"
                what = f"the delimiter {bad[0]!r}" if bad else "a line break or control character"
                raise RenderError(field, f"{self.context}{field} {value!r} contains {what}; X12 cannot carry it",
                                  "delimiter-in-value")

    def text(self) -> str:
        return self.end.join(self.segments) + self.end


def _check_delimiters(envelope: EnvelopeSettings) -> None:
    chars = [envelope.element_separator, envelope.component_separator, envelope.segment_terminator]
    if envelope.is_5010:
        chars.append(envelope.repetition_separator)
    for char in chars:
        if len(char) != 1 or char.isalnum() or char == " ":
            raise RenderError("ISA", f"delimiter {char!r} must be one character, not a letter, digit or space",
                              "bad-delimiter")
    if len(set(chars)) != len(chars):
        raise RenderError("ISA", f"delimiters {chars!r} must all differ", "bad-delimiter")


def _text(value: str | None) -> str:
    return "" if value is None else value.rstrip(" ")


def _number(value: Decimal | None, field: str, writer: _Writer) -> str:
    if value is None:
        return ""
    try:
        return format_decimal(value)
    except ValueError as exc:
        raise RenderError(field, f"{writer.context}{field} {value}: {exc}", "bad-number") from exc


def _implied(value: Decimal | None, field: str, writer: _Writer) -> str:
    if value is None:
        return ""
    try:
        return format_implied(value)
    except ValueError as exc:
        raise RenderError(field, f"{writer.context}{field} {value}: {exc}", "bad-number") from exc


def _fixed(value: str, width: int, field: str) -> str:
    if len(value) > width:
        raise RenderError(field, f"{field} {value!r} is {len(value)} characters; max {width}", "element-too-long")
    return value.ljust(width)


def _isa_gs(writer: _Writer, controls: ControlNumbers, when: datetime, functional_id: str) -> None:
    env = writer.envelope
    for field, number in (("ISA13", controls.interchange), ("GS06", controls.group)):
        if not 1 <= number <= 999_999_999:
            raise RenderError(field, f"{field} control number {number} must be 1 to 999999999", "bad-control")
    if env.usage not in ("P", "T"):
        raise RenderError("ISA15", f"ISA15 usage {env.usage!r} must be P or T", "element-invalid-code")
    isa = [
        "ISA", "00", " " * 10, "00", " " * 10,
        _fixed(env.sender_qualifier, 2, "ISA05"), _fixed(env.sender_id, 15, "ISA06"),
        _fixed(env.receiver_qualifier, 2, "ISA07"), _fixed(env.receiver_id, 15, "ISA08"),
        when.strftime("%y%m%d"), when.strftime("%H%M"),
        env.repetition_separator if env.is_5010 else "U", "00501" if env.is_5010 else "00401",
        f"{controls.interchange:09d}", "1" if env.ack_requested else "0", env.usage, env.component_separator,
    ]
    for index, value in enumerate(isa[1:16], start=1):
        if index != 11 and (writer.sep in value or any(char in value for char in writer.forbidden)):
            raise RenderError(f"ISA{index:02d}", f"ISA{index:02d} {value!r} contains a delimiter", "delimiter-in-value")
    writer.segments.append(writer.sep.join(isa))
    group_sender = env.group_sender_id or env.sender_id
    group_receiver = env.group_receiver_id or env.receiver_id
    for value, field in ((group_sender, "GS02"), (group_receiver, "GS03")):
        if not 2 <= len(value) <= 15:
            raise RenderError(field, f"{field} {value!r} must be 2 to 15 characters", "element-too-long")
    writer.write(["GS", functional_id, group_sender, group_receiver, when.strftime("%Y%m%d"), when.strftime("%H%M"),
                  str(controls.group), "X", env.version])


def _close(writer: _Writer, sets: int, controls: ControlNumbers) -> str:
    writer.segments.append(writer.sep.join(["GE", str(sets), str(controls.group)]))
    writer.segments.append(writer.sep.join(["IEA", "1", f"{controls.interchange:09d}"]))
    return writer.text()


def render_interchange(invoices: Sequence[Invoice810], envelope: EnvelopeSettings, *, controls: ControlNumbers,
                       when: datetime | None = None) -> str:
    """One interchange with one IN group holding one 810 per invoice, ST02 counting up."""
    writer = _Writer(envelope)
    _isa_gs(writer, controls, when or datetime.now(), "IN")
    for offset, invoice in enumerate(invoices):
        render_invoice(writer, invoice, controls.first_set + offset)
    return _close(writer, len(invoices), controls)


def render_invoice(writer: _Writer, invoice: Invoice810, set_control: int) -> None:
    """Append one ST..SE to `writer`."""
    env = writer.envelope
    writer.invoice_number, writer.line = invoice.invoice_number, 0
    negative = invoice.is_credit_memo and env.credit_memo == CREDIT_AS_NEGATIVE
    sign = Decimal(-1) if negative else Decimal(1)
    start = len(writer.segments)
    if not 1 <= set_control <= 999_999_999:
        raise RenderError("ST02", f"ST02 control number {set_control} must be 1 to 999999999", "bad-control")
    control = f"{set_control:04d}"
    if invoice.invoice_date is None:
        raise RenderError("BIG01", f"{writer.context}BIG01 invoice date is required", "element-missing")
    writer.write(["ST", "810", control])
    writer.write(["BIG", format_date(invoice.invoice_date), _text(invoice.invoice_number),
                  format_date(invoice.po_date) if invoice.po_date else "", _text(invoice.po_number), "", "",
                  "" if negative else _text(invoice.transaction_type), _text(invoice.purpose_code)])
    writer.write(["CUR", "SE", _text(invoice.currency)])
    for reference in invoice.refs:
        _reference(writer, reference)
    for party in invoice.parties:
        _party(writer, party)
    for terms in invoice.terms:
        _terms(writer, terms)
    for dated in invoice.dates:
        writer.write(["DTM", _text(dated.qualifier), format_date(dated.date) if dated.date else "",
                      _text(dated.time)])
    for number, line in enumerate(invoice.lines, start=1):
        writer.line = number
        _line(writer, line, sign)
    writer.line = 0
    total = invoice.total_stated
    if total is None:
        total = invoice.total_computed.quantize(CENT, rounding=ROUND_HALF_UP)
    writer.write(["TDS", _implied(total * sign, "TDS01", writer)])
    for tax in invoice.taxes:
        _tax(writer, tax, sign)
    for charge in invoice.charges:
        _charge(writer, charge, sign)
    if env.write_ctt:
        writer.write(["CTT", str(len(invoice.lines))])
    count = len(writer.segments) - start + 1
    writer.write(["SE", str(count), control])
    writer.invoice_number = None


def _reference(writer: _Writer, reference: Reference) -> None:
    writer.write(["REF", _text(reference.qualifier), _text(reference.value), _text(reference.description)])


def _pairs(segment: str, values: tuple[str, ...]) -> list[list[str]]:
    return [[segment, *(_text(value) for value in values[i : i + 2])] for i in range(0, len(values), 2)]


def _party(writer: _Writer, party: Party) -> None:
    writer.write(["N1", _text(party.role), _text(party.name), _text(party.id_qualifier), _text(party.id)])
    for segment in _pairs("N2", party.extra_names) + _pairs("N3", party.address):
        writer.write(segment)
    if party.city or party.state or party.postal_code or party.country:
        writer.write(["N4", _text(party.city), _text(party.state), _text(party.postal_code), _text(party.country)])
    for reference in party.refs:
        _reference(writer, reference)


def _terms(writer: _Writer, terms: Terms) -> None:
    writer.write([
        "ITD", _text(terms.type_code), _text(terms.basis_date_code),
        _number(terms.discount_percent, "ITD03", writer),
        format_date(terms.discount_due_date) if terms.discount_due_date else "",
        "" if terms.discount_days is None else str(terms.discount_days),
        format_date(terms.net_due_date) if terms.net_due_date else "",
        "" if terms.net_days is None else str(terms.net_days),
        _implied(terms.discount_amount, "ITD08", writer), "", "", "", _text(terms.description),
    ])


def _line(writer: _Writer, line: InvoiceLine, sign: Decimal) -> None:
    price = line.unit_price if line.unit_price is None or sign > 0 else line.unit_price * sign
    it1 = ["IT1", _text(line.line_id), _number(line.quantity, "IT102", writer), _text(line.unit),
           _number(price, "IT104", writer), _text(line.price_basis)]
    for product in line.product_ids:
        it1.append(_text(product.qualifier))
        it1.append(_text(product.value))
    writer.write(it1)
    for tax in line.taxes:
        _tax(writer, tax, sign)
    if line.description is not None:
        writer.write(["PID", "F", "", "", "", _text(line.description)])
    for reference in line.refs:
        _reference(writer, reference)
    for charge in line.charges:
        _charge(writer, charge, sign)
    for party in line.parties:
        _party(writer, party)


def _charge(writer: _Writer, charge: Charge, sign: Decimal) -> None:
    amount = None if charge.amount is None else charge.amount * sign
    writer.write(["SAC", _text(charge.indicator), _text(charge.code), "", "",
                  _implied(amount, "SAC05", writer), _text(charge.percent_qualifier),
                  _number(charge.percent, "SAC07", writer), "", "", "", "", _text(charge.handling_code), "",
                  "", _text(charge.description)])


def _tax(writer: _Writer, tax: Tax, sign: Decimal) -> None:
    amount = None if tax.amount is None else tax.amount * sign
    writer.write(["TXI", _text(tax.type_code), _number(amount, "TXI02", writer),
                  _number(tax.percent, "TXI03", writer), _text(tax.jurisdiction_qualifier),
                  _text(tax.jurisdiction_code), _text(tax.exempt_code), "", "", _text(tax.tax_id)])
