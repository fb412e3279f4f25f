"""Finance admins and support see only their tenants; support never sees credentials."""
import pytest
from django.urls import reverse

from connector.models import Document, DocumentState
from tenants.models import Role
from tests.factories import VP_PASSWORD, make_connections, make_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants():
    a, b = make_tenant("Alpha LLP", slug="alpha"), make_tenant("Beta LLP", slug="beta")
    make_connections(a)
    make_connections(b)
    doc_a = Document.objects.create(tenant=a, flow="echo", external_key="ALPHA-INV-1", state=DocumentState.FAILED)
    doc_b = Document.objects.create(tenant=b, flow="echo", external_key="BETA-INV-1", state=DocumentState.FAILED)
    return a, b, doc_a, doc_b


def test_finance_admin_of_a_gets_404_for_a_document_of_b(client, two_tenants):
    a, b, doc_a, doc_b = two_tenants
    client.force_login(make_user(tenant=a, role=Role.FINANCE_ADMIN))
    assert client.get(reverse("admin:connector_document_change", args=[doc_a.pk])).status_code == 200
    assert client.get(reverse("admin:connector_document_change", args=[doc_b.pk])).status_code == 404
    assert client.get(reverse("admin:tenants_tenant_change", args=[b.pk])).status_code == 404
    assert client.get(reverse("admin:connector_document_history", args=[doc_b.pk])).status_code == 404


def test_lists_never_show_another_tenants_rows(client, two_tenants):
    a, b, doc_a, doc_b = two_tenants
    client.force_login(make_user(tenant=a, role=Role.FINANCE_ADMIN))
    for name in ("connector_document", "tenants_tenant", "connector_auditevent"):
        html = client.get(reverse(f"admin:{name}_changelist")).content.decode()
        assert "Beta LLP" not in html and "BETA-INV-1" not in html, name
    html = client.get(reverse("admin:connector_document_changelist")).content.decode()
    assert "ALPHA-INV-1" in html
    # Filtering by the other tenant's id shows nothing either.
    html = client.get(reverse("admin:connector_document_changelist") + f"?tenant__id__exact={b.pk}").content.decode()
    assert "BETA-INV-1" not in html


def test_support_cannot_view_a_credential(client, two_tenants):
    a, b, doc_a, doc_b = two_tenants
    client.force_login(make_user(tenant=a, role=Role.SUPPORT))
    response = client.get(reverse("admin:tenants_tenant_change", args=[a.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "vantagepointconnection" not in html and "client_id" not in html and "SandboxDB" not in html
    assert VP_PASSWORD not in html
    assert not any("Connection" in f.opts.__class__.__name__ for f in response.context["inline_admin_formsets"])
    # Support may read documents and the audit trail of its tenant...
    assert client.get(reverse("admin:connector_document_change", args=[doc_a.pk])).status_code == 200
    # ...but may not change the tenant.
    assert client.post(reverse("admin:tenants_tenant_change", args=[a.pk]), {"name": "X"}).status_code == 403


def test_finance_admin_sees_connection_inputs_of_its_tenant(client, two_tenants):
    a, *_ = two_tenants
    client.force_login(make_user(tenant=a, role=Role.FINANCE_ADMIN))
    html = client.get(reverse("admin:tenants_tenant_change", args=[a.pk])).content.decode()
    assert 'name="vantagepointconnection-0-client_id"' in html
    assert VP_PASSWORD not in html


def test_a_user_without_membership_sees_nothing(client, two_tenants):
    client.force_login(make_user())
    assert client.get(reverse("admin:connector_document_changelist")).status_code == 403


ACTION_URLS = [("connector_document", "replay", "doc"), ("tenants_tenant", "test_connections", "tenant")]


@pytest.mark.parametrize("name,tool,kind", ACTION_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_action_url_for_another_tenants_object_is_a_404_like_an_unknown_one(client, two_tenants, name, tool, kind,
                                                                               method):
    a, b, doc_a, doc_b = two_tenants
    client.force_login(make_user(tenant=a, role=Role.FINANCE_ADMIN))
    theirs, mine = (doc_b.pk, doc_a.pk) if kind == "doc" else (b.pk, a.pk)
    send = getattr(client, method)
    for object_id in (theirs, 999_999, "not-a-number"):
        response = send(reverse(f"admin:{name}_actions", args=[object_id, tool]))
        assert response.status_code == 404, (object_id, response.status_code)
        assert "you may not" not in response.content.decode().lower()
    assert send(reverse(f"admin:{name}_actions", args=[mine, tool])).status_code in (200, 302)


def test_change_pages_of_ids_that_are_no_number_are_a_404(client, two_tenants):
    client.force_login(make_user(tenant=two_tenants[0], role=Role.FINANCE_ADMIN))
    for name in ("connector_document", "tenants_tenant"):
        assert client.get(reverse(f"admin:{name}_change", args=["not-a-number"])).status_code == 404, name
