"""The simulator as a WSGI app, and the Python control API tests drive it with.

Everything answers under `/<Instance>/api` (default `/Sandbox/api`); paths below it are
matched without regard to case, as IIS does. Reads answer bare JSON arrays, even for one
record; errors are `{"Message": ...}` (token errors are OAuth-shaped, see auth.py); a
missing, unknown or expired bearer token gets 401.
"""
from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from . import tables as t
from .auth import (
    FEES_HIDDEN,
    FULL_ACCESS,
    ApiAuthorization,
    GrantRecord,
    OAuthError,
    Role,
    SimClock,
    SimUser,
    TokenAuthority,
)
from .dataentry import Batch, DataEntry
from .faults import FaultRule, Faults
from .query import run_query
from .seed import START, build_tables, invoice_lines
from .web import HttpError, Request, Response, json_response, refuse, to_json

SANDBOX_DATABASE = "SandboxDB"
SANDBOX_USERNAME = "api"
SANDBOX_PASSWORD = "sandbox-Pa55word"
SANDBOX_CLIENT_ID = "ml-connector"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
DISABLED_USERNAME = "former.employee"
FEES_HIDDEN_USERNAME = "pm.viewer"
NO_PASSWORD_GRANT_CLIENT_ID = "reporting-app"
NO_PASSWORD_GRANT_CLIENT_SECRET = "reporting-client-secret"
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int | None  # what the caller received; None: dropped or timed out
    query: tuple[tuple[str, str], ...] = ()
    fault: str = ""

    def arg(self, name: str) -> str | None:
        return next((v for k, v in self.query if k.lower() == name.lower()), None)


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Response]
    public: bool = False


@dataclass
class _Outcome:
    response: Response | None = None
    raise_after: BaseException | None = None
    fault: list[str] = field(default_factory=list)


class VantagepointSimulator:
    def __init__(self, *, seed_size: int = 12, seed: int = 4, instance: str = "Sandbox",
                 database: str = SANDBOX_DATABASE, sleep: Callable[[float], None] = time.sleep,
                 token_lifetime: int = 1799, refresh_lifetime: timedelta = timedelta(hours=8),
                 max_page_size: int = MAX_PAGE_SIZE, start: datetime = START) -> None:
        self.root = f"/{instance}/api"
        self.sleep = sleep
        self.max_page_size = max_page_size
        self.clock = SimClock(start)
        self.tables = build_tables(seed_size, seed=seed)
        self.auth = TokenAuthority(
            clock=self.clock, databases={database}, lifetime=token_lifetime, refresh_lifetime=refresh_lifetime,
            users=[SimUser(SANDBOX_USERNAME, SANDBOX_PASSWORD),
                   SimUser(DISABLED_USERNAME, SANDBOX_PASSWORD, login_enabled=False),
                   SimUser(FEES_HIDDEN_USERNAME, SANDBOX_PASSWORD, role=FEES_HIDDEN)],
            authorizations=[ApiAuthorization(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
                            ApiAuthorization(NO_PASSWORD_GRANT_CLIENT_ID, NO_PASSWORD_GRANT_CLIENT_SECRET,
                                             allow_password_grant=False)],
        )
        self.entry = DataEntry(self.tables, self.clock)
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._routes = [
            _Route("POST", re.compile(r"/token", re.I), self._token, public=True),
            _Route("GET", re.compile(r"/firm", re.I), self._firms),
            _Route("GET", re.compile(r"/firm/(?P<client_id>[^/]+)", re.I), self._firm),
            _Route("GET", re.compile(r"/project", re.I), self._projects),
            _Route("GET", re.compile(r"/project/(?P<wbs1>[^/]+)", re.I), self._project),
            _Route("GET", re.compile(r"/project/(?P<wbs1>[^/]+)/phase", re.I), self._phases),
            _Route("GET", re.compile(r"/project/(?P<wbs1>[^/]+)/phase/(?P<wbs2>[^/]+)/task", re.I), self._tasks),
            _Route("GET", re.compile(r"/account", re.I), self._accounts),
            _Route("GET", re.compile(r"/PSALedger/(?P<kind>IN|AP|CR)", re.I), self._ledger),
            _Route("GET", re.compile(r"/ARReview/ARBalance", re.I), self._ar_balance),
            _Route("POST", re.compile(r"/DataEntry/(?P<kind>ap|cr)Control", re.I), self._create_batch),
            _Route("GET", re.compile(r"/DataEntry/(?P<kind>ap|cr)Control/(?P<batch>[^/]+)", re.I), self._get_batch),
            _Route("PUT", re.compile(r"/DataEntry/PostTransFile", re.I), self._post_trans_file),
        ]

    # == WSGI ================================================================================
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path_info = environ.get("PATH_INFO", "") or "/"
        if not path_info.lower().startswith(self.root.lower()):
            response = json_response({"Message": f"No HTTP resource was found that matches '{path_info}'."}, 404)
            start_response(response.status_line, response.headers)
            return [response.body]
        request = Request.from_environ(environ, path=path_info[len(self.root):].rstrip("/") or "/")
        outcome = self._with_faults(request)
        # `status` is what the caller received: None when the connection dropped or timed out
        # (the fault names what the server did meanwhile).
        received = outcome.response.status if outcome.response and outcome.raise_after is None else None
        if outcome.response and outcome.raise_after is not None:
            outcome.fault.append(f"processed as {outcome.response.status}")
        record = RequestRecord(request.method, request.path, received, tuple(request.query), ",".join(outcome.fault))
        with self._lock:
            self.requests.append(record)
        if outcome.raise_after is not None:
            raise outcome.raise_after
        response = outcome.response
        assert response is not None
        start_response(response.status_line, response.headers)
        return [response.body]

    def _with_faults(self, request: Request) -> _Outcome:
        outcome = _Outcome()
        rules = self.faults.firing(request.method, request.path)
        for rule in rules:
            if rule.action == "call" and rule.fn is not None:
                rule.fn()
        terminal: FaultRule | None = next((r for r in rules if r.action in ("fail", "reply", "drop")), None)
        for rule in rules:
            if rule.action == "slow":
                outcome.fault.append("slow")
                timed_out = rule.read_timeout is not None and rule.seconds > rule.read_timeout
                self.sleep(rule.read_timeout if timed_out else rule.seconds)
                if timed_out:
                    outcome.raise_after = TimeoutError("simulated read timeout: the server is still working")
        if terminal is not None and terminal.action == "drop" and not terminal.after_processing:
            outcome.fault.append("drop")
            outcome.raise_after = ConnectionResetError("simulated dropped connection (before processing)")
            return outcome
        if terminal is not None and terminal.action == "fail":
            outcome.fault.append(f"fail {terminal.status}")
            headers = [("Retry-After", terminal.retry_after)] if terminal.retry_after is not None else []
            outcome.response = json_response(terminal.body, terminal.status, headers)
        elif terminal is not None and terminal.action == "reply":
            outcome.fault.append("reply after processing" if terminal.after_processing else "reply")
            if terminal.after_processing:
                self._handle(request)
            body = terminal.body
            raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else to_json(body)
            outcome.response = Response(terminal.status, raw, [("Content-Type", "application/json; charset=utf-8")])
        else:
            outcome.response = self._handle(request)
        if terminal is not None and terminal.action == "drop":
            outcome.fault.append("drop after processing")
            outcome.raise_after = ConnectionResetError("simulated dropped connection (after processing)")
        return outcome

    def _handle(self, request: Request) -> Response:
        allowed = []
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if not match:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            with self._lock:
                try:
                    if route.public:
                        return route.handler(request, **match.groupdict())
                    user = self.auth.user_for(request.headers.get("authorization"))
                    if user is None:
                        return json_response({"Message": "Authorization has been denied for this request."}, 401,
                                             [("WWW-Authenticate", "Bearer")])
                    return route.handler(request, user=user, **match.groupdict())
                except HttpError as exc:
                    return json_response(exc.payload, exc.status, exc.headers)
        if allowed:
            return json_response({"Message": f"The requested resource does not support http method "
                                             f"'{request.method}'."}, 405, [("Allow", ", ".join(allowed))])
        return json_response({"Message": f"No HTTP resource was found that matches '{request.path}'."}, 404)

    # == handlers ============================================================================
    def _token(self, request: Request) -> Response:
        try:
            return json_response(self.auth.grant(request.form()), headers=[("Cache-Control", "no-store")])
        except OAuthError as exc:
            return json_response(exc.payload(), exc.status)

    def _query(self, request: Request, user: SimUser, table: str, rows: list[dict[str, Any]],
               schema: dict[str, str]) -> Response:
        visible = self._as_seen_by(user, table, rows)
        return json_response(run_query(visible, request, schema, rng=self._rng, max_page_size=self.max_page_size))

    @staticmethod
    def _as_seen_by(user: SimUser, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        hidden = user.role.hidden.get(table, frozenset())
        if not hidden:
            return rows
        return [{k: (Decimal("0") if k in hidden and v is not None else v) for k, v in row.items()} for row in rows]

    def _firms(self, request: Request, *, user: SimUser) -> Response:
        return self._query(request, user, "firm", self.tables.firms, t.FIRM)

    def _firm(self, request: Request, *, user: SimUser, client_id: str) -> Response:
        firm = self.tables.firm(client_id)
        if firm is None:
            raise refuse(404, f"Firm '{client_id}' was not found.")
        return json_response(self._as_seen_by(user, "firm", [firm]))

    def _project_or_404(self, wbs1: str) -> dict[str, Any]:
        project = self.tables.wbs(wbs1)
        if project is None:
            raise refuse(404, f"Project '{wbs1}' was not found.")
        return project

    def _projects(self, request: Request, *, user: SimUser) -> Response:
        top = [p for p in self.tables.projects if p["WBS2"] == t.BLANK]
        return self._query(request, user, "project", top, t.PROJECT)

    def _project(self, request: Request, *, user: SimUser, wbs1: str) -> Response:
        return json_response(self._as_seen_by(user, "project", [self._project_or_404(wbs1)]))

    def _phases(self, request: Request, *, user: SimUser, wbs1: str) -> Response:
        self._project_or_404(wbs1)
        return self._query(request, user, "project", self.tables.children(wbs1), t.PROJECT)

    def _tasks(self, request: Request, *, user: SimUser, wbs1: str, wbs2: str) -> Response:
        self._project_or_404(wbs1)
        if self.tables.wbs(wbs1, wbs2) is None:
            raise refuse(404, f"Phase '{wbs2}' was not found on project '{wbs1}'.")
        return self._query(request, user, "project", self.tables.children(wbs1, wbs2), t.PROJECT)

    def _accounts(self, request: Request, *, user: SimUser) -> Response:
        return self._query(request, user, "account", self.tables.accounts, t.ACCOUNT)

    def _ledger(self, request: Request, *, user: SimUser, kind: str) -> Response:
        kind = kind.upper()
        return self._query(request, user, kind, self.tables.ledgers[kind], t.LEDGER_SCHEMAS[kind])

    def _ar_balance(self, request: Request, *, user: SimUser) -> Response:
        return self._query(request, user, "ARBalance", self.tables.ar_balances, t.AR_BALANCE)

    def _create_batch(self, request: Request, *, user: SimUser, kind: str) -> Response:
        batch = self.entry.create(kind.upper(), request.json(), user)
        return json_response([batch.as_record()], 201)

    def _get_batch(self, request: Request, *, user: SimUser, kind: str, batch: str) -> Response:
        found = self.entry.find(kind.upper(), batch)
        if found is None:
            raise refuse(404, f"Batch '{batch}' was not found.")
        return json_response([found.as_record()])

    def _post_trans_file(self, request: Request, *, user: SimUser) -> Response:
        return json_response(self.entry.post(request.json(), user))

    # == control API (tests and the demo) ====================================================
    @property
    def grants(self) -> list[GrantRecord]:
        return self.auth.grants

    def add_user(self, username: str, password: str, *, role: Role = FULL_ACCESS,
                 login_enabled: bool = True) -> SimUser:
        user = SimUser(username, password, role=role, login_enabled=login_enabled)
        self.auth.users[username.lower()] = user
        return user

    def set_login_enabled(self, username: str, enabled: bool) -> None:
        self.auth.users[username.lower()].login_enabled = enabled

    def add_authorization(self, client_id: str, client_secret: str, *,
                          allow_password_grant: bool = True) -> ApiAuthorization:
        authorization = ApiAuthorization(client_id, client_secret, allow_password_grant)
        self.auth.authorizations[client_id] = authorization
        return authorization

    def set_password_grant_allowed(self, client_id: str, allowed: bool) -> None:
        self.auth.authorizations[client_id].allow_password_grant = allowed

    def expire_access_tokens(self) -> None:
        """Every access token is refused from now on (refresh tokens still work)."""
        self.auth.expire_access_tokens()

    def revoke_refresh_tokens(self) -> None:
        self.auth.revoke_refresh_tokens()

    def close_period(self, period: int) -> None:
        self.tables.closed_periods.add(period)

    def open_period(self, period: int) -> None:
        self.tables.defined_periods.add(period)
        self.tables.closed_periods.discard(period)

    def add_posted_invoice(self, *, wbs1: str | None = None, lines: list[dict[str, Any]] | None = None,
                           invoice: str | None = None, post_date: datetime | None = None,
                           post_seq: int | None = None, trans_date: date | None = None) -> dict[str, Any]:
        """Post an AR invoice now (or at `post_date`), as a billing run would.

        Lines are dicts with WBS2, WBS3, Account, Description, Quantity, UnitPrice; left out,
        two lines are made up. Pass the `post_seq` of an earlier call (and the same
        `post_date`) to add the invoice to that posting. Returns Invoice, Period, PostSeq,
        PostDate and the total.
        """
        with self._lock:
            top = [p for p in self.tables.projects if p["WBS2"] == t.BLANK and p["Status"] == "A"]
            project = self.tables.wbs(wbs1) if wbs1 else top[0]
            if project is None:
                raise KeyError(f"no project {wbs1}")
            post_date = post_date or self.clock.now()
            period = t.period_of(post_date)
            if period not in self.tables.defined_periods:
                self.open_period(period)
            post_seq = post_seq or self.tables.take_post_seq(period)
            invoice = invoice or self.tables.take_invoice_number()
            lines = lines or invoice_lines(random.Random(invoice), self.tables, project["WBS1"], 2)
            rows = self.tables.post_invoice(invoice=invoice, project=project, lines=lines,
                                            trans_date=trans_date or post_date.date(), post_date=post_date,
                                            period=period, post_seq=post_seq, batch=f"BILL{period}{post_seq:03d}")
            total = sum((r["Amount"] for r in rows), Decimal("0"))
            return {"Invoice": invoice, "Period": period, "PostSeq": post_seq, "PostDate": post_date,
                    "WBS1": project["WBS1"], "Total": total}

    def touch_invoice(self, invoice: str, period: int, post_seq: int, *, when: datetime | None = None) -> None:
        """Someone edited a posted invoice: its rows' ModDate moves to `when` (default now)."""
        with self._lock:
            for row in self.tables.ledgers["IN"]:
                if (row["Invoice"], row["Period"], row["PostSeq"]) == (invoice, period, post_seq):
                    row["ModDate"] = when or self.clock.now()

    def invoice_keys(self) -> list[tuple[str, int, int]]:
        """(Invoice, Period, PostSeq) of every posted AR invoice, in posting order."""
        seen: dict[tuple[str, int, int], None] = {}
        for row in sorted(self.tables.ledgers["IN"], key=lambda r: (r["PostDate"], r["PKey"])):
            seen.setdefault((row["Invoice"], row["Period"], row["PostSeq"]), None)
        return list(seen)

    def ledger(self, kind: str) -> list[dict[str, Any]]:
        return [dict(row) for row in self.tables.ledgers[kind.upper()]]

    def posted_batches(self, kind: str | None = None) -> list[Batch]:
        return [b for (k, _), b in self.entry.posted.items() if kind is None or k == kind.upper()]

    def unposted_batches(self, kind: str | None = None) -> list[Batch]:
        return [b for (k, _), b in self.entry.unposted.items() if kind is None or k == kind.upper()]

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.requests
                if r.path.lower().startswith(path.lower()) and (method is None or r.method == method.upper())]
