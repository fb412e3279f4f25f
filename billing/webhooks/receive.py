"""Receiving one webhook delivery: store it, verify it, turn it into at most one event.

The order is the contract (issue 12): the raw body, headers and remote address are written
to the ledger first; the signature is checked over those bytes; a verified JSON event is
inserted under the unique (endpoint, event id), with its engine document, in the same
transaction; only after the commit is the processing queued. Every refusal is a ledger row
with its status and reason. A failure of our own after the first write rolls the
transaction back and stores the delivery again, alone, with the error and a 500: Stripe
retries, and the raw input is kept either way.
"""
from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from connector.documents import actor_name
from connector.fields import decrypt
from connector.models import AuditEvent, Document, DocumentState

from ..models import DeliveryOutcome, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSecret
from .handoff import STRIPE_PAYMENT_FLOW, webhook_event_queue
from .rows import row_cursor, row_insert, row_update
from .signature import HEADER, SignatureRejected, signature_verify

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
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
    queued: bool = False

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
    """An endpoint as the check needs it, with its active secrets: read in one query."""

    id: int
    tenant_id: int
    enabled: bool
    tolerance: int
    secrets: tuple[tuple[int, str], ...]


def _endpoint_for(key: str, *, now: datetime) -> EndpointKeys | None:
    """The endpoint with this URL key and its secrets still valid at `now`, in one statement."""
    try:
        endpoint_uuid = uuid.UUID(key)
    except ValueError:
        return None
    endpoint_table, secret_table = (connection.ops.quote_name(m._meta.db_table) for m in (WebhookEndpoint, WebhookSecret))
    with row_cursor() as cursor:
        cursor.execute(
            f"SELECT e.id, e.tenant_id, e.enabled, e.tolerance_seconds, s.id, s.secret FROM {endpoint_table} e "
            f"LEFT JOIN {secret_table} s ON s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > %s) "
            "WHERE e.uuid = %s",
            [connection.ops.adapt_datetimefield_value(now),
             WebhookEndpoint._meta.get_field("uuid").get_db_prep_value(endpoint_uuid, connection)])
        rows = cursor.fetchall()
    if not rows:
        return None
    pk, tenant_id, enabled, tolerance = rows[0][:4]
    secrets = tuple((secret_id, decrypt(token)) for *_, secret_id, token in rows if secret_id is not None)
    return EndpointKeys(id=pk, tenant_id=tenant_id, enabled=bool(enabled), tolerance=tolerance, secrets=secrets)


def _reject(incoming: IncomingDelivery, endpoint: EndpointKeys | None, outcome: str, reason: str) -> DeliveryReceipt:
    """A request refused before verification: one ledger row, with its reason."""
    delivery = WebhookDelivery.objects.create(
        tenant_id=endpoint.tenant_id if endpoint else None, endpoint_id=endpoint.id if endpoint else None,
        path=incoming.path[:300],
        method=incoming.method[:10], remote_addr=incoming.remote_addr, headers=headers_kept(incoming.headers),
        body=incoming.body[:MAX_BODY_BYTES], size=incoming.size, outcome=outcome,
        status_code=STATUS[DeliveryOutcome(outcome)], reason=reason,
    )
    log.warning("webhook delivery %s to %s refused (%s): %s", delivery.pk, incoming.path, outcome, reason)
    return DeliveryReceipt(delivery_id=delivery.pk, outcome=outcome, reason=reason)


def webhook_delivery_receive(*, incoming: IncomingDelivery, now: float | None = None) -> DeliveryReceipt:
    """Store, verify and key one delivery; queue the processing of a new event.

    `now` (Unix seconds) is the clock the timestamp is judged by. Never raises for bad input:
    the receipt's status and reason say what was wrong."""
    now = time.time() if now is None else now
    endpoint = _endpoint_for(incoming.endpoint_key, now=datetime.fromtimestamp(now, UTC))
    if endpoint is None:
        return _reject(incoming, None, DeliveryOutcome.UNKNOWN_ENDPOINT, "no webhook endpoint has this URL")
    if not endpoint.enabled:
        return _reject(incoming, endpoint, DeliveryOutcome.UNKNOWN_ENDPOINT, "this webhook endpoint is disabled")
    if incoming.method != "POST":
        return _reject(incoming, endpoint, DeliveryOutcome.METHOD_NOT_ALLOWED,
                       f"{incoming.method[:10]} is not accepted here: Stripe POSTs")
    if incoming.size > MAX_BODY_BYTES:
        return _reject(incoming, endpoint, DeliveryOutcome.TOO_LARGE,
                       f"body of {incoming.size} bytes is over the {MAX_BODY_BYTES} allowed; the first "
                       f"{MAX_BODY_BYTES} are kept")
    try:
        receipt, to_queue = _store_verify_key(incoming, endpoint, now)
    except Exception as exc:  # noqa: BLE001 - our own failure: keep the input, answer 500 so Stripe retries
        delivery = WebhookDelivery.objects.create(
            tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id, path=incoming.path[:300], method=incoming.method,
            remote_addr=incoming.remote_addr, headers=headers_kept(incoming.headers), body=incoming.body,
            size=incoming.size, outcome=DeliveryOutcome.ERROR, status_code=500, reason=f"{type(exc).__name__}: {exc}",
            traceback="".join(traceback.format_exception(exc)),
        )
        log.error("webhook delivery %s to %s failed: %s: %s", delivery.pk, incoming.path, type(exc).__name__, exc)
        return DeliveryReceipt(delivery_id=delivery.pk, outcome=DeliveryOutcome.ERROR, reason=delivery.reason)
    if to_queue is not None:
        queued = webhook_event_queue(event_id=to_queue[0], document_id=to_queue[1])
        receipt = DeliveryReceipt(delivery_id=receipt.delivery_id, outcome=receipt.outcome, reason=receipt.reason,
                                  event_id=receipt.event_id, queued=queued)
    elif receipt.outcome not in (DeliveryOutcome.ACCEPTED, DeliveryOutcome.DUPLICATE):
        log.warning("webhook delivery %s to %s refused (%s): %s", receipt.delivery_id, incoming.path,
                    receipt.outcome, receipt.reason)
    return receipt


def _store_verify_key(incoming: IncomingDelivery, endpoint: EndpointKeys,
                      now: float) -> tuple[DeliveryReceipt, tuple[int, int] | None]:
    """The one transaction of a delivery that reached verification. Returns the receipt and,
    for a new event whose document is new, the (event, document) ids to queue after commit."""
    with transaction.atomic(), row_cursor() as cursor:
        delivery = WebhookDelivery(
            tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id, path=incoming.path[:300], method=incoming.method,
            remote_addr=incoming.remote_addr, headers=headers_kept(incoming.headers), body=incoming.body,
            size=incoming.size,
        )
        row_insert(delivery, cursor=cursor)  # stored first: nothing below has trusted a byte of it yet
        try:
            verified = signature_verify(body=delivery.body, header=incoming.headers.get(HEADER),
                                        secrets=endpoint.secrets, now=now, tolerance=endpoint.tolerance)
        except SignatureRejected as rejected:
            delivery.outcome, delivery.reason = rejected.outcome, str(rejected)
            delivery.status_code = STATUS[DeliveryOutcome(rejected.outcome)]
            if rejected.secret_id is not None:  # stale or future: authentic, but outside the tolerance
                delivery.verified, delivery.secret_id = True, rejected.secret_id
                delivery.signed_at = _at(rejected.timestamp)
            row_update(delivery, "outcome", "reason", "status_code", "signed_at", "verified", "secret", cursor=cursor)
            return _receipt(delivery), None
        delivery.verified, delivery.signed_at, delivery.secret_id = True, _at(verified.timestamp), verified.secret_id
        try:
            fields = event_fields_read(delivery.body)
        except NotAnEvent as exc:
            delivery.outcome, delivery.reason, delivery.status_code = DeliveryOutcome.NOT_JSON, str(exc), 400
            row_update(delivery, "outcome", "reason", "status_code", "signed_at", "verified", "secret", cursor=cursor)
            return _receipt(delivery), None
        document_id, document_created = _document_for(endpoint, fields, cursor)
        event = WebhookEvent(
            tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id, stripe_id=fields.stripe_id, type=fields.type,
            object_id=fields.object_id, livemode=fields.livemode, api_version=fields.api_version,
            stripe_created=fields.stripe_created, document_id=document_id,
            # Stamped queued now, sent right after the commit (see handoff). A document that
            # another endpoint's event created is that event's to send.
            queued_at=timezone.now(),
        )
        if row_insert(event, unless_conflict=True, cursor=cursor) is not None:
            delivery.outcome, delivery.reason = DeliveryOutcome.ACCEPTED, f"new event {fields.type} {fields.stripe_id}"
        else:
            event.pk = WebhookEvent.objects.filter(endpoint_id=endpoint.id, stripe_id=fields.stripe_id
                                                   ).values_list("pk", flat=True).get()
            delivery.outcome, delivery.reason = DeliveryOutcome.DUPLICATE, f"event {fields.stripe_id} was already received"
        delivery.status_code, delivery.event_id = 200, event.pk
        row_update(delivery, "outcome", "reason", "status_code", "signed_at", "verified", "secret", "event",
                   cursor=cursor)
    new_document = delivery.outcome == DeliveryOutcome.ACCEPTED and document_created
    return _receipt(delivery), ((event.pk, document_id) if new_document else None)


def _document_for(endpoint: EndpointKeys, fields: EventFields, cursor) -> tuple[int, bool]:
    """The engine document of a Stripe event, (id, created): `connector.documents.document_receive`
    in one statement instead of a lookup, a savepoint and an insert (the same unique
    constraint decides), with the same "received" audit event when it is new."""
    document = Document(tenant_id=endpoint.tenant_id, flow=STRIPE_PAYMENT_FLOW, external_key=fields.stripe_id,
                        raw=fields.text, source=f"Stripe {fields.type} (webhook event)", state=DocumentState.RECEIVED)
    if row_insert(document, unless_conflict=True, cursor=cursor) is None:
        return Document.objects.filter(tenant_id=endpoint.tenant_id, flow=STRIPE_PAYMENT_FLOW,
                                       external_key=fields.stripe_id).values_list("pk", flat=True).get(), False
    # What connector.documents.audit_record writes, in one statement.
    row_insert(AuditEvent(tenant_id=endpoint.tenant_id, document_id=document.pk, actor=actor_name(None),
                          action="received", to_state=DocumentState.RECEIVED, reason=document.source), cursor=cursor)
    return document.pk, True


def _receipt(delivery: WebhookDelivery) -> DeliveryReceipt:
    return DeliveryReceipt(delivery_id=delivery.pk, outcome=delivery.outcome, reason=delivery.reason,
                           event_id=delivery.event_id)


def _at(timestamp: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None
