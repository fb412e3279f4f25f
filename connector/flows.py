"""How a flow plugs into the engine without the engine importing it.

A flow (in edi/ or billing/) registers a `Flow` from its AppConfig.ready(): the ordered
steps a Document goes through, and where its documents come from: a declared input stream
(connector.streams: the engine reads it since the flow's own cursor), a polling function of
its own (the Cleo inbox lists folders), or another job or a webhook (then `sweep=True` gives
it a cycle that only resumes its waiting documents). The engine runs steps, records attempts
and effects, retries, replays and fans documents out to workers; the flow only knows its
business.

    register(Flow(name="ar-stripe", label="AR invoice to Stripe", stream=AR_INVOICES,
                  steps=(Step("customer", customer_ensure, "mapped"), Step("invoice", invoice_create, "sent")),
                  needs=("vantagepointconnection", "stripeconnection")))
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Document
    from .pipeline import StepContext
    from .streams import Stream
    from .summary import DocumentSummary


@dataclass(frozen=True)
class Step:
    """One step: `run(ctx)` does the work and may set a final state through ctx.finish();
    on success the document moves to `state_after` (unless finished) and on to the next step."""

    name: str
    run: Callable[[StepContext], None]
    state_after: str


@dataclass(frozen=True)
class RelatedRecord:
    """A record linked to a document, shown on its page: what it is ("997 from the partner",
    "AP voucher"), what identifies it, and our admin page for it when we have one."""

    what: str
    label: str
    url: str = ""


class ActionRefused(Exception):
    """A document action cannot be done now; the message says why (shown to the human)."""


@dataclass(frozen=True)
class DocumentAction:
    """Something a human may do to one document of a flow beyond replay and ignore (send a
    corrected 810 for a rejected one, send a held one anyway). The document page offers it when
    `offered(document)`; the admin asks for a reason, then calls
    `run(document=..., user=..., reason=...)`, a service that writes its own audit events and
    returns the message to show, or raises ActionRefused."""

    name: str
    label: str
    explanation: str
    offered: Callable[[Document], bool]
    run: Callable[..., str]


@dataclass(frozen=True)
class Flow:
    name: str
    label: str
    steps: tuple[Step, ...]
    # The records this flow reads since its cursor (one Document each), e.g. Vantagepoint's AR invoices.
    stream: Stream | None = None
    # poll(run, trigger, user) receives input no stream describes (e.g. files listed in folders)
    # and returns counts; the engine then dispatches the waiting documents.
    poll: Callable[..., dict[str, Any]] | None = None
    # A cycle that only resumes waiting documents: for a flow whose input another job or a
    # webhook creates (810-ap's invoices come from the Cleo inbox).
    sweep: bool = False
    # Prefix of this flow's outcome counts on a run it shares with another flow ("files_").
    outcome_prefix: str = ""
    # Connections (attribute names on Tenant) that must be enabled for the schedule to exist.
    needs: tuple[str, ...] = ()
    description: str = ""
    # How the document page shows the artifact (e.g. an 810 one segment per line).
    show_artifact: Callable[[Document], str] | None = None
    # Links the document page offers a human, e.g. ("Create the missing vendor mapping", url).
    document_links: Callable[[Document], list[tuple[str, str]]] | None = None
    # The business columns (reference, client or vendor, partner, amount): connector.summary.
    summarize: Callable[[Document], DocumentSummary] | None = None
    # Records on either side this document is linked to (the 997 that answered it, the file
    # it came in, the voucher it became), for its page.
    related_records: Callable[[Document], list[RelatedRecord]] | None = None
    # Where a replay or retry resumes when the flow knows better than the step that failed:
    # (step, why) or None for the step itself. 810-ap resolves again after a mapping change;
    # the hook must never move a document back over an effect that may have been made.
    resume_at: Callable[[Document], tuple[str, str] | None] | None = None
    # What a human may do to a document beyond replay and ignore, on its page (DocumentAction).
    actions: tuple[DocumentAction, ...] = ()

    def action(self, name: str) -> DocumentAction | None:
        return next((a for a in self.actions if a.name == name), None)

    @property
    def has_cycle(self) -> bool:
        """Whether the flow is polled: a stream, a poll of its own, or a sweep."""
        return self.stream is not None or self.poll is not None or self.sweep

    @property
    def cursor_name(self) -> str:
        """The flow's own cursor on its stream: "<flow>:<stream>"."""
        if self.stream is None:
            raise ValueError(f"flow {self.name} declares no stream")
        return f"{self.name}:{self.stream.name}"

    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"flow {self.name} has no step '{name}'")

    def steps_from(self, name: str | None) -> tuple[Step, ...]:
        if not name:
            return self.steps
        names = self.step_names()
        if name not in names:
            raise KeyError(f"flow {self.name} has no step '{name}'")
        return self.steps[names.index(name):]


_registry: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    _registry[flow.name] = flow
    return flow


def unregister(name: str) -> None:
    _registry.pop(name, None)


def get_flow(name: str) -> Flow:
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise KeyError(f"unknown flow '{name}' (known: {known})") from None


def all_flows() -> list[Flow]:
    return sorted(_registry.values(), key=lambda f: f.name)


def flow_of(document: Document) -> Flow:
    return get_flow(document.flow)


def flow_choices() -> list[tuple[str, str]]:
    return [(f.name, f.label) for f in all_flows()]
