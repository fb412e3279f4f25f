"""The simulator's wire contract: keys, API versions, form parameters, error shape."""
from __future__ import annotations

import base64

import httpx
import pytest

from sandbox.stripe import BASIL, LATEST, SANDBOX_SECRET_KEY, StripeSimulator
from tests.stripe.conftest import BASE_URL


def raw(sim: StripeSimulator, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=BASE_URL, transport=sim.transport(), headers=headers)


def new_customer(api: httpx.Client, **data: str) -> dict:
    response = api.post("/v1/customers", data={"name": "Acme", **data})
    assert response.status_code == 200, response.text
    return response.json()


# --- keys ---------------------------------------------------------------------------------------

def test_the_key_goes_as_basic_or_bearer(sim):
    basic = base64.b64encode(f"{SANDBOX_SECRET_KEY}:".encode()).decode()
    assert raw(sim, Authorization=f"Basic {basic}").get("/v1/account").status_code == 200
    assert raw(sim, Authorization=f"Bearer {SANDBOX_SECRET_KEY}").get("/v1/account").status_code == 200


def test_no_key_is_401_in_stripes_shape(sim):
    response = raw(sim).get("/v1/account")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Stripe"'
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")


@pytest.mark.parametrize("state", ["unknown", "revoked", "expired"])
def test_a_wrong_revoked_or_expired_key_is_401_naming_only_its_last_four(sim, state):
    key = "sk_test_51WrongKeyWrongKeyWrongKeyWXYZ"
    if state != "unknown":
        key = sim.add_key()
        (sim.revoke_key if state == "revoked" else sim.expire_key)(key)
    response = raw(sim, Authorization=f"Bearer {key}").get("/v1/customers")
    assert response.status_code == 401
    error = response.json()["error"]
    word = "Expired" if state == "expired" else "Invalid"
    assert error["message"].startswith(f"{word} API Key provided: sk_test_****")
    assert error["message"].endswith(key[-4:]) or key[-4:] + "." in error["message"]
    assert key not in response.text and key[8:-4] not in response.text
    assert error.get("code") == ("api_key_expired" if state == "expired" else None)


def test_a_restricted_key_needs_the_permission_of_the_endpoint(sim):
    key = sim.add_key(restricted={"customers": "read"})
    client = raw(sim, Authorization=f"Bearer {key}")
    assert client.get("/v1/customers").status_code == 200
    refused = client.post("/v1/customers", data={"name": "x"})
    assert refused.status_code == 403
    assert "rak_customers_write" in refused.json()["error"]["message"]
    assert client.get("/v1/invoices").status_code == 403
    assert not sim.objects("customer")


# --- API versions -------------------------------------------------------------------------------

def test_without_stripe_version_the_accounts_default_applies(sim):
    response = raw(sim, Authorization=f"Bearer {SANDBOX_SECRET_KEY}").get("/v1/account")
    assert response.headers["Stripe-Version"] == "2024-06-20"


def test_a_known_version_is_honoured_and_an_unknown_one_refused(api):
    assert api.get("/v1/account").headers["Stripe-Version"] == LATEST
    refused = api.get("/v1/account", headers={"Stripe-Version": "2025-09-30.acacia"})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Invalid Stripe API version: 2025-09-30.acacia"


def paid_invoice(sim, api) -> tuple[str, str]:
    customer = new_customer(api)["id"]
    invoice = api.post("/v1/invoices", data={"customer": customer, "collection_method": "send_invoice",
                                             "days_until_due": "30"}).json()["id"]
    api.post("/v1/invoiceitems", data={"invoice": invoice, "amount": "2500", "description": "Design"})
    api.post(f"/v1/invoices/{invoice}/finalize")
    charge = sim.pay_invoice(invoice)
    return invoice, charge["id"]


def test_since_basil_an_invoice_names_its_payments_not_a_charge(sim, api):
    invoice_id, charge_id = paid_invoice(sim, api)
    new = api.get(f"/v1/invoices/{invoice_id}", params={"expand[]": "payments"}).json()
    assert "paid" not in new and "charge" not in new and "payment_intent" not in new
    [payment] = new["payments"]["data"]
    assert payment["object"] == "invoice_payment" and payment["amount_paid"] == 2500
    assert "payments" not in api.get(f"/v1/invoices/{invoice_id}").json(), "payments is only there when expanded"
    assert "invoice" not in api.get(f"/v1/charges/{charge_id}").json()

    old = api.get(f"/v1/invoices/{invoice_id}", headers={"Stripe-Version": "2024-06-20"}).json()
    assert old["paid"] is True and old["charge"] == charge_id and old["payment_intent"] == payment["payment"]["payment_intent"]
    assert api.get(f"/v1/charges/{charge_id}", headers={"Stripe-Version": "2024-06-20"}).json()["invoice"] == invoice_id
    refused = api.get(f"/v1/invoices/{invoice_id}", params={"expand[]": "payments"}, headers={"Stripe-Version": "2024-06-20"})
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "This property cannot be expanded (payments)."
    assert api.get("/v1/invoice_payments", headers={"Stripe-Version": "2024-06-20"}).status_code == 404
    assert api.get("/v1/invoice_payments", headers={"Stripe-Version": BASIL}).status_code == 200


# --- parameters ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "param"), [
    ({"nmae": "x"}, "nmae"),
    ({"address[zip]": "12345"}, "address[zip]"),
    ({"address[city][x]": "y"}, "address[city]"),
])
def test_an_unknown_or_misshapen_parameter_is_refused_by_name(api, sim, data, param):
    response = api.post("/v1/customers", data=data)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert param in error["message"]
    assert not sim.objects("customer")


def test_errors_have_stripes_shape_and_every_answer_a_request_id(api):
    response = api.post("/v1/customers", data={"nmae": "x"})
    error = response.json()["error"]
    assert set(error) == {"type", "code", "message", "param", "doc_url"}
    assert (error["code"], error["message"]) == ("parameter_unknown", "Received unknown parameter: nmae")
    assert response.headers["Request-Id"].startswith("req_")
    assert api.get("/v1/account").headers["Request-Id"].startswith("req_")


@pytest.mark.parametrize(("path", "data", "code", "param"), [
    ("/v1/invoiceitems", {"customer": "cus_x", "amount": "12.50", "currency": "usd"}, "parameter_invalid_integer", "amount"),
    ("/v1/invoices", {"customer": "cus_x", "auto_advance": "yes"}, None, "auto_advance"),
    ("/v1/invoices", {"customer": "cus_x", "collection_method": "by_post"}, None, "collection_method"),
    ("/v1/invoices", {"collection_method": "send_invoice", "days_until_due": "30"}, "parameter_missing", "customer"),
    ("/v1/customers", {"email": "not-an-email"}, "email_invalid", "email"),
    ("/v1/invoiceitems", {"customer": "cus_x", "amount": "100", "currency": "xyz"}, None, "currency"),
])
def test_values_are_typed(api, path, data, code, param):
    error = api.post(path, data=data).json()["error"]
    assert error["param"] == param
    assert error.get("code") == code


def test_a_json_body_is_refused(api):
    response = api.post("/v1/customers", json={"name": "x"})
    assert response.status_code == 400
    assert "Content-Type application/json" in response.json()["error"]["message"]


def test_nested_keys_decode_into_hashes_and_arrays(api, sim):
    customer = new_customer(api, **{"metadata[vp_firm]": "F-100", "metadata[tenant]": "acme",
                                    "address[line1]": "1 Main St", "address[city]": "Springfield"})
    assert customer["metadata"] == {"vp_firm": "F-100", "tenant": "acme"}
    assert customer["address"]["city"] == "Springfield" and customer["address"]["postal_code"] is None
    invoice, _ = paid_invoice(sim, api)
    with_two = api.get(f"/v1/invoices/{invoice}", params=[("expand[]", "payments"), ("expand[]", "customer")]).json()
    assert with_two["customer"]["object"] == "customer" and with_two["payments"]["object"] == "list"
    indexed = api.get(f"/v1/invoices/{invoice}", params={"expand[0]": "customer"}).json()
    assert indexed["customer"]["object"] == "customer"
    note = api.post("/v1/credit_notes", data={"invoice": invoice, "lines[0][type]": "custom_line_item",
                                               "lines[0][description]": "Goodwill", "lines[0][amount]": "500",
                                               "lines[1][type]": "custom_line_item", "lines[1][description]": "Fee",
                                               "lines[1][amount]": "250"}).json()
    assert note["amount"] == 750 and [line["amount"] for line in note["lines"]["data"]] == [500, 250]


def test_an_empty_value_clears_a_field_and_an_empty_metadata_value_removes_the_key(api):
    customer = new_customer(api, description="Key client", **{"metadata[a]": "1", "metadata[b]": "2"})
    updated = api.post(f"/v1/customers/{customer['id']}", data={"description": "", "metadata[a]": ""}).json()
    assert updated["description"] is None and updated["metadata"] == {"b": "2"}


def test_list_items_are_rendered_like_single_objects(sim, api):
    invoice_id, _ = paid_invoice(sim, api)
    sim.advance(2)
    old = {"Stripe-Version": "2024-06-20"}
    [listed] = api.get("/v1/invoices", headers=old).json()["data"]
    assert listed == api.get(f"/v1/invoices/{invoice_id}", headers=old).json()
    assert listed["paid"] is True and not [k for k in listed if k.startswith("_")]
    [found] = api.get("/v1/customers/search", params={"query": "name:'Acme'"}).json()["data"]
    assert found == api.get(f"/v1/customers/{found['id']}").json()
    [charge] = api.get("/v1/charges", headers=old).json()["data"]
    assert charge["invoice"] == invoice_id
