"""Supplier files for the demo's simulated Cleo inbound folder.

They name what the Vantagepoint simulator seeds at any size: vendor V90001, project
2023001.00 (no phases), GL account 5010.00. The demo's trading partner should match
`DEMO_PARTNER` (sender ZZ:DEMOSUPPLY, default account 5010.00). Three invoices in two files:

- DEMOSUPPLY_810_1001.edi: DS-1001, PO 2023001.00 (a project number), vendor code V90001 in
  N1*VN: posts as it is;
- DEMOSUPPLY_810_1002.edi: DS-1002 for PO 7731, which Vantagepoint does not know: parks in
  needs_mapping ("no project for PO 7731") until a project override (7731 → 2023001.00) is
  saved from the document page and the document replayed; and DS-1003, which posts.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from ..x12 import ControlNumbers, EnvelopeSettings, Invoice810, InvoiceLine, Party, ProductId, render_interchange

DEMO_SENDER_QUALIFIER = "ZZ"
DEMO_SENDER_ID = "DEMOSUPPLY"
# TradingPartner fields the demo files assume (the folders are the Cleo simulator's).
DEMO_PARTNER = {
    "name": "Demo Supply Co", "their_isa_qualifier": DEMO_SENDER_QUALIFIER, "their_isa_id": DEMO_SENDER_ID,
    "their_gs_id": DEMO_SENDER_ID, "our_isa_id": "MLCONNECTOR", "our_gs_id": "MLCONNECTOR",
    "inbound_folder": "Inbound", "outbound_folder": "Outbound", "after_pickup": "move",
    "archive_folder": "Inbound Processed", "default_account": "5010.00",
}


def supplier_invoice(number: str, *, po: str | None, vendor_code: str = "V90001", on: date = date(2024, 6, 10),
                     lines: tuple[tuple[str, str, str, str], ...] = (("4", "EA", "125.00", "Site survey kit"),),
                     ) -> Invoice810:
    """An invoice as a supplier would send it: lines are (quantity, unit, unit price, description)."""
    return Invoice810(
        invoice_number=number, invoice_date=on, po_number=po,
        parties=(Party("VN", name="Harbor Supply", id_qualifier="92", id=vendor_code),),
        lines=tuple(InvoiceLine(line_id=str(n), quantity=Decimal(q), unit=unit, unit_price=Decimal(price),
                                product_ids=(ProductId("VP", f"{number}-{n}"),), description=text)
                    for n, (q, unit, price, text) in enumerate(lines, start=1)),
    )


def supplier_interchange(invoices: list[Invoice810], *, interchange: int, sender_id: str = DEMO_SENDER_ID,
                         sender_qualifier: str = DEMO_SENDER_QUALIFIER, receiver_id: str = "MLCONNECTOR") -> bytes:
    """One interchange (ISA13 = GS06 = `interchange`) from the supplier to us."""
    envelope = EnvelopeSettings(sender_id=sender_id, sender_qualifier=sender_qualifier, receiver_id=receiver_id,
                                group_sender_id=sender_id, group_receiver_id=receiver_id, newline=True)
    text = render_interchange(invoices, envelope, controls=ControlNumbers(interchange, interchange, 1),
                              when=datetime(2024, 6, 10, 9, 30))
    return text.encode()


def inbound_demo_files() -> list[tuple[str, bytes]]:
    return [
        ("DEMOSUPPLY_810_1001.edi", supplier_interchange(
            [supplier_invoice("DS-1001", po="2023001.00")], interchange=1001)),
        ("DEMOSUPPLY_810_1002.edi", supplier_interchange(
            [supplier_invoice("DS-1002", po="7731", lines=(("1", "LO", "980.00", "Drilling subcontract"),)),
             supplier_invoice("DS-1003", po="2023001.00", lines=(("2", "HR", "95.00", "Traffic control"),))],
            interchange=1002)),
    ]
