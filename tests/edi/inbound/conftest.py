"""The inbound flow end to end: a tenant wired to both simulators (tests/edi/conftest.py), a
supplier partner polling the simulated Cleo "Inbound" folder, and the current accounting
period open in the Vantagepoint simulator (its calendar stops at 2024)."""
from __future__ import annotations

from pathlib import Path

import pytest

from connector.models import Document, SyncRun, Trigger
from connector.sync import sync_run_execute
from edi.inbound import AP_810
from edi.inbox import INBOX
from edi.models import InboundFile
from edi.x12 import read_997
from tests.factories import make_partner
from tests.x12.helpers import sample_paths

# The samples' own supplier: ISA sender ZZ:SENDERISA (01 and 02).
SNACKS_SENDER = "SENDERISA"


@pytest.fixture
def partner(edi_tenant):
    """The supplier of samples 01 and 02; its folder also receives every other sample."""
    return make_partner(edi_tenant, name="Snack Foods", their_isa_qualifier="ZZ", their_isa_id=SNACKS_SENDER,
                        their_gs_id="SENDERDEPT", our_isa_id="RECEIVERISA", our_gs_id="007326879",
                        inbound_folder="Inbound", outbound_folder="Outbound", default_vendor="V90001",
                        default_account="5010.00")


def sample_files() -> list[Path]:
    return sample_paths()


def poll(tenant) -> SyncRun:
    """What the beat schedule does, each run inline: the Cleo inbox takes the files in (their
    invoices processed in the same run), then 810-ap's sweep resumes anything left waiting.
    Returns the inbox's run."""
    run = sync_run_execute(tenant=tenant, flow_name=INBOX, trigger=Trigger.MANUAL, inline=True)
    sync_run_execute(tenant=tenant, flow_name=AP_810, trigger=Trigger.MANUAL, inline=True)
    return run


def ack_effect(entry: InboundFile):
    """Our 997's upload (an effect of the file's document), or None when it has none."""
    return entry.document.effects.filter(name="upload_997").first()


def picked_up(entry: InboundFile) -> bool:
    return entry.document.effects.filter(name="pick_up", state="confirmed").exists()


def documents(tenant) -> list[Document]:
    return list(Document.objects.filter(tenant=tenant, flow=AP_810).order_by("pk"))


def document_for(tenant, invoice_number: str, **filters) -> Document:
    return Document.objects.get(tenant=tenant, flow=AP_810, external_key__endswith=f"/{invoice_number}", **filters)


def ledger(tenant, name: str) -> InboundFile:
    return InboundFile.objects.get(tenant=tenant, name=name)


def acks_sent(cleo_sim, entry: InboundFile):
    """Our 997 for a ledger entry, as the partner finds it in the outbound folder."""
    stored = next(f for f in cleo_sim.files("Outbound") if f.name == entry.document.artifact_name)
    return read_997(stored.content)


def ap_rows(vp_sim, batch: str) -> list[dict]:
    return [row for row in vp_sim.ledger("AP") if row["Batch"] == batch]
