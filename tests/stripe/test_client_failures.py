"""Stripe's errors as failure kinds, keys named by their last four characters only, and
storms of 429s and 5xx that end in the same state as a calm run."""
from __future__ import annotations

from dataclasses import replace

import pytest

from billing.stripe import (
    InvoiceLine,
    StripeCardDeclined,
    StripeIdempotencyConflict,
    StripeKeyRefused,
    StripeNotFound,
    StripeOutcomeUnknown,
    StripeRequestRefused,
    StripeVersionRefused,
)
from connector.failures import FailureKind, IntegrationFailure, TransientFailure
from connector.http import DeliveryUnknown, HttpPolicy
from sandbox.stripe import StripeSimulator
from tests.sim_time import SimulatedTime
from tests.stripe.conftest import make_client
from tests.stripe.test_client import ACME, bill

pytestmark = pytest.mark.django_db


def failure(call) -> IntegrationFailure:
    with pytest.raises(IntegrationFailure) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown"])
def test_a_refused_key_is_a_config_failure_naming_its_last_four_characters_only(connection, sim, sim_time, state):
    key = sim.add_key()
    if state == "revoked":
        sim.revoke_key(key)
    elif state == "expired":
        sim.expire_key(key)
    else:
        key = key[:-6] + "Zz9Q42"
    connection.secret_key = key
    with make_client(connection, sim, sim_time) as stripe_api:
        found = failure(stripe_api.account)
    assert isinstance(found, StripeKeyRefused) and found.kind == FailureKind.CONFIG
    text = str(found)
    assert f"…{key[-4:]}" in text and "401" in text
    assert key not in text and key[:-4] not in text and "sk_test_" not in text and "****" not in text


def test_a_restricted_key_without_the_permission_is_a_config_failure(connection, sim, sim_time):
    connection.secret_key = sim.add_key(restricted={"customers": "read"})
    with make_client(connection, sim, sim_time) as stripe_api:
        found = failure(lambda: stripe_api.create_customer(ACME, idempotency_key="k"))
    assert isinstance(found, StripeKeyRefused) and "POST /v1/customers" in str(found) and "403" in str(found)


def test_an_api_version_stripe_does_not_know_is_a_config_failure(connection, sim, sim_time):
    connection.api_version = "2025-09-30.acacia"
    with make_client(connection, sim, sim_time) as stripe_api:
        found = failure(stripe_api.account)
    assert isinstance(found, StripeVersionRefused) and found.kind == FailureKind.CONFIG
    assert "2025-09-30.acacia" in str(found)


def test_a_declined_card_is_a_data_failure(stripe_api):
    invoice = bill(stripe_api, lines=[InvoiceLine("Fee", amount=5000)])
    found = failure(lambda: stripe_api.call("POST", f"/v1/invoices/{invoice.id}/pay",
                                        {"payment_method": "pm_card_chargeDeclined"}, idempotency_key="pay"))
    assert isinstance(found, StripeCardDeclined) and found.kind == FailureKind.DATA
    assert found.decline_code == "generic_decline" and found.status == 402


def test_invalid_requests_are_data_failures_naming_what(stripe_api):
    unknown = failure(lambda: stripe_api.call("POST", "/v1/customers", {"nmae": "x"}, idempotency_key="a"))
    assert isinstance(unknown, StripeRequestRefused) and unknown.param == "nmae" and unknown.kind == FailureKind.DATA
    missing = failure(lambda: stripe_api.retrieve_invoice("in_missing"))
    assert isinstance(missing, StripeNotFound) and missing.code == "resource_missing" and "in_missing" in str(missing)
    invoice = bill(stripe_api, lines=[InvoiceLine("Fee", amount=5000)])
    state = failure(lambda: stripe_api.finalize_invoice(invoice.id, idempotency_key="again"))
    assert isinstance(state, StripeRequestRefused) and "already finalized" in str(state)


def test_a_key_reused_with_other_parameters_is_a_data_failure(stripe_api):
    stripe_api.create_customer(ACME, idempotency_key="acme:F-100:customer")
    found = failure(lambda: stripe_api.create_customer(replace(ACME, name="Other"), idempotency_key="acme:F-100:customer"))
    assert isinstance(found, StripeIdempotencyConflict) and found.kind == FailureKind.DATA


def test_a_rate_limit_is_retried_by_the_policy_then_transient(connection, sim, sim_time):
    sim.set_rate_limit(2)
    with make_client(connection, sim, sim_time) as stripe_api:
        stripe_api.rate = type(stripe_api.rate)(1000)  # pace far above the limit: only Stripe's 429s hold us back
        for _ in range(6):
            stripe_api.account()
    assert len(sim.rejected()) > 0, "429s were met and retried"
    sim.advance(1)
    with make_client(connection, sim, sim_time, policy=HttpPolicy(max_attempts=1)) as stripe_api:
        stripe_api.rate = type(stripe_api.rate)(1000)
        stripe_api.account()
        stripe_api.account()
        found = failure(stripe_api.account)
    assert type(found) is TransientFailure and found.status == 429


def test_a_503_on_a_create_is_retried_and_creates_once(stripe_api, sim):
    sim.fail_next("503", method="POST", times=2)
    stripe_api.create_customer(ACME, idempotency_key="k")
    assert len(sim.objects("customer")) == 1
    assert [r.status for r in sim.requests] == [503, 503, 200]


def test_a_500_on_a_create_is_an_unknown_outcome_and_its_replay_says_so(stripe_api, sim):
    sim.fail_next("500", method="POST")
    first = failure(lambda: stripe_api.create_customer(ACME, idempotency_key="k"))
    assert isinstance(first, StripeOutcomeUnknown) and isinstance(first, DeliveryUnknown)
    assert first.kind == FailureKind.TRANSIENT and first.replayed is False
    again = failure(lambda: stripe_api.create_customer(ACME, idempotency_key="k"))
    assert isinstance(again, StripeOutcomeUnknown) and again.replayed is True, "same key: Stripe replays the 500"
    assert not sim.objects("customer")
    stripe_api.create_customer(ACME, idempotency_key="k:2")
    assert len(sim.objects("customer")) == 1


def test_5xx_and_timeouts_on_reads_are_retried(stripe_api, sim):
    customer = stripe_api.create_customer(ACME, idempotency_key="k")
    sim.fail_next("500", method="GET", times=2)
    sim.fail_next("timeout", method="GET")
    assert stripe_api.retrieve_customer(customer.id).id == customer.id
    assert [r.status for r in sim.requests_to(method="GET")] == [500, 500, None, 200]


def test_a_lost_answer_to_a_create_is_delivery_unknown_and_the_same_key_finds_it(stripe_api, sim):
    sim.fail_next("drop_after_processing", path_contains="/v1/customers")
    lost = failure(lambda: stripe_api.create_customer(ACME, idempotency_key="acme:F-100:customer"))
    assert isinstance(lost, DeliveryUnknown) and lost.kind == FailureKind.TRANSIENT
    again = stripe_api.create_customer(ACME, idempotency_key="acme:F-100:customer")
    assert [c["id"] for c in sim.objects("customer")] == [again.id]


def test_stripe_out_of_reach_is_transient(connection, sim_time):
    connection.api_base = "http://127.0.0.1:8449"  # in our port range, nothing listens
    from billing.stripe import StripeBillingClient
    from connector.ratelimit import LocalRateLimiter

    with StripeBillingClient(connection, policy=HttpPolicy(max_attempts=1, connect_timeout=2),
                             limiter=LocalRateLimiter()) as stripe_api:
        found = failure(stripe_api.account)
    assert type(found) is TransientFailure and "cannot connect" in str(found)


# --- storms --------------------------------------------------------------------------------------

LINES = [InvoiceLine("Design", amount=112500), InvoiceLine("Fee", amount=9999), InvoiceLine("Travel", amount=23456)]


def bill_until_done(stripe_api) -> list[int]:
    """What the engine does: retry a step that failed transiently, with the same key.
    Returns how many tries each step took."""
    tries: list[int] = []
    state: dict[str, str] = {}

    def step(fn):
        for attempt in range(1, 50):
            try:
                result = fn()
            except TransientFailure:
                continue
            tries.append(attempt)
            return result
        raise AssertionError("never got through")

    state["customer"] = step(lambda: stripe_api.create_customer(ACME, idempotency_key="acme:F-100:customer")).id
    state["invoice"] = step(lambda: stripe_api.create_invoice(customer_id=state["customer"], currency="usd",
                                                          days_until_due=30, metadata={"vp_invoice": "1001"},
                                                          idempotency_key="acme:1001:invoice")).id
    for n, line in enumerate(LINES):
        step(lambda n=n, line=line: stripe_api.add_invoice_item(invoice_id=state["invoice"], customer_id=state["customer"],
                                                             line=line, idempotency_key=f"acme:1001:line:{n}"))
    step(lambda: stripe_api.finalize_invoice(state["invoice"], idempotency_key="acme:1001:finalize"))
    step(lambda: stripe_api.retrieve_invoice(state["invoice"]))
    return tries


def end_state(sim: StripeSimulator) -> dict:
    invoices = sim.objects("invoice")
    return {
        "customers": [(c["name"], c["email"], c["metadata"]) for c in sim.objects("customer")],
        "invoices": [(i["status"], i["total"], i["amount_due"], i["metadata"], i["lines"]["total_count"]) for i in invoices],
        "items": sorted(i["amount"] for i in sim.objects("invoiceitem")),
        "events": [e["type"] for e in sim.events()],
    }


def test_a_storm_of_429s_and_5xx_ends_in_the_same_state_as_a_calm_run(connection):
    calm = StripeSimulator(frozen_clock=True, random_seed=1)
    with make_client(connection, calm, SimulatedTime(calm)) as stripe_api:
        assert bill_until_done(stripe_api) == [1] * 7
    stormy = StripeSimulator(frozen_clock=True, random_seed=2, rate_limit=3)
    stormy.fail_next("503", method="POST", times=4)
    stormy.fail_next("drop_after_processing", path_contains="/v1/invoiceitems", times=2)
    stormy.fail_next("timeout_after_processing", path_contains="/finalize")
    stormy.fail_next("timeout", path_contains="/v1/invoices", method="POST")
    stormy.fail_next("500", method="GET", times=3)
    stormy.fail_next("503", method="GET", times=2)
    with make_client(connection, stormy, SimulatedTime(stormy)) as stripe_api:
        stripe_api.rate = type(stripe_api.rate)(1000)  # outrun the 3-per-second limit: 429s on top
        tries = bill_until_done(stripe_api)
    assert end_state(stormy) == end_state(calm)
    assert sum(tries) > len(tries), "the storm made steps fail and be retried"
    statuses = {r.status for r in stormy.requests}
    assert {429, 500, 503} <= statuses
    assert sum(1 for r in stormy.requests if r.replayed) >= 3, "lost answers were recovered by replay, not re-created"
