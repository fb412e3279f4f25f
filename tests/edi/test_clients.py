"""connector.clients and edi.clients build a tenant's clients against the mounted simulators."""
import pytest

from connector.clients import vantagepoint_client
from connector.failures import ConfigFailure
from edi.clients import cleo_client
from tenants.models import CleoConnection


def test_clients_reach_the_simulators(edi_tenant):
    with vantagepoint_client(edi_tenant) as vp:
        assert vp.firms(clients=True), "the seeded clients are read"
    with cleo_client(edi_tenant) as cleo:
        names = {f.name for f in cleo.list_folders()}
    assert {"Inbound", "Outbound"} <= names


def test_a_disabled_connection_is_a_config_failure(edi_tenant):
    CleoConnection.objects.filter(tenant=edi_tenant).update(enabled=False)
    edi_tenant.refresh_from_db()
    with pytest.raises(ConfigFailure, match="no enabled Cleo connection"):
        cleo_client(edi_tenant)
