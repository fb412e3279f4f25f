"""A periodic task per (tenant, flow) exists when the flow's connections are enabled."""
import dataclasses
import json

import pytest
from django_celery_beat.models import PeriodicTask

from connector import flows
from connector.schedules import schedules_ensure_for_tenant
from tenants.models import VantagepointConnection
from tests.factories import make_connections, make_tenant

pytestmark = pytest.mark.django_db


def test_schedule_created_when_connections_enabled_and_disabled_when_not(echo_flow, monkeypatch):
    monkeypatch.setitem(flows._registry, "echo",
                        dataclasses.replace(echo_flow.ECHO_FLOW, needs=("vantagepointconnection", "cleoconnection")))
    tenant = make_tenant(slug="acme")
    assert [t for t in schedules_ensure_for_tenant(tenant) if t.name.startswith("echo")] == []

    make_connections(tenant, enabled=True)
    tenant.refresh_from_db()
    schedules_ensure_for_tenant(tenant)
    task = PeriodicTask.objects.get(name="echo for acme")
    assert task.enabled and task.task == "connector.run_flow"
    assert json.loads(task.kwargs) == {"tenant_id": tenant.pk, "flow": "echo"}

    # An edited cadence survives; disabling a needed connection disables the task.
    task.interval.every = 42
    task.interval.save()
    VantagepointConnection.objects.filter(tenant=tenant).update(enabled=False)
    tenant.refresh_from_db()
    schedules_ensure_for_tenant(tenant)
    task.refresh_from_db()
    assert not task.enabled and task.interval.every == 42
