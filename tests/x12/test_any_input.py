"""No input breaks the library: whatever the bytes, a read ends in problems or an X12Error.

The four minimal inputs below each raised a bare exception once (found by mutating the partner
samples); the campaign at the end keeps mutating them, with a fixed seed, on every run.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from edi.x12 import ControlNumbers, ParseResult, ProblemCode, X12Error, build_997, parse_text, read_997, validate
from edi.x12.envelope import InterchangeReader
from edi.x12.values import (
    is_decimal_text,
    is_digits,
    is_integer_text,
    is_time,
    parse_count,
    parse_date,
    parse_decimal,
    parse_implied,
    parse_int,
    parse_short_date,
)

from .helpers import SAMPLE_COUNT, VALID_4010, edit, sample_paths
from .mutants import campaign


def corpus() -> list[bytes]:
    return [path.read_bytes() for path in sample_paths()]


def survives(data: bytes) -> None:
    """Everything the inbound flow does with a file (parse, validate, acknowledge, read the 997)
    ends, or raises the library's own error (a file that is not X12, a reply it cannot address)."""
    try:
        result = parse_text(data)
        assert validate(data) == result.problems
        for invoice in result.invoices:
            invoice.total_computed  # noqa: B018 - computing them must not raise
            invoice.lines_total  # noqa: B018
            invoice.due_date  # noqa: B018
        if any(interchange.groups for interchange in result.interchanges):
            read_997(build_997(result, controls=ControlNumbers(1, 1)))
    except X12Error:
        pass


def read_in_chunks(data: bytes, chunk: int) -> object:
    """What a validating parse reads, with `chunk` characters read at a time."""
    reader = InterchangeReader(data, check=True, keep=True, chunk_chars=chunk)
    try:
        sets = list(reader)
    except X12Error as exc:
        return exc.code, str(exc)
    return [str(p) for p in ParseResult(reader.interchanges, reader.notes).problems], [ts.invoice for ts in sets]


def reads_the_same_in_any_chunks(data: bytes) -> None:
    whole = read_in_chunks(data, 1 << 20)
    for chunk in (7, 61):
        assert read_in_chunks(data, chunk) == whole, f"{chunk}-character chunks read otherwise"


def codes(data: bytes) -> set[tuple[ProblemCode, str, int | None]]:
    return {(p.code, p.position.segment_id, p.position.element) for p in validate(data)}


# ---------------------------------------------------------------- the four minimal inputs


def test_a_huge_exponent_in_tds01_is_an_invalid_character_not_an_overflow() -> None:
    data = b"ISA**************\rST*810*~\rTDS*1E2896035"
    survives(data)
    assert (ProblemCode.ELEMENT_INVALID_CHARACTER, "TDS", 1) in codes(data)
    (invoice,) = parse_text(data).invoices
    assert invoice.total_stated is None


def test_huge_exponents_in_it1_leave_the_line_unpriced_not_the_sum_overflowing() -> None:
    text = edit(VALID_4010, "IT1*2*1*EA*5**", "IT1*2*1E999999*EA*1E999999**")
    survives(text.encode())
    assert (ProblemCode.ELEMENT_INVALID_CHARACTER, "IT1", 4) in codes(text.encode())
    (invoice,) = parse_text(text).invoices
    assert invoice.lines[1].quantity is None and invoice.lines_total == Decimal("21.00")


def test_a_superscript_in_iea02_is_a_control_mismatch_not_a_value_error() -> None:
    data = b"ISA*************0***~\nIEA**\xb2"
    survives(data)
    assert {(ProblemCode.INTERCHANGE_CONTROL_MISMATCH, "IEA", 2),
            (ProblemCode.INTERCHANGE_COUNT_MISMATCH, "IEA", 1)} <= codes(data)


@pytest.mark.parametrize("old,new,expected", [
    ("IEA*1*", "IEA*\xb9*", (ProblemCode.INTERCHANGE_COUNT_MISMATCH, "IEA", 1)),
    ("GE*1*7", "GE*\xb9*7", (ProblemCode.GROUP_COUNT_MISMATCH, "GE", 1)),
    ("GE*1*7", "GE*1*\xb2", (ProblemCode.GROUP_CONTROL_MISMATCH, "GE", 2)),
    ("*000000042*0*T", "*00000004\xb2*0*T", (ProblemCode.INTERCHANGE_HEADER_INVALID, "ISA", 13)),
    ("IEA*1*", "IEA*" + "1" * 5000 + "*", (ProblemCode.INTERCHANGE_COUNT_MISMATCH, "IEA", 1)),
])
def test_superscripts_and_endless_digits_in_envelope_numbers_are_mismatches(old: str, new: str,
                                                                            expected: tuple[object, ...]) -> None:
    data = edit(VALID_4010, old, new).encode("latin-1")
    survives(data)
    assert expected in codes(data)


def test_a_superscript_in_se01_is_an_invalid_character_not_a_value_error() -> None:
    data = b"GS*\nST\nSE*\xb2"
    survives(data)
    assert (ProblemCode.ELEMENT_INVALID_CHARACTER, "SE", 1) in codes(data)


def test_a_superscript_in_a_time_is_an_invalid_time_not_a_value_error() -> None:
    data = b"ISA*********~ST*810**~DTM***5\xb920*"
    survives(data)
    assert (ProblemCode.ELEMENT_INVALID_TIME, "DTM", 3) in codes(data)


def test_net_days_past_the_year_9999_give_no_due_date_not_an_overflow() -> None:
    text = edit(VALID_4010, "ITD*01*3*****30~", "ITD*01*3*****9990107~")
    survives(text.encode())
    assert (ProblemCode.ELEMENT_TOO_LONG, "ITD", 7) in codes(text.encode())
    assert parse_text(text).invoices[0].due_date is None


def test_a_superscript_in_a_partners_997_is_no_element_number() -> None:
    reply = build_997(parse_text(edit(VALID_4010, "BIG*20240102*", "BIG*20240231*")), controls=ControlNumbers(1, 1))
    damaged = edit(edit(reply, "AK3*BIG*2**8", "AK3*BIG*\u00b2**8"), "AK4*1*373", "AK4*\u00b9*373")
    (result,) = read_997(damaged.encode("latin-1"))
    (segment,) = result.segment_errors
    assert segment.position is None and segment.elements[0].element is None


# ---------------------------------------------------------------- the one digit test


@pytest.mark.parametrize("text", ["²", "1²", "٣", "１", "", "-1", "1.5", " 1"])
def test_only_ascii_digits_are_digits(text: str) -> None:
    assert not is_digits(text)
    assert parse_count(text) is None
    assert parse_int(text) is None or text == "-1"


def test_every_reading_of_digits_refuses_what_int_refuses() -> None:
    for text in ("2024¹231", "٢٠٢٤٠١٠١"):
        assert parse_date(text) is None
    assert parse_short_date("24¹231") is None
    assert not is_time("5¹20") and not is_time("12³0")
    assert not is_integer_text("-²") and not is_decimal_text("1.²")
    assert parse_int("9" * 5000) is None and parse_count("9" * 5000) is None
    assert parse_count("000000042") == 42 and parse_int("-7") == -7


@pytest.mark.parametrize("text", ["1E2896035", "-1E2896035", "1E-2896035", "9" * 100, "1E61", "0E-999999"])
def test_numbers_beyond_any_invoice_are_not_read(text: str) -> None:
    assert parse_decimal(text) is None and parse_implied(text) is None


def test_numbers_within_reach_are_read() -> None:
    assert parse_decimal("9" * 18) == Decimal("9" * 18)
    assert parse_decimal("1E3") == Decimal(1000)  # tolerated when read; the validator names it
    assert parse_implied("255438") == Decimal("2554.38")


# ---------------------------------------------------------------- mutants of the partner samples

ROUNDS = 300
"""Mutants per sample: about four seconds for all of them. The first fuzzing found 70 bare exceptions
in 440,000 calls; a mutator aimed at the values that raised finds one within a few hundred."""


@pytest.mark.parametrize("index", range(SAMPLE_COUNT))
def test_mutants_of_each_sample_raise_nothing_but_the_librarys_errors(index: int) -> None:
    samples = corpus()
    found = campaign(survives, [samples[index]], samples, seed=1400 + index, rounds=ROUNDS)
    assert not found, "\n".join(f"{where}: {mutant!r}" for where, mutant in found.items())


@pytest.mark.parametrize("index", range(SAMPLE_COUNT))
def test_mutants_of_each_sample_read_the_same_whatever_the_chunks(index: int) -> None:
    """The reader is fed in chunks; where they are cut must never change what any input reads as
    (this found the skipped-text warning repeated, and Latin-1 decoding starting at a chunk)."""
    samples = corpus()
    found = campaign(reads_the_same_in_any_chunks, [samples[index]], samples, seed=2800 + index, rounds=ROUNDS // 3)
    assert not found, "\n".join(f"{where}: {mutant!r}" for where, mutant in found.items())
