"""A partner's 997 applied to the 810s we sent it: each set acknowledged or rejected, with the
partner's own error codes on the document.

The 997 names our group (AK1: GS01, GS06) and each set (AK2: ST01, ST02). GS06 and ST02 come
from the partner's own counters (edi.partners.control_numbers_allocate), so partner + GS06 +
ST02 finds exactly one outbound document: the render step indexes those numbers
(edi.models.OutboundControl) for this lookup. The Cleo inbox (edi/inbox.py) finds 997 files
in the partner's folder, reads each once and hands its results to `acknowledgments_apply`;
it owns the file, this owns its meaning.
"""
from __future__ import annotations

from django.db import transaction

from connector.documents import audit_record, document_transition
from connector.failures import DataFailure
from connector.models import Document, DocumentState
from tenants.models import Tenant

from ..models import OutboundControl, TradingPartner
from ..x12 import AckSetResult, X12Error, read_997
from ..x12.values import parse_count
from . import AR_810

# A 997 may arrive before or after the state it answers was committed; a later 997 for the
# same set (a partner re-sending one) may change our mind, so these may all be answered.
ANSWERABLE = (DocumentState.SENT, DocumentState.ACKNOWLEDGED, DocumentState.REJECTED)

# What the partner's codes mean, so a finance admin need not look them up (X12 715/716/717/718/720/723).
AK5_CODES = {
    "1": "transaction set not supported", "2": "trailer missing", "3": "control number in SE does not match ST",
    "4": "segment count in SE is wrong", "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier", "7": "missing or invalid control number",
    "23": "control number not unique in the group",
}
AK3_CODES = {
    "1": "unrecognized segment", "2": "unexpected segment", "3": "mandatory segment missing",
    "4": "loop occurs over maximum times", "5": "segment exceeds maximum use", "6": "segment not in defined set",
    "7": "segment not in proper sequence", "8": "segment has data element errors",
}
AK4_CODES = {
    "1": "mandatory element missing", "2": "conditional required element missing", "3": "too many elements",
    "4": "element too short", "5": "element too long", "6": "invalid character", "7": "invalid code value",
    "8": "invalid date", "9": "invalid time", "10": "exclusion condition violated", "12": "too many repetitions",
    "13": "too many components",
}
AK9_CODES = {
    "1": "functional group not supported", "2": "functional group version not supported",
    "3": "group trailer missing", "4": "GE02 does not match GS06", "5": "set count in GE01 is wrong",
    "6": "group control number violates syntax",
}
STATUS_WORDS = {"A": "accepted", "E": "accepted with errors", "R": "rejected", "P": "partially accepted",
                "M": "rejected, message authentication failed", "W": "rejected, assurance failed",
                "X": "rejected, content could not be analyzed"}


def acknowledgments_apply(*, tenant: Tenant, partner: TradingPartner, source: str, text: str | bytes | None = None,
                          results: list[AckSetResult] | None = None) -> dict[str, int]:
    """Mark the 810s a 997 answers acknowledged (A, E) or rejected (anything else): its
    `results` as read (edi.x12.read_997), or its `text` read here.

    Returns counts: sets (results read), acknowledged, rejected, unchanged (the document was
    already in that state), not_sent (found, but our upload is not committed yet: the answer is
    kept and applied when it is), unmatched (no 810 of ours with that partner, GS06 and ST02).
    A text that holds no 997 is a data failure: the caller keeps the file and says so.
    """
    if results is None:
        results = acknowledgments_read(text or "", source=source)
    counts = {"sets": 0, "acknowledged": 0, "rejected": 0, "unchanged": 0, "not_sent": 0, "unmatched": 0}
    for result in results:
        counts["sets"] += 1
        if result.functional_id and result.functional_id != "IN":
            counts["unmatched"] += 1  # a 997 for something that is not an invoice group of ours
            continue
        documents = _documents_answered(tenant=tenant, partner=partner, result=result)
        if not documents:
            counts["unmatched"] += 1
            audit_record(tenant=tenant, action="997_unmatched",
                         reason=f"{source}: {partner.name} answered group {result.group_control} set "
                                f"{result.set_control or '(whole group)'}, which matches no 810 we sent")
            continue
        for document in documents:
            counts[_apply_to_document(document, result, source=source)] += 1
    return counts


def acknowledgments_read(text: str | bytes, *, source: str) -> list[AckSetResult]:
    try:
        return read_997(text)
    except X12Error as exc:
        raise DataFailure(f"{source}: not a readable 997 ({exc})", system="x12") from exc


def ack_outcome(result: AckSetResult) -> tuple[str, str]:
    """(state, reason) for one set result: the reason names every code the partner sent."""
    state = DocumentState.ACKNOWLEDGED if result.accepted else DocumentState.REJECTED
    where = f"group {result.group_control}" + (f" set {result.set_control}" if result.set_control else "")
    parts = [f"997 {STATUS_WORDS.get(result.status, result.status or 'no status')} ({where}: AK5 {result.status or '-'})"]
    for code in result.set_codes:
        parts.append(f"AK5 code {code}: {AK5_CODES.get(code, 'see the partner guide')}")
    for segment in result.segment_errors:
        at = f" at position {segment.position}" if segment.position else ""
        meaning = AK3_CODES.get(segment.code or "", "see the partner guide")
        parts.append(f"AK3 {segment.segment_id}{at} code {segment.code or '-'}: {meaning}")
        for element in segment.elements:
            name = f"{segment.segment_id}{element.element:02d}" if element.element else segment.segment_id
            value = f" (value {element.bad_value!r})" if element.bad_value else ""
            parts.append(f"AK4 {name} code {element.code}: {AK4_CODES.get(element.code, 'see the partner guide')}"
                         f"{value}")
    if (result.group_status and result.group_status not in ("A", "E")) or result.group_codes:
        parts.append(f"AK9 {result.group_status}"
                     + "".join(f"; code {c}: {AK9_CODES.get(c, 'see the partner guide')}" for c in result.group_codes))
    return state, "; ".join(parts)


def _documents_answered(*, tenant: Tenant, partner: TradingPartner, result: AckSetResult) -> list[Document]:
    group = _number(result.group_control)
    if group is None:
        return []
    controls = OutboundControl.objects.filter(partner=partner, group=group)
    if result.set_control is not None:  # no AK2: the answer is for the whole group
        st02 = _number(result.set_control)
        if st02 is None:
            return []
        controls = controls.filter(set_control=st02)
    documents = Document.objects.filter(tenant=tenant, flow=AR_810, pk__in=controls.values("document_id"))
    return list(documents.order_by("pk"))


def _apply_to_document(document: Document, result: AckSetResult, *, source: str) -> str:
    state, outcome = ack_outcome(result)
    reason = f"{source}: {outcome}"
    ack = {"status": result.status, "state": str(state), "outcome": outcome, "source": source}
    with transaction.atomic():
        # Locked, so an upload step committing at the same moment cannot overwrite the answer.
        document = Document.objects.select_for_update().select_related("tenant").get(pk=document.pk)
        previous = document.external_ids.get("ack") or {}
        document.external_ids = {**document.external_ids, "ack": ack}
        if document.state not in ANSWERABLE:
            # The partner has the file but our record of the upload is not committed yet (a
            # crash or retry between the two): the upload step applies the answer when it is.
            document.save(update_fields=["external_ids", "updated_at"])
            audit_record(tenant=document.tenant, document=document, action="997_received",
                         from_state=document.state, to_state=document.state,
                         reason=f"{reason} (applied once the upload is recorded)")
            return "not_sent"
        if document.state == state and previous.get("outcome") == outcome:
            return "unchanged"  # the same answer again (a partner re-sending its 997)
        document.last_error = _error_text(state, reason)
        document_transition(document, state, reason=reason, action="997_applied",
                            extra_fields=("external_ids", "last_error"))
    return "acknowledged" if state == DocumentState.ACKNOWLEDGED else "rejected"


def _error_text(state: str, reason: str) -> str:
    """A rejection's codes belong where the admin shows what went wrong; an acceptance clears it."""
    return reason if state == DocumentState.REJECTED else ""


def _number(value: str | None) -> int | None:
    """GS06 / ST02 as the counter handed them out: '0001' and '1' are the same set."""
    return parse_count((value or "").strip())
