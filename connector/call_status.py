"""Each tenant's outside systems as their last real calls found them (the overview's
connections panel): written by the HTTP layer (connector.http.PolicyClient, for a client built
with its connection's tenant) after every request's final outcome, and by "Test connections".

Cheap: a 1,000-invoice cycle makes thousands of calls, and each would otherwise be a write.
So a row is written at most once every `EVERY_SECONDS` unless the outcome changes:
- an ok call that this process recorded as ok within the period costs nothing (no query);
- any other call is one conditional UPDATE that writes only when the row says something else
  (ok against failing, another problem) or is older than the period, so ok -> failing shows at
  once whichever process saw the call, and a long outage writes once a period, not per call;
- the first ok call a process records is one upsert; a failing one whose row does not exist
  yet creates it.

What is stored is a status or an error class ("503", "ConnectTimeout"): never a body, a header,
a query string or a secret. Recording never fails a call: a database error is logged.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .logs import get_logger
from .models import ConnectionStatus

log = get_logger(__name__)

EVERY_SECONDS = 60
# Answers that say the system is not working for us (bad credentials included); any other
# answer, a 404 or a 422 too, is the system answering.
FAILING_STATUSES = frozenset({401, 403, 407, 429})

# (tenant id, system) -> (ok, problem, monotonic time written or confirmed) in this process.
_known: dict[tuple[int, str], tuple[bool, str, float]] = {}
_known_lock = threading.Lock()


def call_outcome(*, status: int | None, error: str = "") -> tuple[bool, str]:
    """(ok, problem) of a call: no answer names the error class, a failing answer its status."""
    if status is None:
        return False, (error or "no answer")[:120]
    if status >= 500 or status in FAILING_STATUSES:
        return False, str(status)
    return True, ""


def call_status_record(*, tenant_id: int, system: str, ok: bool, problem: str = "", force: bool = False,
                       now: datetime | None = None) -> bool:
    """Record a call's outcome (see the module's rules); `force` writes whatever the row says
    (a "Test connections" result). Returns whether a row was written."""
    key = (tenant_id, system)
    problem = "" if ok else (problem or "failed")[:120]
    with _known_lock:
        known = _known.get(key)
    if ok and not force and known is not None and known[0] and time.monotonic() - known[2] < EVERY_SECONDS:
        return False
    now = now or timezone.now()
    try:
        with transaction.atomic():  # a savepoint inside a step's transaction: an error here never breaks it
            written = _write(tenant_id, system, ok=ok, problem=problem, now=now, force=force, exists=known is not None)
    except DatabaseError as exc:
        log.warning("connection status not recorded", tenant_id=tenant_id, system=system, error=type(exc).__name__)
        return False
    with _known_lock:
        _known[key] = (ok, problem, time.monotonic())
    return written


def _write(tenant_id: int, system: str, *, ok: bool, problem: str, now: datetime, force: bool, exists: bool) -> bool:
    if ok and (force or not exists):  # one statement (an upsert): ok has nothing to keep from the row
        ConnectionStatus.objects.bulk_create(
            [ConnectionStatus(tenant_id=tenant_id, system=system, ok=True, last_call_at=now, problem="")],
            update_conflicts=True, unique_fields=["tenant", "system"],
            update_fields=["ok", "last_call_at", "problem", "failing_since"])
        return True
    rows = ConnectionStatus.objects.filter(tenant_id=tenant_id, system=system)
    if not force:
        stale = Q(last_call_at__lt=now - timedelta(seconds=EVERY_SECONDS))
        rows = rows.filter(stale | Q(ok=not ok) | (Q() if ok else ~Q(problem=problem)))
    if ok:
        updated = rows.update(ok=True, last_call_at=now, failing_since=None, problem="")
    else:  # failing since the first failure: kept while it goes on
        updated = rows.update(ok=False, last_call_at=now, problem=problem,
                              failing_since=Coalesce(F("failing_since"), Value(now)))
    if updated or exists:
        return bool(updated)
    ConnectionStatus.objects.bulk_create(  # none yet (or another process's, fresh and the same: kept)
        [ConnectionStatus(tenant_id=tenant_id, system=system, ok=ok, last_call_at=now, problem=problem,
                          failing_since=None if ok else now)], ignore_conflicts=True)
    return True


def call_status_forget() -> None:
    """Forget what this process wrote (tests: each starts with an empty database)."""
    with _known_lock:
        _known.clear()


__all__ = ["EVERY_SECONDS", "call_outcome", "call_status_forget", "call_status_record"]
