"""Builders for console tests: documents failing the way the flows make them fail."""
from datetime import UTC, datetime, timedelta

import pytest

from connector.documents import document_receive, document_transition
from connector.models import DocumentState, Trigger
from connector.pipeline import document_process

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """A simulated clock: `clock.now`, moved with `clock.advance(minutes=…)`."""
    class Clock:
        now = T0

        def advance(self, **delta):
            self.now = self.now + timedelta(**delta)
            return self.now

    return Clock()


def failed_document(tenant, key, echo_flow, failure="data"):
    """A document of the echo flow that failed at its send step with `failure`."""
    echo_flow.send_failures.append(failure)
    document, _ = document_receive(tenant=tenant, flow="echo", external_key=key, raw=f"payload {key}")
    document_process(document, trigger=Trigger.SCHEDULED)
    return document


def waiting_document(tenant, key, missing, *, flow="810-ap", step="resolve"):
    """A document parked in needs_mapping with `mapped["missing"]`, as 810-ap parks it."""
    document, _ = document_receive(tenant=tenant, flow=flow, external_key=key, raw="ISA*...")
    document.step = step
    document.mapped = {"missing": [{"kind": kind, "source_value": value, "message": f"no {kind} for {value}"}
                                   for kind, value in missing]}
    document.failure_kind = "config"
    document.last_error = "; ".join(f"no {kind} for {value}" for kind, value in missing)
    document_transition(document, DocumentState.NEEDS_MAPPING, action="config_failure", reason=document.last_error,
                        extra_fields=("step", "mapped", "failure_kind", "last_error"))
    return document
