"""Vantagepoint's token grants, and what a refused login means for the admin.

The forms are exactly the ones Deltek documents: the password grant with `Username`,
`Password`, `grant_type=password`, `Integrated=N`, `database`, `Client_Id`,
`client_secret`; the refresh grant with `grant_type=refresh_token`, `refresh_token`,
`database`, `client_id`, `client_secret` (note the lower-case `client_id` there).

A refused login is a config failure the admin must act on, so its message names the cause
(login disabled, password grant not allowed, wrong client secret, wrong database, wrong
password), derived from the OAuth `error` code first and the description's words second:
the descriptions are not published, so they are matched loosely.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from connector.failures import ConfigFailure, DataFailure

from .records import SYSTEM

# Renew this long before the server's expiry, at most: a tenth of the lifetime, capped.
RENEW_AHEAD_CAP = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    renew_at: datetime  # aware; when to stop trusting the access token


def password_form(*, username: str, password: str, database: str, client_id: str, client_secret: str) -> dict[str, str]:
    return {"Username": username, "Password": password, "grant_type": "password", "Integrated": "N",
            "database": database, "Client_Id": client_id, "client_secret": client_secret}


def refresh_form(*, refresh_token: str, database: str, client_id: str, client_secret: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "database": database,
            "client_id": client_id, "client_secret": client_secret}


def renew_at(issued_at: datetime, expires_in: float) -> datetime:
    """When to renew: the server's expiry less a margin of a tenth of the lifetime (at most
    a minute), so a call never leaves with a token about to lapse in flight."""
    lifetime = timedelta(seconds=expires_in)
    return issued_at + lifetime - min(lifetime / 10, RENEW_AHEAD_CAP)


def grant_from_reply(payload: Any, *, issued_at: datetime) -> TokenGrant:
    if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
        raise DataFailure("the token endpoint answered without an access_token", system=SYSTEM)
    try:
        expires_in = float(payload.get("expires_in"))
    except (TypeError, ValueError):
        raise DataFailure("the token endpoint answered without a usable expires_in", system=SYSTEM) from None
    if payload.get("token_type", "bearer").lower() != "bearer":
        raise DataFailure(f"unexpected token_type {payload.get('token_type')!r}", system=SYSTEM)
    return TokenGrant(payload["access_token"], str(payload.get("refresh_token") or ""),
                      renew_at(issued_at, expires_in))


@dataclass(frozen=True)
class OAuthRefusal:
    status: int
    error: str
    description: str

    @classmethod
    def from_response(cls, response: httpx.Response) -> OAuthRefusal:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            error = str(payload.get("error") or "")
            description = str(payload.get("error_description") or payload.get("Message") or "")
        else:
            error, description = "", response.text[:200]
        return cls(response.status_code, error, description.strip())

    def cause(self) -> str:
        text = self.description.lower()
        if self.error == "invalid_request":
            return "Vantagepoint refused the login form itself (a connector defect or an unexpected server version)"
        if self.error == "invalid_client" or "client_secret" in text or "client secret" in text:
            return ("the client secret (or client id) is wrong: compare it with the API Authorization "
                    "in Vantagepoint (Settings > Integrations)")
        if self.error == "unauthorized_client" or "grant type" in text:
            return ("the password grant is not allowed for this client id: tick \"Allow Password Grant Type\" "
                    "on its API Authorization in Vantagepoint")
        if "disabled" in text or "inactive" in text or "locked" in text:
            return "the API user's login is disabled in Vantagepoint"
        if "database" in text:
            return "the database name is wrong"
        if self.error == "invalid_grant":
            return "the user name or password is wrong"
        if self.error == "unsupported_grant_type":
            return "this server does not accept the password grant"
        if self.status == 404:
            return "no Vantagepoint token endpoint at this base URL: check the whole API URL"
        return "Vantagepoint refused the login"

    def as_config_failure(self, scrub: Any) -> ConfigFailure:
        detail = f"{self.error}: {self.description}" if self.error else self.description
        message = f"Vantagepoint login failed: {self.cause()}"
        if detail:
            message += f" ({detail})"
        return ConfigFailure(scrub(message), status=self.status, system=SYSTEM)
