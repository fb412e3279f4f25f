"""The simulator's idempotency layer, rate limit and faults, each quirk on its own."""
from __future__ import annotations

import httpx
import pytest

from sandbox.stripe import FaultKind

KEY = {"Idempotency-Key": "acme:inv-1001:customer"}


def create(api: httpx.Client, name: str = "Acme", headers: dict | None = None) -> httpx.Response:
    return api.post("/v1/customers", data={"name": name}, headers=headers or KEY)


# --- idempotency ---------------------------------------------------------------------------------

def test_the_same_key_and_parameters_replay_the_first_answer(api, sim):
    first = create(api)
    again = create(api)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Original-Request"] == first.headers["Request-Id"]
    assert again.headers["Request-Id"] != first.headers["Request-Id"]
    assert "Idempotent-Replayed" not in first.headers
    assert len(sim.objects("customer")) == 1
    assert len(sim.events("customer.created")) == 1


def test_the_same_key_with_other_parameters_or_another_endpoint_is_an_idempotency_error(api, sim):
    create(api)
    other = create(api, name="Acme Corp")
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    elsewhere = api.post("/v1/invoices", data={"customer": "cus_x"}, headers=KEY)
    assert elsewhere.status_code == 400 and "same endpoint" in elsewhere.json()["error"]["message"]
    assert len(sim.objects("customer")) == 1 and not sim.objects("invoice")


def test_a_key_is_kept_24_hours_of_the_simulators_clock(api, sim):
    first = create(api).json()
    sim.advance(86_399)
    assert create(api).json()["id"] == first["id"]
    sim.advance(2)
    assert create(api).json()["id"] != first["id"]
    assert len(sim.objects("customer")) == 2


def test_what_fails_before_execution_is_not_saved(api, sim):
    assert api.post("/v1/customers", data={"nmae": "Acme"}, headers=KEY).status_code == 400
    sim.set_rate_limit(1)
    api.get("/v1/account")
    assert create(api).status_code == 429
    sim.advance(1)
    assert create(api).status_code == 200, "neither the 400 nor the 429 was saved under the key"


def test_a_business_error_is_saved_and_replayed(api, sim):
    refused = api.post("/v1/invoices", data={"customer": "cus_missing"}, headers=KEY)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "resource_missing"
    again = api.post("/v1/invoices", data={"customer": "cus_missing"}, headers=KEY)
    assert again.status_code == 404 and again.headers["Idempotent-Replayed"] == "true"


def test_a_500_is_saved_under_the_key_and_replayed(api, sim):
    sim.fail_next(FaultKind.ERROR_500, method="POST", path_contains="/v1/customers")
    failed = create(api)
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "api_error"
    assert failed.headers["Stripe-Should-Retry"] == "false"
    again = create(api)
    assert again.status_code == 500 and again.headers["Idempotent-Replayed"] == "true"
    assert not sim.objects("customer"), "the failed request changed nothing"
    assert create(api, headers={"Idempotency-Key": "another"}).status_code == 200


def test_get_ignores_the_header(api):
    first = api.get("/v1/account", headers=KEY)
    assert "Idempotent-Replayed" not in api.get("/v1/account", headers=KEY).headers
    assert first.status_code == 200


# --- rate limit ----------------------------------------------------------------------------------

def test_25_requests_a_second_by_default_then_429_with_stripe_should_retry(api, sim):
    statuses = [api.get("/v1/customers").status_code for _ in range(26)]
    assert statuses[:25] == [200] * 25 and statuses[25] == 429
    limited = api.get("/v1/customers")
    assert limited.headers["Stripe-Should-Retry"] == "true"
    assert limited.json()["error"]["code"] == "rate_limit"
    sim.advance(1)
    assert api.get("/v1/customers").status_code == 200
    assert len(sim.rejected()) == 2


def test_the_limit_is_configurable(api, sim):
    sim.set_rate_limit(2)
    assert [api.get("/v1/customers").status_code for _ in range(3)] == [200, 200, 429]
    sim.set_rate_limit(None)
    assert {api.get("/v1/customers").status_code for _ in range(60)} == {200}


# --- faults -------------------------------------------------------------------------------------

def test_a_503_changes_nothing_and_says_retry(api, sim):
    sim.fail_next("503", method="POST")
    response = create(api)
    assert response.status_code == 503 and response.headers["Stripe-Should-Retry"] == "true"
    assert not sim.objects("customer")
    assert create(api).status_code == 200, "a 503 is not saved under the key"


@pytest.mark.parametrize(("kind", "error"), [("timeout", httpx.ReadTimeout), ("drop", httpx.RemoteProtocolError)])
def test_a_timeout_or_drop_before_processing_creates_nothing(api, sim, kind, error):
    sim.fail_next(kind, method="POST")
    with pytest.raises(error):
        create(api)
    assert not sim.objects("customer")
    assert sim.requests[-1].status is None and sim.requests[-1].outcome == f"fault {kind}"


@pytest.mark.parametrize(("kind", "error"), [("drop_after_processing", httpx.RemoteProtocolError),
                                             ("timeout_after_processing", httpx.ReadTimeout)])
def test_a_connection_lost_after_the_create_leaves_the_object_and_the_key_replays_it(api, sim, kind, error):
    sim.fail_next(kind, method="POST", path_contains="/v1/customers")
    with pytest.raises(error):
        create(api)
    [made] = sim.objects("customer")
    resent = create(api)
    assert resent.json()["id"] == made["id"] and resent.headers["Idempotent-Replayed"] == "true"
    assert len(sim.objects("customer")) == 1


def test_faults_match_method_and_path_and_count_down(api, sim):
    sim.fail_next("500", method="GET", path_contains="/v1/invoices", times=2)
    assert api.get("/v1/customers").status_code == 200
    assert [api.get("/v1/invoices").status_code for _ in range(3)] == [500, 500, 200]
