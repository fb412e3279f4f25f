"""Trading partners, the client firms they are billed for, mapping overrides, the control
numbers of the 810s we sent, and the ledger of files picked up from Cleo.

Control numbers live on the partner row and are allocated under a row lock
(edi/partners.py), so two workers never hand out the same ISA13, GS06 or ST02; the numbers an
810 went out with are indexed (OutboundControl), so a partner's 997 finds it by index.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from connector.models import Document
from tenants.models import Tenant

# Files above this are refused unless a partner's own maximum says otherwise (TradingPartner).
DEFAULT_MAX_INBOUND_BYTES = 20 * 1024 * 1024

isa_id_validator = RegexValidator(r"^[A-Za-z0-9 .\-_:/]{1,15}$", "1 to 15 letters, digits, spaces or . - _ : /")
qualifier_validator = RegexValidator(r"^[A-Z0-9]{2}$", "two letters or digits, e.g. ZZ, 01, 12")


class X12Version(models.TextChoices):
    V4010 = "004010", "004010"
    V5010 = "005010", "005010"


class CreditMemoStyle(models.TextChoices):
    BIG07_CR = "big07_cr", "BIG07 = CR with positive amounts"
    NEGATIVE = "negative", "Negative amounts"


class AfterPickup(models.TextChoices):
    DELETE = "delete", "Delete the file in Cleo"
    MOVE = "move", "Move it to the archive folder"


class TradingPartner(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trading_partners")
    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True)
    # Envelope ids: ours (sender of 810s) and theirs.
    our_isa_qualifier = models.CharField(max_length=2, default="ZZ", validators=[qualifier_validator])
    our_isa_id = models.CharField(max_length=15, validators=[isa_id_validator])
    their_isa_qualifier = models.CharField(max_length=2, default="ZZ", validators=[qualifier_validator])
    their_isa_id = models.CharField(max_length=15, validators=[isa_id_validator])
    our_gs_id = models.CharField(max_length=15, validators=[isa_id_validator])
    their_gs_id = models.CharField(max_length=15, validators=[isa_id_validator])
    x12_version = models.CharField(max_length=6, choices=X12Version.choices, default=X12Version.V4010)
    element_separator = models.CharField(max_length=1, default="*")
    component_separator = models.CharField(max_length=1, default=">")
    segment_terminator = models.CharField(max_length=1, default="~")
    repetition_separator = models.CharField(max_length=1, default="^", help_text="Used from 00402 on (all of 5010)")
    production = models.BooleanField(default=False, help_text="ISA15 P when ticked, T (test) otherwise")
    # Cleo folders: where we upload their 810s, and where we poll for their files (810s, 997s).
    outbound_folder = models.CharField(max_length=200, help_text="Cleo folder we upload 810s and 997s to")
    inbound_folder = models.CharField(max_length=200, blank=True, help_text="Cleo folder we poll for their files")
    after_pickup = models.CharField(max_length=10, choices=AfterPickup.choices, default=AfterPickup.DELETE)
    archive_folder = models.CharField(max_length=200, blank=True, help_text="Where picked-up files go when moved")
    max_inbound_bytes = models.PositiveBigIntegerField(
        "largest file taken in (bytes)", default=DEFAULT_MAX_INBOUND_BYTES,
        help_text="A larger file from this partner's folder is refused: left in Cleo, named in the file ledger "
                  "with the reason, taken in after the maximum is raised and the file replayed. 20 MB by default.")
    # Outbound 810 options.
    project_ref_qualifier = models.CharField(max_length=3, default="PJ", blank=True,
                                             help_text="REF qualifier that carries the project number (blank: none)")
    credit_memo_style = models.CharField(max_length=10, choices=CreditMemoStyle.choices,
                                         default=CreditMemoStyle.BIG07_CR)
    write_ctt = models.BooleanField(default=True, help_text="Write CTT (transaction totals)")
    # Inbound defaults: who the supplier is in Vantagepoint and where its costs go.
    default_vendor = models.CharField(max_length=30, blank=True, help_text="Vantagepoint vendor code")
    default_account = models.CharField(max_length=30, blank=True, help_text="GL account for AP lines")
    # Last control numbers handed out; allocated under a row lock, never reused.
    last_interchange_control = models.PositiveBigIntegerField(default=0, editable=False)
    last_group_control = models.PositiveBigIntegerField(default=0, editable=False)
    last_set_control = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="partner_name_unique_per_tenant"),
            models.UniqueConstraint(fields=["tenant", "their_isa_qualifier", "their_isa_id"],
                                    name="partner_isa_unique_per_tenant"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        separators = [self.element_separator, self.component_separator, self.segment_terminator]
        if self.x12_version == X12Version.V5010:
            separators.append(self.repetition_separator)
        if len(set(separators)) != len(separators):
            raise ValidationError("Element, component, repetition separators and segment terminator must all differ.")
        if any(ch.isalnum() or ch == " " for ch in separators):
            raise ValidationError("Separators cannot be letters, digits or spaces.")
        if self.after_pickup == AfterPickup.MOVE and not self.archive_folder:
            raise ValidationError({"archive_folder": "Needed when picked-up files are moved."})


class PartnerClient(models.Model):
    """A Vantagepoint client firm billed through this partner: its invoices go out as 810s."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="partner_clients")
    partner = models.ForeignKey(TradingPartner, on_delete=models.CASCADE, related_name="clients")
    client_id = models.CharField(max_length=40, help_text="Vantagepoint ClientID (or client code)")
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "client_id"], name="client_billed_by_one_partner")]

    def __str__(self) -> str:
        return self.name or self.client_id


class MappingKind(models.TextChoices):
    VENDOR = "vendor", "Vendor (sender id → Vantagepoint vendor)"
    PROJECT = "project", "Project (PO number or REF → WBS1/2/3)"
    ACCOUNT = "account", "GL account (product id or description → account)"
    UNIT = "unit", "Unit of measure"


class MappingOverride(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="mapping_overrides")
    kind = models.CharField(max_length=10, choices=MappingKind.choices)
    source_value = models.CharField(max_length=200, help_text="As it appears in the file, e.g. ZZ:ACME01 or a PO number")
    target = models.CharField(max_length=60, help_text="Vendor code, WBS1, account or unit")
    target_wbs2 = models.CharField(max_length=30, blank=True, help_text="Phase (projects only)")
    target_wbs3 = models.CharField(max_length=30, blank=True, help_text="Task (projects only)")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "source_value"], name="one_override_per_source")]
        ordering = ["kind", "source_value"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.source_value} → {self.target}"


class OutboundControl(models.Model):
    """The control numbers an outbound 810 carries: a partner's 997 names its group (AK1 GS06)
    and set (AK2 ST02), and this finds the document by index. Kept from the render step on, so
    a replay renders the same numbers."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(TradingPartner, on_delete=models.CASCADE, related_name="outbound_controls")
    interchange = models.PositiveBigIntegerField(help_text="ISA13")
    group = models.PositiveBigIntegerField(help_text="GS06")
    set_control = models.PositiveBigIntegerField(help_text="ST02")
    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="outbound_control")
    allocated_at = models.DateTimeField(default=timezone.now, help_text="Also the 810's ISA/GS date and time")
    # BIG02: a second 810 with a number the partner already has is held (edi/outbound/held.py).
    invoice_number = models.CharField(max_length=30, blank=True, help_text="BIG02")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "interchange", "group", "set_control"],
                                               name="one_810_per_control_numbers")]
        indexes = [models.Index(fields=["partner", "group", "set_control"], name="outbound_control_by_997"),
                   models.Index(fields=["partner", "invoice_number"], name="outbound_control_by_big02")]

    def __str__(self) -> str:
        return f"{self.partner}: ISA13 {self.interchange} GS06 {self.group} ST02 {self.set_control}"


class InboundFileStatus(models.TextChoices):
    STORED = "stored", "Stored"
    IMPORTED = "imported", "Imported"
    SAME_CONTENT = "same_content", "Same bytes as an earlier file"
    MALFORMED = "malformed", "Malformed"
    ACKNOWLEDGMENT = "acknowledgment", "997 applied"
    NO_INVOICES = "no_invoices", "No 810 in it"
    TOO_LARGE = "too_large", "Refused: larger than the partner's maximum"


class InboundFile(models.Model):
    """The ledger of files picked up from Cleo: the raw bytes, stored before anything else
    happens, and what reading them found. A file is its Cleo id (a partner may drop a new file
    under an old name); the content hash recognises the same bytes sent again. Its stages
    (download, read, our 997, pickup) are the steps of its cleo-inbox Document."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="inbound_files")
    document = models.OneToOneField(Document, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="inbound_file", help_text="Its stages, attempts and effects")
    partner = models.ForeignKey(TradingPartner, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="inbound_files")
    folder = models.CharField(max_length=200)
    name = models.CharField(max_length=255)
    content_hash = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField()
    raw = models.BinaryField()
    cleo_file_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=InboundFileStatus.choices, default=InboundFileStatus.STORED)
    note = models.TextField(blank=True)
    same_as = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "folder", "cleo_file_id"],
                                               name="one_ledger_entry_per_cleo_file")]
        indexes = [models.Index(fields=["tenant", "folder", "name"], name="inbound_file_by_name")]
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.folder}/{self.name}"
