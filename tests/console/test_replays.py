"""'Replay all in this group': one queued task per document, progress as each finishes."""
import pytest

from connector.models import AuditEvent, DocumentState
from connector.replay import document_replay
from console.models import GroupReplay, ReplayStatus
from console.replays import NothingToReplay, group_replay_outcomes, group_replay_start, replay_item_finish
from console.triage import triage_pass
from tests.factories import make_tenant, make_user

from .conftest import failed_document

pytestmark = pytest.mark.django_db


def inline_worker(done):
    """Stands in for the broker and a worker: runs each document at once, then its callback."""
    def send(item, user_id):
        document = item.document
        document_replay(document, user=None)
        done.append((document.external_key, user_id))
        replay_item_finish(item_id=item.pk)
    return send


def test_replay_all_queues_each_open_document_after_commit_and_counts_them_finishing(
        echo_flow, django_capture_on_commit_callbacks):
    tenant = make_tenant()
    user = make_user(tenant=tenant)
    for key in ("A", "B", "C"):
        failed_document(tenant, key, echo_flow, "config")
    triage_pass()
    group = tenant.failure_groups.get()
    echo_flow.send_failures.append("data")  # B fails again, another way
    done: list = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        replay = group_replay_start(group=group, user=user, send=inline_worker(done))
        assert done == [], "nothing is sent before the job is committed"
    assert (replay.total, replay.finished, replay.status) == (3, 0, ReplayStatus.RUNNING)
    for callback in callbacks:
        callback()
    assert [key for key, _ in done] == ["A", "B", "C"] and {uid for _, uid in done} == {user.pk}
    replay.refresh_from_db()
    assert (replay.finished, replay.status) == (3, ReplayStatus.FINISHED) and replay.finished_at is not None
    assert group_replay_outcomes(replay) == {"failed": 1, "sent": 2}
    assert AuditEvent.objects.filter(tenant=tenant, action="group_replay", user=user).exists()


def test_a_callback_delivered_twice_counts_once(echo_flow, django_capture_on_commit_callbacks):
    tenant = make_tenant()
    failed_document(tenant, "A", echo_flow)
    triage_pass()
    sent = []
    with django_capture_on_commit_callbacks(execute=True):
        replay = group_replay_start(group=tenant.failure_groups.get(), user=None, send=lambda item, uid: sent.append(item))
    assert replay_item_finish(item_id=sent[0].pk) is True
    assert replay_item_finish(item_id=sent[0].pk) is False
    replay.refresh_from_db()
    assert replay.finished == 1
    assert group_replay_outcomes(replay) == {DocumentState.FAILED: 1}, "nothing ran: the state is recorded as it is"


def test_ignored_documents_are_not_replayed_and_an_empty_group_refuses(echo_flow):
    tenant = make_tenant()
    failed_document(tenant, "A", echo_flow)
    triage_pass()
    group = tenant.failure_groups.get()
    group.members.update(ignored=True)
    with pytest.raises(NothingToReplay):
        group_replay_start(group=group, user=None, send=lambda *a: None)
    assert not GroupReplay.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_processes_the_group_and_its_callbacks_record_progress(echo_flow, tmp_path):
    from connector.celery import app as celery_app
    from tests.workers import private_queue, wait_for, worker_start, worker_stop

    tenant = make_tenant()
    user = make_user(tenant=tenant)
    for key in ("A", "B", "C"):
        failed_document(tenant, key, echo_flow, "config")
    triage_pass()
    group = tenant.failure_groups.get()
    queue = private_queue()
    worker = worker_start(queue=queue, log_path=tmp_path / "worker.log", app="tests.console.worker_app",
                          env={"TEST_QUEUE": queue})
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        replay = group_replay_start(group=group, user=user)
        finished = wait_for(lambda: GroupReplay.objects.filter(pk=replay.pk, status=ReplayStatus.FINISHED).first(),
                            timeout=90, what="the worker to finish every document of the group")
    finally:
        celery_app.conf.task_default_queue = default_queue
        worker_stop(worker)
    assert (finished.finished, finished.total) == (3, 3)
    assert group_replay_outcomes(finished) == {DocumentState.SENT: 3}
    assert set(tenant.documents.values_list("state", flat=True)) == {DocumentState.SENT}
    output = (tmp_path / "worker.log").read_text()
    assert "connector.process_document" in output and "console.replay_item_finished" in output
