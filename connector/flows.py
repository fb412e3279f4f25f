"""How a flow plugs into the engine without the engine importing it.

A flow (in edi/ or billing/) registers a `Flow` from its AppConfig.ready(): the ordered
steps a Document goes through, and the polling function a SyncRun calls. The engine runs
steps, records attempts, retries and replays; the flow only knows its business.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Document
    from .pipeline import StepContext
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


@dataclass(frozen=True)
class Flow:
    name: str
    label: str
    steps: tuple[Step, ...]
    # poll(run, trigger, user) reads new input, creates documents and pushes them through.
    poll: Callable[..., dict[str, Any]] | None = None
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
