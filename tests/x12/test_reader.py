"""The reader accepts what X12-810.md lists under "Reading one", and nothing silently."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.x12 import Delimiters, ProblemCode, ReadError, Severity, iter_segments, parse_text
from edi.x12.envelope import InterchangeReader
from edi.x12.reader import SegmentReader, detect_delimiters

from .helpers import VALID_4010, edit, sample

BARE_SET = VALID_4010.split("GS*IN", 1)[1].split("\n", 1)[1].rsplit("GE*", 1)[0]  # ST..SE only


def ids(text: str | bytes) -> list[str]:
    return [segment.id for segment in iter_segments(text)]


def test_the_valid_base_interchange_is_valid() -> None:
    result = parse_text(VALID_4010)
    assert result.problems == []
    (invoice,) = result.invoices
    assert invoice.total_stated == invoice.total_computed == Decimal("26.00")


def test_delimiters_come_from_a_fixed_width_isa() -> None:
    assert detect_delimiters(VALID_4010) == Delimiters("*", ">", "~", None)


def test_delimiters_come_from_an_isa_that_is_not_fixed_width() -> None:
    text = "ISA*00**00**ZZ*ME*ZZ*YOU*240102*1200*U*00401*000000001*0*P*:!GS*IN*ME*YOU*20240102*1200*1*X*004010!"
    assert detect_delimiters(text) == Delimiters("*", ":", "!", None)
    assert ids(text) == ["ISA", "GS"]


def test_pipe_element_separator_and_repetition_separator_from_00402_on() -> None:
    text = VALID_4010.replace("*", "|").replace("|U|00401|", "|^|00501|").replace("004010", "005010")
    assert detect_delimiters(text) == Delimiters("|", ">", "~", "^")
    result = parse_text(text)
    assert result.interchanges[0].repetition_separator == "^"
    assert result.invoices[0].lines[0].unit_price == Decimal("10.50")
    assert result.problems == []


def test_u_in_isa11_with_00501_is_not_a_repetition_separator() -> None:
    text = VALID_4010.replace("*U*00401*", "*U*00501*")
    assert detect_delimiters(text).repetition is None
    assert parse_text(text).problems == []


@pytest.mark.parametrize("isa12", ["00204", "00040", "00403"])
def test_odd_isa12_values_are_read(isa12: str) -> None:
    result = parse_text(VALID_4010.replace("*00401*", f"*{isa12}*"))
    assert result.interchanges[0].standards_version == isa12
    assert result.problems == []


@pytest.mark.parametrize("layout", ["bom", "crlf", "indented", "newline-terminator", "cr-terminator",
                                    "no-final-terminator", "blank-lines", "trailing-spaces"])
def test_layouts_partners_send_read_the_same_invoice(layout: str) -> None:
    text = VALID_4010
    if layout == "bom":
        data: str | bytes = "\ufeff".encode() + text.encode()
    elif layout == "crlf":
        data = text.replace("\n", "\r\n")
    elif layout == "indented":
        data = "\n".join(("\t" * (i % 4)) + "  " * (i % 2) + line for i, line in enumerate(text.splitlines()))
    elif layout == "newline-terminator":
        data = text.replace("~\n", "\n")
    elif layout == "cr-terminator":
        data = text.replace("~\n", "\r\n")
    elif layout == "no-final-terminator":
        data = text.rstrip("~\n")
    elif layout == "blank-lines":
        data = text.replace("~\n", "~\n\n   \n")
    else:
        data = text.replace("*BUYER INC*", "*BUYER INC   *").replace("*WIDGET~", "*WIDGET   ~")
    result = parse_text(data)
    assert result.problems == [], layout
    assert result.invoices == parse_text(VALID_4010).invoices


def test_a_bare_set_without_envelope_is_read_with_a_note() -> None:
    result = parse_text(BARE_SET)
    (invoice,) = result.invoices
    assert invoice.invoice_number == "INV-1"
    assert [(p.code, p.severity) for p in result.problems] == [(ProblemCode.NO_ENVELOPE, Severity.NOTE)]
    assert result.is_valid


def test_a_bare_set_with_newline_terminators_and_pipes() -> None:
    result = parse_text(BARE_SET.replace("~\n", "\n").replace("*", "|"))
    assert result.invoices[0].lines[1].unit_price == Decimal("5")
    assert result.is_valid


def test_a_bare_group_without_isa() -> None:
    text = VALID_4010.split("\n", 1)[1].rsplit("IEA", 1)[0]
    result = parse_text(text)
    assert result.invoices[0].source is not None and result.invoices[0].source.group_control == "7"
    assert [p.code for p in result.problems] == [ProblemCode.NO_ENVELOPE]


def test_several_sets_per_group_and_several_groups_per_interchange() -> None:
    body = VALID_4010.split("GS*IN", 1)[1].split("\n", 1)[1].rsplit("GE*", 1)[0]
    second_set = body.replace("*0001~", "*0002~").replace("INV-1", "INV-2")
    group = "GS*IN*SENDER*RECEIVER*20240102*1200*{n}*X*004010~\n" + body + second_set + "GE*2*{n}~\n"
    text = VALID_4010.split("\n", 1)[0] + "\n" + group.format(n=7) + group.format(n=8).replace("INV-", "INV-B") \
        + "IEA*2*000000042~"
    result = parse_text(text)
    assert [i.invoice_number for i in result.invoices] == ["INV-1", "INV-2", "INV-B1", "INV-B2"]
    assert [g.control_number for g in result.interchanges[0].groups] == ["7", "8"]
    assert [p.code for p in result.problems] == []


def test_several_interchanges_with_different_delimiters_in_one_file() -> None:
    other = VALID_4010.replace("*", "|").replace("~\n", "\n").replace("000000042", "000000043")
    text = VALID_4010 + other + VALID_4010.replace("000000042", "000000044")
    for chunk in (7, 100, 1 << 20):
        reader = InterchangeReader(text, chunk_chars=chunk)
        sets = list(reader)
        assert [i.control_number for i in reader.interchanges] == ["000000042", "000000043", "000000044"]
        assert [ts.invoice.invoice_number for ts in sets if ts.invoice] == ["INV-1"] * 3
        assert all(not ts.problems for ts in sets)


def test_other_transaction_sets_are_skipped_and_said_so() -> None:
    text = edit(VALID_4010, "GE*1*7~", "ST*850*0002~\nBEG*00*NE*PO-1**20240101~\nSE*3*0002~\nGE*2*7~")
    result = parse_text(text)
    assert len(result.invoices) == 1
    (skipped,) = [ts for ts in result.transaction_sets if ts.invoice is None]
    assert (skipped.set_id, skipped.segment_count) == ("850", 3)
    assert [(p.code, p.severity) for p in result.problems] == [(ProblemCode.SET_SKIPPED, Severity.NOTE)]


def test_negative_prices_and_quantities_are_numbers() -> None:
    result = parse_text(edit(edit(VALID_4010, "IT1*2*1*EA*5*", "IT1*2*-1*EA*-5.25*"), "TDS*2600", "TDS*2625"))
    assert result.invoices[0].lines[1].amount == Decimal("5.25")
    assert result.problems == []


def test_latin1_bytes_are_read_with_a_note() -> None:
    data = VALID_4010.replace("BUYER INC", "BÜYER INC").encode("latin-1")
    result = parse_text(data)
    assert result.invoices[0].parties[0].name == "BÜYER INC"
    assert [p.code for p in result.problems] == [ProblemCode.NOT_UTF8]


def test_windows_1252_curly_quotes_are_read_as_quotes_not_control_characters() -> None:
    data = VALID_4010.replace("PID*F****WIDGET", "PID*F****\u201cDELUXE\u201d WIDGET \u2013 10\u20ac").encode("cp1252")
    assert b"\x93DELUXE\x94" in data
    result = parse_text(data)
    assert result.invoices[0].lines[0].description == "\u201cDELUXE\u201d WIDGET \u2013 10\u20ac"
    (note,) = result.problems
    offset = data.index(b"\x93")
    assert (note.code, note.severity) == (ProblemCode.NOT_UTF8, Severity.NOTE)
    assert f"byte {offset}: b'\\x93'" in note.message and "Windows-1252" in note.message


def test_every_byte_of_a_file_that_is_not_utf8_is_read_as_something() -> None:
    unassigned = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])  # no character in Windows-1252
    data = VALID_4010.encode().replace(b"WIDGET", b"WID" + unassigned + b"GET")
    assert parse_text(data).invoices[0].lines[0].description == "WID\x81\x8d\x8f\x90\x9dGET"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 15])
def test_utf8_up_to_the_first_byte_that_is_not_then_windows_1252_whatever_the_chunks(chunk: int) -> None:
    """A BOM declares UTF-8 and is dropped; what was UTF-8 before the first bad byte stays UTF-8."""
    text = VALID_4010.replace("BUYER INC", "BUYER CAFÉ").replace("SELLER LLC", "SELLER \x93LLC\x94")
    data = b"\xef\xbb\xbf" + text.encode("utf-8").replace("\x93".encode(), b"\x93").replace("\x94".encode(), b"\x94")
    segments = list(SegmentReader(data, chunk_chars=chunk))
    assert segments == list(SegmentReader(data))
    assert ["N1", "BT", "BUYER CAFÉ", "92", "B1"] in segments
    assert ["N1", "RE", "SELLER \u201cLLC\u201d", "92", "S1"] in segments


def test_text_before_the_isa_is_skipped_with_a_warning() -> None:
    result = parse_text("From: partner\r\nSubject: invoices\r\n\r\n" + VALID_4010)
    assert result.invoices[0].invoice_number == "INV-1"
    assert [(p.code, p.severity) for p in result.problems] == [(ProblemCode.NO_ENVELOPE, Severity.WARNING)]


@pytest.mark.parametrize("data", ["", "   \n", "hello world, this is not X12", b"\x00\x01\x02\x03\x04",
                                  "ISA*00*short"])
def test_input_that_is_not_x12_is_a_read_error(data: str | bytes) -> None:
    with pytest.raises(ReadError):
        parse_text(data)


def test_a_delimiter_that_is_a_letter_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="separator"):
        parse_text("ISAX00X")


def test_segments_are_numbered_from_the_isa() -> None:
    segments = list(iter_segments(VALID_4010))
    assert [(s.number, s.id) for s in segments[:3]] == [(1, "ISA"), (2, "GS"), (3, "ST")]
    assert segments[3].element(2) == "INV-1" and segments[3].element(9) == ""


def test_file_objects_text_and_binary_read_the_same() -> None:
    expected = ids(VALID_4010)
    assert ids(VALID_4010.encode()) == expected
    assert [s.id for s in iter_segments(io.StringIO(VALID_4010))] == expected
    assert [s.id for s in iter_segments(io.BytesIO(VALID_4010.encode()))] == expected
    with open(sample("10_oopfactory_caliso_negative.txt"), "rb") as handle:
        assert len(list(SegmentReader(handle, chunk_chars=16))) == 52


@settings(max_examples=40, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=300), name=st.sampled_from([
    "03_edinet_810a_ariba.edi", "10_oopfactory_caliso_negative.txt", "13_oopfactory_adobe_newline.txt"]))
def test_chunk_boundaries_never_change_what_is_read(chunk: int, name: str) -> None:
    data = sample(name).read_bytes()
    assert list(SegmentReader(data, chunk_chars=chunk)) == list(SegmentReader(data))


def _loose_isas(text: str, chunk: int) -> list[tuple[int, int | None, str | None]]:
    reader = SegmentReader(text, chunk_chars=chunk)
    list(reader)
    return [(p.position.segment_number, p.position.element, p.value) for p in reader.notes
            if p.code is ProblemCode.ISA_NOT_FIXED_WIDTH]


@pytest.mark.parametrize("chunk", [5, 64, 1 << 15])
def test_every_isa_that_is_not_fixed_width_is_named_at_its_segment_whatever_the_chunks(chunk: int) -> None:
    loose = edit(VALID_4010.replace("000000042", "000000043"), "*ZZ*RECEIVER       *", "*ZZ*RECEIVER*")
    piped = loose.replace("*", "|").replace("000000043", "000000044")  # new delimiters: the reader restarts
    text = VALID_4010 + loose + VALID_4010.replace("000000042", "000000045") + piped
    assert _loose_isas(text, chunk) == [(17, 8, "RECEIVER"), (49, 8, "RECEIVER")]
    assert _loose_isas(text.rstrip("\n").removesuffix("~").rsplit("IEA", 1)[0] + "ISA*00*", chunk) == \
        [(17, 8, "RECEIVER"), (49, 8, "RECEIVER")], "a last ISA cut short is the envelope's to report"
    assert [p for p in parse_text(VALID_4010 + VALID_4010).problems if p.code is ProblemCode.ISA_NOT_FIXED_WIDTH] == []


@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 15])
def test_text_before_the_isa_is_named_once_whatever_the_chunks(chunk: int) -> None:
    reader = SegmentReader("Subject: invoices\r\n\r\nsee below\r\n" + VALID_4010, chunk_chars=chunk)
    assert list(reader) == list(SegmentReader(VALID_4010))
    assert [p.message for p in reader.notes] == ["skipped 32 characters before the ISA"]
