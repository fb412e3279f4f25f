"""Typed reads against the simulator: firms, projects, invoices since a cursor, lookups."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from connector.failures import ConfigFailure, DataFailure
from connector.vantagepoint import VantagepointClient
from sandbox.vantagepoint import create_app

from .conftest import make_connection


def sim_keys(sim) -> set[str]:
    return {f"{n}:{p}:{s}" for n, p, s in sim.invoice_keys()}


def sim_line_counts(sim) -> Counter:
    return Counter(f"{r['Invoice']}:{r['Period']}:{r['PostSeq']}" for r in sim.ledger("IN"))


# -- firms and projects -----------------------------------------------------------------------


def test_firms_clients_and_vendors(client, sim):
    everyone = client.firms()
    clients, vendors = client.firms(clients=True), client.firms(vendors=True)
    assert len(everyone) == len(sim.tables.firms)
    assert {f.client_id for f in clients} == {f["ClientID"] for f in sim.tables.firms if f["ClientInd"] == "Y"}
    assert vendors and all(f.is_vendor and f.vendor_code for f in vendors)
    assert any(f.is_client and f.is_vendor for f in everyone)
    first = clients[0]
    assert first.address.line1 and first.address.city and first.address.postal_code
    assert client.firm(first.client_id) == first
    assert client.firm("0" * 32) is None


def test_vendor_lookup_by_code(client):
    vendor = client.vendor("v90002")  # codes compare without regard to case, as SQL Server does
    assert vendor is not None and vendor.vendor_code == "V90002" and vendor.is_vendor
    assert client.vendor("NOPE") is None


def test_project_with_phases_and_tasks(client):
    project = client.project("2023003.00")
    assert project is not None and project.has_phases and project.active
    assert [p.wbs2 for p in project.phases] == ["01", "02"]
    assert [t.wbs3 for t in project.phase("01").tasks] == ["001", "002"]
    assert project.phase("02").tasks == ()
    flat = client.project("2023001.00")
    assert flat is not None and flat.phases == () and not flat.has_phases
    assert client.project("9999999.00") is None


def test_project_listing(client, sim):
    projects = client.projects(page_size=5)
    assert [p.wbs1 for p in projects] == sorted(p["WBS1"] for p in sim.tables.projects if p["WBS2"] == " ")
    assert not next(p for p in projects if p.wbs1 == "2023004.00").active


# -- posted AR invoices since a cursor --------------------------------------------------------


def test_invoice_fields_are_typed(client, sim):
    page = client.ar_invoices_since(None)
    invoice = page.invoices[0]
    assert isinstance(invoice.invoice_date, date) and isinstance(invoice.post_date, datetime)
    assert invoice.post_date.tzinfo is None
    assert all(isinstance(line.amount, Decimal) for line in invoice.lines)
    assert all(line.wbs2 != " " for i in page.invoices for line in i.lines)
    assert sum(i.total for i in page.invoices) == sum(r["Amount"] for r in sim.ledger("IN"))
    line = invoice.lines[0]
    assert line.amount == (line.quantity * line.unit_price).quantize(Decimal("0.01"))


def test_paging_through_ties_skips_and_doubles_nothing(db):
    sim = create_app(seed_size=40)
    connection = make_connection()
    rows = sorted(sim.ledger("IN"), key=lambda r: (r["PostDate"], r["Period"], r["PostSeq"], r["PKey"]))
    page_size = 7
    # The test means something only if a page boundary cuts through rows sharing a PostDate.
    assert any(rows[i - 1]["PostDate"] == rows[i]["PostDate"] for i in range(page_size, len(rows), page_size))
    with VantagepointClient(connection, transport=httpx.WSGITransport(app=sim)) as client:
        page = client.ar_invoices_since(None, page_size=page_size)
    keys = [i.key for i in page.invoices]
    assert len(keys) == len(set(keys)) and set(keys) == sim_keys(sim)
    counts = sim_line_counts(sim)
    assert all(len(i.lines) == counts[i.key] for i in page.invoices)
    assert page.complete and page.next_cursor == rows[-1]["PostDate"]


def test_reading_in_short_runs_reaches_everything_once_after_dedupe(db):
    """max_pages stops each read early; the held-back timestamp is read whole next time."""
    sim = create_app(seed_size=40)
    connection = make_connection()
    seen: dict[str, object] = {}
    cursor, reads = None, 0
    with VantagepointClient(connection, transport=httpx.WSGITransport(app=sim)) as client:
        while True:
            page = client.ar_invoices_since(cursor, page_size=5, max_pages=2)
            reads += 1
            for invoice in page.invoices:
                assert seen.setdefault(invoice.key, invoice) == invoice  # a re-read is identical, never partial
            cursor = page.next_cursor
            if page.complete:
                break
    assert reads > 5
    assert set(seen) == sim_keys(sim)
    counts = sim_line_counts(sim)
    assert all(len(i.lines) == counts[k] for k, i in seen.items())


def test_an_invoice_posted_late_at_the_cursor_timestamp_is_not_skipped(client, sim):
    first = client.ar_invoices_since(None)
    cursor = first.next_cursor
    # Committed after our read, with the same PostDate as the newest invoice we saw.
    late = sim.add_posted_invoice(post_date=cursor)
    second = client.ar_invoices_since(cursor)
    assert f"{late['Invoice']}:{late['Period']}:{late['PostSeq']}" in {i.key for i in second.invoices}
    assert second.next_cursor == cursor


def test_a_new_invoice_appears_and_the_cursor_moves_on(client, sim):
    cursor = client.ar_invoices_since(None).next_cursor
    sim.clock.advance(minutes=5)
    added = sim.add_posted_invoice(wbs1="2023003.00")
    page = client.ar_invoices_since(cursor)
    new = [i for i in page.invoices if i.post_date > cursor]
    assert [i.invoice for i in new] == [added["Invoice"]]
    assert new[0].total == added["Total"] and new[0].project == "2023003.00"
    assert page.next_cursor == added["PostDate"]
    assert client.ar_invoices_since(page.next_cursor).invoices == new


def test_the_lookback_rereads_but_never_moves_the_cursor_back(client):
    cursor = client.ar_invoices_since(None).next_cursor
    page = client.ar_invoices_since(cursor, lookback=timedelta(days=30))
    assert len(page.invoices) > 1 and page.next_cursor == cursor


def test_a_reused_invoice_number_gives_two_keys(client):
    page = client.ar_invoices_since(None)
    numbers = Counter(i.invoice for i in page.invoices)
    reused = [n for n, count in numbers.items() if count > 1]
    assert reused
    assert len({i.key for i in page.invoices if i.invoice == reused[0]}) == 2


def test_polling_on_mod_date_returns_edited_invoices_whole(client, sim):
    cursor = max(r["ModDate"] for r in sim.ledger("IN"))
    sim.clock.advance(days=1)
    invoice, period, post_seq = next(k for k in sim.invoice_keys() if sim_line_counts(sim)[f"{k[0]}:{k[1]}:{k[2]}"] > 2)
    # An edit touching one line only: its ModDate moves, its siblings' do not.
    row = next(r for r in sim.tables.ledgers["IN"] if (r["Invoice"], r["Period"], r["PostSeq"]) == (invoice, period,
                                                                                                  post_seq))
    row["ModDate"] = sim.clock.now()
    page = client.ar_invoices_since(cursor + timedelta(milliseconds=1), field="ModDate")
    assert [i.key for i in page.invoices] == [f"{invoice}:{period}:{post_seq}"]
    assert len(page.invoices[0].lines) == sim_line_counts(sim)[page.invoices[0].key]
    assert page.next_cursor == sim.clock.now()


# -- balances, vouchers, receipts ---------------------------------------------------------------


def test_ar_balance_by_invoice(client, sim):
    paid = next(b for b in sim.tables.ar_balances if Decimal("0") < b["Paid"] < b["OriginalAmt"])
    balance = client.ar_balance(paid["Invoice"], wbs1=paid["WBS1"])
    assert balance.original_amount == paid["OriginalAmt"] and balance.balance == paid["Balance"]
    assert balance.paid_amount == paid["Paid"]
    assert client.ar_balance("NO-SUCH") is None


def test_ar_balance_of_a_reused_number_needs_the_project(client):
    with pytest.raises(DataFailure, match="several projects"):
        client.ar_balance("0000001")


def test_ap_invoice_lookup_by_vendor_and_number(client, sim):
    seeded = sim.ledger("AP")[0]
    found = client.ap_invoice(seeded["Vendor"], seeded["Invoice"])
    assert found is not None and found.voucher == seeded["Voucher"] and found.total == seeded["Amount"]
    assert client.ap_invoice(seeded["Vendor"], "NOT-AN-INVOICE") is None


def test_cash_receipt_lookup(client, sim):
    seeded = sim.ledger("CR")[0]
    found = client.cash_receipt(seeded["RefNo"])
    assert found is not None and found.total == seeded["Amount"] and found.lines[0].invoice == seeded["Invoice"]
    assert client.cash_receipt(seeded["RefNo"], invoice="OTHER") is None
    assert client.cash_receipt("NO-SUCH-REF") is None


# -- odd answers --------------------------------------------------------------------------------


def test_a_wrong_base_url_is_a_config_failure(db, transport):
    connection = make_connection(base_url="http://vp.test/Sandbox/wrong")
    with VantagepointClient(connection, transport=transport) as client, pytest.raises(ConfigFailure, match="API URL"):
        client.firms()


def test_an_envelope_instead_of_a_bare_array_is_a_data_failure(client, sim):
    sim.faults.reply(200, {"value": [], "count": 0}, path="/firm")
    with pytest.raises(DataFailure, match="bare JSON array"):
        client.firms()


def test_a_server_ignoring_the_page_parameter_is_caught(client, sim):
    rows = [{"ClientID": f"{n:032X}", "Name": "x", "ClientInd": "Y", "VendorInd": "N"} for n in range(3)]
    sim.faults.reply(200, rows, path="/firm", times=None)
    with pytest.raises(DataFailure, match="ignores `page`"):
        client.firms(page_size=3)


def test_a_non_json_answer_is_a_data_failure(client, sim):
    sim.faults.reply(200, "<html>maintenance</html>", path="/project")
    with pytest.raises(DataFailure, match="no JSON"):
        client.projects()
