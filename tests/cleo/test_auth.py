"""Logging in to Cleo: cached encrypted tokens, refresh, re-login, and accounts that cannot."""
from __future__ import annotations

import pytest
from django.db import connection as db_connection

from connector.failures import ConfigFailure
from edi.cleo.paths import AUTHENTICATION
from sandbox.cleo import SSO_USERNAME, TOTP_PASSWORD, TOTP_USERNAME

from .conftest import make_client


def logins(sim) -> int:
    return len(sim.calls_to(path_contains=AUTHENTICATION))


def raw_column(connection, column: str) -> str:
    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM tenants_cleoconnection WHERE id = %s", [connection.pk])
        return cursor.fetchone()[0]


def test_first_call_logs_in_and_caches_the_token_encrypted(client, connection, sim):
    client.list_folders()
    connection.refresh_from_db()
    assert connection.access_token.startswith("at_")
    assert connection.refresh_token.startswith("rt_")
    assert connection.token_expires_at is not None
    stored = raw_column(connection, "access_token")
    assert stored and connection.access_token not in stored  # a Fernet token, not the bearer token
    assert logins(sim) == 1


def test_cached_token_is_reused_by_a_new_client(connection, sim, sim_time):
    with make_client(connection, sim, sim_time) as first:
        first.list_folders()
    fresh = type(connection).objects.get(pk=connection.pk)
    with make_client(fresh, sim, sim_time) as second:
        second.list_folders()
    assert logins(sim) == 1


def test_expired_token_is_refreshed_on_401(client, connection, sim):
    client.list_folders()
    first_access, first_refresh = connection.access_token, connection.refresh_token
    sim.expire_tokens()  # Cleo's clock says expired; ours still believes the stated lifetime

    assert [f.name for f in client.list_folders()] == ["Outbound", "Inbound", "Inbound Processed"]

    connection.refresh_from_db()
    assert connection.access_token != first_access
    assert connection.refresh_token != first_refresh  # refresh tokens rotate
    assert logins(sim) == 2
    statuses = [c.status for c in sim.calls_to(path_contains="/api/folders")]
    assert statuses == [200, 401, 200]


def test_dead_refresh_token_falls_back_to_a_password_login(client, connection, sim):
    client.list_folders()
    sim.revoke_tokens()  # access and refresh tokens both refused

    client.list_folders()

    auth_statuses = [c.status for c in sim.calls_to(path_contains=AUTHENTICATION)]
    assert auth_statuses == [200, 401, 200]  # login, refused refresh, login again
    connection.refresh_from_db()
    assert sim.tokens[connection.access_token].kind == "access"


def test_token_about_to_expire_is_renewed_before_the_call(client, connection, sim):
    from datetime import timedelta

    from django.utils import timezone

    client.list_folders()
    connection.token_expires_at = timezone.now() + timedelta(seconds=10)
    client.list_folders()
    assert [c.status for c in sim.calls_to(path_contains="/api/folders")] == [200, 200]  # no 401 on the way
    assert logins(sim) == 2


def test_a_token_renewed_by_another_worker_is_used_rather_than_logging_in(connection, sim, sim_time):
    with make_client(connection, sim, sim_time) as worker_a:
        worker_a.list_folders()
    stale = type(connection).objects.get(pk=connection.pk)
    sim.revoke_tokens()
    with make_client(connection, sim, sim_time) as worker_b:
        connection.access_token = ""
        worker_b.list_folders()  # logs in, saves the new token
    before = logins(sim)
    with make_client(stale, sim, sim_time) as worker_a_again:
        worker_a_again.list_folders()  # 401 with the old token, then finds worker B's in the database
    assert logins(sim) == before
    assert [c.status for c in sim.calls_to(path_contains="/api/folders")][-2:] == [401, 200]


def test_totp_account_gets_a_clear_config_failure(connection, sim, sim_time):
    connection.username, connection.password = TOTP_USERNAME, TOTP_PASSWORD
    connection.save()
    with make_client(connection, sim, sim_time) as cleo, pytest.raises(ConfigFailure) as caught:
        cleo.list_folders()
    message = str(caught.value)
    assert "two-factor" in message.lower()
    assert "service account without TOTP two-factor authentication or SSO" in message
    assert TOTP_PASSWORD not in message


def test_sso_account_gets_a_clear_config_failure(connection, sim, sim_time):
    connection.username, connection.password = SSO_USERNAME, "whatever-SECRET"
    with make_client(connection, sim, sim_time) as cleo, pytest.raises(ConfigFailure) as caught:
        cleo.list_folders()
    assert "single sign-on" in str(caught.value)
    assert "service account" in str(caught.value)


def test_wrong_password_is_a_config_failure_without_the_password(connection, sim, sim_time):
    connection.password = "wrong-SECRET-pw"
    with make_client(connection, sim, sim_time) as cleo, pytest.raises(ConfigFailure) as caught:
        cleo.list_folders()
    message = str(caught.value)
    assert "Invalid username or password" in message
    assert "wrong-SECRET-pw" not in message
    assert caught.value.status == 401


def test_wrong_base_url_says_so(connection, sim, sim_time):
    connection.base_url = "http://cleo.test/not-here"
    with make_client(connection, sim, sim_time) as cleo, pytest.raises(ConfigFailure) as caught:
        cleo.list_folders()
    assert "base URL" in str(caught.value)
