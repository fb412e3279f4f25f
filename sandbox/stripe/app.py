"""StripeSimulator: the WSGI app standing in for Stripe's v1 API.

A request goes through the layers in Stripe's order: the key (401/403), the API version
(400 when unknown), the rate limit (429, before idempotency), injected faults, the route
and its parameters (404, 400 naming the parameter), the idempotency layer (replay or
`idempotency_error`), then the handler, whose answer is saved under the key whatever it is.

The methods below the WSGI entry point are the control and inspection API tests use
(`pay_invoice`, `refund_charge`, `fail_next`, `add_webhook_endpoint`, `requests` ...);
inspect.py serves the same under `/_sandbox/` for the demo.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.cleo.faults import Fault, FaultKind, lose_answer, take_fault
from sandbox.cleo.limit import SLIDING_WINDOW, PathLimit
from sandbox.cleo.state import SimClock
from sandbox.cleo.transport import IN_PROCESS, SimulatorTransport

from . import creditnotes, customers, events, inspect, invoices, payments
from .auth import authenticate, authorize
from .context import Call
from .control import ControlMixin
from .forms import EXPAND, clean_params, decode
from .idempotency import IdempotencyStore
from .state import Account, ApiKey, IdMaker, Ledger
from .versions import KNOWN_VERSIONS, check_version, render
from .web import Request, Response, Router, StripeError, json_response
from .webhooks import Webhooks

SANDBOX_ACCOUNT = "acct_1SandboxEngLLC0"
SANDBOX_SECRET_KEY = "sk_test_51SandboxEngLLC0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789sandbox4242"
RATE_LIMITED = ("Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.")


@dataclass
class RequestRecord:
    """One request as the simulator saw it: never the key, only its last four characters."""

    at: float
    method: str
    path: str
    request_id: str
    params: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    api_version: str | None = None
    key_last4: str = ""
    status: int | None = None
    replayed: bool = False
    error: dict[str, Any] | None = None
    outcome: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "method": self.method, "path": self.path, "request_id": self.request_id,
                "params": self.params, "idempotency_key": self.idempotency_key, "api_version": self.api_version,
                "key_last4": self.key_last4, "status": self.status, "replayed": self.replayed, "error": self.error,
                "outcome": self.outcome}


def build_router() -> Router:
    router = Router()
    router.add("GET", "/v1/account", lambda sim, call, params: call.ledger.account.as_json(call.ledger.livemode), EXPAND)
    for module in (customers, invoices, creditnotes, payments, events):
        module.register(router)
    return router


class StripeSimulator(ControlMixin):
    def __init__(
        self,
        *,
        rate_limit: float | None = 25,
        rate_algorithm: str = SLIDING_WINDOW,
        time_scale: float = 1.0,
        frozen_clock: bool = False,
        seed: bool = True,
        random_seed: int | None = None,
        hang_seconds: float = 35.0,
        search_lag: float = 1.0,
        account_api_version: str = "2024-06-20",
        api_versions: Iterable[str] = (),
        deliver_webhooks: bool = False,
        **_ignored: Any,  # options meant for other simulators (e.g. seed_size)
    ) -> None:
        self.lock = threading.RLock()
        self.clock = SimClock(scale=time_scale, frozen=frozen_clock)
        self.ids = IdMaker(random_seed)
        self.limit = PathLimit(rate_limit, rate_algorithm)
        self.hang_seconds = hang_seconds
        self.search_lag = search_lag
        self.versions = KNOWN_VERSIONS | frozenset(api_versions)
        self.accounts: dict[str, Account] = {}
        self.keys: dict[str, ApiKey] = {}
        self.ledgers: dict[tuple[str, bool], Ledger] = {}
        self.idempotency = IdempotencyStore()
        self.requests: list[RequestRecord] = []
        self.faults: list[Fault] = []
        self.webhooks = Webhooks(self)
        self.v0_secret = self.ids.secret("whsec_", 32)  # test mode's extra signature, made with another key
        self._router = build_router()
        if seed:
            self.add_account(SANDBOX_ACCOUNT, name="Sandbox Engineering LLC", email="billing@sandbox-eng.example",
                             api_version=account_api_version)
            self.add_key(SANDBOX_SECRET_KEY, account=SANDBOX_ACCOUNT)
        if deliver_webhooks:
            self.webhooks.start()

    # --- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        if request.path.startswith("/_sandbox/"):
            return inspect.handle(self, request).wsgi(start_response)
        with self.lock:
            record = RequestRecord(self.clock.now(), request.method, request.path, self.ids.new("req_"),
                                   idempotency_key=request.headers.get("idempotency-key"))
            self.requests.append(record)
            try:
                response, fault = self._answer(request, record)
            except StripeError as exc:
                response, fault = exc.response(), None
                record.error = exc.body()["error"]
            response.headers.setdefault("Request-Id", record.request_id)
            if record.status is None and (fault is None or fault.kind.after_processing):
                record.status = response.status
        if fault is None:
            return response.wsgi(start_response)
        return lose_answer(fault, response, in_process=bool(environ.get(IN_PROCESS)), hang_seconds=self.hang_seconds,
                           start_response=start_response)

    def _answer(self, request: Request, record: RequestRecord) -> tuple[Response, Fault | None]:
        key = authenticate(request, self.keys)
        record.key_last4 = key.last4
        ledger = self.ledgers[(key.account_id, key.livemode)]
        version = request.headers.get("stripe-version") or ledger.account.api_version
        record.api_version = check_version(version, self.versions)
        wait = self.limit.check(key.account_id, record.at)
        if wait is not None:
            record.outcome = "rate limited"
            raise StripeError(429, RATE_LIMITED, code="rate_limit", headers={"Stripe-Should-Retry": "true"})
        authorize(key, request.method, request.path)
        self.tick()
        fault = take_fault(self.faults, request.method, request.path)
        lost = fault if fault is not None and fault.kind.after_processing else None
        if fault is not None and fault.kind not in (FaultKind.ERROR_500,) and not fault.kind.after_processing:
            record.outcome = f"fault {fault.kind}"
            if fault.kind == FaultKind.UNAVAILABLE_503:
                record.status = 503
                return StripeError(503, "Stripe is temporarily unavailable. Please try again.", type="api_error",
                                   headers={"Stripe-Should-Retry": "true"}).response(), None
            return Response(504), fault  # timeout or drop: nothing was processed
        route, path_parts = self._router.resolve(request.method, request.path, version)
        raw = decode(request.pairs())
        record.params = raw
        params = clean_params(raw, route.schema)
        headers = {"Stripe-Version": version}
        idem_key = record.idempotency_key if request.method == "POST" else None
        scope = (key.account_id, key.livemode)
        if idem_key:
            IdempotencyStore.check_key(idem_key)
            headers["Idempotency-Key"] = idem_key
            replay = self.idempotency.replay(scope, idem_key, request.method, request.path, raw, record.at)
            if replay is not None:
                record.replayed = True
                replay.headers["Request-Id"] = record.request_id
                return replay, lost
        response = self._run(route, ledger, version, record, params, path_parts, headers, fault)
        if idem_key:
            self.idempotency.save(scope, idem_key, request.method, request.path, raw, response, record.request_id,
                                  record.at)
        if lost is not None:
            record.outcome = f"fault {lost.kind} (processed, answer lost)"
        return response, lost

    def _run(self, route: Any, ledger: Ledger, version: str, record: RequestRecord, params: dict[str, Any],
             path_parts: dict[str, str], headers: dict[str, str], fault: Fault | None) -> Response:
        if fault is not None and fault.kind == FaultKind.ERROR_500:
            # The endpoint began and failed; nothing it did is kept, but the 500 is saved under the key.
            record.outcome = f"fault {fault.kind}"
            return StripeError(500, "An unknown error occurred", type="api_error",
                               headers={**headers, "Stripe-Should-Retry": "false"}).response()
        call = Call(ledger, version, int(record.at), record.request_id, record.idempotency_key)
        try:
            result = route.handler(self, call, params, **path_parts)
        except StripeError as exc:
            record.error = exc.body()["error"]
            exc.headers = {**headers, **exc.headers}
            return exc.response()
        return json_response(render(ledger, result, version, params.get("expand", [])), 200, headers)

    # --- used by handlers and the control API ------------------------------------------------

    def searchable(self, ledger: Ledger, object_id: str) -> None:
        """Search sees this object (again) only after the lag."""
        ledger.searchable_at[object_id] = self.clock.now() + self.search_lag

    def tick(self) -> None:
        """What Stripe does on its own as time passes: finalize drafts whose hour is up, fail the
        refunds of pm_card_refundFail charges."""
        with self.lock:
            now = int(self.clock.now())
            for ledger in self.ledgers.values():
                invoices.auto_finalize_due(self, Call(ledger, ledger.account.api_version, now))
                payments.refunds_fail_due(self, Call(ledger, ledger.account.api_version, now))

    def transport(self) -> SimulatorTransport:
        """An httpx transport serving this simulator in process, faults included."""
        return SimulatorTransport(self)
