"""Invoices to JSON and back: exact, strict about what comes in."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from edi.x12 import ControlNumbers, InvoiceDataError, envelope_from_dict, invoice_from_dict, invoice_to_dict, parse_file

from .helpers import SAMPLES, sample_paths


@pytest.mark.parametrize("path", sample_paths(), ids=lambda p: p.name)
def test_every_sample_invoice_goes_through_json_unchanged(path: object) -> None:
    for invoice in parse_file(path).invoices:  # type: ignore[arg-type]
        data = json.loads(json.dumps(invoice_to_dict(invoice)))
        assert invoice_from_dict(data) == invoice


def test_money_travels_as_strings_and_derived_values_are_shown() -> None:
    invoice = parse_file(SAMPLES / "05_edinet_810c_ariba_hdr.edi").invoices[0]
    data = invoice_to_dict(invoice)
    assert (data["total_stated"], data["total_computed"], data["charges"][0]["amount"]) == ("411.92", "370.73", "41.19")
    assert data["source"]["interchange_control"] == "000000001"


def test_a_float_is_never_money() -> None:
    with pytest.raises(InvoiceDataError, match="not a float"):
        invoice_from_dict({"invoice_number": "1", "invoice_date": "2024-01-01", "total_stated": 0.1})
    exact = invoice_from_dict({"invoice_number": "1", "invoice_date": "2024-01-01", "total_stated": Decimal("0.1")})
    assert exact.total_stated == Decimal("0.1")


@pytest.mark.parametrize(("data", "message"), [
    ({"invoice_number": 1, "invoice_date": "2024-01-01"}, "invoice.invoice_number: must be a string, not int"),
    ({"invoice_number": "1", "invoice_date": "2024-01-01", "lines": [{"quantity": "x"}]},
     "invoice.lines[0].quantity: 'x' is not a decimal number"),
    ({"invoice_number": "1", "invoice_date": "2024-01-01", "lines": {}}, "invoice.lines: must be a list"),
    ({"invoice_number": "1", "invoice_date": "2024-01-01", "parties": [{"name": "X"}]},
     "invoice.parties[0].role: is required"),
    ({"invoice_number": "1", "invoice_date": "2024-01-01", "total_stated": "Infinity"}, "not a finite number"),
    ({"invoice_number": "1", "invoice_date": "2024-01-01", "terms": [{"net_days": "30"}]}, "must be a whole number"),
    ("not an object", "must be an object"),
])
def test_bad_invoice_data_names_the_path(data: object, message: str) -> None:
    with pytest.raises(InvoiceDataError) as raised:
        invoice_from_dict(data)
    assert message in str(raised.value)


def test_envelope_settings_with_control_numbers_and_date() -> None:
    settings, controls, when = envelope_from_dict({"sender_id": "ME", "receiver_id": "YOU", "usage": "P",
                                                   "interchange_control": 9, "group_control": 8, "date": "2024-01-02T03:04"})
    assert (settings.sender_id, settings.usage, controls, when) == ("ME", "P", ControlNumbers(9, 8, 1),
                                                                    datetime(2024, 1, 2, 3, 4))
    with pytest.raises(InvoiceDataError, match="interchange_control"):
        envelope_from_dict({"sender_id": "ME", "receiver_id": "YOU", "interchange_control": "9"})
