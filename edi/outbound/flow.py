"""The ar-810 flow: a posted AR invoice goes out as an 810 file in its partner's Cleo folder.

Steps, each resumable on its own (a replay starts at the one that failed):

- map: find the trading partner that bills the client (none: needs_mapping, naming the
  client), read the client firm and the project, build the 810 and check that X12 can carry
  it. Persists `mapped` (partner, client, the invoice as the 810 model).
- render: allocate ISA13/GS06/ST02 once (indexed in OutboundControl, so a replay reuses them
  and a 997 finds the document by index), render, validate with edi.x12, and name the file
  so no other upload will have its name.
- upload: an effect (connector/effects.py) whose key is the file name: after a crash or a
  lost answer, the next try (a retry, a replay, a worker that died after the upload and
  before the commit) looks in the folder for that name first, so the partner gets one file.
  Persists the Cleo file id; the document is sent.

Its input is the AR invoice stream (connector.vantagepoint.ar_invoices), read since the
flow's own cursor "ar-810:vantagepoint:ar-invoices"; the engine makes one document per
invoice and hands each to a worker. The partners' 997s come in through the Cleo inbox
(edi/inbox.py), which hands them to acks.py.
"""
from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from connector.clients import vantagepoint_client
from connector.failures import ConfigFailure, DataFailure, MappingMissing
from connector.flows import Flow, Step, register
from connector.models import Document, DocumentState
from connector.pipeline import StepContext
from connector.vantagepoint.ar_invoices import AR_INVOICES, ar_invoice_from_json

from ..cleo import unique_upload_name
from ..clients import cleo_client
from ..display import x12_one_segment_per_line
from ..models import OutboundControl, TradingPartner
from ..partners import control_numbers_allocate, envelope_for, partner_for_client
from ..uploads import upload_once
from ..x12 import ControlNumbers, RenderError, Severity, invoice_from_dict, invoice_to_dict, render_interchange, validate
from . import AR_810
from .changes import ar_invoice_changes_poll
from .corrected import SEND_CORRECTED
from .held import SEND_ANYWAY, same_number_check
from .mapping import SYSTEM, ar_invoice_to_810, invoice_810_check
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
    ctx.memo["partner"] = partner
    document.mapped = {**document.mapped, "partner": {"id": partner.pk, "name": partner.name},
                       "project": {"wbs1": invoice.project, "name": project.name if project else ""},
                       "invoice": invoice_to_dict(invoice_810)}


def ar_invoice_render(ctx: StepContext) -> None:
    document = ctx.document
    partner = _partner_of(ctx)
    control = _control_numbers(document, partner)
    document.external_ids = {**document.external_ids, "partner_id": partner.pk, "isa13": control.interchange,
                             "gs06": control.group, "st02": control.set_control,
                             "rendered_at": control.allocated_at.isoformat()}
    invoice = invoice_from_dict(document.mapped["invoice"])
    when = control.allocated_at.astimezone(zoneinfo.ZoneInfo(ctx.tenant.time_zone or "UTC"))
    try:
        text = render_interchange([invoice], envelope_for(partner), when=when,
                                  controls=ControlNumbers(control.interchange, control.group, control.set_control))
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


def _control_numbers(document: Document, partner: TradingPartner) -> OutboundControl:
    """The numbers this 810 goes out with, handed out once and kept (indexed) from then on: a
    replay renders the same numbers, so a number never serves two files and the partner's
    997 always finds this document."""
    ids = document.external_ids
    if ids.get("partner_id") == partner.pk and "isa13" in ids:  # rendered before: its row is committed
        return OutboundControl(tenant=document.tenant, partner=partner, document=document, interchange=ids["isa13"],
                               group=ids["gs06"], set_control=ids["st02"],
                               allocated_at=datetime.fromisoformat(ids["rendered_at"]))
    number = (document.mapped.get("invoice") or {}).get("invoice_number", "")
    with transaction.atomic():
        # The partner's row stays locked until this block commits: of two renders of one
        # invoice number, the second sees the first's row (and its numbers roll back if held).
        allocated = control_numbers_allocate(partner=partner, sets=1)
        same_number_check(document, partner=partner, number=number)
        numbers = {"partner": partner, "interchange": allocated.interchange, "group": allocated.group,
                   "set_control": allocated.sets[0]}
        existing = OutboundControl.objects.filter(document=document).first() if "partner_id" in ids else None
        if existing is not None:  # mapped to another partner since: these numbers are its now
            OutboundControl.objects.filter(pk=existing.pk).update(**numbers, invoice_number=number,
                                                                  allocated_at=timezone.now())
            return OutboundControl.objects.get(pk=existing.pk)
        try:
            with transaction.atomic():
                return OutboundControl.objects.create(tenant=document.tenant, document=document,
                                                      invoice_number=number, **numbers)
        except IntegrityError:
            pass
    # A render that died after committing its numbers (keep those: the numbers just taken are
    # a gap, which X12 allows), or counters that wrapped after 999,999,999 (the 810 that last
    # had these numbers is long answered).
    earlier = OutboundControl.objects.filter(document=document).first()
    if earlier is not None and earlier.partner_id == partner.pk:
        return earlier
    with transaction.atomic():
        OutboundControl.objects.filter(**numbers).delete()
        OutboundControl.objects.filter(document=document).delete()
        return OutboundControl.objects.create(tenant=document.tenant, document=document, invoice_number=number,
                                              **numbers)


def ar_invoice_upload(ctx: StepContext) -> None:
    document = ctx.document
    partner = _partner_of(ctx)
    if not document.artifact or not document.artifact_name:
        raise DataFailure("nothing rendered to upload: replay from the render step", system=SYSTEM)
    with cleo_client(ctx.tenant) as cleo:
        folder = cleo.folder(partner.outbound_folder)
        uploaded = upload_once(ctx, cleo=cleo, folder=folder, name=document.artifact_name,
                               content=document.artifact.encode(UPLOAD_ENCODING))
    # A 997 may have been applied while we uploaded (it keeps its answer in external_ids).
    stored = Document.objects.filter(pk=document.pk).values_list("external_ids", flat=True).first() or {}
    ack = stored.get("ack")
    document.external_ids = {**document.external_ids, **({"ack": ack} if ack else {}),
                             "cleo_file_id": uploaded["cleo_file_id"], "cleo_folder": folder.name,
                             "found_in_folder": uploaded["found_in_folder"]}
    if ack and ack.get("state") in (DocumentState.ACKNOWLEDGED, DocumentState.REJECTED):
        ctx.finish(ack["state"], f"{ack.get('source', '997')}: {ack.get('outcome', '')}")


def _partner_of(ctx: StepContext) -> TradingPartner:
    """The partner the map step chose (looked up once per pass through the steps)."""
    document = ctx.document
    partner_id = (document.mapped.get("partner") or {}).get("id")
    known = ctx.memo.get("partner")
    if known is not None and known.pk == partner_id:
        return known
    partner = TradingPartner.objects.filter(pk=partner_id, tenant=document.tenant).first() if partner_id else None
    ctx.memo["partner"] = partner
    if partner is None:
        raise ConfigFailure("the trading partner this invoice was mapped to no longer exists: replay from map",
                            system=SYSTEM)
    return partner


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
    stream=AR_INVOICES,
    poll=ar_invoice_changes_poll,  # invoices edited after their 810 went out (changes.py)
    needs=("vantagepointconnection", "cleoconnection"),
    description="Posted Vantagepoint AR invoices of clients billed through a trading partner, as X12 810 files "
                "in the partner's Cleo folder",
    show_artifact=x12_one_segment_per_line,
    document_links=ar_810_links,
    summarize=ar_810_summarize, related_records=ar_810_related,
    actions=(SEND_ANYWAY, SEND_CORRECTED),
))
