"""The tenant page's "Test connections" button, against both simulators."""
import pytest
from django.urls import reverse

from tenants.models import CleoConnection, Role, VantagepointConnection
from tests.factories import make_partner, make_user


def test_finance_admin_tests_both_connections(client, edi_tenant):
    make_partner(edi_tenant, name="Acme", outbound_folder="Outbound", inbound_folder="No Such Folder")
    client.force_login(make_user(tenant=edi_tenant, role=Role.FINANCE_ADMIN))
    url = reverse("admin:tenants_tenant_actions", args=[edi_tenant.pk, "test_connections"])
    response = client.get(url, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    vp = next(m for m in messages if m.startswith("Vantagepoint"))
    cleo = next(m for m in messages if m.startswith("Cleo"))
    assert vp.split(": ", 1)[1].startswith("OK") and "Logged in" in vp
    assert "OK" in cleo and "folder 'No Such Folder' (which ml-connector polls) is not visible" in cleo
    saved = VantagepointConnection.objects.get(tenant=edi_tenant)
    assert saved.last_tested_at is not None and saved.last_test_result.startswith("OK")
    for secret in (saved.password, saved.client_secret, CleoConnection.objects.get(tenant=edi_tenant).password):
        assert secret not in " ".join(messages) and secret not in saved.last_test_result


def test_a_wrong_password_is_reported_not_raised(client, edi_tenant):
    VantagepointConnection.objects.filter(tenant=edi_tenant).update(password="")
    connection = VantagepointConnection.objects.get(tenant=edi_tenant)
    connection.password = "wrong-password"
    connection.save()
    client.force_login(make_user(tenant=edi_tenant, role=Role.FINANCE_ADMIN))
    response = client.get(reverse("admin:tenants_tenant_actions", args=[edi_tenant.pk, "test_connections"]), follow=True)
    vp = next(str(m) for m in response.context["messages"] if str(m).startswith("Vantagepoint"))
    assert "FAILED" in vp and "wrong-password" not in vp


@pytest.mark.django_db
def test_support_gets_no_test_button(client, edi_tenant):
    client.force_login(make_user(tenant=edi_tenant, role=Role.SUPPORT))
    html = client.get(reverse("admin:tenants_tenant_change", args=[edi_tenant.pk])).content.decode()
    assert "test_connections" not in html
