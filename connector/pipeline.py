"""Run a document through its flow's steps, one Attempt per step, and decide what a
failure means.

A step saves what it produced on the document itself before any outside effect that must
not repeat (e.g. the file name before an upload), so a retry or a replay that resumes at the
failed step can look before it acts. The engine never restarts a document from scratch.
"""
from __future__ import annotations

import time
import traceback as tb
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .documents import document_transition
from .failures import FailureKind, IntegrationFailure, MappingMissing, classify
from .flows import Flow, flow_of
from .http import recording_calls
from .models import Attempt, Document, DocumentState
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
    finished_state: str = ""
    finished_reason: str = ""

    @property
    def tenant(self):
        return self.document.tenant

    def finish(self, state: str, reason: str = "") -> None:
        """End the pipeline here in `state` (e.g. duplicate, acknowledged, ignored)."""
        self.finished_state = state
        self.finished_reason = reason

    def save(self, *fields: str) -> None:
        """Persist what the step produced so far (before an outside effect)."""
        self.document.save(update_fields=[*(fields or DOCUMENT_FIELDS), "updated_at"])


def document_process(document: Document, *, trigger: str, user: AbstractBaseUser | None = None,
                     from_step: str | None = None) -> Document:
    """Run the document from `from_step` (default: its current step) to the end or to the
    first failure. Returns the document in its new state."""
    flow = flow_of(document)
    start = from_step or document.step or None
    for step in flow.steps_from(start):
        document.step = step.name
        ctx = StepContext(document=document, flow=flow, trigger=trigger, user=user)
        attempt = Attempt(document=document, step=step.name, trigger=trigger, user=user, started_at=timezone.now())
        started = time.monotonic()
        with recording_calls() as calls:
            try:
                step.run(ctx)
            except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
                attempt.duration_ms = int((time.monotonic() - started) * 1000)
                attempt.calls = [c.as_dict() for c in calls]
                _record_failure(document, attempt, exc, user=user)
                return document
        attempt.duration_ms = int((time.monotonic() - started) * 1000)
        attempt.calls = [c.as_dict() for c in calls]
        attempt.succeeded = True
        attempt.save()
        document.failure_kind = ""
        document.last_error = ""
        document.next_attempt_at = None
        if ctx.finished_state:
            document.step = ""
            document_transition(document, ctx.finished_state, user=user, reason=ctx.finished_reason,
                                action=step.name, extra_fields=DOCUMENT_FIELDS)
            return document
        is_last = step is flow.steps[-1]
        if is_last:
            document.step = ""
            document.retry_count = 0
        else:
            document.step = flow.steps[flow.steps.index(step) + 1].name
        if step.state_after and step.state_after != document.state:
            document_transition(document, step.state_after, user=user, action=step.name, extra_fields=DOCUMENT_FIELDS)
        else:
            document_summarize(document)  # a transition does it; a step that changes no state too
            document.save(update_fields=[*DOCUMENT_FIELDS, "updated_at"])
    return document


def _record_failure(document: Document, attempt: Attempt, exc: BaseException, *,
                    user: AbstractBaseUser | None) -> None:
    kind = classify(exc)
    message = str(exc) if isinstance(exc, IntegrationFailure) else f"{type(exc).__name__}: {exc}"
    attempt.failure_kind = kind.value
    attempt.error = message
    if kind is FailureKind.BUG:
        attempt.traceback = "".join(tb.format_exception(exc))
    attempt.save()

    document.failure_kind = kind.value
    document.last_error = message
    reason = f"{attempt.step}: {message}"
    if kind is FailureKind.TRANSIENT:
        delay = next_retry_delay(document.retry_count, retry_after=getattr(exc, "retry_after", None))
        if delay is not None:
            document.retry_count += 1
            document.next_attempt_at = timezone.now() + delay
            document_transition(document, DocumentState.RETRYING, user=user, action="retry_scheduled",
                                reason=f"{reason} (retry {document.retry_count} of {len(RETRY_SCHEDULE)} "
                                       f"at {document.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)",
                                extra_fields=DOCUMENT_FIELDS)
            return
        reason = f"{reason} (gave up after {len(RETRY_SCHEDULE)} retries)"
    document.next_attempt_at = None
    to_state = DocumentState.NEEDS_MAPPING if isinstance(exc, MappingMissing) else DocumentState.FAILED
    document_transition(document, to_state, user=user, action=f"{kind.value}_failure", reason=reason,
                        extra_fields=DOCUMENT_FIELDS)
