"""The simulator's own strictness, checked with raw HTTP (no client code involved)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from sandbox.servers import create_simulator, serve_in_thread
from sandbox.vantagepoint import (
    DISABLED_USERNAME,
    FEES_HIDDEN_USERNAME,
    NO_PASSWORD_GRANT_CLIENT_ID,
    NO_PASSWORD_GRANT_CLIENT_SECRET,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_DATABASE,
    create_app,
)

from .simtools import Raw, ap_batch, filters, password_form, post_parms

# -- the token endpoint ---------------------------------------------------------------------


def test_password_grant_answers_a_1799_second_bearer_token(sim):
    reply = Raw(sim, login=False).http.post("/token", data=password_form())
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1799
    assert body["access_token"] and body["refresh_token"]


@pytest.mark.parametrize("wrong", [{"username": "api", "Username": None}, {"client_id": SANDBOX_CLIENT_ID,
                                                                          "Client_Id": None}, {"Database": "x"}])
def test_a_wrong_field_name_in_the_token_form_is_refused(sim, wrong):
    reply = Raw(sim, login=False).http.post("/token", data=password_form(**wrong))
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"
    assert sim.grants[-1].ok is False


def test_the_refresh_grant_wants_lower_case_client_id(sim):
    raw = Raw(sim)
    form = {"grant_type": "refresh_token", "refresh_token": raw.refresh_token, "database": SANDBOX_DATABASE,
            "Client_Id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}
    assert raw.http.post("/token", data=form).json()["error"] == "invalid_request"
    form["client_id"] = form.pop("Client_Id")
    assert raw.http.post("/token", data=form).status_code == 200


def test_a_refresh_token_works_once(sim):
    raw = Raw(sim)
    form = {"grant_type": "refresh_token", "refresh_token": raw.refresh_token, "database": SANDBOX_DATABASE,
            "client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}
    assert raw.http.post("/token", data=form).status_code == 200
    again = raw.http.post("/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("form, error, words", [
    ({"Username": DISABLED_USERNAME}, "invalid_grant", "disabled"),
    ({"Client_Id": NO_PASSWORD_GRANT_CLIENT_ID, "client_secret": NO_PASSWORD_GRANT_CLIENT_SECRET},
     "unauthorized_client", "password grant"),
    ({"client_secret": "not-the-secret"}, "invalid_client", "client_secret"),
    ({"database": "OtherDB"}, "invalid_grant", "database"),
    ({"Password": "not-the-password"}, "invalid_grant", "password is incorrect"),
    ({"Integrated": "Y"}, "invalid_request", "Integrated"),
    ({"grant_type": "client_credentials"}, "unsupported_grant_type", ""),
])
def test_token_errors_are_oauth_shaped(sim, form, error, words):
    reply = Raw(sim, login=False).http.post("/token", data=password_form(**form))
    assert reply.status_code == 400
    assert reply.json()["error"] == error
    assert words in reply.json().get("error_description", "")


def test_tokens_expire_after_1799_seconds_of_the_simulator_clock(sim):
    raw = Raw(sim)
    sim.clock.advance(seconds=1798)
    assert raw.get("/firm", {"pageSize": 1}).status_code == 200
    sim.clock.advance(seconds=1)
    expired = raw.get("/firm", {"pageSize": 1})
    assert expired.status_code == 401
    assert expired.json() == {"Message": "Authorization has been denied for this request."}


def test_no_or_unknown_token_gets_401(sim):
    raw = Raw(sim, login=False)
    assert raw.http.get("/firm").status_code == 401
    assert raw.http.get("/firm", headers={"Authorization": "Bearer made-up"}).status_code == 401


def test_only_the_instance_api_root_is_served(sim):
    raw = Raw(sim)
    assert raw.http.get("http://vp.test/Other/api/firm").status_code == 404
    assert raw.get("/FIRM", {"pageSize": 1}).status_code == 200  # IIS: paths ignore case


# -- shapes ---------------------------------------------------------------------------------


def test_one_record_is_still_a_bare_array_with_y_n_flags_and_zone_less_dates(sim):
    raw = Raw(sim)
    firm = raw.get("/firm", {"pageSize": 1}).json()[0]
    single = raw.get(f"/firm/{firm['ClientID']}")
    assert isinstance(single.json(), list) and len(single.json()) == 1
    assert firm["ClientInd"] in ("Y", "N") and firm["VendorInd"] in ("Y", "N")
    assert len(firm["ClientID"]) == 32 and int(firm["ClientID"], 16) >= 0
    line = raw.get("/PSALedger/IN", {"pageSize": 1}).json()[0]
    assert line["PostDate"].count(":") == 2 and line["PostDate"][-4] == "." and "+" not in line["PostDate"]
    assert datetime.fromisoformat(line["PostDate"]).tzinfo is None
    assert isinstance(line["Period"], int) and 200001 <= line["Period"] <= 209912


def test_blank_wbs_levels_are_a_single_space(sim):
    raw = Raw(sim)
    project = raw.get("/project/2023001.00").json()[0]
    assert project["WBS2"] == " " and project["WBS3"] == " " and project["SubLevel"] == "N"


def test_projects_phases_and_tasks(sim):
    raw = Raw(sim)
    assert [p["WBS2"] for p in raw.get("/project/2023003.00/phase").json()] == ["01", "02"]
    assert [t["WBS3"] for t in raw.get("/project/2023003.00/phase/01/task").json()] == ["001", "002"]
    assert all(p["WBS2"] == " " for p in raw.get("/project").json())


def test_an_unknown_wbs1_is_refused(sim):
    raw = Raw(sim)
    assert raw.get("/project/9999999.00").status_code == 404
    assert raw.get("/project/9999999.00/phase").status_code == 404
    reply = raw.post("/DataEntry/apControl", ap_batch(wbs1="9999999.00"))
    assert reply.status_code == 400
    assert "Project '9999999.00' does not exist" in reply.json()["Message"]


# -- paging, filters, order -------------------------------------------------------------------


def test_pages_are_1_based_and_offsets_0_based(sim):
    raw = Raw(sim)
    order = {"order": "PKey_A"}
    first = raw.get("/PSALedger/IN", {**order, "page": 1, "pageSize": 5}).json()
    second = raw.get("/PSALedger/IN", {**order, "page": 2, "pageSize": 5}).json()
    by_offset = raw.get("/PSALedger/IN", {**order, "offset": 5, "limit": 5}).json()
    assert [r["PKey"] for r in second] == [r["PKey"] for r in by_offset]
    assert first[-1]["PKey"] < second[0]["PKey"]
    assert raw.get("/PSALedger/IN", {"page": 0, "pageSize": 5}).status_code == 400


def test_page_size_is_capped_silently():
    app = create_app(seed_size=12, max_page_size=10)
    assert len(Raw(app).get("/PSALedger/IN", {"page": 1, "pageSize": 50}).json()) == 10


@pytest.mark.parametrize("op, value, check", [
    ("=", "202402", lambda p: p == 202402), ("!=", "202402", lambda p: p != 202402),
    (">", "202402", lambda p: p > 202402), (">=", "202402", lambda p: p >= 202402),
    ("<", "202402", lambda p: p < 202402), ("<=", "202402", lambda p: p <= 202402),
])
def test_filter_hash_operators(sim, op, value, check):
    rows = Raw(sim).get("/PSALedger/IN", filters(("Period", op, value)) + [("pageSize", "500")]).json()
    every = {r["PKey"] for r in sim.ledger("IN") if check(r["Period"])}
    assert rows and {r["PKey"] for r in rows} == every


def test_like_and_text_comparisons_ignore_case_and_trailing_blanks(sim):
    raw = Raw(sim)
    harbor = raw.get("/firm", filters(("Name", "like", "harbor%"))).json()
    assert harbor and all(r["Name"].startswith("Harbor") for r in harbor)
    blank_phase = raw.get("/PSALedger/IN", filters(("WBS2", "=", "")) + [("pageSize", "500")]).json()
    assert blank_phase and all(r["WBS2"] == " " for r in blank_phase)


def test_filter_on_dates_and_or_conditions(sim):
    raw = Raw(sim)
    cut = "2024-03-01T00:00:00.000"
    later = raw.get("/PSALedger/IN", filters(("PostDate", ">=", cut)) + [("pageSize", "500")]).json()
    assert later and all(r["PostDate"] >= cut for r in later)
    params = filters(("Invoice", "=", "0000003"), ("Invoice", "=", "0000005")) + [("filterHash[1][condition]", "or")]
    assert {r["Invoice"] for r in raw.get("/PSALedger/IN", params).json()} == {"0000003", "0000005"}


def test_unknown_columns_and_operators_are_refused(sim):
    raw = Raw(sim)
    assert "Invalid column name" in raw.get("/firm", filters(("Nmae", "=", "x"))).json()["Message"]
    assert raw.get("/firm", filters(("Name", "~", "x"))).status_code == 400
    assert raw.get("/firm", {"order": "Nmae_A"}).status_code == 400
    assert raw.get("/firm", {"fieldFilter": "Name,Nmae"}).status_code == 400


def test_order_and_field_filter(sim):
    raw = Raw(sim)
    rows = raw.get("/firm", {"order": "Name_D", "fieldFilter": "Name,ClientID"}).json()
    names = [r["Name"] for r in rows]
    assert names == sorted(names, key=str.casefold, reverse=True)
    assert set(rows[0]) == {"Name", "ClientID"}


def test_rows_tied_under_the_order_come_back_in_no_stable_order(sim):
    """Why the client must finish its order with a unique key."""
    raw = Raw(sim)
    params = {"order": "PostDate_A", "page": 1, "pageSize": 500}
    orders = {tuple(r["PKey"] for r in raw.get("/PSALedger/IN", params).json()) for _ in range(6)}
    assert len(orders) > 1
    stable = {"order": "PostDate_A|PKey_A", "page": 1, "pageSize": 500}
    assert len({tuple(r["PKey"] for r in raw.get("/PSALedger/IN", stable).json()) for _ in range(6)}) == 1


# -- data entry -------------------------------------------------------------------------------


def test_a_batch_is_created_then_posted_with_a_posting_sequence(sim):
    raw = Raw(sim)
    created = raw.post("/DataEntry/apControl", ap_batch())
    assert created.status_code == 201 and isinstance(created.json(), list) and created.json()[0]["Posted"] == "N"
    assert raw.get("/DataEntry/apControl/TESTAP01").status_code == 200
    posted = raw.put("/DataEntry/PostTransFile", post_parms())
    assert posted.status_code == 200
    reply = json.loads(posted.json())  # a JSON string holding the lists
    seq = int(reply["postseqList"].rstrip("|"))
    assert reply["batchList"] == "TESTAP01|" and reply["periodList"] == "202406|"
    rows = [r for r in sim.ledger("AP") if r["Batch"] == "TESTAP01"]
    assert len(rows) == 1 and rows[0]["PostSeq"] == seq and rows[0]["Amount"] == Decimal("250.00")
    assert raw.get("/DataEntry/apControl/TESTAP01").status_code == 404  # gone from data entry


def test_posting_a_batch_twice_is_refused(sim):
    raw = Raw(sim)
    raw.post("/DataEntry/apControl", ap_batch())
    assert raw.put("/DataEntry/PostTransFile", post_parms()).status_code == 200
    again = raw.put("/DataEntry/PostTransFile", post_parms())
    assert again.status_code == 400 and "already been posted" in again.json()["Message"]
    recreate = raw.post("/DataEntry/apControl", ap_batch(invoice="VI-2"))
    assert recreate.status_code == 400 and "already exists" in recreate.json()["Message"]
    assert len([r for r in sim.ledger("AP") if r["Batch"] == "TESTAP01"]) == 1


def test_a_duplicate_batch_name_is_refused(sim):
    raw = Raw(sim)
    assert raw.post("/DataEntry/apControl", ap_batch()).status_code == 201
    duplicate = raw.post("/DataEntry/apControl", ap_batch(invoice="VI-9"))
    assert duplicate.status_code == 400 and duplicate.json()["Message"] == "Batch 'TESTAP01' already exists."


@pytest.mark.parametrize("change, message", [
    ({"vendor": "V00000"}, "Vendor 'V00000' does not exist"),
    ({"wbs1": "2023003.00", "wbs2": "07"}, "Phase '07' does not exist"),
    ({"wbs1": "2023003.00", "wbs2": "01", "wbs3": "999"}, "Task '999' does not exist"),
    ({"wbs1": "2023003.00"}, "has phases: charge a phase"),
    ({"wbs1": "2023003.00", "wbs2": "01"}, "has tasks: charge a task"),
    ({"wbs1": "2023004.00"}, "is inactive"),
    ({"account": "9999.00"}, "Account '9999.00' does not exist"),
    ({"period": 202403}, "Period 202403 is closed"),
    ({"period": 204001}, "Period 204001 is not defined"),
    ({"total": 999.0}, "is not balanced: control total 999.00, detail total 250.00"),
    ({"invoice": "INV-5000"}, "already exists for vendor"),
])
def test_batches_are_validated_like_the_real_thing(sim, change, message):
    reply = Raw(sim).post("/DataEntry/apControl", ap_batch(**change))
    assert reply.status_code == 400
    assert message in reply.json()["Message"]
    assert sim.unposted_batches() == []


def test_unknown_fields_in_a_batch_are_refused(sim):
    body = ap_batch()
    body["apMaster"][0]["Vendr"] = "V90001"
    reply = Raw(sim).post("/DataEntry/apControl", body)
    assert reply.status_code == 400 and "Unknown field 'Vendr'" in reply.json()["Message"]


def test_a_period_closed_between_create_and_post_is_refused(sim):
    raw = Raw(sim)
    raw.post("/DataEntry/apControl", ap_batch())
    sim.close_period(202406)
    reply = raw.put("/DataEntry/PostTransFile", post_parms())
    assert reply.status_code == 400 and "Period 202406 is closed" in reply.json()["Message"]


def test_post_trans_file_parms_are_strict(sim):
    raw = Raw(sim)
    raw.post("/DataEntry/apControl", ap_batch())
    body = post_parms()
    body["parms"]["Batchname"] = "x"
    assert "Unknown parameter" in raw.put("/DataEntry/PostTransFile", body).json()["Message"]
    assert raw.put("/DataEntry/PostTransFile", {"batch": "TESTAP01"}).status_code == 400
    assert "was not found" in raw.put("/DataEntry/PostTransFile", post_parms("NOSUCH")).json()["Message"]


def test_a_cash_receipt_reduces_the_ar_balance(sim):
    raw = Raw(sim)
    balance = next(b for b in sim.tables.ar_balances if b["Balance"] > 0)
    before = balance["Balance"]
    body = {"Batch": "TESTCR01", "Period": 202406, "Total": 10.0, "crMaster": [{
        "RefNo": "CHK-9", "TransDate": "2024-06-14", "BankCode": "OPER",
        "crDetail": [{"WBS1": balance["WBS1"], "Invoice": balance["Invoice"], "Account": "1200.00", "Amount": 10.0}],
    }]}
    assert raw.post("/DataEntry/crControl", body).status_code == 201
    assert raw.put("/DataEntry/PostTransFile", post_parms("TESTCR01", transtype="CR")).status_code == 200
    assert balance["Balance"] == before - 10


def test_a_cash_receipt_for_an_unknown_invoice_is_refused(sim):
    body = {"Batch": "TESTCR02", "Period": 202406, "Total": 10.0, "crMaster": [{
        "RefNo": "CHK-9", "TransDate": "2024-06-14", "BankCode": "OPER",
        "crDetail": [{"WBS1": "2023001.00", "Invoice": "NOPE", "Account": "1200.00", "Amount": 10.0}],
    }]}
    reply = Raw(sim).post("/DataEntry/crControl", body)
    assert reply.status_code == 400 and "Invoice 'NOPE' does not exist" in reply.json()["Message"]


# -- roles ------------------------------------------------------------------------------------


def test_a_role_that_hides_fees_reads_zero_not_an_error(sim):
    hidden = Raw(sim, Username=FEES_HIDDEN_USERNAME)
    lines = hidden.get("/PSALedger/IN", {"pageSize": 50}).json()
    assert lines and all(r["Amount"] == 0 and r["UnitPrice"] == 0 for r in lines)
    assert any(r["Quantity"] != 0 for r in lines)
    assert any(b["OriginalAmt"] != 0 for b in hidden.get("/ARReview/ARBalance", {"pageSize": 50}).json())
    assert any(r["Amount"] != 0 for r in Raw(sim).get("/PSALedger/IN", {"pageSize": 50}).json())


def test_a_role_without_posting_rights_is_refused_with_a_role_message(sim):
    reply = Raw(sim, Username=FEES_HIDDEN_USERNAME).post("/DataEntry/apControl", ap_batch())
    assert reply.status_code == 400 and "role" in reply.json()["Message"]


# -- seed data ----------------------------------------------------------------------------------


def test_seed_data_is_deterministic_at_any_size():
    assert create_app(seed_size=5).ledger("IN") == create_app(seed_size=5).ledger("IN")
    for size in (1, 3, 40):
        app = create_app(seed_size=size)
        assert len(app.invoice_keys()) == 3 * size
        assert len([f for f in app.tables.firms if f["ClientInd"] == "Y"]) == size


def test_seed_has_invoices_sharing_one_post_date_and_a_reused_invoice_number(sim):
    by_post_date: dict[datetime, set[str]] = {}
    for row in sim.ledger("IN"):
        by_post_date.setdefault(row["PostDate"], set()).add(row["Invoice"])
    assert max(len(invoices) for invoices in by_post_date.values()) >= 3
    numbers = [invoice for invoice, _, _ in sim.invoice_keys()]
    assert len(numbers) > len(set(numbers))


def test_seed_has_what_an_810_needs(sim):
    client = next(f for f in sim.tables.firms if f["ClientInd"] == "Y")
    assert client["Address1"] and client["City"] and client["State"] and client["ZIP"] and client["PayTerms"]
    line = sim.ledger("IN")[0]
    assert line["Description"] and line["Quantity"] and line["UnitPrice"] and line["WBS1"]
    assert line["Amount"] == (line["Quantity"] * line["UnitPrice"]).quantize(Decimal("0.01"))


def test_add_posted_invoice_appears_in_the_ledger(sim):
    added = sim.add_posted_invoice()
    rows = Raw(sim).get("/PSALedger/IN", filters(("Invoice", "=", added["Invoice"]))).json()
    assert rows and {r["PostSeq"] for r in rows} == {added["PostSeq"]}
    assert sum(Decimal(str(r["Amount"])) for r in rows) == added["Total"]


# -- faults, and how the simulator is served --------------------------------------------------


def test_faults_fire_as_told_then_stop(sim):
    raw = Raw(sim)
    sim.faults.fail(503, path="/firm", retry_after=7, skip=1)
    assert raw.get("/firm").status_code == 200
    failed = raw.get("/firm")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "7"
    assert raw.get("/firm").status_code == 200


def test_a_dropped_connection_raises_from_the_wsgi_app(sim):
    raw = Raw(sim)
    sim.faults.drop(path="/firm")
    with pytest.raises(ConnectionResetError):
        raw.get("/firm")
    assert sim.requests[-1].status is None


def test_a_slow_answer_sleeps_through_the_injected_sleep(sim, sim_sleeps):
    sim.faults.slow(12.5, path="/firm")
    assert Raw(sim).get("/firm").status_code == 200
    assert sim_sleeps == [12.5]


def test_served_over_http_like_manage_py_sandbox():
    server, thread = serve_in_thread(create_simulator("vantagepoint", seed_size=2), port=0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/Sandbox/api"
        assert httpx.post(f"{url}/token", data=password_form()).status_code == 200
        assert httpx.get(f"{url}/firm").status_code == 401
    finally:
        server.shutdown()
        server.server_close()


def test_the_simulator_imports_nothing_of_the_project_or_django():
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, sandbox.vantagepoint; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'connector', 'edi', 'billing')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
