"""A posted Vantagepoint AR invoice as the 810 its trading partner receives.

The mapping owns every business decision about what goes into the file; edi.x12 only writes
what it is given and refuses what X12 cannot carry. So free text is made safe here, where
the decision is visible: characters that are the partner's delimiters (and line breaks,
control characters) become a space, letters are folded to plain ASCII ("Müller" → "Muller"),
and names and descriptions are cut to their element's length. Identifiers are never altered:
an invoice number or project number X12 cannot carry is a data failure naming the element,
because changing it would send the partner a number that does not exist in Vantagepoint.

Money keeps Vantagepoint's signs until the end: a negative total is a credit memo, which the
810 model holds as transaction type CR with positive amounts; the partner's credit-memo style
(BIG07 CR, or negative amounts) is applied by the renderer through the envelope settings.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from decimal import Decimal

from connector.failures import ConfigFailure, DataFailure
from connector.vantagepoint.records import ARInvoice, ARInvoiceLine, Firm, Project
from tenants.models import Tenant

from ..models import TradingPartner
from ..partners import envelope_for
from ..x12 import (
    ControlNumbers,
    Invoice810,
    InvoiceLine,
    Party,
    Reference,
    RenderError,
    Severity,
    Terms,
    render_interchange,
    validate,
)

SYSTEM = "ar-810"
ZERO = Decimal("0")
CENT = Decimal("0.01")
# Vantagepoint lines carry no unit of measure; "EA" (each) reads right for hours and items alike.
DEFAULT_UNIT = "EA"
# Lengths of the elements free text goes into (the same in 4010 and 5010).
NAME_MAX, ADDRESS_MAX, CITY_MAX, DESCRIPTION_MAX = 60, 55, 30, 80
INVOICE_NUMBER_MAX = 22
CREDIT_MEMO = "CR"
TERMS_BASIC, BASIS_INVOICE_DATE = "01", "3"


# -- the mapping ------------------------------------------------------------------------------
def ar_invoice_to_810(*, invoice: ARInvoice, client: Firm, project: Project | None, partner: TradingPartner,
                      tenant: Tenant) -> Invoice810:
    """The 810 for one posted AR invoice billed to `client` through `partner`.

    Raises DataFailure naming the field when Vantagepoint's data cannot make a valid 810 (the
    fix is in Vantagepoint, then a replay), ConfigFailure when our own tenant settings are
    missing (the remit-to address).
    """
    clean = TextCleaner(partner)
    number = invoice.invoice.strip()
    if not number:
        raise DataFailure("BIG02 invoice number: the invoice has no number", system=SYSTEM)
    _identifier(clean, number, "BIG02 invoice number", INVOICE_NUMBER_MAX)
    if not invoice.lines:
        raise DataFailure(f"invoice {number} has no lines: an 810 needs at least one IT1", system=SYSTEM)
    credit = invoice.total < ZERO
    sign = Decimal(-1) if credit else Decimal(1)  # the model holds a credit memo's amounts positive
    refs: tuple[Reference, ...] = ()
    if partner.project_ref_qualifier and invoice.project:
        wbs1 = _identifier(clean, invoice.project, f"REF02 project number ({partner.project_ref_qualifier})",
                           50 if partner.x12_version.startswith("005") else 30)
        refs = (Reference(partner.project_ref_qualifier, wbs1,
                          clean.text(project.name, DESCRIPTION_MAX) if project else None),)
    return Invoice810(
        invoice_number=number,
        invoice_date=invoice.invoice_date,
        transaction_type=CREDIT_MEMO if credit else None,
        refs=refs,
        parties=(client_party(client=client, clean=clean), remit_to_party(tenant=tenant, clean=clean)),
        terms=invoice_terms(invoice=invoice, client=client, clean=clean),
        lines=tuple(invoice_line(line, sign=sign, clean=clean) for line in invoice.lines),
        total_stated=(invoice.total * sign).quantize(CENT),
    )


def client_party(*, client: Firm, clean: TextCleaner) -> Party:
    """N1 BT: the client firm as Vantagepoint knows it, with its address (N3/N4)."""
    address = client.address
    missing = [label for label, value in (("Address1", address.line1), ("City", address.city)) if not value.strip()]
    if missing:
        raise DataFailure(f"N3/N4 bill-to address: client {client.name or client.client_id} has no "
                          f"{' or '.join(missing)} in Vantagepoint", system=SYSTEM)
    return Party(
        role="BT", name=clean.text(client.name, NAME_MAX) or None,
        id_qualifier="91" if client.client_code or client.client_id else None,  # 91: assigned by the seller
        id=clean.text(client.client_code or client.client_id, 80) or None,
        address=clean.lines(address.line1, address.line2),
        city=clean.text(address.city, CITY_MAX), state=clean.code(address.state, 2, "N402 bill-to state"),
        postal_code=clean.code(address.postal_code, 15, "N403 bill-to postal code"),
        country=clean.code(address.country, 3, "N404 bill-to country"),
    )


def remit_to_party(*, tenant: Tenant, clean: TextCleaner) -> Party:
    """N1 RE: our firm, where the client pays; from the tenant's settings."""
    name = tenant.legal_name or tenant.name
    missing = [label for label, value in (("address line 1", tenant.address_line1), ("city", tenant.city))
               if not value.strip()]
    if missing:
        raise ConfigFailure(f"N3/N4 remit-to address: tenant {tenant.slug} has no {' or '.join(missing)}; "
                            "fill in the tenant's address, then replay", system=SYSTEM)
    return Party(
        role="RE", name=clean.text(name, NAME_MAX),
        address=clean.lines(tenant.address_line1, tenant.address_line2),
        city=clean.text(tenant.city, CITY_MAX), state=clean.code(tenant.state, 2, "N402 remit-to state"),
        postal_code=clean.code(tenant.postal_code, 15, "N403 remit-to postal code"),
        country=clean.code(tenant.country, 3, "N404 remit-to country"),
    )


def invoice_terms(*, invoice: ARInvoice, client: Firm, clean: TextCleaner) -> tuple[Terms, ...]:
    """ITD from the client's pay terms (net days) and the invoice's due date.

    Vantagepoint keeps pay terms as a number of days ("30"); text that is not a number is
    sent as the terms description. The due date is the invoice's own, or follows from the
    days; with neither there is no ITD rather than a made-up one.
    """
    pay_terms = client.pay_terms.strip()
    days = int(pay_terms) if pay_terms.isdigit() and int(pay_terms) <= 999 else None
    due = invoice.due_date or (invoice.invoice_date + timedelta(days=days) if days is not None else None)
    if due is None and days is None:
        return ()
    description = f"Net {days} days" if days is not None else clean.text(pay_terms, DESCRIPTION_MAX) or None
    return (Terms(type_code=TERMS_BASIC, basis_date_code=BASIS_INVOICE_DATE, net_due_date=due, net_days=days,
                  description=description),)


def invoice_line(line: ARInvoiceLine, *, sign: Decimal, clean: TextCleaner) -> InvoiceLine:
    """IT1 + PID for one line. Quantity and unit price are Vantagepoint's when they multiply to
    the line amount to the cent; otherwise (a fixed fee, a rounded rate) the line goes as one
    unit at its amount, so the 810 always adds up to what Vantagepoint billed."""
    amount = line.amount * sign
    quantity, price = abs(line.quantity), abs(line.unit_price)
    if quantity and quantity * price == abs(amount):
        price = price if amount >= ZERO else -price
    else:
        quantity, price = Decimal(1), amount
    return InvoiceLine(
        line_id=str(line.seq) if line.seq else None, quantity=quantity, unit=DEFAULT_UNIT, unit_price=price,
        description=clean.text(line.description, DESCRIPTION_MAX) or None,
    )


def invoice_810_check(*, invoice: Invoice810, partner: TradingPartner) -> None:
    """Render once with placeholder control numbers and validate, so an invoice X12 cannot carry
    fails in the map step, naming the element, before any control number is handed out."""
    try:
        text = render_interchange([invoice], envelope_for(partner), controls=ControlNumbers(1, 1, 1))
    except RenderError as exc:
        raise DataFailure(f"{exc.field}: {exc}", system=SYSTEM) from exc
    errors = [p for p in validate(text) if p.severity is Severity.ERROR]
    if errors:
        raise DataFailure("; ".join(str(p) for p in errors[:5]), system=SYSTEM)


# -- free text --------------------------------------------------------------------------------
class TextCleaner:
    """Free text made safe for one partner's delimiters (see the module docstring)."""

    def __init__(self, partner: TradingPartner) -> None:
        delimiters = {partner.element_separator, partner.component_separator, partner.segment_terminator,
                      partner.repetition_separator}
        self.delimiters = frozenset(ch for ch in delimiters if ch)
        self._pattern = re.compile("[" + re.escape("".join(sorted(self.delimiters))) + r"\s]+")

    def text(self, value: str | None, limit: int) -> str:
        """Delimiters and whitespace runs become one space; ASCII only; cut to `limit`."""
        folded = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode("ascii")
        printable = "".join(ch if ch.isprintable() else " " for ch in folded)
        return self._pattern.sub(" ", printable).strip()[:limit].rstrip()

    def lines(self, *values: str) -> tuple[str, ...]:
        return tuple(line for line in (self.text(v, ADDRESS_MAX) for v in values) if line)

    def code(self, value: str | None, limit: int, field: str) -> str | None:
        """A code (state, postal code, country): cleaned but never cut, since a cut code is a
        different code. Too long is a data failure naming the element."""
        text = self.text(value, 1000)
        if len(text) > limit:
            raise DataFailure(f"{field} {text!r} is {len(text)} characters; the 810 allows {limit}", system=SYSTEM)
        return text or None


def _identifier(clean: TextCleaner, value: str, field: str, limit: int) -> str:
    bad = [ch for ch in value if ch in clean.delimiters or not ch.isprintable() or not ch.isascii()]
    if bad:
        raise DataFailure(f"{field} {value!r} contains {bad[0]!r}, which this partner's 810 cannot carry",
                          system=SYSTEM)
    if len(value) > limit:
        raise DataFailure(f"{field} {value!r} is {len(value)} characters; the 810 allows {limit}", system=SYSTEM)
    return value
