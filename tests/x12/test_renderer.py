"""Rendering 810s: exact text for the envelope and numbers, refusal of what cannot be written."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from edi.x12 import (
    CREDIT_AS_NEGATIVE,
    Charge,
    ControlNumbers,
    EnvelopeSettings,
    Invoice810,
    InvoiceLine,
    Party,
    ProductId,
    Reference,
    RenderError,
    Severity,
    Tax,
    Terms,
    parse_text,
    render_interchange,
    validate,
)

WHEN = datetime(2024, 3, 5, 14, 7)
ENVELOPE = EnvelopeSettings(sender_id="MLCONNECTOR", receiver_id="ACME", sender_qualifier="ZZ", receiver_qualifier="01")
CONTROLS = ControlNumbers(interchange=1234, group=56, first_set=7)


def invoice(**changes: object) -> Invoice810:
    base = Invoice810(
        invoice_number="AR-2024-0001", invoice_date=date(2024, 3, 1), po_number="PO-77", po_date=date(2024, 2, 1),
        parties=(Party("RE", "ML CONNECTOR LLC", "92", "V100", address=("1 MARKET ST", "SUITE 2"), city="DALLAS",
                       state="TX", postal_code="75201", country="US", refs=(Reference("11", "ACCT-9"),)),),
        refs=(Reference("PJ", "PROJECT-42", "Bridge survey"),),
        terms=(Terms("01", "3", net_days=30, description="NET 30"),),
        lines=(InvoiceLine("1", Decimal("3"), "HR", Decimal("150.00"), product_ids=(ProductId("VP", "LABOR"),),
                           description="Survey hours", charges=(Charge("C", "G830", Decimal("12.50")),),
                           taxes=(Tax("ST", Decimal("37.13"), Decimal("8.25")),)),
               InvoiceLine("2", Decimal("1.5"), "EA", Decimal("-20"), description="Discount credit")),
        charges=(Charge("A", "C310", Decimal("10.00"), description="EARLY PAY"),),
        taxes=(Tax("ST", Decimal("1.00")),),
        total_stated=Decimal("460.63"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def render(invoices: list[Invoice810], envelope: EnvelopeSettings = ENVELOPE) -> str:
    return render_interchange(invoices, envelope, controls=CONTROLS, when=WHEN)


def test_renders_a_complete_4010_interchange() -> None:
    text = render([invoice()])
    assert text.split("~") == [
        "ISA*00*          *00*          *ZZ*MLCONNECTOR    *01*ACME           *240305*1407*U*00401*000001234*0*T*>",
        "GS*IN*MLCONNECTOR*ACME*20240305*1407*56*X*004010",
        "ST*810*0007",
        "BIG*20240301*AR-2024-0001*20240201*PO-77",
        "CUR*SE*USD",
        "REF*PJ*PROJECT-42*Bridge survey",
        "N1*RE*ML CONNECTOR LLC*92*V100",
        "N3*1 MARKET ST*SUITE 2",
        "N4*DALLAS*TX*75201*US",
        "REF*11*ACCT-9",
        "ITD*01*3*****30*****NET 30",
        "IT1*1*3*HR*150**VP*LABOR",
        "TXI*ST*37.13*8.25",
        "PID*F****Survey hours",
        "SAC*C*G830***1250",
        "IT1*2*1.5*EA*-20",
        "PID*F****Discount credit",
        "TDS*46063",
        "TXI*ST*1",
        "SAC*A*C310***1000**********EARLY PAY",
        "CTT*2",
        "SE*20*0007",
        "GE*1*56",
        "IEA*1*000001234",
        "",
    ]
    assert len(text.split("~")[0]) + 1 == 106


def test_what_it_renders_parses_back_and_passes_its_own_validator() -> None:
    original = invoice()
    for version in ("004010", "005010"):
        text = render([original, replace(original, invoice_number="AR-2024-0002")],
                      replace(ENVELOPE, version=version))
        result = parse_text(text)
        assert [replace(i, source=None) for i in result.invoices] == [original,
                                                                      replace(original, invoice_number="AR-2024-0002")]
        assert [p for p in validate(text) if p.severity is Severity.ERROR] == []
        assert [ts.control_number for ts in result.transaction_sets] == ["0007", "0008"]


def test_5010_writes_the_repetition_separator_and_version() -> None:
    text = render([invoice()], replace(ENVELOPE, version="005010", usage="P", ack_requested=True))
    isa = text.split("~")[0]
    assert isa.endswith("*^*00501*000001234*1*P*>")
    assert "GS*IN*MLCONNECTOR*ACME*20240305*1407*56*X*005010~" in text


def test_partner_separators_newlines_and_group_ids() -> None:
    envelope = replace(ENVELOPE, element_separator="|", component_separator=":", segment_terminator="!",
                       newline=True, group_sender_id="MLC-AR", group_receiver_id="ACME-AP")
    text = render([invoice()], envelope)
    assert text.splitlines()[1] == "GS|IN|MLC-AR|ACME-AP|20240305|1407|56|X|004010!"
    assert parse_text(text).invoices[0].invoice_number == "AR-2024-0001"


def test_ctt_is_optional() -> None:
    text = render([invoice()], replace(ENVELOPE, write_ctt=False))
    assert "CTT" not in text and "SE*19*0007" in text
    assert validate(text) == validate(render([invoice()]))


def test_a_credit_memo_as_big07_cr_with_positive_amounts() -> None:
    text = render([invoice(transaction_type="CR")])
    assert "BIG*20240301*AR-2024-0001*20240201*PO-77***CR~" in text
    assert "TDS*46063~" in text


def test_a_credit_memo_as_negative_amounts() -> None:
    text = render([invoice(transaction_type="CR")], replace(ENVELOPE, credit_memo=CREDIT_AS_NEGATIVE))
    assert "BIG*20240301*AR-2024-0001*20240201*PO-77~" in text
    assert "IT1*1*3*HR*-150**VP*LABOR~" in text and "IT1*2*1.5*EA*20~" in text
    assert "TDS*-46063~" in text and "SAC*C*G830***-1250~" in text and "TXI*ST*-37.13*8.25~" in text
    read = parse_text(text).invoices[0]
    assert read.total_stated == Decimal("-460.63") and read.transaction_type is None


def test_without_a_stated_total_the_recomputed_one_is_written_rounded_to_cents() -> None:
    line = InvoiceLine("1", Decimal("3"), "EA", Decimal("0.333"))
    text = render([invoice(lines=(line,), charges=(), taxes=(), total_stated=None)])
    assert "TDS*100~" in text


def test_trailing_spaces_are_not_written() -> None:
    text = render([invoice(po_number="PO-77   ")])
    assert "*PO-77~" in text


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"invoice_number": "X" * 25}, "BIG02",
     "invoice 'XXXXXXXXXXXXXXXXXXXXXXXXX': BIG02 invoice number 'XXXXXXXXXXXXXXXXXXXXXXXXX' is 25 characters; max 22"),
    ({"invoice_number": "A*B"}, "BIG02", "BIG02 'A*B' contains the delimiter '*'"),
    ({"po_number": "PO~1"}, "BIG04", "contains the delimiter '~'"),
    ({"po_number": "PO>1"}, "BIG04", "contains the delimiter '>'"),
    ({"po_number": "PO\n1"}, "BIG04", "line break"),
    ({"invoice_date": None}, "BIG01", "invoice date is required"),
    ({"invoice_number": ""}, "BIG02", "BIG02 invoice number is required"),
    ({"refs": (Reference("PJ", "P" * 31),)}, "REF02", "max 30"),
    ({"parties": (Party("RE", "N" * 61),)}, "N102", "max 60"),
    ({"parties": (Party("RE"),)}, "N102", "one of N102, N103 is required"),
    ({"parties": (Party("RE", "SELLER", "92"),)}, "N104", "N104 is required with N103"),
    ({"total_stated": Decimal("1.005")}, "TDS01", "more than 2 decimals"),
    ({"charges": (Charge("C", "G830", Decimal("0.001")),)}, "SAC05", "more than 2 decimals"),
    ({"lines": (InvoiceLine("1", Decimal("12345678901"), "EA", Decimal("1")),)}, "IT102", "11 digits; max 10"),
    ({"lines": (InvoiceLine("1", Decimal("1"), "EA", Decimal("1"), description="D" * 81),)}, "PID05", "max 80"),
    ({"lines": (InvoiceLine("1", Decimal("1"), "EACH", Decimal("1")),)}, "IT103", "max 2"),
])
def test_values_that_do_not_fit_are_refused_naming_the_field(changes: dict[str, object], field: str,
                                                            message: str) -> None:
    with pytest.raises(RenderError) as raised:
        render([invoice(**changes)])
    assert raised.value.field == field
    assert message in str(raised.value)


def test_ref02_may_be_50_long_in_5010() -> None:
    text = render([invoice(refs=(Reference("PJ", "P" * 50),))], replace(ENVELOPE, version="005010"))
    assert "REF*PJ*" + "P" * 50 + "~" in text
    with pytest.raises(RenderError, match="max 50"):
        render([invoice(refs=(Reference("PJ", "P" * 51),))], replace(ENVELOPE, version="005010"))


def test_refusal_names_the_line() -> None:
    lines = (invoice().lines[0], InvoiceLine("2", Decimal("1"), "EA", Decimal("1"), description="X" * 90))
    with pytest.raises(RenderError, match=r"invoice 'AR-2024-0001' line 2: PID05"):
        render([invoice(lines=lines)])


@pytest.mark.parametrize(("changes", "field"), [
    ({"sender_id": "S" * 16}, "ISA06"), ({"receiver_qualifier": "ZZZ"}, "ISA07"), ({"usage": "X"}, "ISA15"),
    ({"element_separator": "A"}, "ISA"), ({"segment_terminator": "*"}, "ISA"), ({"sender_id": "S*"}, "ISA06"),
    ({"group_sender_id": "G" * 16}, "GS02"),
])
def test_bad_envelope_settings_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RenderError) as raised:
        render([invoice()], replace(ENVELOPE, **changes))  # type: ignore[arg-type]
    assert raised.value.field == field


@pytest.mark.parametrize("controls", [ControlNumbers(0, 1), ControlNumbers(1, 10**9), ControlNumbers(1, 1, 0)])
def test_control_numbers_out_of_range_are_refused(controls: ControlNumbers) -> None:
    with pytest.raises(RenderError, match="control number"):
        render_interchange([invoice()], ENVELOPE, controls=controls, when=WHEN)
