"""Events: retrieve and list, as /v1/events serves them.

Every state change made an event (context.emit). Stripe keeps events retrievable for 30
days only: an older one is `resource_missing`, which is why a processor stores what it
needs when the event arrives. `type` takes a wildcard (`invoice.*`).
"""
from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from .context import Call
from .forms import EXPAND, PAGE, Bool, ListOf, Range, Str
from .state import DAY, list_object, page
from .web import Router, no_such

if TYPE_CHECKING:
    from .app import StripeSimulator

RETENTION = 30 * DAY


def register(router: Router) -> None:
    router.add("GET", "/v1/events/{event_id}", retrieve, EXPAND)
    router.add("GET", "/v1/events", list_events, {**PAGE, "type": Str(), "types": ListOf(Str(), max_items=20),
                                                  "created": Range(), "delivery_success": Bool()})


def _kept(call: Call, event: dict[str, Any]) -> bool:
    return event["created"] > call.now - RETENTION


def retrieve(sim: StripeSimulator, call: Call, params: dict[str, Any], event_id: str) -> dict[str, Any]:
    event = call.ledger.get("event", event_id)
    if not _kept(call, event):
        raise no_such("event", event_id)
    return event


def list_events(sim: StripeSimulator, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    patterns = ([params["type"]] if "type" in params else []) + params.get("types", [])
    created = params.get("created", {})

    def wanted(event: dict[str, Any]) -> bool:
        at = event["created"]
        return (_kept(call, event)
                and (not patterns or any(fnmatch.fnmatchcase(event["type"], p) for p in patterns))
                and at == created.get("eq", at) and at > created.get("gt", at - 1) and at >= created.get("gte", at)
                and at < created.get("lt", at + 1) and at <= created.get("lte", at)
                and ("delivery_success" not in params
                     or (event["pending_webhooks"] == 0) == params["delivery_success"]))

    data, more = page(call.ledger.all("event", wanted), params, "event")
    return list_object(data, more, "/v1/events")
