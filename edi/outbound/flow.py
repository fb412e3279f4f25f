"""The ar-810 flow: a posted AR invoice goes out as an 810 file in its partner's Cleo folder.

Steps, each resumable on its own (a replay starts at the one that failed):

- map: find the trading partner that bills the client (none: needs_mapping, naming the
  client), read the client firm and the project, build the 810 and check that X12 can carry
  it. Persists `mapped` (partner, client, the invoice as the 810 model).
- render: allocate ISA13/GS06/ST02 once (kept in external_ids, so a replay reuses them and
  a 997 finds the document), render, validate with edi.x12, and save the text and a file
  name no other upload will have, all before anything leaves.
- upload: put the file in the partner's outbound folder. A marker saved before the first
  try makes every later try (a retry, a replay, a worker that died after the upload and
  before the commit) look in the folder for that name first, so the partner gets one file.
  Persists the Cleo file id; the document is sent.
"""
from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from connector.failures import ConfigFailure, DataFailure, MappingMissing
from connector.flows import Flow, Step, register
from connector.models import Document, DocumentState
from connector.pipeline import StepContext

from ..cleo import unique_upload_name
from ..clients import cleo_client, vantagepoint_client
from ..display import x12_segment_lines
from ..models import TradingPartner
from ..partners import control_numbers_allocate, envelope_for, partner_for_client
from ..x12 import ControlNumbers, RenderError, Severity, invoice_from_dict, invoice_to_dict, render_interchange, validate
from . import AR_810
from .mapping import SYSTEM, ar_invoice_from_json, ar_invoice_to_810, invoice_810_check
from .poll import ar_810_poll
from .summary import ar_810_related, ar_810_summarize

UPLOAD_ENCODING = "ascii"  # the mapping folds free text to ASCII; identifiers are refused otherwise


def ar_invoice_map(ctx: StepContext) -> None:
    document = ctx.document
    invoice = ar_invoice_from_json(document.raw)
    client_id = invoice.billing_client_id
    if not client_id:
        raise DataFailure(f"invoice {invoice.invoice} has no billing client", system=SYSTEM)
    with vantagepoint_client(ctx.tenant) as vp:
        client = vp.firm(client_id)
        if client is None:
            raise DataFailure(f"billing client {client_id} of invoice {invoice.invoice} is not in Vantagepoint",
                              system="vantagepoint")
        document.mapped = {"client": {"client_id": client.client_id, "code": client.client_code, "name": client.name}}
        partner = partner_for_client(tenant=ctx.tenant, client_id=client_id)
        if partner is None and client.client_code:
            partner = partner_for_client(tenant=ctx.tenant, client_id=client.client_code)
        if partner is None:
            raise MappingMissing(
                f"client {client.name or client_id} ({client.client_code or client_id}) has no trading partner: "
                f"add ClientID {client_id} to a trading partner's client firms, then replay", system=SYSTEM)
        project = vp.project(invoice.project) if invoice.project else None
    invoice_810 = ar_invoice_to_810(invoice=invoice, client=client, project=project, partner=partner,
                                    tenant=ctx.tenant)
    invoice_810_check(invoice=invoice_810, partner=partner)
    document.mapped = {**document.mapped, "partner": {"id": partner.pk, "name": partner.name},
                       "project": {"wbs1": invoice.project, "name": project.name if project else ""},
                       "invoice": invoice_to_dict(invoice_810)}


def ar_invoice_render(ctx: StepContext) -> None:
    document = ctx.document
    partner = _partner_of(document)
    ids = dict(document.external_ids)
    if ids.get("partner_id") != partner.pk or "isa13" not in ids:
        # Handed out once and kept: a replay renders the same numbers, so a number is never
        # used for two files and the partner's 997 always finds this document.
        allocated = control_numbers_allocate(partner=partner, sets=1)
        ids.update(partner_id=partner.pk, isa13=allocated.interchange, gs06=allocated.group,
                   st02=allocated.sets[0], rendered_at=timezone.now().isoformat())
        document.external_ids = ids
        ctx.save("external_ids")
    invoice = invoice_from_dict(document.mapped["invoice"])
    when = datetime.fromisoformat(ids["rendered_at"]).astimezone(zoneinfo.ZoneInfo(ctx.tenant.time_zone or "UTC"))
    try:
        text = render_interchange([invoice], envelope_for(partner), when=when,
                                  controls=ControlNumbers(ids["isa13"], ids["gs06"], ids["st02"]))
    except RenderError as exc:  # a partner setting changed since the map step checked it
        raise DataFailure(f"{exc.field}: {exc}", system=SYSTEM) from exc
    errors = [problem for problem in validate(text) if problem.severity is Severity.ERROR]
    if errors:
        raise DataFailure("the rendered 810 does not validate: " + "; ".join(str(p) for p in errors[:5]),
                          system=SYSTEM)
    document.artifact = text
    if not document.artifact_name:
        document.artifact_name = unique_upload_name(partner.their_isa_id, f"810-{document.external_key}",
                                                    timezone.now())
    ctx.save("artifact", "artifact_name", "external_ids")


def ar_invoice_upload(ctx: StepContext) -> None:
    document = ctx.document
    partner = _partner_of(document)
    if not document.artifact or not document.artifact_name:
        raise DataFailure("nothing rendered to upload: replay from the render step", system=SYSTEM)
    looked_before = bool(document.external_ids.get("upload_started_at"))
    if not looked_before:
        # Saved before the first try: whatever happens after it, the next try looks first.
        document.external_ids = {**document.external_ids, "upload_started_at": timezone.now().isoformat()}
        ctx.save("external_ids")
    with cleo_client(ctx.tenant) as cleo:
        folder = cleo.folder_named(partner.outbound_folder)
        result = cleo.upload_file(folder, document.artifact_name, document.artifact.encode(UPLOAD_ENCODING),
                                  check_first=looked_before)
    # A 997 may have been applied while we uploaded (it keeps its answer in external_ids).
    stored = Document.objects.filter(pk=document.pk).values_list("external_ids", flat=True).first() or {}
    ack = stored.get("ack")
    document.external_ids = {**document.external_ids, **({"ack": ack} if ack else {}),
                             "cleo_file_id": result.file.id, "cleo_folder": folder.name,
                             "found_in_folder": result.found_existing}
    if ack and ack.get("state") in (DocumentState.ACKNOWLEDGED, DocumentState.REJECTED):
        ctx.finish(ack["state"], f"{ack.get('source', '997')}: {ack.get('outcome', '')}")


def _partner_of(document: Document) -> TradingPartner:
    partner_id = (document.mapped.get("partner") or {}).get("id")
    partner = TradingPartner.objects.filter(pk=partner_id, tenant=document.tenant).first() if partner_id else None
    if partner is None:
        raise ConfigFailure("the trading partner this invoice was mapped to no longer exists: replay from map",
                            system=SYSTEM)
    return partner


def ar_810_show(document: Document) -> str:
    """The 810 one segment per line, as people read X12."""
    return x12_segment_lines(document.artifact)


def ar_810_links(document: Document) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if document.state == DocumentState.NEEDS_MAPPING:
        client = (document.mapped.get("client") or {})
        label = f"Add client {client.get('name') or client.get('client_id', '')} to a trading partner, then replay"
        links.append((label.replace("  ", " "), reverse("admin:edi_tradingpartner_changelist")))
    partner = document.mapped.get("partner") or {}
    if partner.get("id"):
        links.append((f"Trading partner {partner.get('name', '')}",
                      reverse("admin:edi_tradingpartner_change", args=[partner["id"]])))
    return links


AR_810_FLOW = register(Flow(
    name=AR_810,
    label="AR invoice to 810 (Cleo)",
    steps=(
        Step("map", ar_invoice_map, DocumentState.MAPPED),
        Step("render", ar_invoice_render, DocumentState.MAPPED),
        Step("upload", ar_invoice_upload, DocumentState.SENT),
    ),
    poll=ar_810_poll,
    needs=("vantagepointconnection", "cleoconnection"),
    description="Posted Vantagepoint AR invoices of clients billed through a trading partner, as X12 810 files "
                "in the partner's Cleo folder",
    show_artifact=ar_810_show,
    document_links=ar_810_links,
    summarize=ar_810_summarize, related_records=ar_810_related,
))
