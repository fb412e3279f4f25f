"""How EDI records point at each other, for the pages that link them: an 810 we sent and the
partner's 997 file that answered it, a partner's file and the invoices it carried, and our
997 back (kept on the file's ledger entry).

The lookups go through the documents' `search_text` (its trigram index on PostgreSQL) to
the few candidates, then check the exact field: a file's page stays fast at a million
documents.
"""
from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse

from connector.models import Document

from .inbound import AP_810
from .models import InboundFile
from .outbound import AR_810

# What a link to a document shows; never its payloads.
LINK_FIELDS = ("id", "tenant_id", "flow", "external_key", "reference", "counterparty", "amount", "currency", "state",
               "external_ids")


def inbound_file_url(entry: InboundFile) -> str:
    return reverse("admin:edi_inboundfile_change", args=[entry.pk])


def inbound_file_at(*, tenant_id: int, path: str) -> InboundFile | None:
    """The ledger entry of "folder/name" (how documents and 997 answers name a file)."""
    folder, _, name = path.rpartition("/")
    if not name:
        return None
    return InboundFile.objects.filter(tenant_id=tenant_id, folder=folder, name=name).defer("raw").first()


def invoices_in_file(entry: InboundFile) -> QuerySet[Document]:
    """The 810-ap documents of the invoices this file carried."""
    path = f"{entry.folder}/{entry.name}"
    return (Document.objects.filter(tenant_id=entry.tenant_id, flow=AP_810, search_text__contains=path.lower(),
                                    source__startswith=f"{path} set ")
            .only(*LINK_FIELDS).order_by("pk"))


def invoices_answered_by(entry: InboundFile) -> list[Document]:
    """Our 810s whose acknowledgment came in this (997) file."""
    path = f"{entry.folder}/{entry.name}"
    candidates = (Document.objects.filter(tenant_id=entry.tenant_id, flow=AR_810, search_text__contains=path.lower())
                  .only(*LINK_FIELDS))
    return [d for d in candidates.order_by("pk")[:500] if (d.external_ids.get("ack") or {}).get("source") == path]
