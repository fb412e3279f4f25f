"""The admin's connection test: a token, one read, and the hidden-money probe."""
from __future__ import annotations

from connector.vantagepoint import vantagepoint_connection_test
from sandbox.vantagepoint import FEES_HIDDEN_USERNAME, SANDBOX_PASSWORD, Role

from .conftest import make_connection


def test_a_healthy_connection_passes_without_warnings(connection, transport, sim):
    result = vantagepoint_connection_test(connection, transport=transport)
    assert result.ok and result.warnings == []
    assert any("Logged in" in line for line in result.lines)
    assert any("Invoice amounts visible" in line for line in result.lines)
    assert [g.grant_type for g in sim.grants] == ["password"]


def test_the_probe_warns_when_the_role_hides_fees(db, transport, sim):
    connection = make_connection(username=FEES_HIDDEN_USERNAME)
    result = vantagepoint_connection_test(connection, transport=transport)
    assert result.ok
    [warning] = result.warnings
    assert "hides billing amounts" in warning and "AR balance" in warning


def test_the_probe_warns_when_every_money_field_reads_zero(db, transport, sim):
    sim.add_user("blind", SANDBOX_PASSWORD, role=Role("BLIND", hidden={
        "IN": frozenset({"Amount", "UnitPrice"}), "ARBalance": frozenset({"OriginalAmt", "Paid", "Balance"})}))
    result = vantagepoint_connection_test(make_connection(username="blind"), transport=transport)
    assert result.ok
    [warning] = result.warnings
    assert "reads 0" in warning and "hides money fields" in warning


def test_no_posted_invoice_means_no_verdict_rather_than_a_false_alarm(connection, transport, sim):
    sim.tables.ledgers["IN"].clear()
    result = vantagepoint_connection_test(connection, transport=transport)
    assert result.ok and result.warnings == []
    assert any("could not be checked" in line for line in result.lines)


def test_a_refused_login_fails_the_test_with_its_cause_and_no_secret(db, transport):
    connection = make_connection(password="wrong-Pa55word-SECRET")
    result = vantagepoint_connection_test(connection, transport=transport)
    assert not result.ok
    assert any("user name or password is wrong" in line for line in result.lines)
    assert all("wrong-Pa55word-SECRET" not in line for line in result.lines + result.warnings)


def test_an_unreachable_server_fails_the_test_as_transient(connection, transport, sim):
    sim.faults.fail(503, path="/token", times=None)
    result = vantagepoint_connection_test(connection, transport=transport, sleep=lambda s: None)
    assert not result.ok and any("transient" in line for line in result.lines)
