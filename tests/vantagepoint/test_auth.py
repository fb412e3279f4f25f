"""Tokens: the documented grants, cached encrypted, renewed ahead of expiry, recovered on 401."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.db import connection as db_connection

from connector.failures import ConfigFailure
from connector.vantagepoint import VantagepointClient
from sandbox.vantagepoint import (
    DISABLED_USERNAME,
    NO_PASSWORD_GRANT_CLIENT_ID,
    NO_PASSWORD_GRANT_CLIENT_SECRET,
    create_app,
)
from tenants.models import VantagepointConnection

from .conftest import make_connection


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def grant_log(sim) -> list[tuple[str, bool]]:
    return [(g.grant_type, g.ok) for g in sim.grants]


def statuses(sim, path: str) -> list[int | None]:
    return [r.status for r in sim.requests_to(path)]


def test_the_token_is_cached_encrypted_and_reused_by_the_next_client(client, sim, connection, transport):
    client.firms(clients=True)
    stored = VantagepointConnection.objects.get(pk=connection.pk)
    assert stored.access_token and stored.refresh_token and stored.token_expires_at
    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT access_token, refresh_token FROM {VantagepointConnection._meta.db_table} "
                       "WHERE id = %s", [connection.pk])
        raw_access, raw_refresh = cursor.fetchone()
    assert stored.access_token not in raw_access and stored.refresh_token not in raw_refresh
    with VantagepointClient(stored, transport=transport, sleep=lambda s: None) as second:
        second.firms(vendors=True)
    assert grant_log(sim) == [("password", True)]


def test_renewal_time_is_computed_from_expires_in(db):
    for lifetime in (1799, 300):
        sim = create_app(seed_size=2, token_lifetime=lifetime)
        clock = FakeClock()
        connection = make_connection()
        with VantagepointClient(connection, transport=httpx.WSGITransport(app=sim), clock=clock) as client:
            client.authenticate()
        margin = min(timedelta(seconds=lifetime) / 10, timedelta(seconds=60))
        assert connection.token_expires_at == clock.now + timedelta(seconds=lifetime) - margin


@pytest.mark.django_db
def test_the_token_is_refreshed_ahead_of_expiry_without_a_401(transport, sim, sleeps):
    clock = FakeClock()
    connection = make_connection()
    with VantagepointClient(connection, transport=transport, sleep=sleeps.append, clock=clock) as client:
        client.firms()
        clock.now += timedelta(seconds=1738)
        client.firms()
        assert grant_log(sim) == [("password", True)]
        clock.now += timedelta(seconds=2)  # inside the last tenth of 1799 s
        client.firms()
    assert grant_log(sim) == [("password", True), ("refresh_token", True)]
    assert 401 not in statuses(sim, "/firm")


def test_token_expiry_in_the_middle_of_a_paged_read(client, sim):
    # Before the third page the server's clock passes the token's 1799 s; ours does not.
    sim.faults.call(lambda: sim.clock.advance(seconds=1800), path="/PSALedger/IN", skip=2)
    page = client.ar_invoices_since(None, page_size=10)
    assert {i.key for i in page.invoices} == {f"{n}:{p}:{s}" for n, p, s in sim.invoice_keys()}
    assert statuses(sim, "/PSALedger/IN").count(401) == 1
    assert grant_log(sim) == [("password", True), ("refresh_token", True)]


def test_refresh_refused_then_a_fresh_login(client, sim, connection):
    client.firms()

    def expire_everything():
        sim.clock.advance(seconds=1800)
        sim.revoke_refresh_tokens()

    sim.faults.call(expire_everything, path="/PSALedger/IN", skip=1)
    page = client.ar_invoices_since(None, page_size=25)
    assert len(page.invoices) == len(sim.invoice_keys())
    assert grant_log(sim) == [("password", True), ("refresh_token", False), ("password", True)]
    stored = VantagepointConnection.objects.get(pk=connection.pk)
    assert sim.auth.user_for(f"Bearer {stored.access_token}") is not None


def test_when_login_fails_too_the_config_failure_names_the_cause(client, sim):
    client.firms()

    def lock_out():
        sim.clock.advance(seconds=1800)
        sim.set_login_enabled("api", False)

    sim.faults.call(lock_out, path="/firm")
    with pytest.raises(ConfigFailure) as failure:
        client.firms()
    assert "login is disabled" in failure.value.message
    assert grant_log(sim) == [("password", True), ("refresh_token", False), ("password", False)]


@pytest.mark.parametrize("overrides, cause", [
    ({"username": DISABLED_USERNAME}, "login is disabled"),
    ({"client_id": NO_PASSWORD_GRANT_CLIENT_ID, "client_secret": NO_PASSWORD_GRANT_CLIENT_SECRET},
     "Allow Password Grant Type"),
    ({"client_secret": "wrong-SECRET-value"}, "client secret"),
    ({"database": "OtherDB"}, "database name is wrong"),
    ({"password": "wrong-Pa55word-SECRET"}, "user name or password is wrong"),
])
def test_a_refused_login_is_a_config_failure_naming_the_cause(db, transport, overrides, cause):
    connection = make_connection(**overrides)
    with VantagepointClient(connection, transport=transport, sleep=lambda s: None) as client:
        with pytest.raises(ConfigFailure) as failure:
            client.firms()
    message = str(failure.value)
    assert cause in message
    for secret in (connection.password, connection.client_secret):
        assert secret not in message


def test_a_second_401_after_a_fresh_token_is_a_config_failure(client, sim):
    client.firms()
    sim.faults.fail(401, path="/project", times=2)
    with pytest.raises(ConfigFailure) as failure:
        client.projects()
    assert failure.value.status == 401
    assert [g.grant_type for g in sim.grants] == ["password", "refresh_token"]


def test_the_token_form_is_exactly_the_documented_one(client, sim):
    """If the client misspelled a field, the strict simulator would refuse the login."""
    client.authenticate()
    client.session.connection.access_token = ""  # force the refresh path too
    client.session.reauthenticate()
    assert grant_log(sim) == [("password", True), ("refresh_token", True)]
