"""A run's counts, written by many processes at once: the cycle (seen, new, queued), and every
worker that finishes one of the run's documents (sent, posted, failed, ...).

Each addition is one UPDATE that adds to the stored JSON in the database itself (jsonb on
PostgreSQL, json_set on SQLite), so two workers finishing at the same instant both count and
no process ever writes back a copy it read earlier. Nobody saves `counts` any other way: the
cycle saves its other fields with update_fields that leave counts out.

The same UPDATE moves the run's progress: `queued` adds to progress_total (the documents the
cycle handed out), `finished` to progress_done (those that reached their first outcome), so
a running cycle's progress bar is exact across workers without anyone saving it.

Outcomes are counted once per document per run: the document carries the run it was handed
out by (Document.run) until its first outcome, and the pipeline takes that link off in the
same transaction as the transition and the addition (connector/pipeline.py), so a
redelivered task or a later replay counts nothing.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce

from .models import DocumentState, SyncRun

# Where a document's state is counted once it has one. Anything not here (received, mapped:
# a step still to run) is not an outcome yet.
OUTCOMES: dict[str, str] = {
    DocumentState.SENT: "sent",
    # Answered by a 997 before the upload's end was recorded: it was sent.
    DocumentState.ACKNOWLEDGED: "sent",
    DocumentState.REJECTED: "sent",
    DocumentState.POSTED: "posted",
    DocumentState.DUPLICATE: "duplicate",
    DocumentState.NEEDS_MAPPING: "needs_mapping",
    DocumentState.RETRYING: "retrying",
    DocumentState.FAILED: "failed",
    DocumentState.IGNORED: "ignored",
    DocumentState.DONE: "done",
}
KEY = re.compile(r"^[A-Za-z0-9_]{1,60}$")


def outcome_key(state: str, *, prefix: str = "") -> str | None:
    """The count a document in `state` adds to, or None while it is still on its way."""
    outcome = OUTCOMES.get(state)
    return prefix + outcome if outcome else None


# The addition written in each database's own JSON functions: (new value of counts, one
# key's term, the key's parameters in that term).
_ADD_IN_SQL = {
    "postgresql": ("COALESCE(counts, '{{}}'::jsonb) || jsonb_build_object({})",
                   "%s::text, COALESCE((counts->>%s::text)::bigint, 0) + %s::bigint", lambda key: (key, key)),
    "sqlite": ("json_set(COALESCE(counts, '{{}}'), {})",
               "%s, COALESCE(json_extract(counts, %s), 0) + %s", lambda key: (f'$."{key}"', f'$."{key}"')),
}


def sync_run_add(run: SyncRun | int, counts: Mapping[str, int], *, queued: int = 0,
                 finished: int = 0) -> dict[str, int] | None:
    """Add `counts` to the run's, atomically; returns the run's counts after (and refreshes
    `run.counts` when given the object). Zeros are written too, so a key can show as 0.
    `queued` and `finished` move the progress (progress_total, progress_done) in the same UPDATE."""
    run_id = run if isinstance(run, int) else run.pk
    bad = [key for key in counts if not KEY.match(key)]
    if bad:
        raise ValueError(f"count names are letters, digits and _: {bad}")
    if not counts:
        return None
    progress = {"progress_total": queued, "progress_done": finished}
    merged = (_add_in_sql(run_id, counts, progress) if connection.vendor in _ADD_IN_SQL
              else _add_locked(run_id, counts, progress))
    if isinstance(run, SyncRun) and merged is not None:
        run.counts = merged
    return merged


def _add_in_sql(run_id: int, counts: Mapping[str, int], progress: Mapping[str, int]) -> dict[str, int] | None:
    value, term, key_params = _ADD_IN_SQL[connection.vendor]
    params: list[object] = [p for key, by in counts.items() for p in (*key_params(key), by)]
    moves = [(column, by) for column, by in progress.items() if by]
    extra = "".join(f", {column} = COALESCE({column}, 0) + %s" for column, _ in moves)
    table = connection.ops.quote_name(SyncRun._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET counts = {value.format(', '.join(term for _ in counts))}{extra} "
                       "WHERE id = %s RETURNING counts", [*params, *(by for _, by in moves), run_id])
        row = cursor.fetchone()
    return _decoded(row[0]) if row else None


def _add_locked(run_id: int, counts: Mapping[str, int], progress: Mapping[str, int]) -> dict[str, int] | None:
    """Any other database: read and write the row under its lock."""
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().only("counts").filter(pk=run_id).first()
        if locked is None:
            return None
        merged = dict(locked.counts or {})
        for key, by in counts.items():
            merged[key] = merged.get(key, 0) + by
        moves = {column: Coalesce(F(column), 0) + by for column, by in progress.items() if by}
        SyncRun.objects.filter(pk=run_id).update(counts=merged, **moves)
    return merged


def _decoded(value: object) -> dict[str, int]:
    return json.loads(value) if isinstance(value, str | bytes) else dict(value or {})


__all__ = ["OUTCOMES", "outcome_key", "sync_run_add"]
