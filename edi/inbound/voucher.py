"""The AP voucher an invoice becomes, and the batch that carries it into Vantagepoint.

The voucher is built from the lines, not from TDS: real partners copy TDS from the previous
invoice or drop its implied decimals, so the recomputed total is the one that adds up (the
reader's warning travels with the document). Each IT1 line is one voucher line; whatever the
charges, allowances and taxes add on top is one more line on the first line's account. A
credit memo (BIG07 CR, amounts positive in the file) posts negative.

The batch name and the posting period are fixed once per document, before the first try: the
post step declares its effect with the batch name as key and the period as intent
(connector/effects.py), so every retry and replay posts the same batch into the same period,
and Vantagepoint's ledger can tell us it already happened (see
connector.vantagepoint.postings) instead of our posting twice.

Descriptions are the partner's free text, and reach Vantagepoint's screens, reports and
exports: characters that print nothing there (control and invisible format characters,
unassigned code points) are folded before posting, and `voucher["notes"]` says which.
"""
from __future__ import annotations

import unicodedata
import zoneinfo
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from connector.models import Document
from connector.vantagepoint import APVoucher, APVoucherBatch, APVoucherLine, batch_name
from tenants.models import Tenant

from ..x12 import Invoice810, InvoiceLine
from .resolve import Resolution

BATCH_PREFIX = "EDIAP"
CHARGES_DESCRIPTION = "Charges, allowances and taxes"
DESCRIPTION_MAX = 80
PO_NUMBER_MAX = 30
CENT = Decimal("0.01")


def voucher_from_invoice(*, invoice: Invoice810, resolution: Resolution) -> dict[str, Any]:
    """The voucher as JSON for `mapped["voucher"]`: what will be posted, readable in the admin."""
    sign = Decimal(-1) if invoice.is_credit_memo else Decimal(1)
    place = {"wbs1": resolution.wbs1, "wbs2": resolution.wbs2, "wbs3": resolution.wbs3,
             "po_number": (invoice.po_number or "")[:PO_NUMBER_MAX]}
    lines, notes = [], []
    for number, (line, (account, _)) in enumerate(zip(invoice.lines, resolution.accounts, strict=True), start=1):
        description, folded = _describe(line)
        if folded:
            notes.append(f"line {number} description: {folded}")
        lines.append({**place, "account": account, "amount": str(sign * line.amount), "description": description})
    extra = invoice.total_computed - invoice.lines_total
    if extra and lines:
        lines.append({**place, "account": lines[0]["account"], "amount": str(sign * extra),
                      "description": CHARGES_DESCRIPTION})
    return {
        "vendor": resolution.vendor, "invoice": invoice.invoice_number,
        "invoice_date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "total": str(sign * invoice.total_computed), "lines": lines,
        "rules": {"vendor": resolution.vendor_rule, "project": resolution.project_rule,
                  "accounts": sorted({rule for _, rule in resolution.accounts if rule})},
        "notes": notes,
    }


def voucher_total(voucher: dict[str, Any]) -> Decimal:
    """What the voucher posts, to the cent, as Vantagepoint will hold it."""
    return sum((Decimal(line["amount"]).quantize(CENT) for line in voucher["lines"]), Decimal("0.00"))


def voucher_batch_name(document: Document) -> str:
    """Stable per document: derived from what identifies it, never from the time of the try."""
    return batch_name(BATCH_PREFIX, f"{document.tenant_id}:{document.flow}:{document.external_key}")


def ap_posting_period(*, tenant: Tenant, today: date | None = None) -> int:
    """Vouchers go into the current accounting period: this month, in the tenant's time zone."""
    today = today or timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone or "UTC")).date()
    return today.year * 100 + today.month


def voucher_batch(document: Document, *, name: str, period: int) -> APVoucherBatch:
    """The batch of `mapped["voucher"]` under the name and period fixed when the post was declared."""
    voucher = document.mapped["voucher"]
    invoice_date = date.fromisoformat(voucher["invoice_date"])
    due_date = date.fromisoformat(voucher["due_date"]) if voucher.get("due_date") else None
    lines = tuple(APVoucherLine(wbs1=line["wbs1"], wbs2=line["wbs2"], wbs3=line["wbs3"], account=line["account"],
                                amount=Decimal(line["amount"]), description=line["description"],
                                po_number=line["po_number"]) for line in voucher["lines"])
    entry = APVoucher(vendor=voucher["vendor"], invoice=voucher["invoice"], invoice_date=invoice_date, lines=lines,
                      pay_date=due_date if due_date and due_date >= invoice_date else None)
    return APVoucherBatch(name=name, period=int(period), vouchers=(entry,),
                          description=vantagepoint_text(f"EDI 810 {voucher['invoice']}")[0][:60])


def _describe(line: InvoiceLine) -> tuple[str, str]:
    """The line's description for Vantagepoint, and what was folded in it ("" when nothing)."""
    text = (line.description or "").strip() or ", ".join(f"{p.qualifier} {p.value}" for p in line.product_ids)
    text, folded = vantagepoint_text(text)
    return (text or "Invoice line")[:DESCRIPTION_MAX], folded


_WINDOWS_1252_AS_CONTROL = {chr(byte): bytes([byte]).decode("cp1252") for byte in range(0x80, 0xA0)
                            if byte not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
"""Control characters U+0080-U+009F that are Windows-1252 characters read as Latin-1 upstream
(0x93 and 0x94 are curly quotes): folded back to what the partner typed."""


def vantagepoint_text(text: str) -> tuple[str, str]:
    """Free text as Vantagepoint should get it, and a note on what was folded ("" when nothing).

    Letters, digits, punctuation and symbols of any script pass (Vantagepoint stores Unicode);
    control characters that are Windows-1252 read as Latin-1 become what they stood for; every
    other character that prints nothing (controls, invisible format characters such as
    zero-width spaces or direction marks, unassigned or private code points, other line
    breaks and spaces) becomes one space, and runs of spaces one.
    """
    text = unicodedata.normalize("NFC", text)
    if text.isprintable():
        return text, ""
    kept, restored, blanked = [], [], []
    for char in text:
        if char.isprintable():
            kept.append(char)
        elif char in _WINDOWS_1252_AS_CONTROL:
            kept.append(_WINDOWS_1252_AS_CONTROL[char])
            restored.append(f"U+{ord(char):04X} as {_WINDOWS_1252_AS_CONTROL[char]}")
        else:
            kept.append(" ")
            if not char.isspace() or char in "\x0b\x0c\x1c\x1d\x1e\x1f\u2028\u2029":  # not tab, CR, LF, NBSP
                blanked.append(f"U+{ord(char):04X}")
    folded = " ".join("".join(kept).split())
    parts = []
    if restored:
        parts.append(f"read {', '.join(sorted(set(restored)))} (Windows-1252 sent as control characters)")
    if blanked:
        parts.append(f"replaced {', '.join(sorted(set(blanked)))} by spaces (characters Vantagepoint should not get)")
    return folded, "; ".join(parts)
