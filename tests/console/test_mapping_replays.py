"""A saved mapping replays every document waiting on it (console.replays.mapping_saved_replay):
the groups triage made of what each needs-mapping document waits on, one job per group."""
import pytest

from connector.models import AuditEvent
from console.models import GroupReplay
from console.replays import mapping_saved_replay
from console.triage import triage_pass
from tests.factories import make_tenant, make_user

from .conftest import waiting_document

pytestmark = pytest.mark.django_db


def test_a_saved_vendor_mapping_replays_the_documents_waiting_on_it_and_only_those(
        django_capture_on_commit_callbacks):
    alpha, beta = make_tenant("Alpha", slug="alpha"), make_tenant("Beta", slug="beta")
    user = make_user(tenant=alpha)
    waiting_document(alpha, "F1", [("vendor", "ZZ:ACME01")])
    waiting_document(alpha, "F2", [("vendor", "ZZ:ACME01"), ("project", "PO-9")])  # also waits on a project
    waiting_document(alpha, "F3", [("vendor", "ZZ:OTHER")])
    waiting_document(alpha, "F4", [("project", "ZZ:ACME01")])  # the same value, another kind
    waiting_document(beta, "B1", [("vendor", "ZZ:ACME01")])  # another tenant
    triage_pass()
    sent = []
    with django_capture_on_commit_callbacks(execute=True):
        replays = mapping_saved_replay(tenant_id=alpha.pk, kind="vendor", values=["zz:acme01 "], user=user,
                                       because="vendor mapping ZZ:ACME01 → V100 saved",
                                       send=lambda item, uid: sent.append((item.document.external_key, uid)))
    assert [r.total for r in replays] == [2]
    assert sorted(sent) == [("F1", user.pk), ("F2", user.pk)]
    event = AuditEvent.objects.get(tenant=alpha, action="group_replay")
    assert event.user == user and event.reason.endswith("(vendor mapping ZZ:ACME01 → V100 saved)")
    assert "2 document(s)" in event.reason


def test_a_client_firm_matches_by_its_id_or_its_code_and_nothing_waiting_queues_nothing(
        django_capture_on_commit_callbacks):
    tenant = make_tenant()
    document = waiting_document(tenant, "INV-7", [], flow="ar-810", step="map")
    document.mapped = {"client": {"client_id": "C-0001", "code": "ACMECO", "name": "Acme Co"}}
    document.save(update_fields=["mapped"])
    triage_pass()
    group = tenant.failure_groups.get()
    assert (group.missing_kind, group.missing_value, group.missing_label) == ("client", "C-0001", "Acme Co (ACMECO)")
    sent = []
    with django_capture_on_commit_callbacks(execute=True):
        by_code = mapping_saved_replay(tenant_id=tenant.pk, kind="client", values=["acmeco"], user=None,
                                       because="client saved", send=lambda item, uid: sent.append(item.document_id))
        assert mapping_saved_replay(tenant_id=tenant.pk, kind="client", values=["C-0002", ""], user=None,
                                    because="another client saved", send=lambda item, uid: sent.append(0)) == []
        assert mapping_saved_replay(tenant_id=tenant.pk, kind="client", values=[" "], user=None,
                                    because="blank", send=lambda item, uid: sent.append(0)) == []
    assert [r.group_id for r in by_code] == [group.pk] and sent == [document.pk]
    assert GroupReplay.objects.count() == 1


def test_a_document_parked_since_the_last_triage_pass_is_replayed_too(django_capture_on_commit_callbacks):
    tenant = make_tenant()
    waiting_document(tenant, "F1", [("vendor", "ZZ:ACME01")])
    triage_pass()
    waiting_document(tenant, "F2", [("vendor", "ZZ:ACME01")])  # parked a moment ago: no pass has seen it
    sent = []
    with django_capture_on_commit_callbacks(execute=True):
        replays = mapping_saved_replay(tenant_id=tenant.pk, kind="vendor", values=["ZZ:ACME01"], user=None,
                                       because="saved", send=lambda item, uid: sent.append(item.document.external_key))
    assert [r.total for r in replays] == [2] and sorted(sent) == ["F1", "F2"]
