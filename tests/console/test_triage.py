"""Grouping failures: by flow, step and folded error; needs-mapping by what is missing; a
periodic pass over what changed, idempotent; groups resolve and open again."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connector.documents import IgnoreRefused, document_ignore, document_transition
from connector.models import DocumentState, Trigger
from connector.replay import document_replay
from console.ignoring import failure_group_ignore, failure_group_unignore
from console.models import FailureGroup, GroupKind, GroupMember, GroupStatus, PassMark
from console.triage import TRIAGE_MARK, triage_pass
from tests.factories import make_tenant, make_user

from .conftest import failed_document, waiting_document

pytestmark = pytest.mark.django_db


def group_of(document):
    return FailureGroup.objects.get(members__document=document)


def test_documents_failing_the_same_way_fall_into_one_group(echo_flow):
    tenant = make_tenant()
    a = failed_document(tenant, "INV-1002", echo_flow, "data")
    b = failed_document(tenant, "INV-1003", echo_flow, "data")
    c = failed_document(tenant, "INV-1004", echo_flow, "config")
    report = triage_pass()
    assert report.documents == 3 and report.joined == 3
    assert group_of(a) == group_of(b) != group_of(c)
    group = group_of(a)
    assert (group.flow, group.step, group.kind, group.status) == ("echo", "send", GroupKind.FAILURE, GroupStatus.OPEN)
    assert group.pattern == "echo: BIG02 is missing"  # the X12 element names the defect: kept
    assert (group.open_count, group.total_count, group.failure_kind) == (2, 2, "data")
    assert group.first_seen_at <= group.last_seen_at


def test_a_second_pass_reads_only_what_changed_and_changes_nothing(echo_flow):
    tenant = make_tenant()
    failed_document(tenant, "A", echo_flow)
    triage_pass()
    before = list(FailureGroup.objects.values_list("id", "open_count", "total_count"))
    report = triage_pass()
    assert report.joined == 0 and report.left == 0
    assert list(FailureGroup.objects.values_list("id", "open_count", "total_count")) == before


def test_a_replayed_document_leaves_its_group_and_the_empty_group_resolves(echo_flow):
    tenant = make_tenant()
    document = failed_document(tenant, "A", echo_flow, "config")
    triage_pass()
    group = group_of(document)
    document_replay(document, user=None)  # echo sends this time
    assert document.state == DocumentState.SENT
    report = triage_pass()
    group.refresh_from_db()
    assert report.left == 1 and group.pk in report.groups_resolved
    assert (group.status, group.open_count) == (GroupStatus.RESOLVED, 0) and group.resolved_at is not None
    assert group.total_count == 1, "history is kept"

    again = failed_document(tenant, "B", echo_flow, "config")
    triage_pass()
    group.refresh_from_db()
    assert group_of(again) == group and group.status == GroupStatus.OPEN and group.resolved_at is None
    assert group.total_count == 2


def test_a_document_failing_another_way_moves_to_that_group(echo_flow):
    tenant = make_tenant()
    document = failed_document(tenant, "A", echo_flow, "config")
    triage_pass()
    first = group_of(document)
    echo_flow.send_failures.append("data")
    document_replay(document, user=None)
    triage_pass()
    assert group_of(document) != first
    first.refresh_from_db()
    assert first.status == GroupStatus.RESOLVED


def test_needs_mapping_documents_group_by_what_they_wait_on():
    tenant = make_tenant()
    one = waiting_document(tenant, "F1-1", [("vendor", "ZZ:ACME01"), ("project", "PO-77")])
    two = waiting_document(tenant, "F2-1", [("vendor", "ZZ:ACME01")])
    waiting_document(tenant, "F3-1", [("vendor", "ZZ:OTHER")])
    triage_pass()
    acme = FailureGroup.objects.get(missing_kind="vendor", missing_value="ZZ:ACME01")
    assert acme.kind == GroupKind.MAPPING and acme.open_count == 2
    assert set(acme.members.values_list("document_id", flat=True)) == {one.pk, two.pk}
    assert FailureGroup.objects.get(missing_value="PO-77").open_count == 1
    assert FailureGroup.objects.get(missing_value="ZZ:OTHER").open_count == 1
    assert GroupMember.objects.filter(document=one).count() == 2, "one group per thing it waits on"


def test_an_ar_810_invoice_waits_on_its_client():
    tenant = make_tenant()
    from connector.documents import document_receive

    document, _ = document_receive(tenant=tenant, flow="ar-810", external_key="0000035:202406:1", raw="{}")
    document.step = "map"
    document.mapped = {"client": {"client_id": "0000035", "code": "ACME", "name": "Acme Corp"}}
    document.last_error = ("ar-810: client Acme Corp (ACME) has no trading partner: add ClientID 0000035 to a "
                           "trading partner's client firms, then replay")
    document_transition(document, DocumentState.NEEDS_MAPPING, extra_fields=("step", "mapped", "last_error"))
    triage_pass()
    group = group_of(document)
    assert (group.kind, group.missing_kind, group.missing_value) == (GroupKind.MAPPING, "client", "0000035")


def test_the_first_pass_takes_what_is_failing_now_then_reads_the_audit_trail(echo_flow):
    tenant = make_tenant()
    failed_document(tenant, "A", echo_flow)
    assert not PassMark.objects.filter(name=TRIAGE_MARK).exists()
    triage_pass(batch_size=1)
    mark = PassMark.objects.get(name=TRIAGE_MARK)
    assert mark.at is not None and FailureGroup.objects.count() == 1
    failed_document(tenant, "B", echo_flow)
    triage_pass(batch_size=1)
    assert FailureGroup.objects.get().open_count == 2


def test_a_pass_costs_queries_per_batch_not_per_document(echo_flow):
    tenant = make_tenant()
    for i in range(3):
        failed_document(tenant, f"A{i}", echo_flow)
    triage_pass()

    def queries_for(n):
        for i in range(n):
            failed_document(tenant, f"B{n}-{i}", echo_flow)
        with CaptureQueriesContext(connection) as ctx:
            triage_pass()
        return len(ctx.captured_queries)

    few, many = queries_for(2), queries_for(12)
    # Memberships are written in bulk and each group once per batch.
    assert many - few <= 2, "per batch, not per document"


def test_ignore_needs_a_reason_and_is_audited_and_undone(echo_flow):
    tenant = make_tenant()
    user = make_user(tenant=tenant)
    a = failed_document(tenant, "A", echo_flow)
    b = failed_document(tenant, "B", echo_flow)
    triage_pass()
    group = group_of(a)
    with pytest.raises(IgnoreRefused):
        failure_group_ignore(group=group, user=user, reason="  ")
    done, refused = failure_group_ignore(group=group, user=user, reason="duplicates sent by the partner by mistake")
    assert (done, refused) == (2, [])
    a.refresh_from_db()
    assert a.state == DocumentState.IGNORED
    event = a.audit_events.order_by("-id").first()
    assert (event.action, event.from_state, event.to_state, event.user) == ("ignored", "failed", "ignored", user)
    assert "duplicates sent by the partner" in event.reason
    group.refresh_from_db()
    assert (group.open_count, group.ignored_count, group.status) == (0, 2, GroupStatus.RESOLVED)
    triage_pass()  # the pass keeps ignored documents in their group, flagged
    group.refresh_from_db()
    assert group.ignored_count == 2

    done, _ = failure_group_unignore(group=group, user=user)
    assert done == 2
    b.refresh_from_db()
    assert b.state == DocumentState.FAILED
    group.refresh_from_db()
    assert (group.open_count, group.ignored_count, group.status) == (2, 0, GroupStatus.OPEN)
    assert b.audit_events.order_by("-id").first().action == "unignored"


def test_only_failures_can_be_ignored(echo_flow):
    tenant = make_tenant()
    from connector.documents import document_receive
    from connector.pipeline import document_process

    document, _ = document_receive(tenant=tenant, flow="echo", external_key="OK", raw="r")
    document_process(document, trigger=Trigger.SCHEDULED)
    with pytest.raises(IgnoreRefused):
        document_ignore(document=document, user=None, reason="why not")


def test_a_document_ignored_elsewhere_is_flagged_by_the_next_pass(echo_flow):
    tenant = make_tenant()
    document = failed_document(tenant, "A", echo_flow)
    triage_pass()
    document_ignore(document=document, user=None, reason="handled by phone")
    triage_pass()
    member = GroupMember.objects.get(document=document)
    assert member.ignored and member.group.open_count == 0
    assert timezone.now() >= member.seen_at


def test_a_burst_larger_than_a_pass_inside_the_lookback_window_still_moves_forward(echo_flow):
    tenant = make_tenant()
    for i in range(3):
        failed_document(tenant, f"OLD{i}", echo_flow)
    triage_pass()  # the mark is set; OLD* events sit inside its lookback window
    for i in range(3):
        failed_document(tenant, f"NEW{i}", echo_flow)
    for _ in range(12):  # each pass may take one batch of two events past the mark
        triage_pass(batch_size=2, max_batches=1)
    assert FailureGroup.objects.get().open_count == 6
