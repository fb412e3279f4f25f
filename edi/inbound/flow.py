"""The 810-ap flow: one supplier invoice from a Cleo file becomes one posted AP voucher.

Steps, each resumable on its own (replay starts at the one that failed):
- resolve: vendor, project/phase/task and GL accounts (resolve.py), each checked in
  Vantagepoint; what is missing parks the document in needs_mapping, naming every item, and
  the document page links to a pre-filled override form for each. Saves `mapped["voucher"]`.
- check_duplicate: Vantagepoint already holds an AP invoice with this vendor and number, from
  another batch than ours: the document ends duplicate, nothing posted. Our own batch found
  there means an earlier try posted and its end was lost: the post step records it.
- post: an effect (connector/effects.py) declared with the batch name as its key and the
  posting period as its intent, both fixed at the first try; after a crash between posting
  and our commit the retry looks in the ledger for the batch before posting, so it is never
  posted twice. Saves voucher, posting sequence, period and batch in
  `external_ids["vantagepoint"]`.

Its documents are created by the Cleo inbox (edi/inbox.py), which queues each for a worker;
the flow's own cycle is a sweep that hands out any document a dead worker left waiting.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from connector.clients import vantagepoint_client
from connector.failures import ConfigFailure, DataFailure, MappingMissing
from connector.flows import Flow, Step, register
from connector.models import Document, DocumentState, EffectState
from connector.pipeline import StepContext
from connector.vantagepoint import PostingResult
from connector.vantagepoint.postings import ap_batch_payload

from ..models import MappingKind, TradingPartner
from ..x12 import X12Error, invoice_from_dict
from . import AP_810
from .resolve import RecordCheck, invoice_resolve, mapping_fingerprint
from .summary import ap_810_related, ap_810_summarize
from .voucher import ap_posting_period, voucher_batch, voucher_batch_name, voucher_from_invoice, voucher_total

SYSTEM = AP_810
KIND_WORDS = {MappingKind.VENDOR: "vendor", MappingKind.PROJECT: "project", MappingKind.ACCOUNT: "GL account",
              MappingKind.UNIT: "unit"}


def _resolve(ctx: StepContext) -> None:
    document = ctx.document
    mapped = dict(document.mapped)
    partner = TradingPartner.objects.filter(pk=mapped.get("partner_id"), tenant=ctx.tenant).first()
    if partner is None:
        raise ConfigFailure(f"trading partner {mapped.get('partner', '?')} no longer exists: "
                            "restore it before replaying", system=SYSTEM)
    try:
        invoice = invoice_from_dict(mapped["invoice"])
    except (KeyError, X12Error) as exc:
        raise DataFailure(f"the stored invoice cannot be read back: {exc}", system=SYSTEM) from exc
    if invoice.invoice_date is None or not invoice.lines:
        raise DataFailure(f"invoice {invoice.invoice_number} has no invoice date (BIG01) or no IT1 lines: "
                          "nothing to voucher", system=SYSTEM)
    with vantagepoint_client(ctx.tenant) as vp:
        resolution = invoice_resolve(check=RecordCheck(vp), tenant=ctx.tenant, partner=partner, invoice=invoice,
                                     sender=mapped["sender"], sender_is_partner=mapped.get("sender_is_partner", False))
    mapped.pop("voucher", None)
    mapped.pop("missing", None)
    mapped["mapping_fingerprint"] = resolution.fingerprint
    if resolution.missing:
        mapped["missing"] = [item.as_dict() for item in resolution.missing]
        document.mapped = mapped  # saved with the needs_mapping transition: the page's links read it
        raise MappingMissing("; ".join(item.message for item in resolution.missing))
    mapped["voucher"] = voucher_from_invoice(invoice=invoice, resolution=resolution)
    document.mapped = mapped


def _check_duplicate(ctx: StepContext) -> None:
    document = ctx.document
    voucher = document.mapped["voucher"]
    with vantagepoint_client(ctx.tenant) as vp:
        existing = vp.ap_invoice(voucher["vendor"], voucher["invoice"])
    if existing is None or existing.batch.lower() == voucher_batch_name(document).lower():
        return
    document.external_ids = {**document.external_ids, "duplicate_of": {
        "voucher": existing.voucher, "batch": existing.batch, "period": existing.period,
        "post_seq": existing.post_seq, "total": str(existing.total)}}
    reason = (f"vendor {voucher['vendor']} already has invoice {voucher['invoice']} in Vantagepoint "
              f"(voucher {existing.voucher or '?'}, batch {existing.batch}, period {existing.period}): not posted again")
    if existing.total != voucher_total(voucher):
        reason += f"; its total {existing.total} differs from this one's {voucher_total(voucher)}: ask the supplier"
    ctx.finish(DocumentState.DUPLICATE, reason)


def _post(ctx: StepContext) -> None:
    document = ctx.document
    posting = ctx.effect_declare("post", key=voucher_batch_name(document),
                                 intent={"period": ap_posting_period(tenant=ctx.tenant)})
    batch = voucher_batch(document, name=posting.key, period=posting.intent["period"])
    with vantagepoint_client(ctx.tenant) as vp:
        payload = ap_batch_payload(batch, liability_code=vp.connection.liability_code,
                                   bank_code=vp.connection.bank_code)
        document.artifact = json.dumps(payload, indent=2, default=str)  # the request, as it is sent
        document.artifact_name = batch.name
        posted = ctx.effect("post", do=lambda key: _posting(vp.post_ap_voucher_batch(batch)),
                            look=lambda: _posting(vp.ap_voucher_batch_posted(batch.name)))
    document.external_ids = {**document.external_ids, "vantagepoint": posted}


def _posting(result: PostingResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"batch": result.batch, "period": result.period, "post_seq": result.post_seqs[0] if result.post_seqs else None,
            "voucher": result.vouchers[0] if result.vouchers else "", "already_posted": result.already_posted}


REFUSED_POST = ("data", "config")


def ap_810_resume_at(document: Document) -> tuple[str, str] | None:
    """A replay (or retry) of a document resolved earlier goes back to resolve when what it was
    resolved from no longer holds: the tenant's overrides or the partner's defaults changed
    since, or Vantagepoint refused the post (an inactive vendor, a closed project: resolve
    checks those and names what to map). Only while the post is proved not made (no effect,
    or one Vantagepoint refused): a post that may have happened is looked for, never redone
    from another mapping. The batch name and period stay those fixed at the first try."""
    if document.step not in ("check_duplicate", "post"):
        return None
    posting = document.effects.filter(step="post", name="post").first()
    if posting is not None and posting.state != EffectState.INTENDED:
        return None
    mapped = document.mapped
    partner = TradingPartner.objects.filter(pk=mapped.get("partner_id"), tenant_id=document.tenant_id).first()
    if partner is None:
        return None  # resolve would say so too; the post step names it
    if mapped.get("mapping_fingerprint") != mapping_fingerprint(tenant=document.tenant, partner=partner):
        return "resolve", "the mappings changed since it was resolved"
    if document.step == "post" and document.failure_kind in REFUSED_POST:
        return "resolve", "Vantagepoint refused the post: resolving again checks every record it names"
    return None


def inbound_document_links(document: Document) -> list[tuple[str, str]]:
    """A pre-filled override form for each missing item, and the file the invoice came in."""
    links: list[tuple[str, str]] = []
    try:
        add_url = reverse("admin:edi_mappingoverride_add")
        file_url = reverse("admin:edi_inboundfile_change", args=[document.mapped["inbound_file_id"]]) \
            if document.mapped.get("inbound_file_id") else ""
    except NoReverseMatch:
        return links
    if document.state == DocumentState.NEEDS_MAPPING:
        for item in document.mapped.get("missing", []):
            query = urlencode({"tenant": document.tenant_id, "kind": item["kind"],
                               "source_value": item["source_value"], "note": f"for {document.external_key}"[:200]})
            what = KIND_WORDS.get(item["kind"], item["kind"])
            label = f"Create the {what} mapping for {item['source_value']}" if item["source_value"] else \
                f"Create a {what} mapping ({item['message']})"
            links.append((label, f"{add_url}?{query}"))
    if file_url:
        links.append((f"The file it came in: {document.mapped.get('file', '')}", file_url))
    return links


INBOUND_810_FLOW = register(Flow(
    name=AP_810, label="810 to AP invoice (EDI inbound)",
    steps=(Step("resolve", _resolve, DocumentState.MAPPED),
           Step("check_duplicate", _check_duplicate, DocumentState.MAPPED),
           Step("post", _post, DocumentState.POSTED)),
    sweep=True,
    needs=("vantagepointconnection", "cleoconnection"),
    description="Supplier invoices taken in from the partners' Cleo folders (by the Cleo inbox) become posted "
                "Vantagepoint AP vouchers.",
    document_links=inbound_document_links,
    summarize=ap_810_summarize, related_records=ap_810_related, resume_at=ap_810_resume_at,
))
