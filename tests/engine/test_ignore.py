"""A human sets a document aside with a reason, the audit trail says who and why, and the same
human (or a colleague) can undo it; meanwhile nothing retries or replays it."""
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from connector.documents import IgnoreRefused, document_ignore, document_receive, document_unignore
from connector.models import Document, DocumentState, Trigger
from connector.pipeline import document_process
from connector.replay import ReplayRefused, document_replay, documents_retry_due
from tenants.models import Role
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db


def failed(tenant, key, echo_flow, kind="config") -> Document:
    echo_flow.send_failures.append(kind)
    document, _ = document_receive(tenant=tenant, flow="echo", external_key=key, raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    return document


def test_an_ignored_document_is_audited_left_alone_and_given_back_as_it_was(echo_flow):
    tenant = make_tenant()
    document = failed(tenant, "INV-1", echo_flow)
    sue = make_user("sue", tenant=tenant, role=Role.SUPPORT)

    document_ignore(document=document, user=sue, reason="  Paid by cheque; the supplier agreed.  ")
    document.refresh_from_db()
    assert document.state == DocumentState.IGNORED and document.step == "send"
    event = document.audit_events.get(action="ignored")
    assert (event.actor, event.user, event.from_state, event.to_state, event.reason) == (
        "sue", sue, DocumentState.FAILED, DocumentState.IGNORED, "Paid by cheque; the supplier agreed.")
    with pytest.raises(ReplayRefused):
        document_replay(document, user=sue)

    document_unignore(document=document, user=sue, reason="the cheque bounced")
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED
    assert document.audit_events.filter(action="unignored", from_state=DocumentState.IGNORED,
                                        to_state=DocumentState.FAILED, reason="the cheque bounced").exists()
    document_replay(document, user=sue)
    assert document.state == DocumentState.SENT and echo_flow.sent == ["INV-1"]


def test_a_retrying_document_ignored_is_not_retried_and_is_due_again_once_undone(echo_flow):
    tenant = make_tenant()
    document = failed(tenant, "INV-2", echo_flow, kind="transient")
    assert document.state == DocumentState.RETRYING and document.next_attempt_at is not None
    user = make_user(tenant=tenant)

    document_ignore(document=document, user=user, reason="duplicate of INV-1, sent by hand")
    assert documents_retry_due(now=timezone.now() + timedelta(days=30)) == 0
    document.refresh_from_db()
    assert (document.state, document.next_attempt_at) == (DocumentState.IGNORED, None)

    document_unignore(document=document, user=user)
    document.refresh_from_db()
    assert document.state == DocumentState.RETRYING and document.next_attempt_at <= timezone.now()
    assert documents_retry_due() == 1 and echo_flow.sent == ["INV-2"]


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_a_reason_is_required(echo_flow, reason):
    document = failed(make_tenant(), "INV-3", echo_flow)
    with pytest.raises(IgnoreRefused, match="reason is required"):
        document_ignore(document=document, user=make_user(), reason=reason)
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED and not document.audit_events.filter(action="ignored").exists()


def test_what_the_outside_system_has_is_not_ignored_and_only_the_ignored_is_undone(echo_flow):
    document, _ = document_receive(tenant=make_tenant(), flow="echo", external_key="INV-4", raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    assert document.state == DocumentState.SENT
    with pytest.raises(IgnoreRefused, match="is sent"):
        document_ignore(document=document, user=make_user(), reason="no longer needed")
    with pytest.raises(IgnoreRefused, match="not ignored"):
        document_unignore(document=document, user=make_user())


# ---------------------------------------------------------------- the admin


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.FINANCE_ADMIN])
def test_support_and_finance_admins_ignore_with_a_reason_and_undo_from_the_document_page(client, echo_flow, role):
    tenant = make_tenant()
    document = failed(tenant, "INV-5", echo_flow)
    user = make_user(tenant=tenant, role=role)
    client.force_login(user)
    page = reverse("admin:connector_document_change", args=[document.pk])
    ignore = reverse("admin:connector_document_actions", args=[document.pk, "ignore"])
    unignore = reverse("admin:connector_document_actions", args=[document.pk, "unignore"])

    html = client.get(page).content.decode()
    assert ignore in html and unignore not in html
    form = client.get(ignore)
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    refused = client.post(ignore, {"reason": "  "})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED

    assert client.post(ignore, {"reason": "Supplier withdrew the invoice"}).status_code == 302
    document.refresh_from_db()
    assert document.state == DocumentState.IGNORED
    assert document.audit_events.filter(action="ignored", user=user, reason="Supplier withdrew the invoice").exists()
    assert LogEntry.objects.filter(user=user, object_id=str(document.pk),
                                   change_message="Ignored: Supplier withdrew the invoice").exists()
    html = client.get(page).content.decode()
    assert unignore in html and ignore not in html

    assert client.post(unignore, {"reason": ""}).status_code == 302
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED
    assert document.audit_events.filter(action="unignored", user=user, reason="ignore undone").exists()


def test_nobody_outside_the_tenant_can_ignore(client, echo_flow):
    tenant, other = make_tenant(), make_tenant()
    document = failed(tenant, "INV-6", echo_flow)
    ignore = reverse("admin:connector_document_actions", args=[document.pk, "ignore"])
    for user in (make_user(tenant=other, role=Role.FINANCE_ADMIN), make_user()):
        client.force_login(user)
        assert client.post(ignore, {"reason": "not mine"}).status_code == 404
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED
