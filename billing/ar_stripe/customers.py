"""A Vantagepoint client firm's Stripe customer: found, created once, and kept aligned.

Found through the stored mapping (StripeCustomerMapping), else through Stripe's search by
metadata (ml_tenant, vp_client_id: a customer made by an earlier install or before a lost
answer), else created: an effect of the document's customer step whose Idempotency-Key is
derived from the tenant, the firm and the details sent, so two documents of one new firm,
or a retry after a crash, get Stripe's replay of the same customer rather than a second one;
its look after an unknown outcome lists the customers under the firm's email (at once,
where search lags).
A per-firm lock keeps two workers from creating at once; the mapping is read again under it.

When the firm's name, email or address changes in Vantagepoint, the details hash differs
from the one stored with the mapping and the next document of the firm updates the customer.
"""
from __future__ import annotations

import hashlib
import json
import time

from django.utils import timezone

from connector.failures import TransientFailure
from connector.locks import exclusive
from connector.pipeline import StepContext
from connector.vantagepoint.records import Firm

from ..models import StripeCustomerMapping
from ..stripe import Address, CustomerDetails, StripeBillingClient, StripeNotFound
from ..stripe.errors import SYSTEM
from .effects import stripe_effect

LOCK_WAIT_SECONDS = 20.0
LOCK_POLL_SECONDS = 0.05


def customer_metadata(*, tenant_slug: str, client_id: str) -> dict[str, str]:
    return {"ml_tenant": tenant_slug, "vp_client_id": client_id}


def customer_details(*, tenant_slug: str, firm: Firm) -> CustomerDetails:
    a = firm.address
    address = Address(a.line1, a.line2, a.city, a.state, a.postal_code, a.country) if any(
        (a.line1, a.city, a.postal_code, a.country)) else None
    return CustomerDetails(
        name=firm.name or firm.client_code or firm.client_id, email=firm.email, address=address,
        metadata={**customer_metadata(tenant_slug=tenant_slug, client_id=firm.client_id),
                  **({"vp_client": firm.client_code} if firm.client_code else {})},
        description=f"Vantagepoint client {firm.client_code or firm.client_id}",
    )


def details_hash(details: CustomerDetails) -> str:
    return hashlib.sha256(json.dumps(details.params(), sort_keys=True).encode()).hexdigest()


def stripe_customer_ensure(ctx: StepContext, *, stripe: StripeBillingClient, firm: Firm) -> StripeCustomerMapping:
    """The firm's Stripe customer, up to date with the firm's details."""
    tenant = ctx.tenant
    details = customer_details(tenant_slug=tenant.slug, firm=firm)
    wanted = details_hash(details)
    mapping = StripeCustomerMapping.objects.filter(tenant=tenant, client_id=firm.client_id).first()
    if mapping is not None and mapping.details_hash == wanted:
        return mapping
    with _firm_lock(tenant.pk, firm.client_id):
        mapping = StripeCustomerMapping.objects.filter(tenant=tenant, client_id=firm.client_id).first()
        if mapping is not None and mapping.details_hash == wanted:
            return mapping
        if mapping is not None:
            return _update(stripe, mapping, details, wanted)
        found = stripe.find_customer(metadata=customer_metadata(tenant_slug=tenant.slug, client_id=firm.client_id))
        if found is not None and not found.deleted:
            mapping = _map(tenant, firm, found.id, stripe.livemode, "")
            return _update(stripe, mapping, details, wanted)
        created = stripe_effect(
            ctx, f"create_customer_{wanted[:12]}", key=f"mlc-{tenant.slug}-customer-{firm.client_id}-{wanted[:16]}",
            do=lambda key: {"id": stripe.create_customer(details, idempotency_key=key).id},
            look=lambda: _listed(stripe, tenant.slug, firm))
        return _map(tenant, firm, created["id"], stripe.livemode, wanted)


def _listed(stripe: StripeBillingClient, tenant_slug: str, firm: Firm) -> dict[str, str] | None:
    """The look after an unknown outcome: the customers listed under the firm's email (a list
    is read at once; search would miss a customer made moments ago)."""
    wanted = customer_metadata(tenant_slug=tenant_slug, client_id=firm.client_id)
    for customer in stripe.list_customers(email=firm.email):
        if not customer.deleted and all(customer.metadata.get(k) == v for k, v in wanted.items()):
            return {"id": customer.id}
    return None


def _update(stripe: StripeBillingClient, mapping: StripeCustomerMapping, details: CustomerDetails,
            wanted: str) -> StripeCustomerMapping:
    try:
        stripe.update_customer(mapping.customer_id, details,
                               idempotency_key=f"mlc-{mapping.tenant.slug}-customer-{mapping.customer_id}-{wanted[:16]}")
    except StripeNotFound:
        # Deleted at Stripe since: forget it; the next try searches and creates afresh.
        mapping.delete()
        raise TransientFailure(f"Stripe customer {mapping.customer_id} of client {mapping.client_name} no longer "
                               "exists: a new one is made on the next try", system=SYSTEM) from None
    mapping.details_hash = wanted
    mapping.client_name = details.name
    mapping.synced_at = timezone.now()
    mapping.save(update_fields=["details_hash", "client_name", "synced_at"])
    return mapping


def _map(tenant, firm: Firm, customer_id: str, livemode: bool, wanted: str) -> StripeCustomerMapping:
    mapping, _ = StripeCustomerMapping.objects.update_or_create(
        tenant=tenant, client_id=firm.client_id,
        defaults={"customer_id": customer_id, "client_name": firm.name, "livemode": livemode,
                  "details_hash": wanted, "synced_at": timezone.now()})
    return mapping


class _firm_lock:
    """The per-firm lock, waited for a little (another worker is creating the same customer)."""

    def __init__(self, tenant_id: int, client_id: str) -> None:
        self.key = f"stripe-customer:{tenant_id}:{client_id}"
        self._held = None

    def __enter__(self) -> None:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            held = exclusive(self.key)
            if held.__enter__():
                self._held = held
                return
            held.__exit__(None, None, None)
            if time.monotonic() > deadline:
                raise TransientFailure(f"another worker holds {self.key} for longer than {LOCK_WAIT_SECONDS:.0f} s",
                                       system=SYSTEM)
            time.sleep(LOCK_POLL_SECONDS)

    def __exit__(self, *exc: object) -> None:
        if self._held is not None:
            self._held.__exit__(*exc)


def stripe_customers_align(*, run, trigger: str = "", user=None) -> dict[str, int]:
    """The cycle's own poll (after the stream is read, before documents are handed out): every
    firm that has a Stripe customer is read from Vantagepoint (one paged listing) and the
    customers whose name, email or address changed are updated, so a change reaches Stripe on
    the next cycle whether or not the firm is invoiced again. A firm Stripe refuses to update
    is counted and the run fails naming it, after the others are done."""
    from connector.clients import vantagepoint_client
    from connector.counts import sync_run_add
    from connector.failures import IntegrationFailure

    from ..stripe import stripe_client

    tenant = run.tenant
    mappings = {m.client_id: m for m in StripeCustomerMapping.objects.filter(tenant=tenant).select_related("tenant")}
    if not mappings:
        return {}
    with vantagepoint_client(tenant) as vp:
        firms = [f for f in vp.firms(clients=True) if f.client_id in mappings]
    changed = []
    for firm in firms:
        details = customer_details(tenant_slug=tenant.slug, firm=firm)
        if details_hash(details) != mappings[firm.client_id].details_hash:
            changed.append((mappings[firm.client_id], firm, details))
    if not changed:
        return {}
    counts = {"customers_updated": 0, "customers_not_updated": 0}
    failures: list[str] = []
    with stripe_client(tenant) as stripe:
        for mapping, firm, details in changed:
            try:
                with _firm_lock(tenant.pk, firm.client_id):
                    mapping.refresh_from_db()
                    wanted = details_hash(details)
                    if mapping.details_hash != wanted:
                        _update(stripe, mapping, details, wanted)
                counts["customers_updated"] += 1
            except IntegrationFailure as exc:
                counts["customers_not_updated"] += 1
                failures.append(f"{firm.name or firm.client_code} ({mapping.customer_id}): {exc}")
            except StripeCustomerMapping.DoesNotExist:
                continue
    if failures:
        sync_run_add(run, {k: v for k, v in counts.items() if v})
        raise TransientFailure(f"{len(failures)} Stripe customer(s) not updated: " + "; ".join(failures[:3]),
                               system=SYSTEM)
    return {k: v for k, v in counts.items() if v}
