"""Customers, search, invoices, invoice items, credit notes and amounts in the simulator."""
from __future__ import annotations

import httpx
import pytest

from sandbox.stripe import display_amount


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def customer(api: httpx.Client, **data: str) -> str:
    return ok(api.post("/v1/customers", data={"name": "Acme", "email": "ap@acme.example", **data}))["id"]


def draft(api: httpx.Client, customer_id: str, **data: str) -> str:
    return ok(api.post("/v1/invoices", data={"customer": customer_id, "collection_method": "send_invoice",
                                             "days_until_due": "30", **data}))["id"]


def item(api: httpx.Client, invoice_id: str, **data: str) -> httpx.Response:
    return api.post("/v1/invoiceitems", data={"invoice": invoice_id, "description": "Design", **data})


# --- customers -----------------------------------------------------------------------------------

def test_an_update_makes_an_event_with_what_changed_and_a_no_op_update_none(api, sim):
    cid = customer(api)
    ok(api.post(f"/v1/customers/{cid}", data={"email": "billing@acme.example", "name": "Acme"}))
    [event] = sim.events("customer.updated")
    assert event["data"]["previous_attributes"] == {"email": "ap@acme.example"}
    ok(api.post(f"/v1/customers/{cid}", data={"email": "billing@acme.example"}))
    assert len(sim.events("customer.updated")) == 1


def test_a_deleted_customer_still_retrieves_but_cannot_be_used(api, sim):
    cid = customer(api)
    assert ok(api.delete(f"/v1/customers/{cid}")) == {"id": cid, "object": "customer", "deleted": True}
    assert ok(api.get(f"/v1/customers/{cid}")) == {"id": cid, "object": "customer", "deleted": True}
    assert refused(api.post(f"/v1/customers/{cid}", data={"name": "x"}), 404)["code"] == "resource_missing"
    assert refused(api.post("/v1/invoices", data={"customer": cid}), 404)["param"] == "customer"
    assert sim.events("customer.deleted")


# --- search --------------------------------------------------------------------------------------

def test_search_by_metadata_sees_an_object_only_after_the_lag(api, sim):
    cid = customer(api, **{"metadata[vp_firm]": "F-100", "metadata[tenant]": "acme"})
    customer(api, **{"metadata[vp_firm]": "F-200", "metadata[tenant]": "acme"})
    query = {"query": "metadata['vp_firm']:'F-100' AND metadata['tenant']:'acme'"}
    assert ok(api.get("/v1/customers/search", params=query))["data"] == [], "just written: not searchable yet"
    sim.advance(1)
    result = ok(api.get("/v1/customers/search", params=query))
    assert result["object"] == "search_result" and [c["id"] for c in result["data"]] == [cid]
    assert len(ok(api.get("/v1/customers/search", params={"query": "metadata['tenant']:'acme'"}))["data"]) == 2


@pytest.mark.parametrize(("query", "names"), [
    ("name:'acme'", ["Acme"]),
    ("name~'cme'", ["Acme"]),
    ("email:'ap@acme.example' OR name:'Globex'", ["Globex", "Acme"]),
    ("-name:'Acme'", ["Globex"]),
])
def test_search_query_subset(api, sim, query, names):
    customer(api)
    customer(api, name="Globex", email="ap@globex.example")
    sim.advance(2)
    assert [c["name"] for c in ok(api.get("/v1/customers/search", params={"query": query}))["data"]] == names


@pytest.mark.parametrize("query", ["name:'a' AND email:'b' OR phone:'c'", "city:'x'", "metadata:x", "name~'ab'", ""])
def test_search_refuses_what_it_does_not_support(api, query):
    assert refused(api.get("/v1/customers/search", params={"query": query}))["param"] == "query"


def test_lists_return_ten_unless_asked_and_page_with_starting_after(api):
    ids = [customer(api, name=f"Client {n}") for n in range(12)]
    first = ok(api.get("/v1/customers"))
    assert len(first["data"]) == 10 and first["has_more"] is True
    assert [c["id"] for c in first["data"]] == ids[::-1][:10], "newest first"
    rest = ok(api.get("/v1/customers", params={"starting_after": first["data"][-1]["id"]}))
    assert [c["id"] for c in rest["data"]] == ids[1::-1] and rest["has_more"] is False


# --- invoices ------------------------------------------------------------------------------------

def test_collection_method_and_days_until_due_go_together(api):
    cid = customer(api)
    assert refused(api.post("/v1/invoices", data={"customer": cid, "collection_method": "send_invoice"}))["param"] == \
        "days_until_due"
    assert refused(api.post("/v1/invoices", data={"customer": cid, "days_until_due": "30"}))["param"] == "days_until_due"


def test_finalizing_assigns_number_due_date_and_hosted_page_once(api, sim):
    cid = customer(api)
    iid = draft(api, cid, **{"metadata[vp_invoice]": "1001"})
    ok(item(api, iid, quantity="2", unit_amount_decimal="12500"))
    invoice = ok(api.post(f"/v1/invoices/{iid}/finalize"))
    assert invoice["status"] == "open" and invoice["number"].endswith("-0001")
    assert invoice["amount_due"] == invoice["total"] == 25000 and invoice["amount_remaining"] == 25000
    assert invoice["due_date"] == invoice["created"] + 30 * 86400 and invoice["hosted_invoice_url"]
    assert invoice["metadata"] == {"vp_invoice": "1001"}
    again = refused(api.post(f"/v1/invoices/{iid}/finalize"))
    assert again["message"] == "This invoice is already finalized, you can't re-finalize a non-draft invoice."
    assert refused(item(api, iid, amount="100"))["code"] == "invoice_not_editable"
    assert [e["type"] for e in sim.events()][-2:] == ["invoiceitem.created", "invoice.finalized"]


def test_an_invoice_with_nothing_due_is_paid_when_finalized(api, sim):
    iid = draft(api, customer(api))
    assert ok(api.post(f"/v1/invoices/{iid}/finalize"))["status"] == "paid"
    assert {"invoice.paid", "invoice.payment_succeeded"} <= {e["type"] for e in sim.events()}


def test_a_draft_with_auto_advance_finalizes_itself_after_an_hour(api, sim):
    iid = draft(api, customer(api), auto_advance="true")
    ok(item(api, iid, amount="5000"))
    sim.advance(3599)
    assert ok(api.get(f"/v1/invoices/{iid}"))["status"] == "draft"
    sim.advance(2)
    assert ok(api.get(f"/v1/invoices/{iid}"))["status"] == "open"
    assert sim.events("invoice.finalized")[0]["request"] == {"id": None, "idempotency_key": None}


def test_auto_advance_is_off_by_default_since_2022_08_01(api):
    assert ok(api.get(f"/v1/invoices/{draft(api, customer(api))}"))["auto_advance"] is False


def test_only_an_open_invoice_can_be_voided(api):
    cid = customer(api)
    iid = draft(api, cid)
    ok(item(api, iid, amount="5000"))
    assert "draft" in refused(api.post(f"/v1/invoices/{iid}/void"))["message"]
    ok(api.post(f"/v1/invoices/{iid}/finalize"))
    assert ok(api.post(f"/v1/invoices/{iid}/void"))["status"] == "void"
    assert refused(api.post(f"/v1/invoices/{iid}/void"))["code"] == "invoice_not_editable"


def test_list_by_customer(api):
    cid, other = customer(api), customer(api, name="Globex")
    mine = [draft(api, cid) for _ in range(3)]
    draft(api, other)
    assert [i["id"] for i in ok(api.get("/v1/invoices", params={"customer": cid}))["data"]] == mine[::-1]


def test_an_invoice_embeds_ten_lines_and_pages_the_rest(api):
    iid = draft(api, customer(api))
    for n in range(12):
        ok(item(api, iid, amount=str(100 + n), description=f"Line {n}"))
    invoice = ok(api.get(f"/v1/invoices/{iid}"))
    assert len(invoice["lines"]["data"]) == 10 and invoice["lines"]["has_more"] and invoice["lines"]["total_count"] == 12
    assert invoice["total"] == sum(100 + n for n in range(12))
    rest = ok(api.get(f"/v1/invoices/{iid}/lines", params={"starting_after": invoice["lines"]["data"][-1]["id"]}))
    assert [line["description"] for line in rest["data"]] == ["Line 10", "Line 11"]


# --- amounts -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("currency", "quantity", "unit", "total", "shown"), [
    ("usd", "3", "15000", 45000, "450.00 USD"),
    ("usd", "7.5", "12345", 92588, "925.88 USD"),  # 92587.5 cents rounds half up
    ("jpy", "3", "15000", 45000, "45000 JPY"),  # no minor unit: 15,000 yen each
])
def test_amounts_are_in_the_smallest_unit_of_the_currency(api, currency, quantity, unit, total, shown):
    iid = draft(api, customer(api), currency=currency)
    data = {"quantity" if "." not in quantity else "quantity_decimal": quantity, "unit_amount_decimal": unit}
    line = ok(item(api, iid, **data))
    assert line["amount"] == total and line["currency"] == currency
    assert display_amount(ok(api.get(f"/v1/invoices/{iid}"))["total"], currency) == shown


def test_a_line_in_another_currency_than_its_invoice_is_refused(api):
    iid = draft(api, customer(api), currency="jpy")
    assert refused(item(api, iid, amount="5000", currency="usd"))["param"] == "currency"


def test_amount_and_unit_amount_exclude_each_other(api):
    iid = draft(api, customer(api))
    assert refused(item(api, iid, amount="100", unit_amount_decimal="100"))["code"] == "parameters_exclusive"
    assert refused(item(api, iid, amount="100", quantity="2"))["code"] == "parameters_exclusive"
    assert refused(item(api, iid))["code"] == "parameter_missing"


def test_the_smallest_card_payment_is_per_currency(api, sim):
    for currency, amount, minimum in (("usd", "49", "0.50 USD"), ("jpy", "49", "50 JPY")):
        iid = draft(api, customer(api), currency=currency)
        ok(item(api, iid, amount=amount))
        ok(api.post(f"/v1/invoices/{iid}/finalize"))
        error = refused(api.post(f"/v1/invoices/{iid}/pay", data={"payment_method": "pm_card_visa"}))
        assert error["code"] == "amount_too_small" and minimum in error["message"]


# --- credit notes --------------------------------------------------------------------------------

def open_invoice(api: httpx.Client, amount: str = "10000") -> str:
    iid = draft(api, customer(api))
    ok(item(api, iid, amount=amount))
    ok(api.post(f"/v1/invoices/{iid}/finalize"))
    return iid


def test_a_credit_note_needs_a_finalized_invoice(api):
    iid = draft(api, customer(api))
    ok(item(api, iid, amount="10000"))
    assert refused(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "100"}))["param"] == "invoice"


def test_a_credit_note_on_an_open_invoice_lowers_what_is_due_and_can_settle_it(api, sim):
    iid = open_invoice(api)
    note = ok(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "4000", "reason": "order_change"}))
    assert note["type"] == "pre_payment" and note["number"].endswith("-CN-01") and note["status"] == "issued"
    invoice = ok(api.get(f"/v1/invoices/{iid}"))
    assert (invoice["amount_due"], invoice["amount_remaining"], invoice["status"]) == (6000, 6000, "open")
    assert refused(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "6001"}))["code"] == "amount_too_large"
    ok(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "6000"}))
    assert ok(api.get(f"/v1/invoices/{iid}"))["status"] == "paid"
    assert [e["type"] for e in sim.events()][-1] == "invoice.paid"


def test_a_credit_note_on_a_paid_invoice_goes_to_the_balance_or_back_to_the_card(api, sim):
    iid = open_invoice(api)
    charge = sim.pay_invoice(iid)
    note = ok(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "3000"}))
    assert note["type"] == "post_payment"
    invoice = ok(api.get(f"/v1/invoices/{iid}", params={"expand[]": "customer"}))
    assert invoice["customer"]["balance"] == -3000 and invoice["status"] == "paid"
    error = refused(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "1000", "refund_amount": "500"}))
    assert error["param"] == "amount"
    back = ok(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "1000", "refund_amount": "1000"}))
    assert back["refunds"][0]["amount_refunded"] == 1000
    assert ok(api.get(f"/v1/charges/{charge['id']}"))["amount_refunded"] == 1000
    over = refused(api.post("/v1/credit_notes", data={"invoice": iid, "amount": "6001"}))
    assert over["code"] == "amount_too_large"
