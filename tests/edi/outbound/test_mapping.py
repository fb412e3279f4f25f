"""AR invoice → 810: credit memos in both partner styles, free text made safe, missing
addresses, identifiers X12 cannot carry, lines that must add up. No simulator needed."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from connector.failures import ConfigFailure, DataFailure
from connector.vantagepoint.ar_invoices import ar_invoice_from_json, ar_invoice_to_json
from connector.vantagepoint.records import Address, ARInvoice, ARInvoiceLine, Firm, Project
from edi.models import CreditMemoStyle, TradingPartner, X12Version
from edi.outbound.mapping import ar_invoice_to_810, invoice_810_check
from edi.partners import envelope_for
from edi.x12 import ControlNumbers, Severity, parse_text, render_interchange, validate
from tenants.models import Tenant

D = Decimal


def line(seq=1, description="Schematic Design - labor", quantity="40", unit_price="150.00", amount=None):
    amount = amount if amount is not None else str(D(quantity) * D(unit_price))
    return ARInvoiceLine(seq=seq, wbs1="2023001.00", wbs2="01", wbs3="", account="4010.00", description=description,
                         quantity=D(quantity), unit_price=D(unit_price), amount=D(amount))


def ar_invoice(*lines, number="0000042", due=date(2024, 7, 1)):
    return ARInvoice(invoice=number, period=202406, post_seq=3, invoice_date=date(2024, 6, 1), due_date=due,
                     post_date=datetime(2024, 6, 3, 8, 0, 0, 123000), mod_date=datetime(2024, 6, 3, 8, 0, 0, 123000),
                     project="2023001.00", billing_client_id="C1D2", lines=lines or (line(),))


def client(**address):
    fields = dict(line1="2496 Elm Ave", line2="Suite 189", city="Boston", state="MA", postal_code="02110", country="US")
    fields.update(address)
    return Firm(client_id="C1D2", client_code="C00001", name="Harbor Builders", is_client=True, is_vendor=False,
                vendor_code="", status="A", address=Address(**fields), pay_terms="30", email="", phone="")


PROJECT = Project(wbs1="2023001.00", name="Harbor Office Renovation", client_id="C1D2", billing_client_id="C1D2",
                  status="A", charge_type="R", has_phases=True)


def partner(**options):
    fields = dict(name="Harbor EDI", our_isa_id="MLCONNECTOR", their_isa_id="HARBORAP", our_gs_id="MLCONNECTOR",
                  their_gs_id="HARBORAP", outbound_folder="Outbound")
    fields.update(options)
    return TradingPartner(**fields)


def tenant(**fields):
    values = dict(name="Demo Engineering", slug="demo", legal_name="Demo Engineering LLP", address_line1="1 Main Street",
                  city="Boston", state="MA", postal_code="02110", country="US")
    values.update(fields)
    return Tenant(**values)


def to_810(invoice=None, *, firm=None, the_partner=None, the_tenant=None, project=PROJECT):
    return ar_invoice_to_810(invoice=invoice or ar_invoice(), client=firm or client(), project=project,
                             partner=the_partner or partner(), tenant=the_tenant or tenant())


def render(invoice_810, the_partner):
    text = render_interchange([invoice_810], envelope_for(the_partner), controls=ControlNumbers(7, 8, 9),
                              when=datetime(2024, 6, 3, 9, 30))
    assert [p for p in validate(text) if p.severity in (Severity.ERROR, Severity.WARNING)] == []
    return text


def segments(text, segment_id, terminator="~", separator="*"):
    return [s.split(separator) for s in text.split(terminator) if s.split(separator)[0] == segment_id]


def test_an_invoice_maps_to_the_parties_terms_project_and_lines_the_partner_needs():
    text = render(to_810(ar_invoice(line(1), line(2, "Reimbursable travel", "1", "412.50"))), partner())
    assert segments(text, "BIG")[0][1:3] == ["20240601", "0000042"]
    assert segments(text, "REF") == [["REF", "PJ", "2023001.00", "Harbor Office Renovation"]]
    n1 = segments(text, "N1")
    assert n1 == [["N1", "BT", "Harbor Builders", "91", "C00001"], ["N1", "RE", "Demo Engineering LLP"]]
    assert segments(text, "N3") == [["N3", "2496 Elm Ave", "Suite 189"], ["N3", "1 Main Street"]]
    assert segments(text, "N4")[0] == ["N4", "Boston", "MA", "02110", "US"]
    itd = segments(text, "ITD")[0]
    assert (itd[6], itd[7], itd[12]) == ("20240701", "30", "Net 30 days")
    assert [s[1:5] for s in segments(text, "IT1")] == [["1", "40", "EA", "150"], ["2", "1", "EA", "412.5"]]
    assert [s[5] for s in segments(text, "PID")] == ["Schematic Design - labor", "Reimbursable travel"]
    assert segments(text, "TDS") == [["TDS", "641250"]]  # 6000.00 + 412.50, implied decimals
    assert segments(text, "CTT") == [["CTT", "2"]]


def test_a_credit_memo_goes_as_big07_cr_with_positive_amounts_when_the_partner_says_so():
    credit = ar_invoice(line(1, "Credit for overbilled hours", "-8", "150.00"), line(2, "Travel refund", "1", "-75.25"))
    the_partner = partner(credit_memo_style=CreditMemoStyle.BIG07_CR)
    text = render(to_810(credit, the_partner=the_partner), the_partner)
    assert segments(text, "BIG")[0][7] == "CR"
    assert [s[2:5] for s in segments(text, "IT1")] == [["8", "EA", "150"], ["1", "EA", "75.25"]]
    assert segments(text, "TDS") == [["TDS", "127525"]]
    parsed = parse_text(text).invoices[0]
    assert parsed.is_credit_memo and parsed.total_stated == D("1275.25")


def test_a_credit_memo_goes_as_negative_amounts_without_big07_for_the_other_style():
    credit = ar_invoice(line(1, "Credit for overbilled hours", "-8", "150.00"), line(2, "Travel refund", "1", "-75.25"))
    the_partner = partner(credit_memo_style=CreditMemoStyle.NEGATIVE)
    text = render(to_810(credit, the_partner=the_partner), the_partner)
    big = segments(text, "BIG")[0]
    assert len(big) < 8 or big[7] != "CR"
    assert [s[4] for s in segments(text, "IT1")] == ["-150", "-75.25"]
    assert segments(text, "TDS") == [["TDS", "-127525"]]


def test_an_invoice_with_a_discount_line_keeps_its_sign_and_still_adds_up():
    invoice = ar_invoice(line(1), line(2, "Courtesy discount", "1", "-500.00"))
    text = render(to_810(invoice), partner())
    assert [s[4] for s in segments(text, "IT1")] == ["150", "-500"]
    assert segments(text, "TDS") == [["TDS", "550000"]]


def test_delimiters_in_free_text_become_spaces_and_the_text_is_cut_to_its_element():
    description = "Travel*meals~parking>tolls^misc |\tline\nbreak: Müller façade " + "x" * 100
    the_partner = partner(x12_version=X12Version.V5010)
    text = render(to_810(ar_invoice(line(1, description)), the_partner=the_partner), the_partner)
    pid05 = segments(text, "PID")[0][5]
    assert pid05.startswith("Travel meals parking tolls misc | line break: Muller facade x")
    assert len(pid05) == 80
    for delimiter in "*~>^":
        assert delimiter not in pid05


def test_a_partner_with_other_delimiters_gets_its_own_delimiters_removed():
    the_partner = partner(element_separator="|", segment_terminator="\n", component_separator=":")
    invoice_810 = to_810(ar_invoice(line(1, "Phase 1|2: design * review")), the_partner=the_partner)
    assert invoice_810.lines[0].description == "Phase 1 2 design * review"
    render(invoice_810, the_partner)


def test_a_client_without_an_address_is_a_data_failure_naming_what_is_missing():
    with pytest.raises(DataFailure, match=r"N3/N4 bill-to address: client Harbor Builders has no Address1 or City"):
        to_810(firm=client(line1="", line2="", city=""))


def test_a_client_without_a_second_address_line_or_country_still_maps():
    text = render(to_810(firm=client(line2="", country="")), partner())
    assert segments(text, "N3")[0] == ["N3", "2496 Elm Ave"]
    assert segments(text, "N4")[0] == ["N4", "Boston", "MA", "02110"]


def test_our_own_missing_remit_to_address_is_a_config_failure():
    with pytest.raises(ConfigFailure, match="remit-to address: tenant demo has no address line 1"):
        to_810(the_tenant=tenant(address_line1=""))


def test_a_state_that_is_not_a_code_is_refused_rather_than_cut():
    with pytest.raises(DataFailure, match="N402 bill-to state 'Massachusetts'"):
        to_810(firm=client(state="Massachusetts"))


def test_an_invoice_number_longer_than_big02_allows_is_refused_naming_the_element():
    with pytest.raises(DataFailure, match="BIG02 invoice number 'INV-2024-0000000000000042' is 25 characters"):
        to_810(ar_invoice(number="INV-2024-0000000000000042"))


def test_a_project_number_holding_a_delimiter_is_refused_not_altered():
    invoice = replace(ar_invoice(), project="2023*001")
    with pytest.raises(DataFailure, match=r"REF02 project number \(PJ\) '2023\*001' contains '\*'"):
        to_810(invoice)


def test_no_project_reference_when_the_partner_wants_none():
    text = render(to_810(the_partner=partner(project_ref_qualifier="")), partner(project_ref_qualifier=""))
    assert segments(text, "REF") == []


def test_a_line_whose_quantity_and_rate_do_not_make_its_amount_goes_as_one_unit_at_its_amount():
    invoice = ar_invoice(line(1, "Fixed fee", "0", "0", amount="2500.00"), line(2, "Rounded", "3", "33.333", "100.00"))
    text = render(to_810(invoice), partner())
    assert [s[2:5] for s in segments(text, "IT1")] == [["1", "EA", "2500"], ["1", "EA", "100"]]
    assert segments(text, "TDS") == [["TDS", "260000"]]


def test_without_terms_or_due_date_no_itd_is_made_up():
    firm = replace(client(), pay_terms="")
    text = render(to_810(ar_invoice(due=None), firm=firm), partner())
    assert segments(text, "ITD") == []


def test_net_days_alone_give_the_due_date():
    text = render(to_810(ar_invoice(due=None)), partner())
    assert segments(text, "ITD")[0][6:8] == ["20240701", "30"]


def test_the_check_refuses_what_the_renderer_cannot_write_naming_the_element():
    invoice_810 = to_810()
    invoice_810.lines[0].unit = "E"  # one letter: IT103 is two
    with pytest.raises(DataFailure, match="IT103"):
        invoice_810_check(invoice=invoice_810, partner=partner())


def test_the_invoice_json_reads_back_exactly():
    invoice = ar_invoice(line(1), line(2, "Travel", "1", "412.50"))
    assert ar_invoice_from_json(ar_invoice_to_json(invoice)) == invoice
    with pytest.raises(DataFailure, match="cannot be read back"):
        ar_invoice_from_json('{"invoice": "1"}')
