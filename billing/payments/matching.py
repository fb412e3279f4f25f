"""The match step's business: which Vantagepoint invoice and project a Stripe invoice came from.

The ar-stripe flow writes our back references into the Stripe invoice's metadata (ml_tenant,
ml_document, vp_invoice, vp_period, vp_post_seq, vp_project, vp_wbs2, vp_wbs3, vp_client_id).
When the invoice lacks the Vantagepoint ones but names its ar-stripe document (ml_document),
that document's AR invoice is the stored mapping. An invoice with no ml_tenant, or another
tenant's, is not ours: the document is ignored saying so.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from connector.models import Document
from connector.vantagepoint.ar_invoices import ar_invoice_from_json
from tenants.models import Tenant

from .payments import NotOurs

AR_STRIPE_FLOW = "ar-stripe"


@dataclass(frozen=True)
class Target:
    """Where a receipt goes in Vantagepoint: the original invoice on its project."""

    invoice: str
    project: str
    wbs2: str = ""
    wbs3: str = ""
    period: str = ""
    post_seq: str = ""
    client_id: str = ""
    ar_document: int | None = None
    found_by: str = "metadata"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def tenant_named(tenant: Tenant, value: str) -> bool:
    """ml_tenant names a tenant by its slug (or, as written by older code, its id)."""
    return value.strip() in (tenant.slug, str(tenant.pk))


def invoice_target(tenant: Tenant, *, metadata: dict[str, Any], label: str) -> Target:
    """From the Stripe invoice's metadata (`label`: its number, for messages); NotOurs when it
    is not this tenant's."""
    meta = {k: str(v).strip() for k, v in (metadata or {}).items()}
    owner = meta.get("ml_tenant", "")
    if not owner:
        raise NotOurs(f"Stripe invoice {label} carries no ml_tenant metadata: it was not sent by ml-connector")
    if not tenant_named(tenant, owner):
        raise NotOurs(f"Stripe invoice {label} belongs to tenant '{owner}', not {tenant.slug}")
    ar_document = _document_id(meta.get("ml_document", ""))
    if meta.get("vp_invoice") and meta.get("vp_project"):
        return Target(invoice=meta["vp_invoice"], project=meta["vp_project"], wbs2=meta.get("vp_wbs2", ""),
                      wbs3=meta.get("vp_wbs3", ""), period=meta.get("vp_period", ""),
                      post_seq=meta.get("vp_post_seq", ""), client_id=meta.get("vp_client_id", ""),
                      ar_document=ar_document, found_by="metadata")
    document = (Document.objects.filter(tenant=tenant, flow=AR_STRIPE_FLOW, pk=ar_document).first()
                if ar_document else None)
    if document is None:
        raise NotOurs(f"Stripe invoice {label} names no Vantagepoint invoice (vp_invoice, vp_project) and no "
                      "ar-stripe document of this tenant (ml_document): nothing to post it against")
    ar = ar_invoice_from_json(document.raw)
    first = ar.lines[0] if ar.lines else None
    return Target(invoice=ar.invoice, project=ar.project, wbs2=getattr(first, "wbs2", "") or "",
                  wbs3=getattr(first, "wbs3", "") or "", period=str(ar.period), post_seq=str(ar.post_seq),
                  client_id=ar.billing_client_id, ar_document=document.pk, found_by=f"ar-stripe document {document.pk}")


def _document_id(value: str) -> int | None:
    return int(value) if value.isdigit() else None
