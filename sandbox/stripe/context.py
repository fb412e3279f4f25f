"""What a handler knows about the request it serves, and the events it leaves behind.

A handler is `(sim, call, params, **path_parts) -> object`: it reads and changes
`call.ledger` and calls `emit` for every state change, which makes the event (retrievable
at /v1/events) and queues it for the webhook endpoints. Test helpers run the same code with
a `Call` that has no request id, as Stripe's own dashboard-made changes have none.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .state import Ledger

if TYPE_CHECKING:
    from .app import StripeSimulator


@dataclass
class Call:
    ledger: Ledger
    version: str
    now: int
    request_id: str | None = None
    idempotency_key: str | None = None


def emit(sim: StripeSimulator, call: Call, event_type: str, obj: dict[str, Any],
         previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record that `obj` changed: an event with a snapshot of it, queued for the webhooks.

    The event is rendered at the account's default version (endpoints may have their own),
    whatever version the request that caused it used."""
    ledger = call.ledger
    data: dict[str, Any] = {"object": copy.deepcopy(obj)}
    if previous:
        data["previous_attributes"] = copy.deepcopy(previous)
    event = ledger.add({
        "id": sim.ids.new("evt_"), "object": "event", "api_version": ledger.account.api_version,
        "created": call.now, "data": data, "pending_webhooks": 0, "type": event_type,
        "request": {"id": call.request_id, "idempotency_key": call.idempotency_key},
    })
    sim.webhooks.enqueue(ledger, event)
    return event


def changes(obj: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """Apply `updates` to `obj`; return the previous values of what really changed."""
    previous = {}
    for key, value in updates.items():
        if obj.get(key) != value:
            previous[key] = copy.deepcopy(obj.get(key))
            obj[key] = value
    return previous
