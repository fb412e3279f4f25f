"""Properties: any valid invoice survives render then parse; no damaged file breaks the library."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.x12 import (
    Charge,
    ControlNumbers,
    DateReference,
    EnvelopeSettings,
    Invoice810,
    InvoiceLine,
    Party,
    ProductId,
    Reference,
    Severity,
    Tax,
    Terms,
    X12Error,
    build_997,
    parse_text,
    read_997,
    render_interchange,
    validate,
)
from edi.x12.elements import check_elements, fast_checks
from edi.x12.grammar import RULES_4010, RULES_5010

from .helpers import VALID_4010

SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -.,/#&()'@"
"""Characters that are none of the delimiters used below."""


def text(low: int, high: int) -> st.SearchStrategy[str]:
    """Text an element can hold: no delimiters, no surrounding spaces (X12 pads, readers strip)."""
    return st.text(SAFE, min_size=low, max_size=high).map(str.strip).filter(lambda s: low <= len(s) <= high)


def code(length: int) -> st.SearchStrategy[str]:
    return st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=length, max_size=length)


def money(digits: int, places: int = 2, signed: bool = False) -> st.SearchStrategy[Decimal]:
    low = -(10 ** (digits - places)) + 1 if signed else 0
    return st.integers(low, 10 ** (digits - places) - 1).map(lambda n: Decimal(n).scaleb(-places))


def decimals(int_digits: int, places: int, signed: bool = False) -> st.SearchStrategy[Decimal]:
    return st.builds(lambda n, p: Decimal(n).scaleb(-p), st.integers(-(10**int_digits) + 1 if signed else 0,
                                                                    10**int_digits - 1), st.integers(0, places))


days = st.dates(date(1990, 1, 1), date(2089, 12, 31))


def references(value_max: int = 30) -> st.SearchStrategy[Reference]:
    return st.builds(Reference, code(2), text(1, value_max), st.none() | text(1, 80))


parties = st.builds(
    lambda role, name, ident, names, address, where, refs: Party(
        role, name, ident[0] if ident else None, ident[1] if ident else None, tuple(names), tuple(address),
        *where, refs=tuple(refs)),
    st.sampled_from(["BT", "ST", "RE", "RI", "VN", "SE", "II"]), st.none() | text(1, 60),
    st.none() | st.tuples(st.sampled_from(["1", "9", "92", "91"]), text(2, 80)),
    st.lists(text(1, 60), max_size=3), st.lists(text(1, 55), max_size=3),
    st.tuples(st.none() | text(2, 30), st.none() | code(2), st.none() | code(5), st.none() | code(2)),
    st.lists(references(), max_size=2),
).filter(lambda p: p.name is not None or p.id is not None)

charges = st.builds(
    lambda indicator, charge_code, amount, percent, description: Charge(
        indicator, charge_code, amount, percent[0] if percent else None, percent[1] if percent else None, None,
        description),
    st.sampled_from(["A", "C"]), code(4), st.none() | money(12), st.none() | st.tuples(st.just("3"), decimals(3, 2)),
    st.none() | text(1, 80),
)
taxes = st.builds(Tax, code(2), st.none() | decimals(9, 2, signed=True), decimals(2, 3),
                  st.none(), st.none(), st.none(), st.none() | text(1, 20))

lines = st.builds(
    lambda ident, priced, ids, description, refs, line_charges, line_taxes, line_parties: InvoiceLine(
        ident, *(priced or (None, None, None)), None, tuple(ids), description, tuple(refs), tuple(line_charges),
        tuple(line_taxes), tuple(line_parties)),
    st.none() | text(1, 20),
    st.none() | st.tuples(decimals(6, 3), code(2), decimals(9, 4, signed=True)),
    st.lists(st.builds(ProductId, code(2), text(1, 48)), max_size=3),
    st.none() | text(1, 80), st.lists(references(), max_size=2), st.lists(charges, max_size=2),
    st.lists(taxes, max_size=1), st.lists(parties, max_size=1),
)

terms = st.builds(Terms, st.none() | code(2), st.none() | code(1), st.none() | decimals(2, 3), st.none() | days,
                  st.none() | st.integers(0, 999), st.none() | days, st.none() | st.integers(0, 999),
                  st.none() | money(8), st.none() | text(1, 80))

invoices = st.builds(
    Invoice810,
    invoice_number=text(1, 22), invoice_date=days, po_number=st.none() | text(1, 22), po_date=st.none() | days,
    transaction_type=st.none() | st.sampled_from(["DI", "CR", "DR", "FB"]), purpose_code=st.none() | code(2),
    currency=st.sampled_from(["USD", "CAD", "EUR"]), parties=st.lists(parties, max_size=3).map(tuple),
    refs=st.lists(references(), max_size=3).map(tuple),
    dates=st.lists(st.builds(DateReference, code(3), days), max_size=2).map(tuple),
    terms=st.lists(terms, max_size=2).map(tuple), lines=st.lists(lines, max_size=4).map(tuple),
    charges=st.lists(charges, max_size=2).map(tuple), taxes=st.lists(taxes, max_size=2).map(tuple),
    total_stated=money(13, signed=True),
)

envelopes = st.builds(
    lambda version, delimiters, newline, ctt: EnvelopeSettings(
        "SENDER", "RECEIVER", version=version, element_separator=delimiters[0], component_separator=delimiters[1],
        segment_terminator=delimiters[2], repetition_separator=delimiters[3], newline=newline, write_ctt=ctt),
    st.sampled_from(["004010", "005010"]),
    st.sampled_from([("*", ">", "~", "^"), ("|", ":", "\n", "^"), ("*", "\\", "!", "{")]),
    st.booleans(), st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(invoices, min_size=1, max_size=3), envelope=envelopes)
def test_render_then_parse_gives_back_any_valid_invoice(batch: list[Invoice810], envelope: EnvelopeSettings) -> None:
    text = render_interchange(batch, envelope, controls=ControlNumbers(1, 2, 3), when=datetime(2024, 1, 2, 3, 4))
    result = parse_text(text)
    assert [replace(invoice, source=None) for invoice in result.invoices] == batch
    assert [p for p in result.problems if p.severity is Severity.ERROR] == []
    for invoice in result.invoices:
        assert invoice.source is not None and invoice.source.version == envelope.version


def _mutants(draw: st.DrawFn, base: str) -> str:
    segments = base.split("~")
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "character", "truncate", "insert", "several"]))
    if kind == "delete":
        del segments[draw(st.integers(0, len(segments) - 1))]
    elif kind == "duplicate":
        index = draw(st.integers(0, len(segments) - 1))
        segments.insert(index, segments[index])
    elif kind == "swap":
        a, b = draw(st.integers(0, len(segments) - 1)), draw(st.integers(0, len(segments) - 1))
        segments[a], segments[b] = segments[b], segments[a]
    text = "~".join(segments)
    if kind in ("character", "several"):
        for _ in range(draw(st.integers(1, 8 if kind == "several" else 1))):
            index = draw(st.integers(0, len(text) - 1))
            text = text[:index] + draw(st.sampled_from("*~>^|:\n\r .-0129AZ\ufeff\x00é")) + text[index + 1:]
    elif kind == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif kind == "insert":
        index = draw(st.integers(0, len(text)))
        text = text[:index] + draw(st.text("*~>ISAGSTEBIG0123456789\n", max_size=30)) + text[index:]
    return text


@st.composite
def damaged(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from([VALID_4010, VALID_4010.replace("\n", ""), BIGGER]))
    return _mutants(draw, base)


BIGGER = render_interchange(
    [Invoice810("INV-9", date(2024, 1, 1), "PO", date(2023, 12, 1), parties=(Party("BT", "B", "92", "ID"),),
                lines=(InvoiceLine("1", Decimal(2), "EA", Decimal("3.50"), description="THING",
                                   charges=(Charge("C", "G830", Decimal(1)),), taxes=(Tax("ST", Decimal(1)),)),),
                charges=(Charge("A", "C310", Decimal(1)),), total_stated=Decimal("9.00"))] * 2,
    EnvelopeSettings("SELLER", "BUYER", version="005010"), controls=ControlNumbers(1, 1), when=datetime(2024, 1, 1))


@settings(max_examples=300, deadline=None)
@given(text=damaged())
def test_damaged_files_raise_nothing_but_the_librarys_errors(text: str) -> None:
    try:
        result = parse_text(text)
    except X12Error:
        return
    for problem in result.problems:
        assert problem.position.segment_number >= 0 and problem.message
    assert validate(text) == result.problems
    if any(interchange.groups for interchange in result.interchanges):
        reply = build_997(result, controls=ControlNumbers(1, 1))
        assert len(read_997(reply)) >= 1
        assert [p for p in validate(reply) if p.is_error] == []
    for invoice in result.invoices:
        assert isinstance(invoice.total_computed, Decimal)
        invoice.due_date  # noqa: B018 - computing it must not raise either


ELEMENT = st.sampled_from(["", "A", "AB", "ABC", "EA", "12", "12.34", "-5", "1.2.3", ".", "20240230", "20240229",
                           "1230", "2561", "X" * 23, "9" * 16, "F", "C", "N", "Q", " ", "1e5", "NaN", "١٢"])


@settings(max_examples=400, deadline=None)
@given(segment=st.sampled_from(sorted(RULES_4010)), version=st.sampled_from([RULES_4010, RULES_5010]),
       values=st.lists(ELEMENT, max_size=27))
def test_the_compiled_element_check_never_passes_what_the_precise_one_rejects(
        segment: str, version: dict[str, object], values: list[str]) -> None:
    rules = RULES_5010 if version is RULES_5010 else RULES_4010
    elements = [segment, *values]
    if fast_checks(rules)[segment](elements):
        problems: list[object] = []
        check_elements(elements, rules[segment], 1, 1, problems)  # type: ignore[arg-type]
        assert problems == []
