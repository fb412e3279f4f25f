"""Retention: payloads are kept for a time, then cleared in small batches; rows, states and
the audit trail are kept.

A payload is whatever carries the business content or a request body: a document's raw
input, mapped record and artifact, an attempt's recorded calls, a Cleo file's bytes, a Stripe
webhook delivery's body. Each kind is a `PayloadPurge`: the model (by label, so the engine
imports no flow), the fields to clear, which rows count as finished or failed (failures are
kept longer) and the time that ages them. Flows register theirs from AppConfig.ready(), as
they register demo seeders, e.g. in edi/apps.py:

    from connector.retention import PayloadPurge, register_purge
    register_purge(PayloadPurge(name="cleo-files", model="edi.InboundFile", clear={"raw": b""},
                                aged_by="received_at", finished=Q(status__in=[...]), failed=Q(status="malformed")))

`purge_batch` clears one batch in one short transaction and says whether more may remain;
the console's task calls it again (self-requeuing) until a batch comes back short, so no
lock is held for long and the work spreads over many small commits.

Rows that belong to no tenant (billing's webhook deliveries refused before any endpoint was
known) are out of every tenant's reach: a flow registers them as `UnownedRows`, whose
payload is cleared and whose rows are then deleted after periods of their own, by the same
batch functions run with no tenant (`tenant_id=None` selects the rows whose tenant is NULL).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Q

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class PayloadPurge:
    """How to clear one kind of payload. `tenant` is the path from the model to its tenant id;
    `pending` the condition of rows that still hold a payload (default: any field to clear is
    not already its cleared value)."""

    name: str
    model: str
    clear: dict[str, Any]
    aged_by: str
    finished: Q
    failed: Q
    tenant: str = "tenant_id"
    pending: Q | None = None

    def model_class(self):
        return apps.get_model(self.model)

    def pending_q(self) -> Q:
        if self.pending is not None:
            return self.pending
        q = Q()
        for name, cleared in self.clear.items():
            q |= ~Q(**{name: cleared})
        return q


@dataclass
class PurgeResult:
    cleared: int = 0
    last_id: int = 0
    more: bool = False


# The engine's own payloads. A document still in flight (received, mapped, retrying) keeps
# its payload whatever its age: it is needed to finish. Waiting and failed documents keep it
# for the longer, failure period, so they can still be replayed while anyone may ask.
FINISHED_STATES = ("sent", "posted", "acknowledged", "duplicate")
FAILED_STATES = ("failed", "rejected", "ignored", "needs_mapping")
ENGINE_PURGES = (
    PayloadPurge(name="documents", model="connector.Document", clear={"raw": "", "artifact": "", "mapped": {}},
                 aged_by="updated_at", finished=Q(state__in=FINISHED_STATES), failed=Q(state__in=FAILED_STATES)),
    PayloadPurge(name="attempt-calls", model="connector.Attempt", clear={"calls": []}, aged_by="started_at",
                 tenant="document__tenant_id", finished=Q(document__state__in=FINISHED_STATES),
                 failed=Q(document__state__in=FAILED_STATES)),
)
_registry: dict[str, PayloadPurge] = {}


def register_purge(purge: PayloadPurge) -> PayloadPurge:
    """A flow's payloads (edi: the Cleo file ledger; billing: webhook bodies)."""
    _registry[purge.name] = purge
    return purge


def unregister_purge(name: str) -> None:
    _registry.pop(name, None)


def registered_purges() -> list[PayloadPurge]:
    """The engine's purges, then the flows' in name order."""
    return [*ENGINE_PURGES, *sorted(_registry.values(), key=lambda p: p.name)]


@dataclass(frozen=True)
class UnownedRows:
    """Rows of one kind that belong to no tenant (the `tenant` path is NULL), which no tenant's
    policy reaches: `clear` empties their payload once older than `payload_days`, and the rows
    are deleted once older than `row_days` (callables, read when the sweep runs: settings)."""

    name: str
    model: str
    clear: dict[str, Any]
    aged_by: str
    payload_days: Callable[[], int]
    row_days: Callable[[], int]
    tenant: str = "tenant_id"

    def payload_purge(self) -> PayloadPurge:
        return PayloadPurge(name=self.name, model=self.model, clear=self.clear, aged_by=self.aged_by, finished=Q(),
                            failed=Q(), tenant=self.tenant)


_unowned: dict[str, UnownedRows] = {}


def register_unowned(rows: UnownedRows) -> UnownedRows:
    _unowned[rows.name] = rows
    return rows


def registered_unowned() -> list[UnownedRows]:
    return sorted(_unowned.values(), key=lambda r: r.name)


def unowned_batch(rows: UnownedRows, *, delete: bool, now: datetime, after_id: int = 0,
                  batch_size: int = DEFAULT_BATCH) -> PurgeResult:
    """The next batch of rows of no tenant: payloads cleared, or (`delete`) rows deleted."""
    if delete:
        return delete_batch(rows.model, tenant=rows.tenant, tenant_id=None, aged_by=rows.aged_by,
                            before=now - timedelta(days=rows.row_days()), after_id=after_id, batch_size=batch_size)
    before = now - timedelta(days=rows.payload_days())
    return purge_batch(rows.payload_purge(), tenant_id=None, finished_before=before, failed_before=before,
                       after_id=after_id, batch_size=batch_size)


def purge_batch(purge: PayloadPurge, *, tenant_id: int | None, finished_before: datetime, failed_before: datetime,
                after_id: int = 0, batch_size: int = DEFAULT_BATCH) -> PurgeResult:
    """Clear the next batch of aged payloads of one tenant (None: of no tenant), by ascending id
    after `after_id`. Rows are picked without locking and cleared in one short transaction."""
    model = purge.model_class()
    aged = (purge.finished & Q(**{f"{purge.aged_by}__lt": finished_before})) | \
           (purge.failed & Q(**{f"{purge.aged_by}__lt": failed_before}))
    ids = list(model.objects.filter(Q(**{purge.tenant: tenant_id}), aged, purge.pending_q(), pk__gt=after_id)
               .order_by("pk").values_list("pk", flat=True)[:batch_size])
    if not ids:
        return PurgeResult(0, after_id, False)
    with transaction.atomic():
        cleared = model.objects.filter(pk__in=ids).update(**purge.clear)
    return PurgeResult(cleared, ids[-1], len(ids) == batch_size)


def delete_batch(model_label: str, *, tenant: str, tenant_id: int | None, aged_by: str, before: datetime,
                 after_id: int = 0, batch_size: int = DEFAULT_BATCH, keep: Q | None = None) -> PurgeResult:
    """Delete the next batch of rows older than `before` (attempts, sync runs; rows of no tenant
    with `tenant_id` None), by id; rows matching `keep` stay whatever their age."""
    model = apps.get_model(model_label)
    qs = model.objects.filter(**{tenant: tenant_id, f"{aged_by}__lt": before}, pk__gt=after_id)
    if keep is not None:
        qs = qs.exclude(keep)
    ids = list(qs.order_by("pk").values_list("pk", flat=True)[:batch_size])
    if not ids:
        return PurgeResult(0, after_id, False)
    with transaction.atomic():
        _, per_model = model.objects.filter(pk__in=ids).delete()
    return PurgeResult(per_model.get(model._meta.label, 0), ids[-1], len(ids) == batch_size)
