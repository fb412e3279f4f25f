"""A small flow for engine tests and the real-worker test. Importing it registers it;
it imports no model at import time, so a Celery worker can load it before Django is set up.

Steps: map (copies the raw input), send (fails as the test tells it to), confirm.
"""
from __future__ import annotations

from connector.failures import ConfigFailure, DataFailure, MappingMissing, TransientFailure
from connector.flows import Flow, Step, register

ECHO = "echo"
# Test knobs: how `send` should fail next (popped one per call), and what it has sent.
send_failures: list[str] = []
sent: list[str] = []

_FAILURES = {
    "transient": lambda: TransientFailure("partner answered 503", status=503, retry_after=2, system="echo"),
    "config": lambda: ConfigFailure("login refused: wrong password", system="echo"),
    "mapping": lambda: MappingMissing("no vendor for sender ZZ:ACME01", system="echo"),
    "data": lambda: DataFailure("BIG02 is missing", system="echo"),
    "bug": lambda: ZeroDivisionError("division by zero"),
}


def _map(ctx) -> None:
    ctx.document.mapped = {"echo": ctx.document.raw}


def _send(ctx) -> None:
    if send_failures:
        raise _FAILURES[send_failures.pop(0)]()
    sent.append(ctx.document.external_key)
    ctx.document.external_ids = {**ctx.document.external_ids, "echo_id": f"E-{ctx.document.external_key}"}


def _confirm(ctx) -> None:
    pass


def _poll(*, run, trigger, user=None):
    from connector.documents import document_receive
    from connector.pipeline import document_process
    from connector.sync import cursor_advance, cursor_read, sync_run_count

    run.cursor_before = cursor_read(tenant=run.tenant, stream=ECHO)
    for key in ("A-1", "A-2"):
        document, created = document_receive(tenant=run.tenant, flow=ECHO, external_key=key, raw=f"payload {key}")
        sync_run_count(run, "seen")
        if created:
            sync_run_count(run, "new")
            document_process(document, trigger=trigger, user=user)
            sync_run_count(run, "sent" if document.state == "sent" else "failed")
    cursor_advance(tenant=run.tenant, stream=ECHO, value="A-2")
    run.cursor_after = "A-2"
    return {}


ECHO_FLOW = register(Flow(
    name=ECHO, label="Echo (tests)",
    steps=(Step("map", _map, "mapped"), Step("send", _send, "sent"), Step("confirm", _confirm, "sent")),
    poll=_poll,
))
