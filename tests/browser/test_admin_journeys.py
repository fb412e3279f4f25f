"""What a finance admin and a support user do in the admin, in a real browser."""
import pytest
from django.contrib.admin.models import LogEntry

from connector.documents import document_receive
from connector.models import AuditEvent, DocumentState, Trigger
from connector.pipeline import document_process
from tenants.models import Role, VantagepointConnection
from tests.factories import VP_PASSWORD, make_connections, make_tenant, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_finance_admin_replaces_a_password_without_ever_seeing_it(page, live_server, login):
    tenant = make_tenant("Alpha LLP", slug="alpha")
    make_connections(tenant)
    make_user("fiona", tenant=tenant, role=Role.FINANCE_ADMIN)
    login("fiona")
    page.click("#content-main a[href$='/tenants/tenant/']")
    page.click("#result_list a:has-text('Alpha LLP')")
    password = page.locator("#id_vantagepointconnection-0-password")
    assert password.input_value() == ""
    assert password.get_attribute("placeholder") == "stored — leave empty to keep"
    assert VP_PASSWORD not in page.content()

    page.fill("#id_vantagepointconnection-0-bank_code", "OPER2")  # an ordinary edit keeps the secret
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert VantagepointConnection.objects.get(tenant=tenant).password == VP_PASSWORD

    page.fill("#id_vantagepointconnection-0-password", "brand-NEW-secret-9")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert "brand-NEW-secret-9" not in page.content()
    assert VantagepointConnection.objects.get(tenant=tenant).password == "brand-NEW-secret-9"

    # Pointing the connection at another database asks for every secret again: the stored ones
    # are never sent where they were not entered for.
    page.fill("#id_vantagepointconnection-0-database", "AlphaDB")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errornote")
    assert "Enter the password again: the database changed" in page.inner_text("#content-main")
    assert "Enter the client secret again" in page.inner_text("#content-main")
    assert VantagepointConnection.objects.get(tenant=tenant).database == "SandboxDB"
    page.fill("#id_vantagepointconnection-0-password", "alpha-db-secret-10")
    page.fill("#id_vantagepointconnection-0-client_secret", "alpha-client-11")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    connection = VantagepointConnection.objects.get(tenant=tenant)
    assert (connection.password, connection.database, connection.access_token) == ("alpha-db-secret-10", "AlphaDB", "")


def test_support_replays_a_failed_document_after_confirming(page, live_server, login, echo_flow):
    tenant = make_tenant("Alpha LLP", slug="alpha")
    user = make_user("sam", tenant=tenant, role=Role.SUPPORT)
    echo_flow.send_failures.append("config")
    document, _ = document_receive(tenant=tenant, flow="echo", external_key="INV-77", raw="payload")
    document_process(document, trigger=Trigger.SCHEDULED)
    assert document.state == DocumentState.FAILED

    login("sam")
    page.goto(f"{live_server.url}/admin/connector/document/?q=INV-77")
    page.click("text=INV-77")
    page.click(".object-tools a:has-text('Replay')")
    page.wait_for_selector("text=These documents will resume at the step that failed")
    assert "send" in page.inner_text("#content table")
    assert echo_flow.sent == [], "nothing happens before the confirmation"
    page.click("input[type=submit][value^='Yes, replay']")
    page.wait_for_selector(".messagelist .info")
    assert "Queued a replay of 1 document (INV-77)" in page.inner_text(".messagelist"), "it says what was queued"
    assert "Replayed by sam at" in page.inner_text(".field-replay_view"), "the document page shows the outcome"
    assert "now sent" in page.inner_text(".field-replay_view")

    document.refresh_from_db()
    assert document.state == DocumentState.SENT
    assert echo_flow.sent == ["INV-77"]
    assert AuditEvent.objects.filter(document=document, action="replay", user=user).exists()
    assert LogEntry.objects.filter(user=user, object_id=str(document.pk)).exists()
    audit = page.inner_text("#audit_events-group")
    assert "sam" in audit and "replay" in audit, "the audit trail on the page names who replayed"
    assert page.locator(".object-tools a:has-text('Replay')").count() == 0, "a sent document offers no replay"
