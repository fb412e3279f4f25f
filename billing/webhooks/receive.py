"""Receiving one webhook delivery: verify it, store it, turn it into at most one event.

The request does one write, and on PostgreSQL one round trip: the delivery row (raw body,
headers, remote address, outcome and reason) and, for a verified JSON event, the event under
the unique (endpoint, event id), in one statement committed on its own. The signature is
checked over the very bytes that statement stores (the same object), before it runs, so no
outcome is ever written without its raw input, and nothing is trusted that is not stored.
Every refusal is a ledger row with its status and reason. A failure of our own stores the
delivery alone, with the error and a 500: Stripe retries, and the raw input is kept either
way.

The event is an outbox row: the request neither makes the engine document nor talks to the
broker on the event's behalf. It nudges a drain (billing.webhooks.handoff), which makes the
documents and queues their processing, and the sweeper drains whatever a lost nudge left.

The endpoint and its decrypted secrets are cached per process for a few seconds; the cache
only proposes. The statement inserts nothing unless the database still holds the matching
secret as active on an enabled endpoint, so a secret removed or expired, or an endpoint
disabled, in another process is refused at once; a signature that matches no cached secret
is checked again against the database's (a secret just added).
"""
from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from django.db import connection, transaction

from connector.fields import decrypt

from ..models import DeliveryOutcome, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSecret
from .handoff import webhook_events_nudge
from .rows import row_cursor, row_insert, row_values
from .signature import HEADER, SignatureRejected, signature_verify

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# How long a process trusts its copy of an endpoint's keys (the database has the last word).
ENDPOINT_CACHE_SECONDS = 10.0
# Headers a sender might mistakenly fill with a credential of its own: never kept.
REDACTED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

STATUS = {
    DeliveryOutcome.ACCEPTED: 200,
    DeliveryOutcome.DUPLICATE: 200,
    DeliveryOutcome.UNKNOWN_ENDPOINT: 404,
    DeliveryOutcome.METHOD_NOT_ALLOWED: 405,
    DeliveryOutcome.NO_SIGNATURE: 400,
    DeliveryOutcome.MALFORMED_SIGNATURE: 400,
    DeliveryOutcome.SIGNATURE_MISMATCH: 400,
    DeliveryOutcome.STALE: 400,
    DeliveryOutcome.FUTURE: 400,
    DeliveryOutcome.NOT_JSON: 400,
    DeliveryOutcome.TOO_LARGE: 413,
    DeliveryOutcome.ERROR: 500,
}


@dataclass(frozen=True)
class IncomingDelivery:
    """A request as the view read it: nothing in it is trusted yet."""

    endpoint_key: str
    path: str
    method: str
    headers: dict[str, str]
    remote_addr: str | None
    body: bytes
    size: int


@dataclass(frozen=True)
class DeliveryReceipt:
    delivery_id: int | None
    outcome: str
    reason: str = ""
    event_id: int | None = None

    @property
    def status(self) -> int:
        return STATUS[DeliveryOutcome(self.outcome)]


class NotAnEvent(ValueError):
    """The body, though signed, is not a Stripe event we can key: not UTF-8 JSON, or no id/type."""


@dataclass(frozen=True)
class EventFields:
    stripe_id: str
    type: str
    object_id: str = ""
    livemode: bool = False
    api_version: str = ""
    stripe_created: datetime | None = None
    text: str = field(default="", repr=False)


def event_fields_read(body: bytes) -> EventFields:
    """What the ledger keys and shows of an event; NotAnEvent names what is missing."""
    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotAnEvent(f"body is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise NotAnEvent(f"body is JSON but not an object ({type(data).__name__})")
    stripe_id, event_type = data.get("id"), data.get("type")
    if not isinstance(stripe_id, str) or not stripe_id.startswith("evt_") or len(stripe_id) > 200:
        raise NotAnEvent("body has no event id (a string evt_…, at most 200 characters)")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise NotAnEvent("body has no event type")
    obj = data.get("data", {}).get("object", {}) if isinstance(data.get("data"), dict) else {}
    object_id = obj.get("id") if isinstance(obj, dict) else None
    created = data.get("created")
    return EventFields(
        stripe_id=stripe_id, type=event_type, object_id=object_id[:255] if isinstance(object_id, str) else "",
        livemode=data.get("livemode") is True,
        api_version=data.get("api_version")[:40] if isinstance(data.get("api_version"), str) else "",
        stripe_created=datetime.fromtimestamp(created, UTC) if isinstance(created, int) and created > 0 else None,
        text=text,
    )


def headers_kept(headers: dict[str, str]) -> dict[str, str]:
    return {name: ("[redacted]" if name.lower() in REDACTED_HEADERS else value) for name, value in headers.items()}


@dataclass(frozen=True)
class EndpointKeys:
    """An endpoint as the check needs it, with its secrets not yet expired when read (id,
    value, expiry): read in one query."""

    id: int
    tenant_id: int
    enabled: bool
    tolerance: int
    secrets: tuple[tuple[int, str, datetime | None], ...] = field(repr=False)
    cached: bool = False

    def active_secrets(self, at: datetime) -> list[tuple[int, str]]:
        return [(secret_id, value) for secret_id, value, expires_at in self.secrets
                if expires_at is None or expires_at > at]


_endpoint_cache: dict[str, tuple[float, EndpointKeys]] = {}


def endpoint_keys(key: str, *, fresh: bool = False) -> EndpointKeys | None:
    """The endpoint with this URL key: this process's copy when younger than
    ENDPOINT_CACHE_SECONDS (unless `fresh`), else read again. An unknown key is not cached."""
    if not fresh:
        hit = _endpoint_cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ENDPOINT_CACHE_SECONDS:
            return hit[1]
    keys = _endpoint_read(key, now=datetime.now(UTC))
    if keys is None:
        _endpoint_cache.pop(key, None)
    else:
        _endpoint_cache[key] = (time.monotonic(), EndpointKeys(**{**keys.__dict__, "cached": True}))
    return keys


def endpoint_keys_forget() -> None:
    """Drop this process's copies (tests; a secret changed in this process)."""
    _endpoint_cache.clear()


def _endpoint_read(key: str, *, now: datetime) -> EndpointKeys | None:
    """The endpoint with this URL key and its secrets not expired at `now`, in one statement."""
    try:
        endpoint_uuid = uuid.UUID(key)
    except ValueError:
        return None
    endpoint_table, secret_table = (connection.ops.quote_name(m._meta.db_table) for m in (WebhookEndpoint, WebhookSecret))
    with row_cursor() as cursor:
        cursor.execute(
            f"SELECT e.id, e.tenant_id, e.enabled, e.tolerance_seconds, s.id, s.secret, s.expires_at "
            f"FROM {endpoint_table} e LEFT JOIN {secret_table} s ON s.endpoint_id = e.id "
            "AND (s.expires_at IS NULL OR s.expires_at > %s) WHERE e.uuid = %s",
            [connection.ops.adapt_datetimefield_value(now),
             WebhookEndpoint._meta.get_field("uuid").get_db_prep_value(endpoint_uuid, connection)])
        rows = cursor.fetchall()
    if not rows:
        return None
    pk, tenant_id, enabled, tolerance = rows[0][:4]
    expiry = WebhookSecret._meta.get_field("expires_at")
    secrets = tuple((secret_id, decrypt(token), _as_datetime(expiry, expires_at))
                    for *_, secret_id, token, expires_at in rows if secret_id is not None)
    return EndpointKeys(id=pk, tenant_id=tenant_id, enabled=bool(enabled), tolerance=tolerance, secrets=secrets)


def _as_datetime(field, value) -> datetime | None:
    """A datetime column as read by a raw cursor (SQLite hands back text)."""
    if value is not None and not isinstance(value, datetime):
        value = field.to_python(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _delivery(incoming: IncomingDelivery, endpoint: EndpointKeys | None, **fields) -> WebhookDelivery:
    return WebhookDelivery(
        tenant_id=endpoint.tenant_id if endpoint else None, endpoint_id=endpoint.id if endpoint else None,
        path=incoming.path[:300], method=incoming.method[:10], remote_addr=incoming.remote_addr,
        headers=headers_kept(incoming.headers), body=incoming.body[:MAX_BODY_BYTES], size=incoming.size, **fields)


def _refuse(delivery: WebhookDelivery, outcome: str, reason: str) -> DeliveryReceipt:
    """Store a refused delivery, one statement, with its status and reason."""
    delivery.outcome, delivery.reason, delivery.status_code = outcome, reason, STATUS[DeliveryOutcome(outcome)]
    row_insert(delivery)
    log.warning("webhook delivery %s to %s refused (%s): %s", delivery.pk, delivery.path, outcome, reason)
    return DeliveryReceipt(delivery_id=delivery.pk, outcome=outcome, reason=reason)


def webhook_delivery_receive(*, incoming: IncomingDelivery, now: float | None = None) -> DeliveryReceipt:
    """Verify, store and key one delivery; nudge the drain for a new event.

    `now` (Unix seconds) is the clock the timestamp is judged by. Never raises for bad input:
    the receipt's status and reason say what was wrong."""
    now = time.time() if now is None else now
    receipt = _receive(incoming, now=now, fresh=False)
    if receipt is None:  # the cached keys were out of date: the database's own, once more
        receipt = _receive(incoming, now=now, fresh=True)
    if receipt is None:  # the matching secret went away in the milliseconds between the two
        receipt = _refuse(_delivery(incoming, endpoint_keys(incoming.endpoint_key)), DeliveryOutcome.SIGNATURE_MISMATCH,
                          "the secret that signed this delivery was removed or expired, or the endpoint disabled, "
                          "while it was received")
    if receipt.outcome == DeliveryOutcome.ACCEPTED:
        webhook_events_nudge()
    return receipt


def _receive(incoming: IncomingDelivery, *, now: float, fresh: bool) -> DeliveryReceipt | None:
    """One try with this process's keys (`fresh`: the database's); None when the keys it
    verified with are no longer the database's, so nothing was written."""
    endpoint = endpoint_keys(incoming.endpoint_key, fresh=fresh)
    if endpoint is None:
        return _refuse(_delivery(incoming, None), DeliveryOutcome.UNKNOWN_ENDPOINT, "no webhook endpoint has this URL")
    delivery = _delivery(incoming, endpoint)
    if not endpoint.enabled:
        if endpoint.cached:
            return None
        return _refuse(delivery, DeliveryOutcome.UNKNOWN_ENDPOINT, "this webhook endpoint is disabled")
    if incoming.method != "POST":
        return _refuse(delivery, DeliveryOutcome.METHOD_NOT_ALLOWED,
                       f"{incoming.method[:10]} is not accepted here: Stripe POSTs")
    if incoming.size > MAX_BODY_BYTES:
        return _refuse(delivery, DeliveryOutcome.TOO_LARGE,
                       f"body of {incoming.size} bytes is over the {MAX_BODY_BYTES} allowed; the first "
                       f"{MAX_BODY_BYTES} are kept")
    try:
        return _verify_store_key(delivery, incoming, endpoint, now)
    except _KeysOutOfDate:
        return None
    except Exception as exc:  # noqa: BLE001 - our own failure: keep the input, answer 500 so Stripe retries
        failed = _delivery(incoming, endpoint, outcome=DeliveryOutcome.ERROR, status_code=500,
                           reason=f"{type(exc).__name__}: {exc}", traceback="".join(traceback.format_exception(exc)))
        failed.save(force_insert=True)
        log.error("webhook delivery %s to %s failed: %s: %s", failed.pk, incoming.path, type(exc).__name__, exc)
        return DeliveryReceipt(delivery_id=failed.pk, outcome=DeliveryOutcome.ERROR, reason=failed.reason)


class _KeysOutOfDate(Exception):
    """The cached keys proposed a secret the database no longer holds as active (or none matched)."""


def _verify_store_key(delivery: WebhookDelivery, incoming: IncomingDelivery, endpoint: EndpointKeys,
                      now: float) -> DeliveryReceipt:
    """Verify over the bytes the delivery row will hold, then write the delivery, and for a
    JSON event the event, in one statement."""
    at = datetime.fromtimestamp(now, UTC)
    try:
        verified = signature_verify(body=delivery.body, header=incoming.headers.get(HEADER),
                                    secrets=endpoint.active_secrets(at), now=now, tolerance=endpoint.tolerance)
    except SignatureRejected as rejected:
        if rejected.outcome == DeliveryOutcome.SIGNATURE_MISMATCH and endpoint.cached:
            raise _KeysOutOfDate from None  # a secret added since this process read them?
        if rejected.secret_id is not None:  # stale or future: authentic, but outside the tolerance
            delivery.verified, delivery.secret_id = True, rejected.secret_id
            delivery.signed_at = _at(rejected.timestamp)
        return _refuse(delivery, rejected.outcome, str(rejected))
    delivery.verified, delivery.signed_at, delivery.secret_id = True, _at(verified.timestamp), verified.secret_id
    try:
        fields = event_fields_read(delivery.body)
    except NotAnEvent as exc:
        return _refuse(delivery, DeliveryOutcome.NOT_JSON, str(exc))
    event = WebhookEvent(
        tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id, stripe_id=fields.stripe_id, type=fields.type,
        object_id=fields.object_id, livemode=fields.livemode, api_version=fields.api_version,
        stripe_created=fields.stripe_created,
    )
    delivery.status_code = 200
    reasons = {DeliveryOutcome.ACCEPTED: f"new event {fields.type} {fields.stripe_id}",
               DeliveryOutcome.DUPLICATE: f"event {fields.stripe_id} was already received"}
    insert = _event_insert_postgresql if connection.vendor == "postgresql" else _event_insert
    if not insert(event, delivery, reasons, at=at):
        raise _KeysOutOfDate
    return _receipt(delivery)


@lru_cache(maxsize=4)
def _guard_sql(vendor: str) -> str:
    """True when the secret is still active on the endpoint, and the endpoint enabled."""
    endpoint_table, secret_table = (connection.ops.quote_name(m._meta.db_table) for m in (WebhookEndpoint, WebhookSecret))
    return (f"EXISTS (SELECT 1 FROM {secret_table} s JOIN {endpoint_table} e ON e.id = s.endpoint_id "
            "WHERE s.id = %s AND e.id = %s AND e.enabled AND (s.expires_at IS NULL OR s.expires_at > %s))")


# The delivery's columns the statement computes: the event it carried and whether it was new.
_ACCEPTED = "EXISTS (SELECT 1 FROM ev)"
_DELIVERY_EXPRESSIONS = {
    "event_id": "COALESCE((SELECT id FROM ev), (SELECT id FROM {event_table} WHERE endpoint_id = %s AND stripe_id = %s))",
    "outcome": f"CASE WHEN {_ACCEPTED} THEN %s ELSE %s END",
    "reason": f"CASE WHEN {_ACCEPTED} THEN %s ELSE %s END",
}


@lru_cache(maxsize=4)
def _accept_sql(vendor: str) -> str:
    """The statement of _event_insert_postgresql, built once per process from the models."""
    q = connection.ops.quote_name
    event_table, delivery_table = q(WebhookEvent._meta.db_table), q(WebhookDelivery._meta.db_table)
    event_columns = row_values(WebhookEvent())
    delivery_columns = {column: _DELIVERY_EXPRESSIONS.get(column, placeholder).format(event_table=event_table)
                        for column, (placeholder, _) in row_values(WebhookDelivery()).items()}
    return (f"WITH ev AS (INSERT INTO {event_table} ({', '.join(map(q, event_columns))}) "
            f"SELECT {', '.join(placeholder for placeholder, _ in event_columns.values())} "
            f"WHERE {_guard_sql(vendor)} ON CONFLICT DO NOTHING RETURNING id) "
            f"INSERT INTO {delivery_table} ({', '.join(map(q, delivery_columns))}) "
            f"SELECT {', '.join(delivery_columns.values())} "
            f"WHERE {_guard_sql(vendor)} RETURNING id, event_id, outcome, reason")


def _event_insert_postgresql(event: WebhookEvent, delivery: WebhookDelivery, reasons: dict[str, str], *,
                             at: datetime) -> bool:
    """The event (unless the endpoint has it) and the delivery naming it, in one statement:
    one round trip, committed on its own. False, writing nothing, when the guard fails."""
    guard = [delivery.secret_id, event.endpoint_id, at]
    computed = {"event_id": (event.endpoint_id, event.stripe_id),
                "outcome": (DeliveryOutcome.ACCEPTED.value, DeliveryOutcome.DUPLICATE.value),
                "reason": (reasons[DeliveryOutcome.ACCEPTED], reasons[DeliveryOutcome.DUPLICATE])}
    params = [value for _, value in row_values(event).values()] + guard
    for column, (_, value) in row_values(delivery).items():
        params.extend(computed.get(column, (value,)))
    params.extend(guard)
    with row_cursor() as cursor:
        # Prepared: planning this statement costs the server more than running it. Not behind
        # a transaction-pooling proxy, which Django's DISABLE_SERVER_SIDE_CURSORS announces.
        cursor.execute(_accept_sql(connection.vendor), params,
                       prepare=not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"))
        row = cursor.fetchone()
        if row is None:
            return False
        delivery.pk, delivery.event_id, delivery.outcome, delivery.reason = row
        delivery._state.adding = False
        if delivery.event_id is None:
            # A duplicate delivered at the same moment as the first: the first committed after
            # this statement's snapshot was taken (ON CONFLICT waited for it); name it now.
            q = connection.ops.quote_name
            cursor.execute(f"UPDATE {q(WebhookDelivery._meta.db_table)} SET event_id = (SELECT id FROM "
                           f"{q(WebhookEvent._meta.db_table)} WHERE endpoint_id = %s AND stripe_id = %s) "
                           "WHERE id = %s RETURNING event_id", [event.endpoint_id, event.stripe_id, delivery.pk])
            delivery.event_id = cursor.fetchone()[0]
    return True


def _event_insert(event: WebhookEvent, delivery: WebhookDelivery, reasons: dict[str, str], *, at: datetime) -> bool:
    """The same, in a transaction of a few statements (SQLite)."""
    with transaction.atomic(), row_cursor() as cursor:
        cursor.execute(f"SELECT {_guard_sql(connection.vendor)}", [delivery.secret_id, event.endpoint_id,
                                                  connection.ops.adapt_datetimefield_value(at)])
        if not cursor.fetchone()[0]:
            return False
        if row_insert(event, unless_conflict=True, cursor=cursor) is not None:
            delivery.outcome = DeliveryOutcome.ACCEPTED
        else:
            event.pk = WebhookEvent.objects.filter(endpoint_id=event.endpoint_id, stripe_id=event.stripe_id
                                                   ).values_list("pk", flat=True).get()
            delivery.outcome = DeliveryOutcome.DUPLICATE
        delivery.reason, delivery.event_id = reasons[delivery.outcome], event.pk
        row_insert(delivery, cursor=cursor)
    return True


def _receipt(delivery: WebhookDelivery) -> DeliveryReceipt:
    return DeliveryReceipt(delivery_id=delivery.pk, outcome=delivery.outcome, reason=delivery.reason,
                           event_id=delivery.event_id)


def _at(timestamp: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None
