"""Who the supplier is in Vantagepoint, where its costs go and on which accounts: resolved for
one invoice, and every answer checked in Vantagepoint before anything is posted.

The most specific rule wins, because a human wrote it for this case:
- vendor: an override on an N1 party id (VN, SU, SE, II as "N103:N104"), an override on the
  ISA sender ("ISA05:ISA06", e.g. ZZ:ACME01), the partner's default vendor (only for
  interchanges the partner itself sent: a file from another sender in its folder must not be
  paid to it), then Vantagepoint itself: a vendor whose code is an N1 id, or the one vendor
  whose name is an N1 name;
- project, phase, task: an override on the PO number (BIG04) or a project REF (the partner's
  project qualifier, PJ, PO), a Vantagepoint project whose WBS1 is that value, then an override
  on the sender (a supplier whose costs always go to one project);
- GL account per line: an override on a product id or the description, then the partner's
  default account. Charges, allowances and taxes go with the first line's account.

Anything unresolved, or resolved to a record Vantagepoint does not have (or that cannot take
the charge), is a `Missing` item naming exactly what to map; the flow parks the document with
all of them at once, so a human fixes everything in one visit.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from connector.vantagepoint import Firm, Project, VantagepointClient
from tenants.models import Tenant

from ..models import MappingKind, MappingOverride, TradingPartner
from ..x12 import Invoice810, InvoiceLine, Party

VENDOR_ROLES = ("VN", "SU", "SE", "II")
# The chart of accounts (assumed, as the simulator serves it). Not yet in
# connector.vantagepoint.endpoints, nor read by the client: see RecordCheck.account_problem.


@dataclass(frozen=True)
class Missing:
    """One thing a human must map: the override kind and the value as it appears in the file."""

    kind: str
    source_value: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Resolution:
    vendor: str = ""
    vendor_rule: str = ""
    wbs1: str = ""
    wbs2: str = ""
    wbs3: str = ""
    project_rule: str = ""
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (account, rule) per IT1 line
    missing: list[Missing] = field(default_factory=list)
    fingerprint: str = ""  # of the mappings it was made from (mapping_fingerprint)

    def lack(self, kind: str, source_value: str, message: str) -> None:
        if all((m.kind, m.source_value) != (kind, source_value) for m in self.missing):
            self.missing.append(Missing(kind, source_value, message))


class RecordCheck:
    """Vantagepoint's answer to "does this exist and can it take a charge?", asked once per
    record however many lines name it. The admin's override form asks the same questions."""

    def __init__(self, vp: VantagepointClient) -> None:
        self.vp = vp
        self._vendors: dict[str, Firm | None] = {}
        self._vendor_firms: list[Firm] | None = None
        self._projects: dict[str, Project | None] = {}
        self._accounts: dict[str, bool] = {}

    def vendor(self, code: str) -> Firm | None:
        key = code.strip().lower()
        if key not in self._vendors:
            self._vendors[key] = self.vp.vendor(code.strip())
        return self._vendors[key]

    def vendors_named(self, name: str) -> list[Firm]:
        if self._vendor_firms is None:
            self._vendor_firms = self.vp.firms(vendors=True)
        wanted = _plain(name)
        return [f for f in self._vendor_firms if f.vendor_code and _plain(f.name) == wanted]

    def project(self, wbs1: str) -> Project | None:
        key = wbs1.strip().lower()
        if key not in self._projects:
            self._projects[key] = self.vp.project(wbs1.strip()) if wbs1.strip() else None
        return self._projects[key]

    def vendor_problem(self, code: str) -> str | None:
        firm = self.vendor(code)
        if firm is None:
            return f"vendor {code} does not exist in Vantagepoint"
        if not firm.active:
            return f"vendor {code} is inactive in Vantagepoint"
        return None

    def project_problem(self, wbs1: str, wbs2: str = "", wbs3: str = "") -> str | None:
        """None when the project (phase, task) exists, is active and is the lowest level,
        which is where Vantagepoint takes charges."""
        wbs2, wbs3 = wbs2.strip(), wbs3.strip()
        project = self.project(wbs1)
        if project is None:
            return f"project {wbs1} does not exist in Vantagepoint"
        if not project.active:
            return f"project {wbs1} is inactive: it takes no new charges"
        if not wbs2:
            return f"project {wbs1} has phases: name a phase" if project.has_phases else \
                (f"task {wbs3} needs a phase" if wbs3 else None)
        phase = project.phase(wbs2)
        if phase is None:
            return f"phase {wbs2} does not exist on project {wbs1}"
        if not wbs3:
            return f"phase {wbs2} of project {wbs1} has tasks: name a task" if phase.tasks else None
        if all(task.wbs3.lower() != wbs3.lower() for task in phase.tasks):
            return f"task {wbs3} does not exist on phase {wbs2} of project {wbs1}"
        return None

    def account_problem(self, code: str) -> str | None:
        key = code.strip()
        if key not in self._accounts:
            self._accounts[key] = self.vp.account(key) is not None
        return None if self._accounts[key] else f"GL account {key} does not exist in Vantagepoint"

    def target_problem(self, *, kind: str, target: str, wbs2: str = "", wbs3: str = "") -> str | None:
        """What is wrong with a mapping override's target, or None (units are not checked)."""
        if kind == MappingKind.VENDOR:
            return self.vendor_problem(target)
        if kind == MappingKind.PROJECT:
            return self.project_problem(target, wbs2, wbs3)
        if kind == MappingKind.ACCOUNT:
            return self.account_problem(target)
        return None


def invoice_resolve(*, check: RecordCheck, tenant: Tenant, partner: TradingPartner, invoice: Invoice810,
                    sender: str, sender_is_partner: bool) -> Resolution:
    resolver = _Resolver(check, tenant, partner, invoice, sender, sender_is_partner)
    resolver.vendor()
    resolver.project()
    resolver.accounts()
    resolver.resolution.fingerprint = mapping_fingerprint(tenant=tenant, partner=partner,
                                                          overrides=resolver.all_overrides())
    return resolver.resolution


class _Resolver:
    def __init__(self, check: RecordCheck, tenant: Tenant, partner: TradingPartner, invoice: Invoice810,
                 sender: str, sender_is_partner: bool) -> None:
        self.check, self.tenant, self.partner, self.invoice = check, tenant, partner, invoice
        self.sender, self.sender_is_partner = sender, sender_is_partner
        self.resolution = Resolution()
        self._all: list[MappingOverride] | None = None
        self._overrides: dict[str, tuple[dict[str, MappingOverride], dict[str, MappingOverride]]] = {}

    def all_overrides(self) -> list[MappingOverride]:
        """The tenant's overrides, read once per invoice, not once per candidate value."""
        if self._all is None:
            self._all = list(MappingOverride.objects.filter(tenant=self.tenant).order_by("kind", "source_value"))
            for item in self._all:
                exact, folded = self._overrides.setdefault(item.kind, ({}, {}))
                exact[item.source_value] = item
                folded.setdefault(item.source_value.casefold(), item)
        return self._all

    def override(self, kind: str, value: str) -> MappingOverride | None:
        """The tenant's override for `value` (exactly as written, else ignoring case)."""
        value = value.strip()
        if not value:
            return None
        self.all_overrides()
        exact, folded = self._overrides.get(kind, ({}, {}))
        return exact.get(value) or folded.get(value.casefold())

    # -- vendor ------------------------------------------------------------------------------
    def vendor(self) -> None:
        parties = [p for role in VENDOR_ROLES for p in self.invoice.parties if p.role == role]
        with_ids = [(party_key(p), p) for p in parties if p.id]
        for key, _ in with_ids:
            if found := self.override(MappingKind.VENDOR, key):
                return self._vendor_found(found.target, f"override for supplier {key}", key)
        if found := self.override(MappingKind.VENDOR, self.sender):
            return self._vendor_found(found.target, f"override for sender {self.sender}", self.sender)
        if self.partner.default_vendor and self.sender_is_partner:
            return self._vendor_found(self.partner.default_vendor, f"default vendor of partner {self.partner.name}",
                                      self.sender)
        for key, party in with_ids:
            if self.check.vendor(party.id or "") is not None:
                return self._vendor_found(party.id or "", f"vendor code named in N1*{party.role}", key)
        names = list(dict.fromkeys(p.name for p in parties if p.name))
        for name in names:
            matches = self.check.vendors_named(name)
            if len(matches) == 1:
                return self._vendor_found(matches[0].vendor_code, f"the one vendor named '{name}'", self.sender)
        named = f" ({names[0]})" if names else ""
        self.resolution.lack(MappingKind.VENDOR, self.sender, f"no vendor for sender {self.sender}{named}")
        return None

    def _vendor_found(self, code: str, rule: str, source: str) -> None:
        problem = self.check.vendor_problem(code)
        if problem:
            self.resolution.lack(MappingKind.VENDOR, source, f"{problem} (from the {rule})")
            return
        self.resolution.vendor, self.resolution.vendor_rule = code.strip(), rule

    # -- project, phase, task -----------------------------------------------------------------
    def project_candidates(self) -> list[tuple[str, str]]:
        qualifiers = list(dict.fromkeys(q for q in ("PO", self.partner.project_ref_qualifier, "PJ") if q))
        candidates = [("PO", self.invoice.po_number or "")]
        candidates += [(f"REF {ref.qualifier}", ref.value) for q in qualifiers
                       for ref in self.invoice.refs if ref.qualifier == q]
        seen: set[str] = set()
        unique = []
        for label, value in candidates:
            if value.strip() and value.strip().lower() not in seen:
                seen.add(value.strip().lower())
                unique.append((label, value.strip()))
        return unique

    def project(self) -> None:
        candidates = self.project_candidates()
        for label, value in candidates:
            if found := self.override(MappingKind.PROJECT, value):
                return self._project_found(found.target, found.target_wbs2, found.target_wbs3,
                                           f"override for {label} {value}", value)
        for label, value in candidates:
            if self.check.project(value) is not None:
                return self._project_found(value, "", "", f"{label} {value}, a project number", value)
        if found := self.override(MappingKind.PROJECT, self.sender):
            return self._project_found(found.target, found.target_wbs2, found.target_wbs3,
                                       f"override for sender {self.sender}", self.sender)
        if candidates:
            label, value = candidates[0]
            self.resolution.lack(MappingKind.PROJECT, value, f"no project for {label} {value}")
        else:
            self.resolution.lack(MappingKind.PROJECT, self.sender,
                                 f"no project for invoice {self.invoice.invoice_number} from {self.sender}: it "
                                 "names no PO number or project REF, so map the sender to a project")
        return None

    def _project_found(self, wbs1: str, wbs2: str, wbs3: str, rule: str, source: str) -> None:
        problem = self.check.project_problem(wbs1, wbs2, wbs3)
        if problem:
            self.resolution.lack(MappingKind.PROJECT, source, f"{problem} (from the {rule})")
            return
        r = self.resolution
        r.wbs1, r.wbs2, r.wbs3, r.project_rule = wbs1.strip(), wbs2.strip(), wbs3.strip(), rule

    # -- GL accounts ---------------------------------------------------------------------------
    def accounts(self) -> None:
        for number, line in enumerate(self.invoice.lines, start=1):
            self.resolution.accounts.append(self._line_account(number, line))

    def _line_account(self, number: int, line: InvoiceLine) -> tuple[str, str]:
        keys = line_keys(line)
        for key in keys:
            if found := self.override(MappingKind.ACCOUNT, key):
                return self._account_found(found.target, f"override for {key}", key)
        if self.partner.default_account:
            return self._account_found(self.partner.default_account,
                                       f"default account of partner {self.partner.name}", keys[0] if keys else "")
        what = line_label(line) or f"line {number}"
        self.resolution.lack(MappingKind.ACCOUNT, keys[0] if keys else "", f"no GL account for {what}")
        return "", ""

    def _account_found(self, account: str, rule: str, source: str) -> tuple[str, str]:
        problem = self.check.account_problem(account)
        if problem:
            self.resolution.lack(MappingKind.ACCOUNT, source, f"{problem} (from the {rule})")
            return "", ""
        return account.strip(), rule


def mapping_fingerprint(*, tenant: Tenant, partner: TradingPartner,
                        overrides: list[MappingOverride] | None = None) -> str:
    """What a resolution was made from, as one hash: the tenant's overrides and the partner's
    defaults. A replay compares it with the one stored at the resolve step: a human who fixed
    (or removed) a mapping since makes the document resolve again."""
    if overrides is None:
        overrides = list(MappingOverride.objects.filter(tenant=tenant))
    rows = sorted((o.kind, o.source_value, o.target, o.target_wbs2, o.target_wbs3) for o in overrides)
    defaults = [partner.default_vendor, partner.default_account, partner.project_ref_qualifier]
    text = json.dumps([rows, defaults], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def party_key(party: Party) -> str:
    """An N1 party as overrides name it: N103:N104 (the id alone when no qualifier is given)."""
    return f"{party.id_qualifier}:{party.id}" if party.id_qualifier else (party.id or "")


def line_keys(line: InvoiceLine) -> list[str]:
    """What an account override may match on a line: its product ids, then its description."""
    keys = [pid.value.strip() for pid in line.product_ids if pid.value.strip()]
    if line.description and line.description.strip():
        keys.append(line.description.strip())
    return list(dict.fromkeys(keys))


def line_label(line: InvoiceLine) -> str:
    ids = ", ".join(f"{pid.qualifier} {pid.value}" for pid in line.product_ids)
    description = (line.description or "").strip()
    if ids and description:
        return f"product {ids} ({description})"
    return f"product {ids}" if ids else description


def resolution_as_dict(resolution: Resolution) -> dict[str, Any]:
    return {"vendor": resolution.vendor, "vendor_rule": resolution.vendor_rule, "wbs1": resolution.wbs1,
            "wbs2": resolution.wbs2, "wbs3": resolution.wbs3, "project_rule": resolution.project_rule,
            "accounts": [list(pair) for pair in resolution.accounts]}


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.casefold()).strip()
