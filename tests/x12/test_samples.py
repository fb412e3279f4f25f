"""What a reader sees in each real partner file of tests/fixtures/x12-samples, defects included."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from edi.x12 import (
    ControlNumbers,
    ParseResult,
    ProblemCode,
    Severity,
    build_997,
    parse_file,
    read_997,
    validate,
)

from .helpers import sample, sample_paths

SAMPLE_FILES = [path.name for path in sample_paths()]


def codes(result: ParseResult) -> list[tuple[int, str, ProblemCode]]:
    return [(p.position.segment_number, p.position.segment_id, p.code) for p in result.problems]


def test_the_sample_directory_holds_the_files_these_tests_describe() -> None:
    assert SAMPLE_FILES == [
        "01_staedi_simple810_2ST.edi", "02_staedi_810_850_2GS.edi", "03_edinet_810a_ariba.edi",
        "05_edinet_810c_ariba_hdr.edi", "10_oopfactory_caliso_negative.txt", "12_oopfactory_multiinvoice_00403.txt",
        "13_oopfactory_adobe_newline.txt", "15_x12types_005010_edi2xml.edi",
    ]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_parses_into_invoices_and_is_acknowledged(name: str) -> None:
    result = parse_file(sample(name))
    assert result.invoices, name
    assert all(invoice.invoice_number and invoice.invoice_date for invoice in result.invoices)
    assert validate(sample(name)) == result.problems
    acks = read_997(build_997(result, controls=ControlNumbers(1, 1)))
    assert [(a.set_id, a.set_control) for a in acks] == [(ts.set_id, ts.control_number)
                                                         for ts in result.transaction_sets]


def test_01_two_sets_in_one_group_and_the_second_copies_the_first_total() -> None:
    result = parse_file(sample("01_staedi_simple810_2ST.edi"))
    first, second = result.invoices
    assert (first.invoice_number, first.invoice_date, first.po_number, first.po_date) == \
        ("00001", date(1997, 12, 11), "A99999-01", None)
    assert [(p.role, p.name, p.id_qualifier, p.id) for p in first.parties] == [
        ("ST", "BUYSNACKS PORT", "9", "1223334445"), ("BT", "BUYSNACKS", "9", "1223334444"),
        ("RE", "FOODSELLER", "9", "12345QQQQ")]
    ship_to = first.party("ST")
    assert ship_to is not None
    assert (ship_to.address, ship_to.city, ship_to.state, ship_to.postal_code) == \
        (("1000 N. SAMPLE HIGHWAY",), "ATHENS", "GA", "30603")
    assert [line.quantity for line in first.lines] == [16, 13, 32, 51, 9, 85, 1]
    assert {(line.unit, line.unit_price) for line in first.lines} == {("CA", Decimal("12.34"))}
    assert first.lines[0].product_ids[0].qualifier == "UA" and first.lines[0].product_ids[0].value == "002840022222"
    assert first.lines[0].description == "CRUNCHY CHIPS LSS"
    terms = first.terms[0]
    assert (terms.discount_percent, terms.discount_days, terms.net_days, terms.description) == \
        (Decimal("1.000"), 15, 16, "1/15 NET 30")
    assert first.due_date == date(1997, 12, 27)
    assert first.total_stated == first.total_computed == Decimal("2554.38")
    assert first.source is not None
    assert (first.source.sender_id, first.source.receiver_id, first.source.interchange_control,
            first.source.group_control, first.source.set_control, first.source.version, first.source.usage) == \
        ("SENDERISA", "RECEIVERISA", "000000020", "1", "000000001", "004010", "T")

    assert (second.invoice_number, second.invoice_date, second.po_number) == ("00001", date(1997, 12, 15), "A99999-04")
    assert [line.quantity for line in second.lines] == [50, 100]
    assert second.total_stated == Decimal("2554.38")
    assert second.total_computed == Decimal("1851.00")
    assert codes(result) == [(36, "BIG", ProblemCode.DUPLICATE_INVOICE_NUMBER), (52, "TDS", ProblemCode.TOTAL_COPIED)]
    assert all(p.severity is Severity.WARNING for p in result.problems)
    assert result.is_valid


def test_02_an_850_group_beside_the_810s_is_skipped_with_a_note_and_rejected_as_unsupported() -> None:
    result = parse_file(sample("02_staedi_810_850_2GS.edi"))
    assert [invoice.po_number for invoice in result.invoices] == ["A99999-01", "A99999-04"]
    skipped = [ts for ts in result.transaction_sets if ts.invoice is None]
    assert [(ts.set_id, ts.control_number) for ts in skipped] == [("850", "000191240")]
    assert (59, "ST", ProblemCode.SET_SKIPPED) in codes(result)
    assert [g.functional_id for g in result.interchanges[0].groups] == ["IN", "PO"]
    acks = read_997(build_997(result, controls=ControlNumbers(1, 1)))
    assert [(a.functional_id, a.set_id, a.status, a.set_codes, a.group_status) for a in acks] == [
        ("IN", "810", "A", (), "A"), ("IN", "810", "A", (), "A"), ("PO", "850", "R", ("1",), "R")]


def test_03_ariba_bom_tabs_and_an_isa_that_is_not_fixed_width() -> None:
    result = parse_file(sample("03_edinet_810a_ariba.edi"))
    (invoice,) = result.invoices
    interchange = result.interchanges[0]
    assert (interchange.sender_id, interchange.receiver_id) == ("ABCMUSICSUPPLY", "ARIBAEDI")
    assert (invoice.invoice_number, invoice.invoice_date, invoice.po_number, invoice.po_date) == \
        ("DO091003TESTINV01", date(2003, 3, 10), "DO091003", date(2003, 9, 10))
    assert (invoice.transaction_type, invoice.purpose_code, invoice.currency) == ("DI", "00", "USD")
    assert invoice.ref("VN") == "DO091003"
    remit = invoice.party("RI")
    assert remit is not None
    assert (remit.name, remit.extra_names, remit.city, remit.country) == ("XYZ Bank", ("XYZ Bank",), "New York", "US")
    assert [(r.qualifier, r.value) for r in remit.refs] == [("AP", "00000-11111"), ("RT", "123456789")]
    assert len(invoice.terms) == 5 and invoice.due_date is None
    assert invoice.dates[0].qualifier == "003" and invoice.dates[0].date == date(2003, 9, 10)
    first, second = invoice.lines
    assert (first.quantity, first.unit, first.unit_price, first.description) == (2, "EA", Decimal("99.99"), "Power Cord")
    assert second.unit_price == Decimal("79.99")
    assert [(c.indicator, c.code, c.amount) for c in first.charges] == [
        ("N", "B840", Decimal("199.98")), ("C", "G830", Decimal("3.00"))]
    assert [p.role for p in first.parties] == ["SF", "ST"]
    assert [(c.indicator, c.code, c.amount) for c in invoice.charges] == [
        ("C", "G830", Decimal("6.00")), ("C", "H850", Decimal("0"))]
    # The summary G830 restates the two line G830s: counted once, the total agrees with TDS.
    assert invoice.total_stated == invoice.total_computed == Decimal("365.96")
    assert result.problems == []


def test_05_ariba_header_charges_tds_leaves_out_the_allowance() -> None:
    result = parse_file(sample("05_edinet_810c_ariba_hdr.edi"))
    (invoice,) = result.invoices
    assert (invoice.invoice_number, invoice.po_number) == ("DO091003TESTHDRINV01", None)
    (line,) = invoice.lines
    assert (line.quantity, line.unit, line.unit_price, line.product_ids[0].value) == (1, "ZZ", Decimal("359.96"),
                                                                                     "DO091003")
    assert [(c.indicator, c.code, c.amount, c.percent) for c in invoice.charges] == [
        ("A", "C310", Decimal("41.19"), Decimal("10")), ("C", "G830", Decimal("6.00"), None),
        ("C", "H090", Decimal("10.00"), None), ("C", "H850", Decimal("35.96"), None)]
    assert invoice.total_stated == Decimal("411.92")
    assert invoice.total_computed == Decimal("370.73")
    assert codes(result) == [(38, "TDS", ProblemCode.TOTAL_MISMATCH)]
    assert result.problems[0].severity is Severity.WARNING


def test_10_crlf_indentation_and_negative_prices() -> None:
    result = parse_file(sample("10_oopfactory_caliso_negative.txt"))
    (invoice,) = result.invoices
    interchange = result.interchanges[0]
    assert (interchange.sender_qualifier, interchange.sender_id, interchange.receiver_qualifier,
            interchange.ack_requested) == ("30", "943274043", "01", "1")
    assert (invoice.invoice_number, invoice.invoice_date, invoice.transaction_type) == ("10429", date(1998, 12, 31), "FB")
    remit = invoice.party("RE")
    assert remit is not None and remit.name == "Bank of America- (Mkt and GMC)"
    assert [(r.qualifier, r.value) for r in remit.refs] == [("11", "1233626208"), ("01", "026009593")]
    assert invoice.due_date == date(1999, 1, 7)
    assert [(d.qualifier, d.date) for d in invoice.dates] == [("150", date(1998, 9, 30)), ("151", date(1998, 10, 31))]
    assert len(invoice.lines) == 16
    assert invoice.lines[10].unit_price == Decimal("-457863.84")
    assert invoice.lines[10].description == "Generation Deviation Settlement"
    assert sum(1 for line in invoice.lines if line.unit_price is not None and line.unit_price < 0) == 5
    assert invoice.total_stated == invoice.total_computed == Decimal("213516.63")
    assert result.problems == []


def test_12_repetition_separator_00403_and_tds_after_iss_is_out_of_sequence() -> None:
    result = parse_file(sample("12_oopfactory_multiinvoice_00403.txt"))
    interchange = result.interchanges[0]
    assert (interchange.standards_version, interchange.repetition_separator, interchange.component_separator) == \
        ("00403", "^", ":")
    assert result.interchanges[0].groups[0].version == "004030"
    first, second = result.invoices
    assert [(i.invoice_number, i.po_number, i.po_date) for i in (first, second)] == [
        ("465266", "539893", date(2002, 5, 23)), ("465267", "539893", date(2002, 5, 23))]
    assert [(r.qualifier, r.value, r.description) for r in first.refs] == [
        ("AI", "465267", None), ("GT", "R100420888", "GST REGISTRATION NO.")]
    assert [p.role for p in first.parties] == ["VN", "BT", "ST"]
    assert (first.terms[0].discount_due_date, first.due_date) == (date(2002, 6, 8), date(2002, 6, 23))
    assert [line.quantity for line in first.lines] == [16, 12, 18, 9]
    assert first.lines[0].charges[0].amount == Decimal("58.87")
    assert first.total_stated == first.total_computed == Decimal("8432.02")
    assert second.total_stated == second.total_computed == Decimal("1129.92")
    # The summary has ISS before TDS; X12 puts TDS first. Reported, and the 997 says so.
    assert codes(result) == [(29, "TDS", ProblemCode.SEGMENT_OUT_OF_SEQUENCE),
                             (46, "TDS", ProblemCode.SEGMENT_OUT_OF_SEQUENCE)]
    acks = read_997(build_997(result, controls=ControlNumbers(1, 1)))
    assert [(a.status, a.segment_errors[0].segment_id, a.segment_errors[0].code) for a in acks] == [
        ("R", "TDS", "7"), ("R", "TDS", "7")]
    tolerant = read_997(build_997(result, controls=ControlNumbers(1, 1),
                                  noted_only={ProblemCode.SEGMENT_OUT_OF_SEQUENCE}))
    assert [(a.status, a.group_status) for a in tolerant] == [("E", "E"), ("E", "E")]


def test_13_carriage_return_terminator_odd_isa12_and_no_final_terminator() -> None:
    result = parse_file(sample("13_oopfactory_adobe_newline.txt"))
    interchange = result.interchanges[0]
    assert (interchange.standards_version, interchange.control_number) == ("00040", "810000263")
    (invoice,) = result.invoices
    assert (invoice.invoice_number, invoice.invoice_date, invoice.po_number) == \
        ("0013833070", date(2007, 1, 29), "V8748745")
    assert [(r.qualifier, r.value, r.description) for r in invoice.refs] == [
        ("61", "noval", "Adobe VAT Number"), ("CO", "121212", None), ("VN", "0070861270", None)]
    assert [p.role for p in invoice.parties] == ["II", "BY", "BT", "PR", "ST", "SE", "EN", "DU"]
    seller = invoice.party("VN", "SU", "SE", "II")
    assert seller is not None and (seller.role, seller.id) == ("SE", "ADUS")
    assert invoice.due_date == date(2007, 3, 5)
    (line,) = invoice.lines
    assert (line.line_id, line.unit_price, line.price_basis) == ("000010", Decimal("160"), "CP")
    assert [(p.qualifier, p.value) for p in line.product_ids] == [
        ("VP", "65008841AB02A00"), ("BP", "7167946"), ("UP", "883919019161")]
    assert (invoice.taxes[0].type_code, invoice.taxes[0].amount, invoice.taxes[0].tax_id) == ("ST", 0, "noval")
    assert invoice.total_stated == invoice.total_computed == Decimal("160")
    assert result.problems == []


def test_15_5010_with_u_in_isa11() -> None:
    result = parse_file(sample("15_x12types_005010_edi2xml.edi"))
    interchange = result.interchanges[0]
    assert (interchange.standards_version, interchange.repetition_separator) == ("00501", None)
    (invoice,) = result.invoices
    assert (invoice.invoice_number, invoice.invoice_date, invoice.po_number) == ("I-0042537", date(2018, 11, 22), None)
    assert [(p.role, p.name, p.id_qualifier, p.id) for p in invoice.parties] == [
        ("RI", None, "92", "10055500"), ("ST", None, "92", "00262")]
    assert invoice.due_date == date(2019, 3, 2)
    assert [(line.quantity, line.unit_price) for line in invoice.lines] == [
        (2, Decimal("5.45")), (2, Decimal("5.45")), (3, Decimal("4.85")), (3, Decimal("5.15")), (1, Decimal("5.9"))]
    assert invoice.total_stated == invoice.total_computed == Decimal("57.70")
    assert result.problems == []
