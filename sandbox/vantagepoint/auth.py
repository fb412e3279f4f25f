"""The token endpoint: the password and refresh grants, users, roles and API authorizations.

Strict on purpose. The password grant takes exactly the form fields Deltek documents
(`Username`, `Password`, `grant_type`, `Integrated`, `database`, `Client_Id`,
`client_secret`, optional `culture`) and the refresh grant exactly `grant_type`,
`refresh_token`, `database`, `client_id`, `client_secret`; any other name (say `username`
in lower case) is refused, so a client that would fail against the real server fails
here first. Errors use the OAuth shape `{"error", "error_description"}` with status 400.
The descriptions are ours (assumed): a client may read the `error` code, and match the
description only loosely.

Access tokens live `lifetime` seconds (1799, Deltek's example) on the simulator's clock;
refresh tokens are single use and live `refresh_lifetime`.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

PASSWORD_FIELDS = frozenset({"Username", "Password", "grant_type", "Integrated", "database", "Client_Id",
                             "client_secret", "culture"})
PASSWORD_REQUIRED = PASSWORD_FIELDS - {"culture"}
REFRESH_FIELDS = frozenset({"grant_type", "refresh_token", "database", "client_id", "client_secret"})


class SimClock:
    """The simulator's own time: tests advance it to expire tokens on demand."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


@dataclass(frozen=True)
class Role:
    """What a Vantagepoint security role lets the API user see and post.

    `hidden` maps a table (firm, project, IN, AP, CR, ARBalance) to the money columns that
    read 0 for this role: Vantagepoint hides a secured field by returning 0, not an error.
    """

    name: str
    hidden: dict[str, frozenset[str]] = field(default_factory=dict)
    may_post: frozenset[str] = frozenset({"AP", "CR"})


FULL_ACCESS = Role("ACCOUNTING")
# The classic: a project-manager role that may not see billing amounts ("fees read $0").
FEES_HIDDEN = Role("PM-NO-FEES", hidden={"IN": frozenset({"Amount", "UnitPrice"})}, may_post=frozenset())


@dataclass
class SimUser:
    username: str
    password: str
    role: Role = FULL_ACCESS
    login_enabled: bool = True


@dataclass
class ApiAuthorization:
    """Settings > Integrations > API Authorization: a client id, its secret and the grant switch."""

    client_id: str
    client_secret: str
    allow_password_grant: bool = True


class OAuthError(Exception):
    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def payload(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


@dataclass
class IssuedToken:
    access_token: str
    refresh_token: str
    username: str
    client_id: str
    expires_at: datetime
    refresh_expires_at: datetime
    refresh_used: bool = False


@dataclass(frozen=True)
class GrantRecord:
    """One call of the token endpoint, for tests to inspect: which grant, and did it work."""

    grant_type: str
    ok: bool
    error: str = ""


class TokenAuthority:
    def __init__(self, *, clock: SimClock, databases: set[str], users: list[SimUser],
                 authorizations: list[ApiAuthorization], lifetime: int = 1799,
                 refresh_lifetime: timedelta = timedelta(hours=8)) -> None:
        self.clock = clock
        self.databases = databases
        self.users = {u.username.lower(): u for u in users}
        self.authorizations = {a.client_id: a for a in authorizations}
        self.lifetime = lifetime
        self.refresh_lifetime = refresh_lifetime
        self.grants: list[GrantRecord] = []
        self._by_access: dict[str, IssuedToken] = {}
        self._by_refresh: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    # -- the endpoint ----------------------------------------------------------------------
    def grant(self, form: list[tuple[str, str]]) -> dict[str, object]:
        fields = dict(form)
        grant_type = fields.get("grant_type", "")
        try:
            if len(fields) != len(form):
                raise OAuthError("invalid_request", "A parameter appears more than once.")
            if grant_type == "password":
                reply = self._password(fields)
            elif grant_type == "refresh_token":
                reply = self._refresh(fields)
            elif not grant_type:
                raise OAuthError("invalid_request", "The grant_type parameter is missing.")
            else:
                raise OAuthError("unsupported_grant_type")
        except OAuthError as exc:
            self.grants.append(GrantRecord(grant_type, False, exc.error))
            raise
        self.grants.append(GrantRecord(grant_type, True))
        return reply

    def _check_fields(self, fields: dict[str, str], allowed: frozenset[str], required: frozenset[str]) -> None:
        for name in fields:
            if name not in allowed:
                raise OAuthError("invalid_request", f"The parameter '{name}' is not recognised.")
        for name in sorted(required):
            if not fields.get(name):
                raise OAuthError("invalid_request", f"The parameter '{name}' is missing.")

    def _client(self, client_id: str, client_secret: str) -> ApiAuthorization:
        authorization = self.authorizations.get(client_id)
        if authorization is None or not secrets.compare_digest(authorization.client_secret, client_secret):
            raise OAuthError("invalid_client", "The client_id or client_secret is not valid.")
        return authorization

    def _database(self, name: str) -> None:
        if name.lower() not in {d.lower() for d in self.databases}:
            raise OAuthError("invalid_grant", f"The database '{name}' is not valid.")

    def _password(self, fields: dict[str, str]) -> dict[str, object]:
        self._check_fields(fields, PASSWORD_FIELDS, PASSWORD_REQUIRED)
        if fields["Integrated"] != "N":
            raise OAuthError("invalid_request", "Integrated (Windows) authentication is not available; send N.")
        authorization = self._client(fields["Client_Id"], fields["client_secret"])
        if not authorization.allow_password_grant:
            raise OAuthError("unauthorized_client", "The password grant type is not allowed for this client.")
        self._database(fields["database"])
        user = self.users.get(fields["Username"].lower())
        if user is None or not secrets.compare_digest(user.password, fields["Password"]):
            raise OAuthError("invalid_grant", "The user name or password is incorrect.")
        if not user.login_enabled:
            raise OAuthError("invalid_grant", "The user account is disabled.")
        return self._issue(user, authorization.client_id)

    def _refresh(self, fields: dict[str, str]) -> dict[str, object]:
        self._check_fields(fields, REFRESH_FIELDS, REFRESH_FIELDS)
        authorization = self._client(fields["client_id"], fields["client_secret"])
        self._database(fields["database"])
        with self._lock:
            issued = self._by_refresh.get(fields["refresh_token"])
            now = self.clock.now()
            if (issued is None or issued.refresh_used or issued.refresh_expires_at <= now
                    or issued.client_id != authorization.client_id):
                raise OAuthError("invalid_grant", "The refresh token is invalid or has expired.")
            issued.refresh_used = True
        user = self.users.get(issued.username.lower())
        if user is None or not user.login_enabled:
            raise OAuthError("invalid_grant", "The user account is disabled.")
        return self._issue(user, authorization.client_id)

    def _issue(self, user: SimUser, client_id: str) -> dict[str, object]:
        now = self.clock.now()
        issued = IssuedToken(
            access_token=secrets.token_urlsafe(32), refresh_token=secrets.token_urlsafe(32),
            username=user.username, client_id=client_id, expires_at=now + timedelta(seconds=self.lifetime),
            refresh_expires_at=now + self.refresh_lifetime,
        )
        with self._lock:
            self._by_access[issued.access_token] = issued
            self._by_refresh[issued.refresh_token] = issued
        return {
            "access_token": issued.access_token, "token_type": "bearer", "expires_in": self.lifetime,
            "refresh_token": issued.refresh_token,
            ".issued": now.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            ".expires": issued.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }

    # -- bearer check ----------------------------------------------------------------------
    def user_for(self, authorization_header: str | None) -> SimUser | None:
        if not authorization_header or not authorization_header.lower().startswith("bearer "):
            return None
        with self._lock:
            issued = self._by_access.get(authorization_header[7:].strip())
        if issued is None or issued.expires_at <= self.clock.now():
            return None
        user = self.users.get(issued.username.lower())
        return user if user is not None and user.login_enabled else None

    # -- control ---------------------------------------------------------------------------
    def expire_access_tokens(self) -> None:
        with self._lock:
            self._by_access.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            for issued in self._by_refresh.values():
                issued.refresh_used = True
