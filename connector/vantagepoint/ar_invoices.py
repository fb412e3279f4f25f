"""Posted AR invoices as an input stream any flow can declare, and as the JSON a Document keeps.

    register(Flow(name="ar-810", ..., stream=AR_INVOICES))     # its cursor: "ar-810:vantagepoint:ar-invoices"
    invoice = ar_invoice_from_json(document.raw)                # in a step: the ARInvoice back

The stream reads Vantagepoint's AR ledger by PostDate (VantagepointClient.ar_invoices_since):
`>=` the cursor less a 10-minute lookback, so invoices posted in the same millisecond as the
cursor, or committed late with an earlier PostDate, are still seen; each is keyed
invoice:period:postseq (ARInvoice.key), which the engine deduplicates on. The cursor is a
zone-less Vantagepoint date (records.format_datetime), e.g. 2024-06-01T00:00:00.000.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.clients import vantagepoint_client
from connector.failures import DataFailure
from connector.streams import Stream, StreamPage, StreamRecord
from tenants.models import Tenant

from .records import SYSTEM, ARInvoice, ARInvoiceLine, format_datetime, parse_datetime

# Re-read this far behind the cursor: a posting committed late with an earlier PostDate is
# still seen. Every invoice re-read costs one lookup, never a second document.
LOOKBACK = timedelta(minutes=10)


def ar_invoice_to_json(invoice: ARInvoice) -> str:
    """The invoice exactly as the client read it: money as strings, dates as ISO text."""
    return json.dumps(asdict(invoice), default=_json_value, sort_keys=True, indent=1)


def ar_invoice_from_json(text: str) -> ARInvoice:
    """Back from a Document's raw input; a document whose raw input is not one fails as data."""
    try:
        data = json.loads(text)
        lines = tuple(ARInvoiceLine(**{**line, "quantity": Decimal(line["quantity"]),
                                        "unit_price": Decimal(line["unit_price"]), "amount": Decimal(line["amount"])})
                      for line in data.pop("lines"))
        return ARInvoice(**{
            **data, "lines": lines, "invoice_date": date.fromisoformat(data["invoice_date"]),
            "due_date": date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
            "post_date": datetime.fromisoformat(data["post_date"]), "mod_date": datetime.fromisoformat(data["mod_date"]),
        })
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise DataFailure(f"the stored AR invoice cannot be read back ({type(exc).__name__}: {exc})",
                          system=SYSTEM) from exc


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def ar_invoices_read(*, tenant: Tenant, cursor: str, lookback: timedelta) -> StreamPage:
    """One read of posted AR invoices since `cursor` (the stream's reader)."""
    since = parse_datetime(cursor, "cursor") if cursor else None
    with vantagepoint_client(tenant) as vp:
        page = vp.ar_invoices_since(since, field="PostDate", lookback=lookback)
    records = [StreamRecord(
        key=invoice.key, raw=ar_invoice_to_json(invoice),
        source=f"Vantagepoint AR ledger: invoice {invoice.invoice}, period {invoice.period}, "
               f"posting {invoice.post_seq}, posted {invoice.post_date:%Y-%m-%d %H:%M:%S}",
    ) for invoice in page.invoices]
    next_cursor = format_datetime(page.next_cursor) if page.next_cursor is not None else None
    return StreamPage(records=records, next_cursor=next_cursor, complete=page.complete)


AR_INVOICES = Stream(name="vantagepoint:ar-invoices", read=ar_invoices_read, lookback=LOOKBACK)

__all__ = ["AR_INVOICES", "LOOKBACK", "ar_invoice_from_json", "ar_invoice_to_json", "ar_invoices_read"]
