"""A third flow, written with the engine's public services only (nothing from edi/ or billing/):
orders read from an outside source as a stream become records in an outside ledger.

Both outside systems are directories (named by LEDGER_FLOW_DIR, so a worker process started
by a test shares them): `source.json` lists the orders, and the ledger keeps one JSON file per
record it is asked to create. Like Cleo, the ledger has no idempotency: a second create makes
a second record, so only the engine's effect (declared first, looked for after a crash) keeps
an order from being recorded twice. Armed by a test, the worker dies (SIGKILL) right after
the ledger wrote the record and before anything of ours is committed.

Importing it registers nothing (a flow with no connections would get a schedule for every tenant
of every test): a test registers LEDGER_COPY_FLOW for itself, the test worker calls
ledger_flow_register(); it imports no model, so a worker loads it early.
"""
from __future__ import annotations

import json
import os
import signal
import uuid
from datetime import timedelta
from pathlib import Path

from connector.flows import Flow, Step, register
from connector.streams import Stream, StreamPage, StreamRecord

LEDGER_COPY = "ledger-copy"
KILL_SWITCH = "kill-after-create"  # a file: present, the next create kills its process once done


def outside_dir() -> Path:
    return Path(os.environ["LEDGER_FLOW_DIR"])


def orders_publish(orders: list[dict]) -> None:
    """The source system: orders with a sequence number, the stream's cursor."""
    (outside_dir() / "source.json").write_text(json.dumps(orders))


def ledger_records() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((outside_dir() / "ledger").glob("*.json"))]


def ledger_create(*, reference: str, amount: str, idempotency_key: str) -> dict:
    """Creates a record, every time it is called (no idempotency on the ledger's side)."""
    folder = outside_dir() / "ledger"
    folder.mkdir(exist_ok=True)
    record = {"id": uuid.uuid4().hex, "reference": reference, "amount": amount, "key": idempotency_key}
    (folder / f"{record['id']}.json").write_text(json.dumps(record))
    switch = outside_dir() / KILL_SWITCH
    if switch.exists():
        switch.unlink()
        os.kill(os.getpid(), signal.SIGKILL)  # after the effect, before our commit
    return {"ledger_id": record["id"]}


def ledger_find(reference: str) -> dict | None:
    found = [r for r in ledger_records() if r["reference"] == reference]
    return {"ledger_id": found[0]["id"]} if found else None


def orders_read(*, tenant, cursor: str, lookback: timedelta) -> StreamPage:
    source = outside_dir() / "source.json"
    orders = json.loads(source.read_text()) if source.exists() else []
    since = int(cursor or 0)
    new = [o for o in orders if o["seq"] > since]
    records = [StreamRecord(key=o["number"], raw=json.dumps(o), source=f"order {o['number']}") for o in new]
    return StreamPage(records=records, next_cursor=str(max((o["seq"] for o in new), default=since)))


def order_record(ctx) -> None:
    order = json.loads(ctx.document.raw)
    created = ctx.effect(
        "create_record",
        do=lambda key: ledger_create(reference=order["number"], amount=order["amount"], idempotency_key=key),
        look=lambda: ledger_find(order["number"]),
    )
    ctx.document.external_ids = {**ctx.document.external_ids, **created}


ORDERS = Stream(name="outside:orders", read=orders_read)

LEDGER_COPY_FLOW = Flow(
    name=LEDGER_COPY, label="Orders to the ledger (tests)", stream=ORDERS,
    steps=(Step("record", order_record, "sent"),),
)


def ledger_flow_register() -> None:
    register(LEDGER_COPY_FLOW)
