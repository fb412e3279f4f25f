"""Run a document through its flow's steps, one Attempt per step, and decide what a
failure means.

A step changes the document in memory; the engine writes it once when the step ends (with
the state transition and its audit event when there is one), and once more if it fails.
What must survive a crash *during* the step is an outside effect: the step declares it
through `ctx.effect(...)` (connector/effects.py), which commits the declaration before the
effect is made, so a retry or a replay resuming at the step looks before it acts. The engine
never restarts a document from scratch.

What a step gets (StepContext): the document, its tenant, the trigger and user;
`ctx.effect(name, do=..., look=...)` for an outside effect; `ctx.finish(state, reason)` to
end the flow early (duplicate, acknowledged); `ctx.count(key)` to add to the run's counts;
`ctx.queue(documents)` to hand documents it created (an inbox file's invoices) to workers;
`ctx.memo`, a dict the steps of one pass share (what one step looked up, the next need not
look up again; never stored).
"""
from __future__ import annotations

import time
import traceback as tb
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .counts import outcome_key, sync_run_add
from .documents import document_transition
from .effects import Do, Look, effect_declare, effect_make
from .failures import FailureKind, IntegrationFailure, MappingMissing, classify
from .flows import Flow, flow_of
from .http import recording_calls
from .logs import bound
from .models import Attempt, Document, DocumentState, Effect
from .queue import document_queue_retry, documents_queue
from .retry import RETRY_SCHEDULE, next_retry_delay
from .summary import SUMMARY_FIELDS, document_summarize

DOCUMENT_FIELDS = ("step", "mapped", "artifact", "artifact_name", "external_ids", "failure_kind", "last_error",
                   "retry_count", "next_attempt_at", *SUMMARY_FIELDS)


@dataclass
class StepContext:
    document: Document
    flow: Flow
    trigger: str
    user: AbstractBaseUser | None = None
    step: str = ""
    finished_state: str = ""
    finished_reason: str = ""
    declared: dict[str, Effect] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def tenant(self):
        return self.document.tenant

    def finish(self, state: str, reason: str = "") -> None:
        """End the pipeline here in `state` (e.g. duplicate, acknowledged, ignored)."""
        self.finished_state = state
        self.finished_reason = reason

    def effect(self, name: str, *, do: Do, look: Look, key: str | None = None,
               intent: dict[str, Any] | None = None) -> Any:
        """Make an outside effect of this step at most once (connector/effects.py)."""
        return effect_make(document=self.document, step=self.step, name=name, do=do, look=look, key=key,
                           intent=intent, declared=self.declared.get(name))

    def effect_declare(self, name: str, *, key: str | None = None, intent: dict[str, Any] | None = None) -> Effect:
        """Declare the effect (or read its declaration): its key and intent, fixed the first time."""
        if name not in self.declared:
            self.declared[name] = effect_declare(document=self.document, step=self.step, name=name, key=key,
                                                 intent=intent)
        return self.declared[name]

    def count(self, key: str, by: int = 1) -> None:
        """Add to the counts of the run that handed this document out (none for a replay)."""
        if self.document.run_id is not None:
            sync_run_add(self.document.run_id, {key: by})

    def queue(self, documents: Iterable[Document]) -> int:
        """Hand documents this step created (and committed) to workers; they count on this
        document's run."""
        return documents_queue([d.pk for d in documents], trigger=self.trigger, user=self.user,
                               run=self.document.run_id)

    def save(self, *fields: str) -> None:
        """Persist what the step produced so far, for a step that must commit part of its work
        with rows of its own (the inbox's read step); the engine saves the rest at its end."""
        self.document.save(update_fields=[*(fields or DOCUMENT_FIELDS), "updated_at"])


def document_process(document: Document, *, trigger: str, user: AbstractBaseUser | None = None,
                     from_step: str | None = None) -> Document:
    """Run the document from `from_step` (default: its current step) to the end or to the
    first failure. Returns the document in its new state."""
    with bound(tenant_id=document.tenant_id, flow=document.flow, document_id=document.pk, trigger=trigger):
        return _process(document, trigger=trigger, user=user, from_step=from_step)


def _process(document: Document, *, trigger: str, user: AbstractBaseUser | None, from_step: str | None) -> Document:
    flow = flow_of(document)
    start = from_step or document.step or None
    memo: dict[str, Any] = {}
    for step in flow.steps_from(start):
        document.step = step.name
        ctx = StepContext(document=document, flow=flow, trigger=trigger, user=user, step=step.name, memo=memo)
        attempt = Attempt(document=document, step=step.name, trigger=trigger, user=user, started_at=timezone.now())
        started = time.monotonic()
        with recording_calls() as calls, bound(step=step.name):
            try:
                step.run(ctx)
            except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
                attempt.duration_ms = int((time.monotonic() - started) * 1000)
                attempt.calls = [c.as_dict() for c in calls]
                _record_failure(document, flow, attempt, exc, user=user)
                return document
        attempt.duration_ms = int((time.monotonic() - started) * 1000)
        attempt.calls = [c.as_dict() for c in calls]
        attempt.succeeded = True
        document.failure_kind = ""
        document.last_error = ""
        document.next_attempt_at = None
        if ctx.finished_state:
            document.step = ""
            _write(document, flow, ctx.finished_state, user=user, action=step.name, reason=ctx.finished_reason,
                   audit=True, attempt=attempt)
            return document
        is_last = step is flow.steps[-1]
        if is_last:
            document.step = ""
            document.retry_count = 0
        else:
            document.step = flow.steps[flow.steps.index(step) + 1].name
        _write(document, flow, step.state_after or document.state, user=user, action=step.name, attempt=attempt)
    return document


PARKED_OUTCOMES = (DocumentState.RETRYING, DocumentState.FAILED, DocumentState.NEEDS_MAPPING)


def _write(document: Document, flow: Flow, to_state: str, *, user: AbstractBaseUser | None, action: str,
           reason: str = "", audit: bool = False, attempt: Attempt | None = None) -> None:
    """The one write of the document when a step ends: the step's Attempt, the document's
    fields, the transition and its audit event when the state changes (or `audit`: a failure,
    an early finish), and, at its first outcome (the flow finished, or the document parked),
    one count on the run that handed it out, in one transaction (one commit per step)."""
    fields = DOCUMENT_FIELDS
    counted_on, key = None, outcome_key(to_state, prefix=flow.outcome_prefix)
    if document.run_id is not None and key and (not document.step or to_state in PARKED_OUTCOMES):
        counted_on, document.run_id = document.run_id, None
        fields = (*DOCUMENT_FIELDS, "run")
    with transaction.atomic():
        if attempt is not None:
            attempt.save()
        if audit or to_state != document.state:
            document_transition(document, to_state, user=user, reason=reason, action=action, extra_fields=fields)
        else:
            document_summarize(document)  # a transition does it; a step that changes no state too
            document.save(update_fields=[*fields, "updated_at"])
        if counted_on is not None:
            sync_run_add(counted_on, {key: 1}, finished=1)


def _record_failure(document: Document, flow: Flow, attempt: Attempt, exc: BaseException, *,
                    user: AbstractBaseUser | None) -> None:
    kind = classify(exc)
    message = str(exc) if isinstance(exc, IntegrationFailure) else f"{type(exc).__name__}: {exc}"
    attempt.failure_kind = kind.value
    attempt.error = message
    if kind is FailureKind.BUG:
        attempt.traceback = "".join(tb.format_exception(exc))

    document.failure_kind = kind.value
    document.last_error = message
    reason = f"{attempt.step}: {message}"
    if kind is FailureKind.TRANSIENT:
        delay = next_retry_delay(document.retry_count, retry_after=getattr(exc, "retry_after", None),
                                 retry_in=getattr(exc, "retry_in", None))
        if delay is not None:
            document.retry_count += 1
            document.next_attempt_at = timezone.now() + delay
            _write(document, flow, DocumentState.RETRYING, user=user, action="retry_scheduled", audit=True,
                   attempt=attempt, reason=f"{reason} (retry {document.retry_count} of {len(RETRY_SCHEDULE)} "
                          f"at {document.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)")
            if getattr(exc, "retry_in", None) is not None:  # due before the beat's next look
                document_queue_retry(document.pk, at=document.next_attempt_at)
            return
        reason = f"{reason} (gave up after {len(RETRY_SCHEDULE)} retries)"
    document.next_attempt_at = None
    to_state = DocumentState.NEEDS_MAPPING if isinstance(exc, MappingMissing) else DocumentState.FAILED
    _write(document, flow, to_state, user=user, action=f"{kind.value}_failure", reason=reason, audit=True,
           attempt=attempt)
