"""What the business calls a document: its reference, client or vendor, partner and amount.

A flow knows where these live in its payloads (the AR invoice, the 810, the voucher); the
engine does not. So each flow gives a `summarize(document) -> DocumentSummary` hook, and the
engine copies the summary onto the Document's own columns whenever a step changes what the
document holds (on receipt, and after every step, failed or not). The list, its filters and
its search then read small indexed columns, never the payloads.

`search_text` gathers, lower-cased, everything people search by: the reference, the names,
the file name, the external key, the source and every short external id, so one trigram
index answers "1002", "harbor" or a Cleo file id alike.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from .flows import get_flow

log = logging.getLogger(__name__)

SUMMARY_FIELDS = ("reference", "counterparty", "partner", "amount", "currency", "search_text")
# External ids longer than this are prose (a 997's outcome), not an id anyone types.
ID_MAX_CHARS = 100
SEARCH_TEXT_MAX = 4000
SEPARATOR = " | "


@dataclass(frozen=True)
class DocumentSummary:
    """The business columns of one document; blank what the flow cannot tell yet."""

    reference: str = ""
    counterparty: str = ""
    partner: str = ""
    amount: Decimal | None = None
    currency: str = ""
    # More words to find the document by (a PO number, a vendor code, a batch name).
    search_terms: tuple[str, ...] = ()


def summary_amount(value: Any) -> Decimal | None:
    """A money value from a payload (a string, a number), or None when it is not one."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() and abs(amount) < Decimal("1e14") else None


def raw_record(document: Any) -> dict[str, Any]:
    """The record a document was received as (its raw JSON: an AR invoice of the stream), or
    {} when the raw input is not a JSON object."""
    try:
        data = json.loads(document.raw) if document.raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def lines_total(lines: Any) -> Decimal | None:
    """The sum of the lines' amounts (those that are money), or None for no lines."""
    amounts = [summary_amount(line.get("amount")) for line in lines or () if isinstance(line, dict)]
    return sum((a for a in amounts if a is not None), Decimal("0.00")) if amounts else None


def external_id_values(value: Any) -> Iterator[str]:
    """Every short scalar in a (nested) external_ids value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from external_id_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from external_id_values(item)
    elif value is not None and not isinstance(value, bool):
        text = str(value).strip()
        if text and len(text) <= ID_MAX_CHARS:
            yield text


def search_text_for(document: Any, summary: DocumentSummary) -> str:
    words: list[str] = []
    for value in (summary.reference, summary.counterparty, summary.partner, document.artifact_name,
                  document.external_key, document.source, *summary.search_terms,
                  *external_id_values(document.external_ids or {})):
        text = str(value or "").strip().lower()
        if text and text not in words:
            words.append(text)
    # "| ds-1002 | harbor supply | … |": values kept apart, so a search word never matches
    # across the end of one value and the start of the next.
    text = SEPARATOR + SEPARATOR.join(words) + SEPARATOR if words else ""
    return text[:SEARCH_TEXT_MAX]


def document_summary(document: Any) -> DocumentSummary:
    """The flow's summary of the document; an empty one when the flow has no hook, is unknown
    or its hook fails (logged): a summary must never stop a document's processing."""
    try:
        flow = get_flow(document.flow)
    except KeyError:
        return DocumentSummary()
    if flow.summarize is None:
        return DocumentSummary()
    try:
        return flow.summarize(document)
    except Exception:  # noqa: BLE001 - the summary is a view of the payload, never a reason to fail
        log.exception("summarize failed for document %s of flow %s", getattr(document, "pk", None), document.flow)
        return DocumentSummary()


def document_summarize(document: Any) -> list[str]:
    """Copy the flow's summary onto the document (not saved); the names of the fields that
    changed, for the caller's save(update_fields=...)."""
    summary = document_summary(document)
    values = {
        "reference": summary.reference[:100], "counterparty": summary.counterparty[:200],
        "partner": summary.partner[:120], "amount": summary.amount, "currency": summary.currency[:3].upper(),
        "search_text": search_text_for(document, summary),
    }
    changed = []
    for name, value in values.items():
        if getattr(document, name) != value:
            setattr(document, name, value)
            changed.append(name)
    return changed


def documents_summarize(queryset: models.QuerySet, *, batch: int = 500, only_missing: bool = True) -> int:
    """Backfill: summarize every document of `queryset` in batches by primary key, each batch
    one bulk update, so a million rows never sit in memory or in one transaction. With
    `only_missing`, rows already summarized (search_text set) are skipped. Returns how many
    rows changed. Works on the historical model of a data migration too."""
    if only_missing:
        queryset = queryset.filter(search_text="")
    model = queryset.model
    changed_total, last_pk = 0, 0
    while True:
        rows = list(queryset.filter(pk__gt=last_pk).order_by("pk")[:batch])
        if not rows:
            return changed_total
        last_pk = rows[-1].pk
        changed = [row for row in rows if document_summarize(row)]
        if changed:
            model.objects.bulk_update(changed, SUMMARY_FIELDS)
            changed_total += len(changed)


def words_of(values: Iterable[Any]) -> tuple[str, ...]:
    """The non-empty values as text, for DocumentSummary.search_terms."""
    return tuple(str(v).strip() for v in values if v is not None and str(v).strip())
