"""One authenticated conversation with a tenant's Vantagepoint: tokens, calls, errors.

Tokens are cached on the VantagepointConnection (its fields are encrypted at rest) so every
worker and every run reuses one login until it lapses. `token_expires_at` holds the moment
we stop trusting the access token: the server's expiry from `expires_in`, less a margin
(auth.renew_at). Ahead of that moment a call first refreshes (the refresh grant, then a
full login if the refresh is refused). A 401 anyway (server restarted, token revoked,
clocks apart) does the same once and resends; a second 401 is a config failure.

HTTP statuses become failure kinds here, once, for every endpoint:
400 → data (a validation message) or config (the message speaks of the role or a
permission); 401 → re-authenticate, then config; 403 → config; 404 → config for a
collection (the base URL is wrong) or "not found" for a keyed lookup; 429 and 5xx →
transient (the shared policy has already retried them where that was safe).
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from django.utils import timezone

from connector.failures import ConfigFailure, DataFailure, IntegrationFailure, TransientFailure
from connector.http import HttpPolicy, PolicyClient, parse_retry_after, transport_for

from . import endpoints
from .auth import OAuthRefusal, TokenGrant, grant_from_reply, password_form, refresh_form
from .query import Params, page_params
from .records import SYSTEM

ROLE_WORDS = re.compile(r"\brole\b|permission|not authori[sz]ed|access rights|does not have access", re.I)
TOKEN_FIELDS = ["access_token", "refresh_token", "token_expires_at"]


class RecordNotFound(DataFailure):
    """A keyed lookup (a project, a batch) answered 404: callers usually turn it into None."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # money is quantized to cents before it gets here: exact as a float
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def error_message(response: httpx.Response) -> str:
    """The server's own words, from whichever shape it used."""
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(payload, dict):
        for key in ("Message", "message", "error_description", "error", "ExceptionMessage"):
            if payload.get(key):
                return str(payload[key])[:300]
    return str(payload)[:300]


class VantagepointSession:
    def __init__(self, connection: Any, *, transport: httpx.BaseTransport | None = None,
                 policy: HttpPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = timezone.now) -> None:
        self.connection = connection
        self.clock = clock
        self.sleep = sleep
        self.http = PolicyClient(
            connection.base_url, system=SYSTEM, policy=policy, sleep=sleep,
            transport=transport or transport_for(connection.base_url),
            headers={"Accept": "application/json"}, owner=(SYSTEM, getattr(connection, "pk", None)),
            tenant_id=getattr(connection, "tenant_id", None),
        )

    def close(self) -> None:
        self.http.close()

    # -- secrets never leave in a message ---------------------------------------------------
    def scrub(self, message: str) -> str:
        c = self.connection
        for secret in (c.password, c.client_secret, c.access_token, c.refresh_token):
            if secret and len(secret) >= 4:
                message = message.replace(secret, "***")
        return message

    # -- tokens ---------------------------------------------------------------------------------
    def access_token(self) -> str:
        c = self.connection
        if c.access_token and c.token_expires_at and self.clock() < c.token_expires_at:
            return c.access_token
        self.reauthenticate()
        return c.access_token

    def reauthenticate(self) -> None:
        """The refresh grant if we hold a refresh token, else (or if refused) a full login."""
        self.connection.access_token = ""
        if self.connection.refresh_token and self._refresh():
            return
        self.login()

    def login(self) -> None:
        c = self.connection
        form = password_form(username=c.username, password=c.password, database=c.database,
                             client_id=c.client_id, client_secret=c.client_secret)
        issued_at = self.clock()
        response = self._token_request(form)
        if response.status_code != 200:
            self._store(None)
            raise OAuthRefusal.from_response(response).as_config_failure(self.scrub)
        self._store(grant_from_reply(self.decode(response, "POST", endpoints.TOKEN), issued_at=issued_at))

    def _refresh(self) -> bool:
        c = self.connection
        form = refresh_form(refresh_token=c.refresh_token, database=c.database, client_id=c.client_id,
                            client_secret=c.client_secret)
        issued_at = self.clock()
        response = self._token_request(form)
        if response.status_code == 200:
            self._store(grant_from_reply(self.decode(response, "POST", endpoints.TOKEN), issued_at=issued_at))
            return True
        c.refresh_token = ""  # refused (used, expired, revoked): only a login can help now
        return False

    def _token_request(self, form: dict[str, str]) -> httpx.Response:
        # Safe to resend: a second login or a failed reuse of a refresh token harms nothing.
        return self.http.request("POST", endpoints.TOKEN, data=form, resend_safe=True)

    def _store(self, grant: TokenGrant | None) -> None:
        c = self.connection
        c.access_token = grant.access_token if grant else ""
        c.refresh_token = grant.refresh_token if grant else ""
        c.token_expires_at = grant.renew_at if grant else None
        if getattr(c, "pk", None):
            c.save(update_fields=TOKEN_FIELDS)

    # -- calls ----------------------------------------------------------------------------------
    def send(self, method: str, path: str, *, params: Params | None = None, body: Any = None,
             resend_safe: bool | None = None) -> httpx.Response:
        """An authenticated call; the final response whatever its status (see `check`)."""
        kwargs: dict[str, Any] = {"params": params or []}
        if body is not None:
            kwargs["content"] = json.dumps(body, default=_json_default).encode()
            kwargs["headers"] = {"Content-Type": "application/json"}
        response = self._send_with(self.access_token(), method, path, resend_safe, kwargs)
        if response.status_code == 401:
            self.reauthenticate()
            response = self._send_with(self.connection.access_token, method, path, resend_safe, kwargs)
            if response.status_code == 401:
                raise ConfigFailure(
                    f"{method} {path}: Vantagepoint refused a token it had just issued (401): "
                    "the API user may not use this part of the API", status=401, system=SYSTEM)
        return response

    def _send_with(self, token: str, method: str, path: str, resend_safe: bool | None,
                   kwargs: dict[str, Any]) -> httpx.Response:
        headers = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token}"}
        return self.http.request(method, path, resend_safe=resend_safe, **{**kwargs, "headers": headers})

    def failure_for(self, response: httpx.Response, method: str, path: str,
                    *, collection: bool = True) -> IntegrationFailure:
        status = response.status_code
        message = self.scrub(error_message(response))
        where = f"{method} {path}"
        if status == 400 and ROLE_WORDS.search(message):
            return ConfigFailure(f"{where}: the API user's role does not allow this: {message}",
                                 status=status, system=SYSTEM)
        if status == 400:
            return DataFailure(f"{where} refused: {message}", status=status, system=SYSTEM)
        if status in (401, 403):
            return ConfigFailure(f"{where} forbidden ({status}): the API user's role lacks this right. {message}",
                                 status=status, system=SYSTEM)
        if status == 404 and collection:
            return ConfigFailure(f"{where} not found (404): is {self.connection.base_url} the whole Vantagepoint "
                                 f"API URL (…/<Instance>/api)? {message}", status=status, system=SYSTEM)
        if status == 404:
            return RecordNotFound(f"{where}: not found. {message}", status=status, system=SYSTEM)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"),
                                            cap=self.http.policy.retry_after_cap)
            return TransientFailure(f"{where} answered {status}: {message}", retry_after=retry_after, status=status,
                                    system=SYSTEM)
        return DataFailure(f"{where} answered {status}: {message}", status=status, system=SYSTEM)

    def decode(self, response: httpx.Response, method: str, path: str) -> Any:
        try:
            return response.json(parse_float=Decimal)
        except ValueError:
            snippet = self.scrub(response.text.strip()[:120])
            raise DataFailure(f"{method} {path} answered {response.status_code} with no JSON: {snippet!r}",
                              status=response.status_code, system=SYSTEM) from None

    def call(self, method: str, path: str, *, params: Params | None = None, body: Any = None,
             resend_safe: bool | None = None, collection: bool = True) -> Any:
        """`send`, then a failure for any non-2xx status, else the decoded JSON."""
        response = self.send(method, path, params=params, body=body, resend_safe=resend_safe)
        if not response.is_success:
            raise self.failure_for(response, method, path, collection=collection)
        return self.decode(response, method, path)

    def rows(self, path: str, params: Params | None = None, *, collection: bool = True) -> list[dict[str, Any]]:
        payload = self.call("GET", path, params=params, collection=collection)
        if not isinstance(payload, list) or not all(isinstance(row, dict) for row in payload):
            raise DataFailure(f"GET {path} should answer a bare JSON array of records, got "
                              f"{type(payload).__name__}", system=SYSTEM)
        return payload

    def pages(self, path: str, params: Params, *, page_size: int) -> Iterator[list[dict[str, Any]]]:
        """Pages 1, 2, ... until a short page (there is no total count)."""
        page, previous = 1, None
        while True:
            rows = self.rows(path, params + page_params(page, page_size))
            if len(rows) > page_size:
                raise DataFailure(f"GET {path} ignored pageSize={page_size} (answered {len(rows)} rows)",
                                  system=SYSTEM)
            if rows and rows == previous:
                raise DataFailure(f"GET {path} answered page {page} like page {page - 1}: it ignores `page`",
                                  system=SYSTEM)
            yield rows
            if len(rows) < page_size:
                return
            previous, page = rows, page + 1
