"""The numbers and markers the code kept by hand move into the engine's records.

1. OutboundControl, filled from the numbers each ar-810 document kept in external_ids.
2. Every ledger entry gets a cleo-inbox Document: its stages so far become its state and
   step, our 997 its artifact, and the hand-made markers become Effect rows (ack_uploaded →
   the 997 upload confirmed, picked_up → the pickup confirmed). The two other hand-made
   markers move the same way: an ar-810 upload begun (external_ids.upload_started_at) and an
   810-ap posting fixed (mapped.posting: batch and period).
3. The old ledger columns go; a file is identified by its Cleo id.
"""
import json
from datetime import datetime

from django.db import migrations

SENT = ("sent", "acknowledged", "rejected")


def forwards(apps, schema_editor):
    Document = apps.get_model("connector", "Document")
    Effect = apps.get_model("connector", "Effect")
    OutboundControl = apps.get_model("edi", "OutboundControl")
    InboundFile = apps.get_model("edi", "InboundFile")
    TradingPartner = apps.get_model("edi", "TradingPartner")

    partners = set(TradingPartner.objects.values_list("pk", flat=True))
    for doc in Document.objects.filter(flow="ar-810").iterator():
        ids = doc.external_ids or {}
        numbers = [ids.get(k) for k in ("isa13", "gs06", "st02")]
        if ids.get("partner_id") in partners and all(isinstance(n, int) for n in numbers):
            when = datetime.fromisoformat(ids["rendered_at"]) if ids.get("rendered_at") else doc.created_at
            if not OutboundControl.objects.filter(partner_id=ids["partner_id"], interchange=numbers[0],
                                                  group=numbers[1], set_control=numbers[2]).exists():
                OutboundControl.objects.create(tenant_id=doc.tenant_id, partner_id=ids["partner_id"], document=doc,
                                               interchange=numbers[0], group=numbers[1], set_control=numbers[2],
                                               allocated_at=when)
        if ids.get("upload_started_at") and doc.artifact_name:
            Effect.objects.get_or_create(document=doc, step="upload", name="upload", defaults={
                "key": doc.artifact_name, "calls": 1,
                "state": "confirmed" if doc.state in SENT else "unknown",
                "result": {"cleo_file_id": ids.get("cleo_file_id", ""),
                           "found_in_folder": bool(ids.get("found_in_folder"))} if doc.state in SENT else None,
                "confirmed_by": "do" if doc.state in SENT else ""})

    for doc in Document.objects.filter(flow="810-ap").iterator():
        posting = (doc.mapped or {}).get("posting")
        if posting and posting.get("batch"):
            posted = doc.state == "posted"
            Effect.objects.get_or_create(document=doc, step="post", name="post", defaults={
                "key": posting["batch"], "intent": {"period": int(posting["period"])}, "calls": 1,
                "state": "confirmed" if posted else "unknown",
                "result": (doc.external_ids or {}).get("vantagepoint") if posted else None,
                "confirmed_by": "do" if posted else ""})

    for entry in InboundFile.objects.filter(document__isnull=True).iterator():
        if not entry.cleo_file_id:
            entry.cleo_file_id = f"legacy-{entry.pk}"
        if entry.picked_up:
            state, step = "done", ""
        elif entry.status == "stored":
            state, step = "received", "read"
        else:
            state, step = "mapped", "acknowledge" if entry.ack_text and not entry.ack_uploaded else "pick_up"
        listed = {"id": entry.cleo_file_id, "name": entry.name, "size": entry.size, "meta": {}, "_links": {}}
        doc, _ = Document.objects.get_or_create(
            tenant_id=entry.tenant_id, flow="cleo-inbox", external_key=f"{entry.folder}/{entry.cleo_file_id}"[:200],
            defaults={"state": state, "step": step, "raw": json.dumps(listed, indent=1),
                      "source": f"{entry.folder}/{entry.name}"[:255], "artifact": entry.ack_text,
                      "artifact_name": entry.ack_file_name, "created_at": entry.received_at,
                      "mapped": {"folder": entry.folder, "name": entry.name, "cleo_file_id": entry.cleo_file_id,
                                 "partner_id": entry.partner_id, "inbound_file_id": entry.pk}})
        if entry.ack_file_name:
            # Named and not marked uploaded: an earlier run may have sent it (the old code looked
            # before any re-upload), so the 997 is unknown: the next try looks first.
            Effect.objects.get_or_create(document=doc, step="acknowledge", name="upload_997", defaults={
                "key": entry.ack_file_name, "calls": 1,
                "state": "confirmed" if entry.ack_uploaded else "unknown", "confirmed_by": "do" if entry.ack_uploaded else "",
                "result": {"cleo_file_id": "", "found_in_folder": False} if entry.ack_uploaded else None})
        if entry.picked_up:
            Effect.objects.get_or_create(document=doc, step="pick_up", name="pick_up", defaults={
                "key": entry.cleo_file_id, "calls": 1, "state": "confirmed", "confirmed_by": "do",
                "result": {"gone": True}})
        entry.document = doc
        entry.save(update_fields=["document", "cleo_file_id"])


class Migration(migrations.Migration):

    dependencies = [("edi", "0002_outbound_controls")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
