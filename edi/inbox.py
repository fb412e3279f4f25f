"""Picking files up from the partners' Cleo folders into the ledger: both EDI flows share it.

Every file goes through four stages, each recorded on its ledger entry (InboundFile) as it
completes, so a run that dies anywhere resumes at the right stage on the next cycle and
nothing is imported twice:

1. download, and store the raw bytes before anything else (status stored);
2. read: the same bytes already seen under another name → same_content, nothing imported;
   not X12 at all → malformed, kept as received; 997s → edi.outbound.acks (the outbound flow
   owns their meaning, this module owns the file); 810s → our 997 and one 810-ap document per
   invoice it accepted (edi.inbound). Status, note, the 997's name and text are saved in one
   transaction with the documents;
3. upload our 997 to the partner's outbound folder, under the name saved in stage 2 (looked
   for first when an earlier run may have sent it);
4. delete or move the file in Cleo, as the partner says; only after its 997 is out, so a
   failed upload is retried while the file is still there to be seen.

A file already in the ledger is neither downloaded nor read again: only its missing stages
run. One file's failure is recorded (an audit event) and the others go on; `inbox_sweep`
reports the problems so the polling cycle can end failed and say why.
"""
from __future__ import annotations

import hashlib
import traceback
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from connector.documents import audit_record
from connector.failures import (
    ConfigFailure,
    DataFailure,
    FailureKind,
    IntegrationFailure,
    TransientFailure,
    classify,
)
from connector.locks import exclusive
from tenants.models import Tenant

from .cleo import CleoClient, CleoFile, CleoFolder, CleoNotFound, unique_upload_name
from .clients import cleo_client
from .inbound.acknowledge import acknowledgment_build, is_acknowledgment_group
from .inbound.receive import ReceivedSet, invoices_receive
from .models import AfterPickup, InboundFile, InboundFileStatus, TradingPartner
from .partners import partner_for_sender, partners_polled
from .x12 import ParseResult, X12Error, parse_text

SYSTEM = "inbox"


@dataclass
class InboxReport:
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def count(self, key: str, by: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + by

    def problem(self, tenant: Tenant, where: str, exc: BaseException) -> None:
        text = str(exc) if isinstance(exc, IntegrationFailure) else f"{type(exc).__name__}: {exc}"
        self.problems.append(f"{where}: {text}")
        self.failures.append(exc)
        self.count("problems")
        detail = "" if isinstance(exc, IntegrationFailure) else "\n" + "".join(traceback.format_exception(exc))
        audit_record(tenant=tenant, action="inbox_problem", reason=f"{where}: {text}{detail}")

    def failure(self) -> IntegrationFailure:
        """One failure for the cycle, of the gravest kind among the files' problems."""
        message = f"{len(self.problems)} file(s) or folder(s) not taken in: " + "; ".join(self.problems)
        kinds = {classify(exc) for exc in self.failures}
        if kinds == {FailureKind.TRANSIENT}:
            return TransientFailure(message[:2000], system=SYSTEM)
        if FailureKind.BUG in kinds:
            return IntegrationFailure(message[:2000], system=SYSTEM)
        if FailureKind.CONFIG in kinds:
            return ConfigFailure(message[:2000], system=SYSTEM)
        return DataFailure(message[:2000], system=SYSTEM)


def inbox_collect(*, tenant: Tenant, trigger: str, user: AbstractBaseUser | None = None) -> dict[str, int]:
    """Take in every new file of every polled partner folder; counts of what happened.
    Problems are in the counts and the audit trail (see `inbox_sweep` for their text)."""
    return inbox_sweep(tenant=tenant, trigger=trigger, user=user).counts


def inbox_sweep(*, tenant: Tenant, trigger: str, user: AbstractBaseUser | None = None) -> InboxReport:
    """`inbox_collect` with the problems' text, for a caller that must fail and say why.

    One sweep per tenant at a time (both flows' cycles call it): a second finds it busy and
    leaves the files to the first."""
    report = InboxReport()
    partners = partners_polled(tenant=tenant)
    if not partners:
        return report
    with exclusive(f"inbox:{tenant.pk}") as acquired:
        if not acquired:
            report.count("busy")  # another cycle is sweeping this tenant's folders right now
            return report
        with cleo_client(tenant) as cleo:
            sweep = _Sweep(tenant=tenant, cleo=cleo, report=report, user=user)
            for folder_name, owners in _by_folder(partners).items():
                sweep.folder(folder_name, owners)
    return report


def _by_folder(partners: Iterable[TradingPartner]) -> dict[str, list[TradingPartner]]:
    """Partners may share a folder (a hub's mailbox): each folder is read once per sweep."""
    folders: dict[str, list[TradingPartner]] = {}
    for partner in partners:
        folders.setdefault(partner.inbound_folder, []).append(partner)
    return folders


class _Sweep:
    def __init__(self, *, tenant: Tenant, cleo: CleoClient, report: InboxReport,
                 user: AbstractBaseUser | None) -> None:
        self.tenant, self.cleo, self.report, self.user = tenant, cleo, report, user
        self._folders: dict[str, CleoFolder] = {}

    def cleo_folder(self, name: str) -> CleoFolder:
        if name not in self._folders:
            self._folders[name] = self.cleo.folder_named(name)
        return self._folders[name]

    def folder(self, folder_name: str, owners: list[TradingPartner]) -> None:
        try:
            files = self.cleo.list_files(self.cleo_folder(folder_name))
        except Exception as exc:  # noqa: BLE001 - one folder's failure must not stop the others
            self.report.problem(self.tenant, f"folder '{folder_name}'", exc)
            return
        for file in files:
            self.report.count("seen")
            try:
                self.file(folder_name, owners, file)
            except Exception as exc:  # noqa: BLE001 - recorded; the next cycle resumes this file
                self.report.problem(self.tenant, f"{folder_name}/{file.name}", exc)

    # -- the four stages ------------------------------------------------------------------------
    def file(self, folder_name: str, owners: list[TradingPartner], file: CleoFile) -> None:
        entry = self.ledger_entry(folder_name, owners, file)
        if entry is None:
            return
        read_now = entry.status == InboundFileStatus.STORED
        if read_now:
            self.read(entry, owners)
        if entry.ack_text and not entry.ack_uploaded:
            self.acknowledge(entry, check_first=not read_now)
        if not entry.picked_up:
            self.pick_up(entry, owners[0], file)

    def ledger_entry(self, folder_name: str, owners: list[TradingPartner], file: CleoFile) -> InboundFile | None:
        """The file's ledger entry; a new one (the bytes stored first) if it has none."""
        name = file.name
        entry = InboundFile.objects.filter(tenant=self.tenant, folder=folder_name, name=name).first()
        if entry is not None and entry.picked_up:
            if not entry.cleo_file_id or entry.cleo_file_id == file.id:
                self.report.count("already_picked_up")  # Cleo still lists what it deleted: leave it
                return None
            # The partner reused a name we picked up before: a new file, kept under its Cleo id.
            name = f"{file.name} [{file.id}]"
            entry = InboundFile.objects.filter(tenant=self.tenant, folder=folder_name, name=name).first()
        if entry is not None:
            self.report.count("resumed")
            return entry
        content = self.cleo.download_file(file)
        try:
            with transaction.atomic():
                entry = InboundFile.objects.create(
                    tenant=self.tenant, partner=owners[0], folder=folder_name, name=name,
                    content_hash=hashlib.sha256(content).hexdigest(), size=len(content), raw=content,
                    cleo_file_id=file.id, status=InboundFileStatus.STORED)
        except IntegrityError:
            return InboundFile.objects.get(tenant=self.tenant, folder=folder_name, name=name)
        self.report.count("new")
        return entry

    def read(self, entry: InboundFile, owners: list[TradingPartner]) -> None:
        raw = bytes(entry.raw)
        earlier = (InboundFile.objects.filter(tenant=self.tenant, content_hash=entry.content_hash)
                   .exclude(pk=entry.pk).exclude(status__in=(InboundFileStatus.STORED, InboundFileStatus.SAME_CONTENT))
                   .order_by("pk").first())
        if earlier is not None:
            entry.same_as = earlier
            when = f"{earlier.received_at:%Y-%m-%d %H:%M} UTC"
            self.settle(entry, InboundFileStatus.SAME_CONTENT,
                        f"the same bytes as {earlier.folder}/{earlier.name} (received {when}, "
                        f"{earlier.get_status_display().lower()}): nothing imported again")
            return
        try:
            result = parse_text(raw)
        except X12Error as exc:
            self.settle(entry, InboundFileStatus.MALFORMED, f"not X12, kept as received: {exc}")
            return
        partner = _sender_partner(self.tenant, result) or owners[0]
        entry.partner = partner
        with transaction.atomic():
            notes, acks_status = self.apply_acknowledgments(entry, partner, result, raw)
            when = timezone.now().astimezone(zoneinfo.ZoneInfo(self.tenant.time_zone or "UTC"))
            ack = acknowledgment_build(partner=partner, result=result, when=when.replace(tzinfo=None))
            received = invoices_receive(entry=entry, partner=partner, verdicts=ack.verdicts, user=self.user)
            status, note = _outcome(result, received, notes, acks_status)
            if ack.text:
                entry.ack_file_name = unique_upload_name(partner.their_isa_id, f"997-{PurePosixPath(entry.name).stem}",
                                                         timezone.now())
                entry.ack_text = ack.text
            self.settle(entry, status, note)
        for item in received:
            if item.document is not None:
                self.report.count("invoices_new" if item.created else "invoices_known")

    def apply_acknowledgments(self, entry: InboundFile, partner: TradingPartner, result: ParseResult,
                              raw: bytes) -> tuple[list[str], str]:
        """A partner's 997s go to the outbound flow, which knows the 810s they answer."""
        if not any(is_acknowledgment_group(g) for i in result.interchanges for g in i.groups):
            return [], ""
        from .outbound.acks import acknowledgments_apply

        try:
            counts = acknowledgments_apply(tenant=self.tenant, partner=partner, text=_decoded(raw),
                                           source=f"{entry.folder}/{entry.name}")
        except DataFailure as exc:
            return [f"997 not applied: {exc}"], InboundFileStatus.MALFORMED
        self.report.count("acknowledgments")
        said = ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts.items() if value)
        return [f"997 applied to our 810s: {said or 'nothing in it'}"], InboundFileStatus.ACKNOWLEDGMENT

    def settle(self, entry: InboundFile, status: str, note: str) -> None:
        entry.status, entry.note = status, note
        entry.save()
        self.report.count(str(status))

    def acknowledge(self, entry: InboundFile, *, check_first: bool) -> None:
        partner = entry.partner
        if partner is None:
            raise ConfigFailure(f"no trading partner for {entry}: our 997 {entry.ack_file_name} cannot be sent",
                                system=SYSTEM)
        folder = self.cleo_folder(partner.outbound_folder)
        self.cleo.upload_file(folder, entry.ack_file_name, entry.ack_text.encode(), check_first=check_first)
        entry.ack_uploaded = True
        entry.save(update_fields=["ack_uploaded"])
        self.report.count("997_sent")

    def pick_up(self, entry: InboundFile, owner: TradingPartner, file: CleoFile) -> None:
        """Delete or move, as the partner owning the folder says; a file already gone is done."""
        if owner.after_pickup == AfterPickup.MOVE:
            archive = self.cleo_folder(owner.archive_folder)
            try:
                self.cleo.move_file(file, archive)
            except CleoNotFound:
                pass
        else:
            self.cleo.delete_file(file)
        entry.picked_up = True
        entry.save(update_fields=["picked_up"])
        self.report.count("picked_up")


def _sender_partner(tenant: Tenant, result: ParseResult) -> TradingPartner | None:
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
    return status, "\n".join(lines) or "nothing in it to import or acknowledge"


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
