"""Fixtures for the ar-810 flow: a trading partner billing one seeded client, cycles run the
way the beat task and `manage.py sync` run them, and the X12 command line as a referee."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connector.celery import app as celery_app
from connector.models import SyncRun, SyncRunStatus, Trigger
from connector.sync import cursor_advance, sync_run_execute
from connector.vantagepoint.records import format_datetime
from edi.models import PartnerClient
from edi.outbound import AR_810
from edi.outbound.flow import AR_810_FLOW
from sandbox import cleo as cleo_sandbox
from tests.factories import make_partner

OUTBOUND = cleo_sandbox.OUTBOUND_FOLDER
ROOT = Path(__file__).resolve().parents[3]
CURSOR = AR_810_FLOW.cursor_name  # "ar-810:vantagepoint:ar-invoices"


def first_client_project(vp_sim) -> dict:
    """The first active project with phases whose client is active (what add_posted_invoice bills)."""
    return next(p for p in vp_sim.tables.projects if p["WBS2"].strip() == "" and p["Status"] == "A")


@pytest.fixture
def billed_client(vp_sim) -> str:
    return first_client_project(vp_sim)["BillingClientID"]


@pytest.fixture
def partner(edi_tenant, billed_client):
    """A partner whose 810s go to the simulator's Outbound folder, billing the first client."""
    partner = make_partner(edi_tenant, name="Harbor EDI", their_isa_id="HARBORAP", their_gs_id="HARBORAP",
                           outbound_folder=OUTBOUND, inbound_folder=cleo_sandbox.INBOUND_FOLDER)
    PartnerClient.objects.create(tenant=edi_tenant, partner=partner, client_id=billed_client, name="Harbor")
    return partner


@pytest.fixture
def after_seed(edi_tenant, vp_sim):
    """Start the cursor at the simulator's clock, so a test sees only the invoices it posts."""
    cursor_advance(tenant=edi_tenant, stream=CURSOR, value=format_datetime(vp_sim.clock.now()))


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def run_cycle(tenant, trigger: str = Trigger.SCHEDULED, *, flow: str = AR_810) -> SyncRun:
    """One cycle, its documents processed before it returns (as `manage.py sync` runs it)."""
    run = sync_run_execute(tenant=tenant, flow_name=flow, trigger=trigger, inline=True)
    assert run.status == SyncRunStatus.SUCCEEDED, run.error
    return run


def outbound_files(cleo_sim) -> dict[str, bytes]:
    return {f.name: f.content for f in cleo_sim.files(OUTBOUND)}


def x12_validate(tmp_path: Path, name: str, content: bytes) -> subprocess.CompletedProcess:
    """`python -m edi.x12 validate --strict` on the bytes as the partner received them."""
    path = tmp_path / name
    path.write_bytes(content)
    return subprocess.run([sys.executable, "-m", "edi.x12", "validate", "--strict", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


class WorkerKilled(BaseException):
    """The process dies: nothing after this point runs, nothing after it is committed."""


@pytest.fixture
def worker_dies_after_upload(monkeypatch):
    """The file reaches Cleo, then the worker dies before anything is committed. Returns
    `revive`, which makes the next worker live."""
    from edi.cleo.client import CleoClient

    upload = CleoClient.upload_file

    def upload_then_die(self, *args, **kwargs):
        upload(self, *args, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(CleoClient, "upload_file", upload_then_die)
    return lambda: monkeypatch.setattr(CleoClient, "upload_file", upload)
