"""No part of a signing secret in any stored row, log line or response, whatever arrives."""
from __future__ import annotations

import logging
import time

import pytest
from django.apps import apps
from django.db import connection

from billing.webhooks import receive as receive_module

from .conftest import OTHER_SECRET, SECRET, deliver, signed_event, webhook_url
from .events import signature_header

pytestmark = pytest.mark.django_db


def every_stored_value() -> str:
    dump = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608
            for row in cursor.fetchall():
                dump.append(" ".join(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                                     for v in row))
    return "\n".join(dump)


def test_no_secret_in_rows_logs_or_responses(client, endpoint, monkeypatch, caplog):
    responses = []
    with caplog.at_level(logging.DEBUG):
        body, signature = signed_event("evt_leak_ok")
        responses.append(deliver(client, endpoint, body, signature))
        responses.append(deliver(client, endpoint, body + b" ", signature))
        responses.append(deliver(client, endpoint, *signed_event("evt_leak_other", OTHER_SECRET)))
        responses.append(deliver(client, endpoint, body, signature_header(body, SECRET, timestamp=int(time.time()) - 999)))
        responses.append(deliver(client, endpoint, b"not json", signature_header(b"not json", SECRET)))
        responses.append(deliver(client, endpoint, body, "t=1"))
        responses.append(client.get(webhook_url(endpoint)))

        def broken(*args, **kwargs):
            raise RuntimeError("boom while handling")

        for name in ("_event_insert", "_event_insert_postgresql"):  # the write of the event and its delivery
            monkeypatch.setattr(receive_module, name, broken)
        responses.append(deliver(client, endpoint, *signed_event("evt_leak_error")))

    assert [r.status_code for r in responses] == [200, 400, 400, 400, 400, 400, 405, 500]
    stored = every_stored_value()
    assert "evt_leak_ok" in stored and "boom while handling" in stored, "the dump does read the ledger"
    texts = {"stored rows": stored, "log": caplog.text + "".join(str(r.args) for r in caplog.records),
             "responses": "".join(r.content.decode() for r in responses)}
    for where, text in texts.items():
        for secret in (SECRET, OTHER_SECRET):
            assert secret not in text and secret[6:] not in text, f"a secret is in the {where}"
