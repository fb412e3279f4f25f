"""Bearer tokens for one Cleo connection: cached encrypted, refreshed, renewed by login.

Cleo's token endpoint takes a password grant (doc); a refresh grant and token lifetime are
unpublished, so both are used when the answer offers them and never relied on: a 401 tries
the refresh token once, then a fresh password login. Tokens live on the CleoConnection
(encrypted fields) so every worker reuses one login instead of each logging in per task.

Accounts with TOTP two-factor or SSO cannot complete a password grant. Cleo's wording for
that refusal is unpublished, so any refused login says what to do about it, and one whose
message mentions two-factor or SSO says so first.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from django.utils import timezone

from connector.failures import ConfigFailure, DataFailure
from connector.http import PolicyClient
from tenants.models import CleoConnection

from . import paths

log = logging.getLogger(__name__)

SYSTEM = "cleo"
# Renew a little before the stated expiry so a token does not lapse between check and use.
EXPIRY_MARGIN = timedelta(seconds=60)
TOKEN_FIELDS = ["access_token", "refresh_token", "token_expires_at"]
SERVICE_ACCOUNT_ADVICE = (
    "Use a Cleo service account without TOTP two-factor authentication or SSO for this connection."
)
TWO_FACTOR_WORDS = re.compile(
    r"two[- ]?factor|2fa|\btotp\b|\bmfa\b|multi[- ]?factor|one[- ]time|\botp\b|\bsso\b|single sign[- ]on|saml",
    re.IGNORECASE,
)


class CleoSession:
    """The connection's current bearer token, renewed as needed; safe across threads."""

    def __init__(self, connection: CleoConnection, http: PolicyClient, *,
                 now: Callable[[], datetime] = timezone.now) -> None:
        self.connection = connection
        self.http = http
        self.now = now
        self._lock = threading.Lock()

    def bearer(self) -> str:
        """A token believed valid: the cached one unless it is missing or about to expire."""
        with self._lock:
            if self._usable():
                return self.connection.access_token
            return self._renew()

    def renew_after_401(self, rejected: str) -> str:
        """Cleo refused `rejected`: use a token another thread or worker already renewed, else
        refresh, else log in again."""
        with self._lock:
            if self.connection.access_token and self.connection.access_token != rejected and self._usable():
                return self.connection.access_token
            if self.connection.pk:
                self.connection.refresh_from_db(fields=TOKEN_FIELDS)
                if self.connection.access_token != rejected and self._usable():
                    return self.connection.access_token
            # The cached token is dead whatever its stated expiry.
            self.connection.token_expires_at = None
            self.connection.access_token = ""
            return self._renew()

    def _usable(self) -> bool:
        expires = self.connection.token_expires_at
        return bool(self.connection.access_token) and (expires is None or expires > self.now() + EXPIRY_MARGIN)

    def _renew(self) -> str:
        if self.connection.refresh_token and self._refresh():
            return self.connection.access_token
        self._log_in()
        return self.connection.access_token

    def _refresh(self) -> bool:
        response = self._post({"grant_type": "refresh_token", "refresh_token": self.connection.refresh_token})
        if response.status_code == 200:
            self._store(response)
            return True
        log.info("Cleo refused the refresh token for %s (HTTP %s); logging in again",
                 self.connection.username, response.status_code)
        return False

    def _log_in(self) -> None:
        response = self._post({
            "grant_type": "password",
            "username": self.connection.username,
            "password": self.connection.password,
        })
        if response.status_code == 200:
            self._store(response)
            return
        raise login_refused(response, username=self.connection.username, password=self.connection.password)

    def _post(self, form: dict[str, str]) -> httpx.Response:
        # A token request creates nothing a partner sees: resending it is harmless.
        return self.http.request("POST", self.connection.base_url.rstrip("/") + paths.AUTHENTICATION,
                                 data=form, resend_safe=True)

    def _store(self, response: httpx.Response) -> None:
        try:
            body = response.json()
            access = body["access_token"]
        except (ValueError, KeyError, TypeError):
            raise DataFailure("Cleo's authentication answer has no access_token", system=SYSTEM) from None
        expires_in = body.get("expires_in")
        self.connection.access_token = str(access)
        self.connection.refresh_token = str(body.get("refresh_token") or "")
        self.connection.token_expires_at = (
            self.now() + timedelta(seconds=float(expires_in)) if isinstance(expires_in, int | float) else None
        )
        if self.connection.pk:
            self.connection.save(update_fields=TOKEN_FIELDS)


def login_refused(response: httpx.Response, *, username: str, password: str) -> ConfigFailure:
    """The config failure for a refused password grant, with what to do about it."""
    status = response.status_code
    message = server_message(response, secrets=(password,))
    if status == 404:
        return ConfigFailure(
            f"Cleo has no {paths.AUTHENTICATION} at this base URL (HTTP 404): check the connection's base URL, "
            "e.g. https://<tenant>.cleointegration.com", status=status, system=SYSTEM)
    if TWO_FACTOR_WORDS.search(message):
        return ConfigFailure(
            f"Cleo refused the password login for '{username}': {message.rstrip('.')}. This account uses two-factor "
            f"authentication or single sign-on, which the API's password grant cannot complete. "
            f"{SERVICE_ACCOUNT_ADVICE}", status=status, system=SYSTEM)
    detail = f": {message.rstrip('.')}" if message else ""
    return ConfigFailure(
        f"Cleo refused the password login for '{username}' (HTTP {status}){detail}. Check the username and "
        f"password. {SERVICE_ACCOUNT_ADVICE}", status=status, system=SYSTEM)


def server_message(response: httpx.Response, *, secrets: tuple[str, ...] = ()) -> str:
    """Cleo's top-level `message`, trimmed, with anything secret we sent blanked out."""
    try:
        body = response.json()
        text = str(body.get("message", "")) if isinstance(body, dict) else ""
    except ValueError:
        text = response.text if response.headers.get("content-type", "").startswith("text/") else ""
    text = " ".join(text.split())[:300]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
