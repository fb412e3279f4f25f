"""The Cleo inbox: the files partners drop into their Cleo folders, taken in by a job of their
own per tenant (the flow "cleo-inbox", scheduled like any flow) that feeds both EDI flows.

Each file listed is one Document, keyed by its folder and its Cleo id (never its name alone:
a partner may drop a new file under the name of one we already took, even while our record
of taking the old one is lost). Its stages are the document's steps, so each is recorded
(Attempt rows), retried on the schedule, and replayable from the admin:

1. download: the raw bytes into the ledger (InboundFile) before anything else;
2. read, once, in one transaction with everything it decides: the same bytes seen before
   under another name → same_content, nothing imported; not X12 → malformed, kept as
   received; the partner's 997s → edi.outbound.acks (the outbound flow owns their meaning);
   810s → our 997 (its text and file name on the document) and one 810-ap document per
   invoice it accepted, each then queued for a worker;
3. acknowledge: upload our 997 to the partner's outbound folder (an effect keyed by its
   file name, looked for before any repeat);
4. pick_up: delete or move the file in Cleo, as the partner says (an effect, looked for by
   the file's Cleo id: gone from the folder means done), only once its 997 is out, so a
   failed upload is retried while the file is still there to be seen.

A 997 file is read once: when its first group is a group of acknowledgments (GS01 FA) the
file is read as a 997 only; any other file is parsed as X12 once, and only a file that mixes
997s with other sets is read a second time for its 997s.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
import zoneinfo
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any, NoReturn

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from connector.counts import sync_run_add
from connector.documents import audit_record, document_receive
from connector.failures import ConfigFailure, DataFailure, FailureKind, IntegrationFailure, TransientFailure, classify
from connector.flows import Flow, Step, register
from connector.models import Document, DocumentState, SyncRun
from connector.pipeline import StepContext

from .cleo import CleoClient, CleoFile, CleoFolder, CleoNotFound, FileTooLarge, unique_upload_name
from .clients import cleo_client
from .display import x12_one_segment_per_line
from .inbound.acknowledge import acknowledgment_build, is_acknowledgment_group
from .inbound.receive import ReceivedSet, invoices_receive
from .models import DEFAULT_MAX_INBOUND_BYTES, AfterPickup, InboundFile, InboundFileStatus, TradingPartner
from .outbound.acks import acknowledgments_apply, acknowledgments_read
from .partners import partner_for_sender, partners_polled
from .uploads import upload_once
from .x12 import AckSetResult, ParseResult, X12Error, parse_text
from .x12.reader import SegmentReader

INBOX = "cleo-inbox"
SYSTEM = "inbox"


# -- the cycle: list the folders, one document per file -----------------------------------------
def inbox_receive(*, run: SyncRun, trigger: str, user: AbstractBaseUser | None = None) -> dict[str, int]:
    """List every polled folder of the tenant; one cleo-inbox document per file (the engine then
    hands the waiting ones to workers). A folder that cannot be read does not stop the others;
    the cycle fails afterwards, naming each."""
    tenant = run.tenant
    partners = partners_polled(tenant=tenant)
    if not partners:
        return {}
    counts: dict[str, int] = {}
    problems: list[tuple[str, BaseException]] = []
    with cleo_client(tenant) as cleo:
        for folder_name, owners in _by_folder(partners).items():
            try:
                files = cleo.list_files(cleo.folder(folder_name))
            except Exception as exc:  # noqa: BLE001 - one folder's failure must not stop the others
                problems.append((folder_name, exc))
                continue
            for file in files:
                _, created = document_receive(
                    tenant=tenant, flow=INBOX, external_key=f"{folder_name}/{file.id}"[:200],
                    raw=json.dumps(file.to_json(), indent=1), source=f"{folder_name}/{file.name}"[:255], user=user,
                    mapped={"folder": folder_name, "name": file.name, "cleo_file_id": file.id,
                            "partner_id": owners[0].pk, "partner": owners[0].name})
                for key in ("seen", "new" if created else "known"):
                    counts[key] = counts.get(key, 0) + 1
    if problems:
        sync_run_add(run, counts)
        raise _folders_failure(tenant, problems)
    return counts


def _by_folder(partners: Iterable[TradingPartner]) -> dict[str, list[TradingPartner]]:
    """Partners may share a folder (a hub's mailbox): each folder is read once per cycle."""
    folders: dict[str, list[TradingPartner]] = {}
    for partner in partners:
        folders.setdefault(partner.inbound_folder, []).append(partner)
    return folders


def _folders_failure(tenant: Any, problems: list[tuple[str, BaseException]]) -> IntegrationFailure:
    """One failure for the cycle, of the gravest kind among the folders' (and in the audit trail)."""
    texts = [f"folder '{name}': {exc if isinstance(exc, IntegrationFailure) else f'{type(exc).__name__}: {exc}'}"
             for name, exc in problems]
    message = f"{len(problems)} folder(s) not read: " + "; ".join(texts)
    audit_record(tenant=tenant, action="inbox_problem", reason=message)
    kinds = {classify(exc) for _, exc in problems}
    kind = next(k for k in (FailureKind.BUG, FailureKind.CONFIG, FailureKind.DATA, FailureKind.TRANSIENT) if k in kinds)
    failure_class = {FailureKind.TRANSIENT: TransientFailure, FailureKind.CONFIG: ConfigFailure,
                     FailureKind.DATA: DataFailure}.get(kind, IntegrationFailure)
    return failure_class(message[:2000], system=SYSTEM)


# -- the steps of one file ----------------------------------------------------------------------
def inbox_file_download(ctx: StepContext) -> None:
    """The raw bytes into the ledger, before anything reads them: streamed to a temporary file
    in chunks (hashed on the way), then stored once. A file over the partner's maximum size is
    refused before or while downloading: a ledger entry without its bytes names it and why
    (the file stays in Cleo), and the document fails as data; replayed after the maximum was
    raised, it downloads."""
    document = ctx.document
    earlier = InboundFile.objects.filter(document=document).defer("raw").first()
    if earlier is not None and earlier.status != InboundFileStatus.TOO_LARGE:
        return  # stored by an earlier try
    file, mapped, owner = _listed_file(document), document.mapped, _owner(document)
    limit = owner.max_inbound_bytes if owner is not None else DEFAULT_MAX_INBOUND_BYTES
    if file.size is not None and file.size > limit:
        _refuse_too_large(ctx, earlier, file, owner, limit, size=file.size)
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as spool:
        sink = _Hashing(spool, digest)
        try:
            with cleo_client(ctx.tenant) as cleo:
                size = cleo.download_file_to(file, sink, limit=limit)
        except FileTooLarge as exc:
            _refuse_too_large(ctx, earlier, file, owner, limit, size=exc.received, at_least=True)
        spool.seek(0)
        content = spool.read()
    fields = {"partner": owner, "folder": mapped["folder"], "name": file.name, "content_hash": digest.hexdigest(),
              "size": size, "raw": content, "cleo_file_id": file.id, "status": InboundFileStatus.STORED, "note": ""}
    if earlier is not None:  # refused before, the maximum raised since
        InboundFile.objects.filter(pk=earlier.pk).update(**fields)
        entry_id = earlier.pk
    else:
        entry_id = InboundFile.objects.create(tenant=ctx.tenant, document=document, **fields).pk
    document.mapped = {**mapped, "inbound_file_id": entry_id}


class _Hashing:
    """A sink that hashes what it writes."""

    def __init__(self, sink: Any, digest: Any) -> None:
        self.sink, self.digest = sink, digest

    def write(self, chunk: bytes) -> int:
        self.digest.update(chunk)
        return self.sink.write(chunk)


def _refuse_too_large(ctx: StepContext, earlier: InboundFile | None, file: CleoFile, owner: TradingPartner | None,
                      limit: int, *, size: int, at_least: bool = False) -> NoReturn:
    """The ledger names the refused file (no bytes: they stay in Cleo), then the step fails."""
    document, mapped = ctx.document, ctx.document.mapped
    whose = f"partner {owner.name}'s" if owner is not None else "the default"
    note = (f"refused: {'more than ' if at_least else ''}{size:,} bytes, over {whose} maximum of {limit:,} bytes. "
            f"The file stays in Cleo ({mapped['folder']}/{file.name}); raise the maximum on the trading partner "
            "and replay to take it in.")
    fields = {"partner": owner, "folder": mapped["folder"], "name": file.name, "content_hash": "", "size": size,
              "raw": b"", "cleo_file_id": file.id, "status": InboundFileStatus.TOO_LARGE, "note": note}
    if earlier is not None:
        InboundFile.objects.filter(pk=earlier.pk).update(**fields)
        entry_id = earlier.pk
    else:
        entry_id = InboundFile.objects.create(tenant=ctx.tenant, document=document, **fields).pk
    document.mapped = {**mapped, "inbound_file_id": entry_id}
    ctx.count("too_large")
    raise DataFailure(f"{mapped['folder']}/{file.name}: {note}", system=SYSTEM)


def inbox_file_read(ctx: StepContext) -> None:
    """Read once, and commit what it decides in one transaction (see the module docstring)."""
    entry = _entry(ctx.document)
    if entry.status != InboundFileStatus.STORED:
        return  # read by an earlier try: its decisions were committed with it
    raw = _raw_bytes(entry)
    earlier = (InboundFile.objects.filter(tenant=entry.tenant_id, content_hash=entry.content_hash)
               .exclude(pk=entry.pk).exclude(status__in=(InboundFileStatus.STORED, InboundFileStatus.SAME_CONTENT))
               .order_by("pk").first())
    if earlier is not None:
        entry.same_as = earlier
        when = f"{earlier.received_at:%Y-%m-%d %H:%M} UTC"
        _settle(ctx, entry, InboundFileStatus.SAME_CONTENT,
                f"the same bytes as {earlier.folder}/{earlier.name} (received {when}, "
                f"{earlier.get_status_display().lower()}): nothing imported again")
        return
    acknowledgment_file = _acknowledgments_only(raw)
    if acknowledgment_file is not None:
        _read_acknowledgments(ctx, entry, raw, *acknowledgment_file)
        return
    try:
        result = parse_text(raw)
    except X12Error as exc:
        _settle(ctx, entry, InboundFileStatus.MALFORMED, f"not X12, kept as received: {exc}")
        return
    _read_x12(ctx, entry, raw, result)


def inbox_file_acknowledge(ctx: StepContext) -> None:
    """Our 997 to the partner's outbound folder, once."""
    document = ctx.document
    if not document.artifact:
        return  # nothing to answer: a 997, the same bytes again, not X12
    entry = _entry(document)
    if entry.partner is None:
        raise ConfigFailure(f"no trading partner for {entry.folder}/{entry.name}: our 997 {document.artifact_name} "
                            "cannot be sent", system=SYSTEM)
    with cleo_client(ctx.tenant) as cleo:
        folder = cleo.folder(entry.partner.outbound_folder)
        upload_once(ctx, cleo=cleo, folder=folder, name=document.artifact_name, content=document.artifact.encode(),
                    effect="upload_997")
    ctx.count("997_sent")


def inbox_file_pick_up(ctx: StepContext) -> None:
    """Delete or move the file, as the partner owning the folder says; gone is done."""
    document = ctx.document
    file, owner = _listed_file(document), _owner(document)
    if owner is None:
        raise ConfigFailure(f"the trading partner polling {document.mapped['folder']} no longer exists: "
                            "pick the file up by hand", system=SYSTEM)
    with cleo_client(ctx.tenant) as cleo:
        inbound = cleo.folder(document.mapped["folder"])
        ctx.effect("pick_up", key=file.id, do=lambda key: _pick_up(cleo, file, owner),
                   look=lambda: _gone(cleo, inbound, file))
    ctx.count("picked_up")


def _pick_up(cleo: CleoClient, file: CleoFile, owner: TradingPartner) -> dict[str, Any]:
    if owner.after_pickup == AfterPickup.MOVE:
        archive = cleo.folder(owner.archive_folder)
        try:
            cleo.move_file(file, archive)
        except CleoNotFound:
            return {"gone": True}  # moved or deleted by an earlier try, or by someone else
        return {"moved_to": archive.name}
    return {"deleted": cleo.delete_file(file)}


def _gone(cleo: CleoClient, inbound: CleoFolder, file: CleoFile) -> dict[str, Any] | None:
    """Picked up already (by an earlier try whose end was lost) when the folder no longer holds
    this file; another file of the same name is not this one."""
    still_there = any(f.id == file.id for f in cleo.list_files(inbound, name=file.name))
    return None if still_there else {"gone": True}


# -- reading ------------------------------------------------------------------------------------
def _acknowledgments_only(raw: bytes) -> tuple[str, str] | None:
    """(ISA05, ISA06) when the file's first group is a group of 997s, else None: read as a 997
    only, never parsed as an invoice file too. Reads the first few segments."""
    sender: tuple[str, str] = ("", "")
    try:
        for elements in SegmentReader(raw):
            if elements[0] == "ISA" and len(elements) > 6:
                sender = (elements[5].strip(), elements[6].strip())
            elif elements[0] == "GS":
                return sender if len(elements) > 1 and elements[1] == "FA" else None
            elif elements[0] == "ST":
                return sender if len(elements) > 1 and elements[1] in ("997", "999") else None
    except X12Error:
        return None
    return None


def _read_acknowledgments(ctx: StepContext, entry: InboundFile, raw: bytes, qualifier: str, sender: str) -> None:
    partner = (partner_for_sender(tenant=ctx.tenant, qualifier=qualifier, sender_id=sender) if sender else None) \
        or entry.partner
    entry.partner = partner
    with transaction.atomic():
        notes, status = _apply_acknowledgments(ctx, entry, partner, raw, None)
        _settle(ctx, entry, status, "\n".join(notes))


def _read_x12(ctx: StepContext, entry: InboundFile, raw: bytes, result: ParseResult) -> None:
    document, tenant = ctx.document, ctx.tenant
    partner = _sender_partner(tenant, result) or entry.partner
    if partner is None:
        raise ConfigFailure(f"no trading partner polls {entry.folder} any more: nothing to answer "
                            f"{entry.name} with", system=SYSTEM)
    entry.partner = partner
    with transaction.atomic():
        notes, acks_status = _apply_acknowledgments(ctx, entry, partner, raw, result)
        when = timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone or "UTC"))
        ack = acknowledgment_build(partner=partner, result=result, when=when.replace(tzinfo=None))
        received = invoices_receive(entry=entry, partner=partner, verdicts=ack.verdicts, user=ctx.user, raw=raw)
        status, note = _outcome(result, received, notes, acks_status)
        if ack.text:
            document.artifact = ack.text
            document.artifact_name = document.artifact_name or unique_upload_name(
                partner.their_isa_id, f"997-{PurePosixPath(entry.name).stem}", timezone.now())
        _settle(ctx, entry, status, note)
    created = [item.document for item in received if item.document is not None and item.created]
    known = sum(1 for item in received if item.document is not None and not item.created)
    for key, value in (("invoices_new", len(created)), ("invoices_known", known)):
        if value:
            ctx.count(key, value)
    ctx.queue(created)


def _apply_acknowledgments(ctx: StepContext, entry: InboundFile, partner: TradingPartner | None, raw: bytes,
                           result: ParseResult | None) -> tuple[list[str], str]:
    """A partner's 997s go to the outbound flow, which knows the 810s they answer."""
    if result is not None and not any(is_acknowledgment_group(g) for i in result.interchanges for g in i.groups):
        return [], ""
    source = f"{entry.folder}/{entry.name}"
    if partner is None:
        return [f"997 not applied: no trading partner sent it or polls {entry.folder}"], InboundFileStatus.MALFORMED
    try:
        results: list[AckSetResult] = acknowledgments_read(raw, source=source)
        counts = acknowledgments_apply(tenant=ctx.tenant, partner=partner, results=results, source=source)
    except DataFailure as exc:
        return [f"997 not applied: {exc}"], InboundFileStatus.MALFORMED
    ctx.count("acknowledgments")
    said = ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts.items() if value)
    return [f"997 applied to our 810s: {said or 'nothing in it'}"], InboundFileStatus.ACKNOWLEDGMENT


def _settle(ctx: StepContext, entry: InboundFile, status: str, note: str) -> None:
    """The ledger's verdict, committed with the document's artifact (our 997, if any)."""
    entry.status, entry.note = status, note or "nothing in it to import or acknowledge"
    with transaction.atomic():
        entry.save(update_fields=["status", "note", "partner", "same_as"])
        ctx.save("artifact", "artifact_name", "mapped")
    ctx.count(str(status))


def _sender_partner(tenant: Any, result: ParseResult) -> TradingPartner | None:
    """The partner whose ISA id sent the file; the folder's owner when none matches."""
    for interchange in result.interchanges:
        if interchange.enveloped and interchange.sender_id:
            return partner_for_sender(tenant=tenant, qualifier=interchange.sender_qualifier,
                                      sender_id=interchange.sender_id)
    return None


def _outcome(result: ParseResult, received: list[ReceivedSet], notes: list[str], acks_status: str) -> tuple[str, str]:
    """The file's status and a note saying what became of every set in it."""
    lines = list(notes)
    for interchange in result.interchanges:
        lines.extend(f"interchange {interchange.control_number or '(none)'}: {p}"
                     for p in interchange.problems if p.is_error)
    for item in received:
        if item.document is not None:
            known = "new document" if item.created else "already received as document"
            lines.append(f"{item.label}: {known} {item.document.external_key}")
        else:
            lines.append(f"{item.label}: {item.skipped}")
    invoices = [r for r in received if r.verdict.transaction_set.invoice is not None]
    if any(not r.verdict.accepted for r in invoices) or acks_status == InboundFileStatus.MALFORMED:
        status = InboundFileStatus.MALFORMED
    elif any(r.document is not None for r in invoices):
        status = InboundFileStatus.IMPORTED
    elif acks_status and not received:
        status = acks_status
    else:
        status = InboundFileStatus.NO_INVOICES
    return status, "\n".join(lines)


# -- the document's own records ------------------------------------------------------------------
def _listed_file(document: Document) -> CleoFile:
    try:
        return CleoFile.from_json(json.loads(document.raw))
    except ValueError as exc:
        raise DataFailure(f"the file as Cleo listed it cannot be read back: {exc}", system=SYSTEM) from exc


def _owner(document: Document) -> TradingPartner | None:
    """The partner polling the folder the file was listed in (it says how to pick it up)."""
    return TradingPartner.objects.filter(pk=document.mapped.get("partner_id"), tenant=document.tenant_id).first()


def _raw_bytes(entry: InboundFile) -> bytes:
    """The file's bytes, one copy (the entry itself is read without them)."""
    raw = InboundFile.objects.filter(pk=entry.pk).values_list("raw", flat=True).first()
    return raw if isinstance(raw, bytes) else bytes(raw or b"")


def _entry(document: Document) -> InboundFile:
    entry = InboundFile.objects.select_related("partner").defer("raw").filter(document=document).first()
    if entry is None or entry.status == InboundFileStatus.TOO_LARGE:
        raise DataFailure("the file's bytes are not in the ledger: replay from the download step", system=SYSTEM)
    return entry


def inbox_file_links(document: Document) -> list[tuple[str, str]]:
    entry_id = document.mapped.get("inbound_file_id")
    try:
        return [(f"The file in the ledger: {document.source}", reverse("admin:edi_inboundfile_change",
                                                                        args=[entry_id]))] if entry_id else []
    except NoReverseMatch:
        return []


CLEO_INBOX_FLOW = register(Flow(
    name=INBOX, label="Cleo inbox (files from partners)",
    steps=(Step("download", inbox_file_download, DocumentState.RECEIVED),
           Step("read", inbox_file_read, DocumentState.MAPPED),
           Step("acknowledge", inbox_file_acknowledge, DocumentState.MAPPED),
           Step("pick_up", inbox_file_pick_up, DocumentState.DONE)),
    poll=inbox_receive,
    needs=("cleoconnection",),
    outcome_prefix="files_",
    description="Files in the partners' Cleo folders: kept byte for byte, 997s applied to our 810s, invoices handed "
                "to 810-ap with our 997 back, then picked up.",
    show_artifact=x12_one_segment_per_line,
    document_links=inbox_file_links,
))
