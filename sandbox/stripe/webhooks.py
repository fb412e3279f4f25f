"""Webhook endpoints and the delivery of events to them, signed the way Stripe signs.

    Stripe-Signature: t=1700000000,v1=<hex>,v0=<hex>

`v1` is HMAC-SHA256 keyed with the whole `whsec_...` secret over `"{t}.{raw body}"`; in test
mode Stripe adds a `v0` made with another key, which a verifier must ignore. The body is
the event as JSON, pretty-printed, rendered at the endpoint's API version (or the event's).
`t` is the simulator's clock, so advancing the clock makes stale or future signatures.

Deliveries happen when `deliver_pending()` runs (tests call it; the served simulator runs a
thread). Stripe delivers at least once, in no guaranteed order: `duplicate_next` sends the
next matching event twice, `hold_next` delivers it only after a later one. A delivery that
fails (error or non-2xx answer) is retried on the clock with a growing delay for three days.
"""
from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .state import DAY, Ledger
from .versions import render

if TYPE_CHECKING:
    from .app import StripeSimulator

RETRY_DELAYS = (60, 300, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, DAY)
GIVE_UP_AFTER = 3 * DAY
SEND_TIMEOUT = 10.0


def signature_header(secret: str, payload: bytes, timestamp: int, *, v0_secret: str | None = None) -> str:
    """The Stripe-Signature header for `payload` signed at `timestamp` (what Stripe sends)."""
    signed = f"{timestamp}.".encode() + payload
    parts = [f"t={timestamp}", "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()]
    if v0_secret:
        parts.append("v0=" + hmac.new(v0_secret.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str
    account_id: str
    livemode: bool
    enabled_events: tuple[str, ...] = ("*",)
    api_version: str | None = None
    transport: httpx.BaseTransport | None = None
    enabled: bool = True

    def wants(self, event_type: str) -> bool:
        return self.enabled and any(fnmatch.fnmatchcase(event_type, p) for p in self.enabled_events)

    def as_json(self) -> dict[str, Any]:
        """Never the secret: it is shown once, when the endpoint is made."""
        return {"id": self.id, "url": self.url, "enabled_events": list(self.enabled_events), "account": self.account_id,
                "livemode": self.livemode, "api_version": self.api_version, "enabled": self.enabled}


@dataclass
class Pending:
    event: dict[str, Any]
    ledger: Ledger
    endpoint: Endpoint
    due_at: float
    tries: int = 0
    held: bool = False
    copies: int = 1


@dataclass
class DeliveryAttempt:
    event_id: str
    event_type: str
    endpoint_id: str
    at: float
    timestamp: int
    status: int | None = None
    error: str = ""
    copy: int = 1

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        return {"event": self.event_id, "type": self.event_type, "endpoint": self.endpoint_id, "at": self.at,
                "signed_at": self.timestamp, "status": self.status, "error": self.error, "copy": self.copy}


@dataclass
class Rule:
    event_type: str | None
    remaining: int = 1

    def take(self, event_type: str) -> bool:
        if self.remaining > 0 and (self.event_type is None or fnmatch.fnmatchcase(event_type, self.event_type)):
            self.remaining -= 1
            return True
        return False


@dataclass
class Webhooks:
    sim: StripeSimulator
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    duplicate_rules: list[Rule] = field(default_factory=list)
    hold_rules: list[Rule] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def add_endpoint(self, endpoint: Endpoint) -> Endpoint:
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def enqueue(self, ledger: Ledger, event: dict[str, Any]) -> None:
        for endpoint in self.endpoints.values():
            if endpoint.account_id != ledger.account.id or endpoint.livemode != ledger.livemode:
                continue
            if not endpoint.wants(event["type"]):
                continue
            item = Pending(event, ledger, endpoint, self.sim.clock.now())
            item.held = any(rule.take(event["type"]) for rule in self.hold_rules)
            item.copies = 2 if any(rule.take(event["type"]) for rule in self.duplicate_rules) else 1
            event["pending_webhooks"] += 1
            self.pending.append(item)

    def _due(self) -> list[Pending]:
        """The order this round sends in: a held item goes right after the next item behind it."""
        now = self.sim.clock.now()
        due = [p for p in self.pending if p.due_at <= now]
        order: list[Pending] = []
        waiting: list[Pending] = []
        for item in due:
            if item.held:
                waiting.append(item)
                continue
            order.append(item)
            for held in [w for w in waiting if w.endpoint is item.endpoint]:
                held.held = False
                order.append(held)
                waiting.remove(held)
        return order

    def deliver_pending(self) -> list[DeliveryAttempt]:
        """Send every delivery that is due; returns the attempts made, in order."""
        with self.sim.lock:
            batch = [(item, self._body(item)) for item in self._due()]
            for item, _ in batch:
                self.pending.remove(item)
        made: list[DeliveryAttempt] = []
        for item, body in batch:
            for copy in range(1, item.copies + 1):
                made.append(self._send(item, body, copy))
            with self.sim.lock:
                self._settle(item, made[-1])
        return made

    def release_held(self) -> None:
        """Deliver held events at the next round even if nothing came after them."""
        with self.sim.lock:
            for item in self.pending:
                item.held = False

    def _body(self, item: Pending) -> bytes:
        version = item.endpoint.api_version or item.event["api_version"]
        rendered = render(item.ledger, {**item.event, "_render_version": version}, version)
        return json.dumps(rendered, indent=2).encode()

    def _send(self, item: Pending, body: bytes, copy: int) -> DeliveryAttempt:
        timestamp = int(self.sim.clock.now())
        header = signature_header(item.endpoint.secret, body, timestamp,
                                  v0_secret=None if item.ledger.livemode else self.sim.v0_secret)
        attempt = DeliveryAttempt(item.event["id"], item.event["type"], item.endpoint.id, self.sim.clock.now(), timestamp,
                                  copy=copy)
        headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)", "Cache-Control": "no-cache"}
        try:
            with httpx.Client(transport=item.endpoint.transport, timeout=SEND_TIMEOUT) as client:
                attempt.status = client.post(item.endpoint.url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
        with self.sim.lock:
            self.attempts.append(attempt)
        return attempt

    def _settle(self, item: Pending, attempt: DeliveryAttempt) -> None:
        if attempt.ok:
            item.event["pending_webhooks"] -= 1
            return
        item.tries += 1
        now = self.sim.clock.now()
        if now - item.event["created"] >= GIVE_UP_AFTER:
            return  # Stripe gives up after three days; the event stays retrievable
        item.due_at = now + RETRY_DELAYS[min(item.tries - 1, len(RETRY_DELAYS) - 1)]
        item.copies = 1
        self.pending.append(item)

    def start(self, interval: float = 0.5) -> None:
        """Deliver in the background (the served simulator): every `interval` real seconds."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.sim.tick()
                self.deliver_pending()

        self._thread = threading.Thread(target=loop, name="stripe-sim-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
