"""The admin bench's data set, built once in its own PostgreSQL database and reused.

1,000,000 documents (payloads of about 1.3 KB, as real ones), 3,300,000 audit events,
1,500,000 attempts and 50,000 sync runs over 20 tenants, one of which (the tenant-scoped
user's) holds a quarter of everything; the documents failing or waiting on a mapping are in
their triage groups (120,000 members of some 150 groups), as the overview reads them. The
newest document is from the build's own hour, so the overview's last 30 days hold 86,000 of
them. Written by INSERT … SELECT over generate_series in a few statements, foreign-key
triggers off (the rows are consistent by construction): minutes, not hours. The trigram
index is dropped for the load and built after it, then VACUUM ANALYZE sets the visibility
map (index-only scans) and the statistics.

A marker table holds the sizes, a version and when it was built: a data set of other sizes,
an older version or built more than a week ago (its last 30 days would be thinning out) is
rebuilt, one that matches is used as it is.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DATASET_VERSION = 4
FRESH_FOR = timedelta(days=7)
TENANTS = 20
BIG_TENANT_SLUG = "bench-big"
SMALL_TENANT_SLUG = "bench-small-1"
SECONDS_APART = 30  # documents arrive every 30 s: a million cover about a year
TRGM_INDEX = "document_search_tenant_trgm"  # connector migration 0012
STATES = ("sent", "posted", "duplicate", "needs_mapping", "failed", "retrying")


@dataclass(frozen=True)
class Sizes:
    documents: int
    audit_events: int
    attempts: int
    sync_runs: int

    @classmethod
    def for_documents(cls, documents: int) -> Sizes:
        return cls(documents=documents, audit_events=documents * 33 // 10, attempts=documents * 3 // 2,
                   sync_runs=max(1000, documents // 20))


def log(message: str) -> None:
    print(f"  [data] {message}", flush=True)


def dataset_present(cursor, sizes: Sizes) -> bool:
    cursor.execute("CREATE TABLE IF NOT EXISTS bench_admin_dataset (version int, documents bigint, audit_events bigint,"
                   " attempts bigint, sync_runs bigint, built_at timestamptz)")
    cursor.execute("SELECT version, documents, audit_events, attempts, sync_runs, built_at FROM bench_admin_dataset")
    row = cursor.fetchone()
    if row is None or row[:5] != (DATASET_VERSION, sizes.documents, sizes.audit_events, sizes.attempts, sizes.sync_runs):
        return False
    if row[5] is None or datetime.now(UTC) - row[5] > FRESH_FOR:
        log(f"the data set was built {row[5]:%Y-%m-%d}: its last 30 days are thinning out, building it again")
        return False
    return True


# The tenant of document number g: every fourth is the big tenant's, the rest round the others.
TENANT_OF = "CASE WHEN {g} %% 4 = 0 THEN (%(big)s)::bigint ELSE ((%(others)s)::bigint[])[1 + ({g} / 4) %% {others_n}] END"

DOCUMENTS_SQL = """
INSERT INTO connector_document (id, tenant_id, flow, external_key, state, step, raw, mapped, artifact, artifact_name,
    external_ids, source, failure_kind, last_error, retry_count, next_attempt_at, created_at, updated_at, reference,
    counterparty, partner, amount, currency, search_text)
SELECT g, tenant_id, flow, key, state,
       CASE WHEN state IN ('needs_mapping', 'failed', 'retrying') THEN 'map' ELSE '' END,
       payload, jsonb_build_object('invoice', jsonb_build_object('invoice_number', reference, 'total', amount::text),
                                   'partner', partner, 'note', left(payload, 120)),
       payload, name, jsonb_build_object('cleo_file_id', 'F-' || g, 'isa13', g, 'voucher', 'V' || lpad(g::text, 8, '0')),
       'Inbound/' || name || ' set 0001',
       CASE WHEN state = 'failed' THEN 'data' WHEN state = 'needs_mapping' THEN 'config' ELSE '' END,
       CASE WHEN state = 'failed' THEN 'BIG02 invoice number: the invoice has no number'
            WHEN state = 'needs_mapping' THEN 'no project for PO ' || (g %% 50 + 1000)
            WHEN state = 'retrying' THEN 'Cleo answered 503' ELSE '' END,
       0, NULL, created, created + interval '2 minutes', reference, counterparty, partner, amount, 'USD',
       ' | ' || lower(reference) || ' | ' || lower(counterparty) || ' | ' || lower(partner) || ' | ' || lower(name)
           || ' | ' || key || ' | inbound/' || lower(name) || ' set 0001 | f-' || g || ' | ' || g
           || ' | v' || lpad(g::text, 8, '0') || ' | '
FROM (
  SELECT g, {tenant} AS tenant_id,
         CASE WHEN g %% 2 = 0 THEN '810-ap' ELSE 'ar-810' END AS flow,
         'K-' || g AS key,
         CASE WHEN g %% 100 < 80 THEN CASE WHEN g %% 2 = 0 THEN 'posted' ELSE 'sent' END
              WHEN g %% 100 < 88 THEN 'duplicate' WHEN g %% 100 < 94 THEN 'needs_mapping'
              WHEN g %% 100 < 98 THEN 'failed' ELSE 'retrying' END AS state,
         CASE WHEN g %% 2 = 0 THEN 'DS-' || g ELSE 'INV-' || lpad(g::text, 7, '0') END AS reference,
         (ARRAY['Harbor','Summit','Granite','Cedar','Lakeside','Northwind','Bluewater','Ironwood','Redstone','Silverline',
                'Oakridge','Pinecrest','Riverbend','Stonegate','Westfield','Eastgate','Highland','Brookside','Fairview',
                'Maple','Willow','Aspen','Cobalt','Sterling','Beacon'])[1 + g %% 25] || ' ' ||
         (ARRAY['Supply','Engineering','Logistics','Construction','Partners','Holdings','Services','Industries',
                'Group','Steel','Electric','Surveying','Drilling','Design','Consulting','Materials','Transport',
                'Systems','Works','Labs'])[1 + (g / 25) %% 20] AS counterparty,
         'Partner ' || (g %% 20 + 1) AS partner,
         round(((g::bigint * 7919) %% 1000000) / 100.0 + 10, 2) AS amount,
         (CASE WHEN g %% 2 = 0 THEN 'SUPPLIER_810_' ELSE '810-' END) || g || '.edi' AS name,
         %(t0)s::timestamptz - ((%(n)s - g) * interval '{apart} seconds') AS created,
         md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) || md5((g + 3)::text) || md5((g + 4)::text)
           || md5((g + 5)::text) || md5((g + 6)::text) || md5((g + 7)::text) || md5((g + 8)::text)
           || md5((g + 9)::text) || md5((g + 10)::text) || md5((g + 11)::text) || md5((g + 12)::text)
           || md5((g + 13)::text) || md5((g + 14)::text) || md5((g + 15)::text) AS payload
  FROM generate_series(1, %(n)s) AS g
) AS d
"""

AUDIT_SQL = """
INSERT INTO connector_auditevent (tenant_id, document_id, actor, user_id, action, from_state, to_state, reason, at)
SELECT {tenant}, g, CASE WHEN k = 3 AND g %% 7 = 0 THEN 'bench-fiona' ELSE 'system' END,
       CASE WHEN k = 3 AND g %% 7 = 0 THEN %(fiona)s ELSE NULL END,
       (ARRAY['received', 'map', 'upload', 'replay'])[k + 1],
       (ARRAY['', 'received', 'mapped', 'failed'])[k + 1], (ARRAY['received', 'mapped', 'sent', 'failed'])[k + 1],
       CASE WHEN k = 3 THEN 'resume at step ''map''' ELSE 'Inbound/file-' || g || '.edi' END,
       %(t0)s::timestamptz - ((%(n)s - g) * interval '{apart} seconds') + k * interval '5 seconds'
FROM (SELECT e, (e - 1) %% %(n)s + 1 AS g, (e - 1) / %(n)s AS k FROM generate_series(1, %(events)s) AS e) AS x
"""

ATTEMPTS_SQL = """
INSERT INTO connector_attempt (document_id, step, trigger, user_id, started_at, duration_ms, calls, succeeded,
    failure_kind, error, traceback)
SELECT g, (ARRAY['map', 'render', 'upload'])[1 + k %% 3], 'scheduled', NULL,
       %(t0)s::timestamptz - ((%(n)s - g) * interval '{apart} seconds') + k * interval '3 seconds',
       40 + g %% 900,
       jsonb_build_array(jsonb_build_object('method', 'GET', 'path', '/api/ar/' || g, 'status', 200, 'ms', 40),
                         jsonb_build_object('method', 'PUT', 'path', '/api/files/' || g, 'status', 201, 'ms', 80)),
       g %% 10 <> 0, CASE WHEN g %% 10 = 0 THEN 'transient' ELSE '' END,
       CASE WHEN g %% 10 = 0 THEN 'Cleo answered 503' ELSE '' END, ''
FROM (SELECT (e - 1) %% %(n)s + 1 AS g, (e - 1) / %(n)s AS k FROM generate_series(1, %(attempts)s) AS e) AS x
"""

# Triage's groups as console.triage would leave them: failed and retrying documents by flow,
# step and error; needs-mapping ones by the PO they wait on; one member per document.
GROUPS_SQL = """
INSERT INTO console_failuregroup (tenant_id, flow, step, kind, fingerprint, pattern, failure_kind, sample_error,
    missing_kind, missing_value, missing_label, status, open_count, ignored_count, total_count, first_seen_at,
    last_seen_at, resolved_at)
SELECT tenant_id, flow, step, CASE WHEN state = 'needs_mapping' THEN 'mapping' ELSE 'failure' END,
       md5(state || ':' || last_error), regexp_replace(last_error, '[0-9]+', 'N', 'g'), failure_kind, last_error,
       CASE WHEN state = 'needs_mapping' THEN 'project' ELSE '' END,
       CASE WHEN state = 'needs_mapping' THEN substring(last_error from '[0-9]+$') ELSE '' END,
       CASE WHEN state = 'needs_mapping' THEN 'PO ' || substring(last_error from '[0-9]+$') ELSE '' END,
       'open', count(*), 0, count(*), min(created_at), max(created_at), NULL
FROM connector_document WHERE state IN ('failed', 'retrying', 'needs_mapping')
GROUP BY tenant_id, flow, step, state, last_error, failure_kind
"""

MEMBERS_SQL = """
INSERT INTO console_groupmember (group_id, document_id, error, ignored, joined_at, seen_at)
SELECT fg.id, d.id, d.last_error, false, d.created_at, d.updated_at
FROM connector_document d JOIN console_failuregroup fg
  ON fg.tenant_id = d.tenant_id AND fg.flow = d.flow AND fg.step = d.step AND fg.sample_error = d.last_error
WHERE d.state IN ('failed', 'retrying', 'needs_mapping')
"""

RUNS_SQL = """
INSERT INTO connector_syncrun (tenant_id, flow, trigger, user_id, status, started_at, finished_at, progress, counts,
    cursor_before, cursor_after, error, task_id, progress_done, progress_total)
SELECT {tenant}, CASE WHEN g %% 2 = 0 THEN '810-ap' ELSE 'ar-810' END, 'scheduled', NULL,
       CASE WHEN g %% 50 = 0 THEN 'failed' ELSE 'succeeded' END,
       %(t0)s::timestamptz - ((%(runs)s - g) * interval '10 minutes'),
       %(t0)s::timestamptz - ((%(runs)s - g) * interval '10 minutes') + interval '4 seconds', '',
       jsonb_build_object('seen', g %% 40, 'new', g %% 9, 'sent', g %% 7, 'duplicate', g %% 3), '', '',
       CASE WHEN g %% 50 = 0 THEN 'transient: Cleo answered 503' ELSE '' END, '', g %% 40, g %% 40
FROM generate_series(1, %(runs)s) AS g
"""


def dataset_build(cursor, sizes: Sizes, *, tenant_ids: list[int], big_tenant_id: int, fiona_id: int) -> float:
    """Replace the tables' rows with the data set; returns the seconds it took."""
    started = time.monotonic()
    others = [t for t in tenant_ids if t != big_tenant_id]
    tenant = TENANT_OF.format(g="g", others_n=len(others))
    params = {"n": sizes.documents, "events": sizes.audit_events, "attempts": sizes.attempts, "runs": sizes.sync_runs,
              "t0": datetime.now(UTC).replace(minute=0, second=0, microsecond=0), "big": big_tenant_id,
              "others": others, "fiona": fiona_id}
    cursor.execute("SET maintenance_work_mem = '512MB'")
    cursor.execute("SET synchronous_commit = off")
    # The rows are made consistent by construction: skip the foreign-key triggers while loading
    # (millions of per-row lookups otherwise), as pg_restore does.
    cursor.execute("SET session_replication_role = replica")
    cursor.execute("TRUNCATE connector_attempt, connector_auditevent, connector_syncrun, connector_document, "
                   "console_failuregroup, console_groupmember, console_dailycount RESTART IDENTITY CASCADE")
    cursor.execute("DELETE FROM console_passmark")
    cursor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")
    steps = (("documents", DOCUMENTS_SQL, sizes.documents), ("audit events", AUDIT_SQL, sizes.audit_events),
             ("attempts", ATTEMPTS_SQL, sizes.attempts), ("sync runs", RUNS_SQL, sizes.sync_runs),
             ("failure groups", GROUPS_SQL, None), ("group members", MEMBERS_SQL, None))
    for what, sql, count in steps:
        t = time.monotonic()
        cursor.execute(sql.format(tenant=tenant, apart=SECONDS_APART), params)
        log(f"{count if count is not None else cursor.rowcount:,} {what} in {time.monotonic() - t:.0f} s")
    cursor.execute("SET session_replication_role = DEFAULT")
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('connector_document', 'id'), {sizes.documents})")
    t = time.monotonic()
    cursor.execute(f"CREATE INDEX {TRGM_INDEX} ON connector_document USING gin (tenant_id, search_text gin_trgm_ops)")
    log(f"trigram index in {time.monotonic() - t:.0f} s")
    t = time.monotonic()
    for table in ("connector_document", "connector_auditevent", "connector_attempt", "connector_syncrun",
                  "console_failuregroup", "console_groupmember"):
        cursor.execute(f"VACUUM (ANALYZE) {table}")
    log(f"vacuum and analyze in {time.monotonic() - t:.0f} s")
    cursor.execute("DELETE FROM bench_admin_dataset")
    cursor.execute("INSERT INTO bench_admin_dataset VALUES (%s, %s, %s, %s, %s, now())",
                   [DATASET_VERSION, sizes.documents, sizes.audit_events, sizes.attempts, sizes.sync_runs])
    return time.monotonic() - started
