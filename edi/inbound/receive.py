"""One 810-ap Document per invoice our 997 accepted, keyed so a re-delivery is recognised.

What makes "the same invoice" here is the transmission: sender, ISA13, GS06, ST02 and the
invoice number. A file delivered twice (even with other bytes around it, such as an 850 in a
second group) yields the same keys and so no second document. A supplier who re-sends an
invoice in a new interchange gets a new document, and Vantagepoint's own check for vendor +
invoice number (the check_duplicate step) marks it duplicate before anything is posted. The
invoice number alone is not the key: real files reuse one number for two different invoices
(see sample 01), and a key that merged them would drop the second without a trace.

A bare ST..SE with no envelope has no ISA13 or GS06: its key carries the file's content hash
instead, so two such files never collapse into one document.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from connector.documents import document_receive
from connector.models import Document

from ..models import InboundFile, TradingPartner
from ..x12 import Invoice810, TransactionSet, invoice_to_dict
from ..x12.reader import SegmentReader
from ..x12.values import parse_count
from . import AP_810
from .acknowledge import SetVerdict


@dataclass(frozen=True)
class ReceivedSet:
    """What became of one set of the file: a document (new or already known) or a reason."""

    verdict: SetVerdict
    document: Document | None = None
    created: bool = False
    skipped: str = ""

    @property
    def label(self) -> str:
        ts = self.verdict.transaction_set
        number = f" invoice {ts.invoice.invoice_number}" if ts.invoice and ts.invoice.invoice_number else ""
        return f"{ts.set_id} set {ts.control_number}{number}"


def sender_key(qualifier: str, sender_id: str) -> str:
    """How a sender is written in mapping overrides and messages: ISA05:ISA06, e.g. ZZ:ACME01."""
    return f"{qualifier.strip()}:{sender_id.strip()}"


def invoice_external_key(*, invoice: Invoice810, sender: str, content_hash: str) -> str:
    source = invoice.source
    if source is None or not source.interchange_control:
        controls = f"bare:{content_hash[:16]}/{_number(source.set_control if source else '')}"
    else:
        controls = "/".join(_number(n) for n in (source.interchange_control, source.group_control,
                                                 source.set_control))
    return f"{sender}/{controls}/{invoice.invoice_number}"[:200]


def invoices_receive(*, entry: InboundFile, partner: TradingPartner, verdicts: tuple[SetVerdict, ...],
                     user: AbstractBaseUser | None = None, raw: bytes | None = None) -> list[ReceivedSet]:
    """A document for every accepted 810 set; a reason for every other set. `raw`: the file's
    bytes when the caller holds them (not read again from the ledger)."""
    texts = _set_texts(raw if raw is not None else bytes(entry.raw),
                       [v.transaction_set for v in verdicts if v.transaction_set.invoice])
    received: list[ReceivedSet] = []
    for verdict in verdicts:
        ts, interchange = verdict.transaction_set, verdict.interchange
        if ts.invoice is None:
            received.append(ReceivedSet(verdict, skipped=f"not an invoice ({ts.set_id}): skipped, "
                                                         "our 997 says the set is not supported"))
            continue
        if not verdict.accepted:
            errors = "; ".join(str(p) for p in ts.problems if p.is_error) or "its group was rejected: " + (
                "; ".join(str(p) for p in verdict.group.problems if p.is_error) or "see our 997")
            received.append(ReceivedSet(verdict, skipped=f"rejected in our 997, not imported: {errors}"))
            continue
        if partner.production and interchange.usage == "T":
            received.append(ReceivedSet(verdict, skipped="a test interchange (ISA15 T) to a production partner: "
                                                         "acknowledged, not imported"))
            continue
        if interchange.enveloped:
            sender = sender_key(interchange.sender_qualifier, interchange.sender_id)
            from_partner = (interchange.sender_qualifier.strip(), interchange.sender_id.strip()) == \
                (partner.their_isa_qualifier, partner.their_isa_id)
        else:
            sender, from_partner = sender_key(partner.their_isa_qualifier, partner.their_isa_id), True
        invoice = ts.invoice
        key = invoice_external_key(invoice=invoice, sender=sender, content_hash=entry.content_hash)
        mapped = {
            "invoice": invoice_to_dict(invoice),
            "partner_id": partner.pk, "partner": partner.name, "sender": sender, "sender_is_partner": from_partner,
            "inbound_file_id": entry.pk, "file": f"{entry.folder}/{entry.name}",
            # What the reader noticed without rejecting the set, e.g. a TDS copied from the
            # previous invoice: the voucher is built from the lines, and this says why it differs.
            "warnings": [str(p) for p in ts.problems if not p.is_error],
        }
        document, created = document_receive(
            tenant=entry.tenant, flow=AP_810, external_key=key, raw=texts.get(ts.segment_number, ""),
            source=f"{entry.folder}/{entry.name} set {ts.control_number}"[:255], mapped=mapped, user=user)
        received.append(ReceivedSet(verdict, document=document, created=created))
    return received


def _set_texts(raw: bytes, sets: list[TransactionSet]) -> dict[int, str]:
    """Each set's ST..SE as received (delimiters kept, one segment a line), in one pass."""
    wanted = {ts.segment_number: ts.segment_number + max(ts.segment_count, 1) - 1 for ts in sets}
    if not wanted:
        return {}
    texts: dict[int, list[str]] = {}
    reader = SegmentReader(raw)
    open_set, last_wanted = 0, max(wanted.values())
    for number, elements in enumerate(reader, start=1):
        if number in wanted:
            open_set = number
        if open_set:
            d = reader.delimiters
            texts.setdefault(open_set, []).append(d.element.join(elements) + d.segment)
            if number >= wanted[open_set]:
                open_set = 0
        if number >= last_wanted:
            break
    return {start: "\n".join(lines) for start, lines in texts.items()}


def _number(value: str) -> str:
    """Control numbers as numbers: '000000020' and '20' are one interchange."""
    text = (value or "").strip()
    number = parse_count(text)
    return str(number) if number is not None else text or "-"
