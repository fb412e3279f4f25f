"""The HTTP policy every outside-system client shares.

Timeouts on every call; retries with exponential backoff and full jitter on transient
failures (network errors, 429, 5xx) through tenacity; a Retry-After header honoured up to a
cap; and a record of every call (method, path, status, duration) that the engine stores on
the Attempt. No body, header or query string is recorded: they may carry secrets. A client
built for a tenant's connection (`tenant_id`) also reports each request's final outcome to
connector.call_status (the overview's connections panel), cheaply: see there.

A request that may already have reached the server (a read timeout or a dropped connection
after sending a POST) is never retried blindly: it raises `DeliveryUnknown` so the caller
can look before it sends again (connector/effects.py makes that the rule).

Clients are cheap to build because what is expensive underneath is shared: one SSL context
per process (loading the CA bundle costs about 50 ms), and one httpx.Client (its connection
pool) per process and per what it was built from: the base URL, the timeouts, the transport,
the default headers and the connection it serves (`shared_http_client`). A connection whose
URL changes gets a new one; a forked worker starts with none (but keeps the SSL context).
"""
from __future__ import annotations

import contextlib
import os
import random
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import tenacity

from .failures import TransientFailure
from .logs import get_logger

log = get_logger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Statuses that say the server did not act on the request, so even a POST may be resent.
NOT_PROCESSED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class HttpPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 500, 502, 503, 504}))

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)


# When an admin is waiting on the answer (a connection test): fail fast, do not back off for minutes.
INTERACTIVE_POLICY = HttpPolicy(read_timeout=15.0, max_attempts=2, retry_after_cap=5.0)


class DeliveryUnknown(TransientFailure):
    """The request may have been processed: the caller must check before resending."""


@dataclass
class CallRecord:
    method: str
    path: str
    status: int | None
    ms: int
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status, "ms": self.ms, "error": self.error}


_call_log: ContextVar[list[CallRecord] | None] = ContextVar("connector_http_call_log", default=None)


@contextlib.contextmanager
def recording_calls() -> Iterator[list[CallRecord]]:
    """Collect every HTTP call made inside the block (the engine wraps each Attempt in it)."""
    calls: list[CallRecord] = []
    token = _call_log.set(calls)
    try:
        yield calls
    finally:
        _call_log.reset(token)


def _record_call(call: CallRecord) -> None:
    calls = _call_log.get()
    if calls is not None:
        calls.append(call)


# Transports mounted by URL prefix: tests and the demo point a base URL at a simulator
# (httpx.WSGITransport) without the client knowing.
_mounted: dict[str, httpx.BaseTransport] = {}


def mount_transport(prefix: str, transport: httpx.BaseTransport) -> None:
    _mounted[prefix.rstrip("/")] = transport


def unmount_transport(prefix: str) -> None:
    transport = _mounted.pop(prefix.rstrip("/"), None)
    if transport is not None:
        with _shared_lock:
            for key in [k for k in _shared if k[-1] is transport]:
                del _shared[key]


def transport_for(base_url: str) -> httpx.BaseTransport | None:
    for prefix, transport in _mounted.items():
        if base_url.rstrip("/").startswith(prefix):
            return transport
    return None


class SocketErrorsAsHttpx(httpx.BaseTransport):
    """Make an in-process transport fail the way a socket does.

    httpx's real transport turns a reset or timed-out socket into httpx.NetworkError /
    TimeoutException, which this policy classifies. An in-process transport
    (httpx.WSGITransport over a simulator) lets the app's own exception through instead
    (ConnectionResetError, TimeoutError). Mapping them keeps clients behaving the same
    against a simulator as against the network; any other exception passes untouched.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except httpx.HTTPError:
            raise
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"read timed out ({exc})", request=request) from exc
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError(f"connection refused ({exc})", request=request) from exc
        except OSError as exc:
            raise httpx.RemoteProtocolError(
                f"server disconnected without sending a complete response ({exc})", request=request
            ) from exc

    def close(self) -> None:
        self.inner.close()


def _socket_like(transport: httpx.BaseTransport | None) -> httpx.BaseTransport | None:
    if transport is None or isinstance(transport, SocketErrorsAsHttpx | httpx.HTTPTransport):
        return transport
    return SocketErrorsAsHttpx(transport)


def parse_retry_after(value: str | None, *, cap: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, min(seconds, cap))


# -- shared clients ----------------------------------------------------------------------------
SHARED_CLIENTS_MAX = 64  # connections served by one process; the least recently used go first
_shared: OrderedDict[tuple[Hashable, ...], httpx.Client] = OrderedDict()
_shared_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None
_built = 0


def shared_ssl_context() -> ssl.SSLContext:
    """The process's one SSL context with the CA bundle loaded (what httpx would build per client)."""
    global _ssl_context
    with _shared_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


def shared_http_client(base_url: str, *, timeout: httpx.Timeout, transport: httpx.BaseTransport | None = None,
                       headers: dict[str, str] | None = None, owner: Hashable = None) -> httpx.Client:
    """The process's httpx.Client for exactly these settings, built on first use.

    `owner` names what the client serves (e.g. ("cleo", connection id)), so two connections
    to one host never share a cookie jar or a pool; a transport mounted for the URL (tests,
    the demo) is part of the key, so a new simulator never meets an old pool."""
    global _built
    inner = transport or transport_for(base_url)
    key = (base_url.rstrip("/"), timeout.connect, timeout.read, timeout.write, timeout.pool,
           tuple(sorted((headers or {}).items())), owner, inner)
    with _shared_lock:
        client = _shared.get(key)
        if client is not None:
            _shared.move_to_end(key)
            return client
    client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=_socket_like(inner),
                          headers=headers, verify=shared_ssl_context())
    with _shared_lock:
        _built += 1
        _shared[key] = client
        while len(_shared) > SHARED_CLIENTS_MAX:
            _shared.popitem(last=False)  # not closed: a caller may still hold it; its pool closes when dropped
    return client


def http_clients_built() -> int:
    """How many httpx clients this process has built (tests and benches read it)."""
    return _built


def http_prewarm() -> None:
    """Pay the one-time costs now: the SSL context (the CA bundle) and httpcore (httpx imports
    it on the first client, about 0.3 s). A worker's parent calls it before forking its pool
    (connector/celery.py), so each pool process, and each one that replaces a dead one,
    starts with both instead of spending most of a second on its first task."""
    import httpcore  # noqa: F401 - the import is the point

    shared_ssl_context()


def _forget_shared_clients() -> None:
    """In a forked child: the parent's pools hold the parent's sockets; start afresh. The SSL
    context (configuration and CA certificates, no connection) is kept."""
    global _shared_lock
    _shared.clear()
    _shared_lock = threading.Lock()  # another thread of the parent may have held it at the fork


os.register_at_fork(after_in_child=_forget_shared_clients)


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        self.response = response
        self.retry_after = retry_after


class PolicyClient:
    """The policy applied to a shared httpx.Client (see `shared_http_client`; httpx.Client is
    safe to share across threads for requests). Closing it leaves the shared pool open."""

    def __init__(
        self,
        base_url: str,
        *,
        system: str,
        policy: HttpPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        before_request: Callable[[str, str], None] | None = None,
        headers: dict[str, str] | None = None,
        owner: Hashable = None,
        after_throttled: Callable[[str, str, float | None], None] | None = None,
        tenant_id: int | None = None,
    ) -> None:
        self.system = system
        # Whose connection this client serves: its calls' outcomes go to connector.call_status.
        self.tenant_id = tenant_id
        self.policy = policy or HttpPolicy()
        self.sleep = sleep
        self.before_request = before_request
        # Told (method, path, Retry-After seconds) of every 429, so a shared limiter can slow
        # every client of the connection, not only the one that was refused.
        self.after_throttled = after_throttled
        self.http = shared_http_client(base_url, timeout=self.policy.timeout(), transport=transport, headers=headers,
                                       owner=owner)

    def close(self) -> None:
        """Nothing to release: the pool underneath is shared by every client of this connection."""

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return retry_after
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)

    def _send_once(self, method: str, url: str, resend_safe: bool, kwargs: dict[str, Any],
                   tried: list[CallRecord] | None = None) -> httpx.Response:
        path = httpx.URL(url).path if url.startswith("http") else url.split("?")[0]
        if self.before_request:
            self.before_request(method, path)
        started = time.monotonic()

        def _record(call: CallRecord) -> None:
            _record_call(call)
            if tried is not None:
                tried.append(call)

        try:
            response = self.http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            _record(CallRecord(method, path, None, _ms(started), type(exc).__name__))
            raise TransientFailure(f"cannot connect ({type(exc).__name__})", system=self.system) from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            _record(CallRecord(method, path, None, _ms(started), type(exc).__name__))
            if resend_safe:
                raise TransientFailure(f"{method} {path}: {type(exc).__name__}", system=self.system) from exc
            raise DeliveryUnknown(
                f"{method} {path}: {type(exc).__name__} after sending; the request may have been processed",
                system=self.system,
            ) from exc
        _record(CallRecord(method, path, response.status_code, _ms(started)))
        if response.status_code in self.policy.retry_statuses and (
            resend_safe or response.status_code in NOT_PROCESSED_STATUSES
        ):
            retry_after = parse_retry_after(response.headers.get("Retry-After"), cap=self.policy.retry_after_cap)
            if response.status_code == 429 and self.after_throttled:
                self.after_throttled(method, path, retry_after)
            raise _RetryableStatus(response, retry_after)
        return response

    def request(self, method: str, url: str, *, resend_safe: bool | None = None, **kwargs: Any) -> httpx.Response:
        """Send with retries. Returns the final response for any non-retryable status;
        raises TransientFailure when retries are exhausted, DeliveryUnknown when a
        non-idempotent request may have been processed."""
        method = method.upper()
        if resend_safe is None:
            resend_safe = method in IDEMPOTENT_METHODS
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, _RetryableStatus)
                or (isinstance(e, TransientFailure) and not isinstance(e, DeliveryUnknown))
            ),
            reraise=True,
        )
        tried: list[CallRecord] = []
        try:
            return retrying(self._send_once, method, url, resend_safe, kwargs, tried)
        except _RetryableStatus as exc:
            status = exc.response.status_code
            raise TransientFailure(
                f"{method} {exc.response.request.url.path} answered {status} after {self.policy.max_attempts} tries",
                retry_after=exc.retry_after,
                status=status,
                system=self.system,
            ) from None
        finally:  # whichever way it ended, its last try is the outcome
            self._report(tried)

    def _report(self, tried: list[CallRecord]) -> None:
        """The request's final outcome (its last try) to the connection's status; never raises."""
        if self.tenant_id is None or not tried:
            return
        from .call_status import call_outcome, call_status_record  # models: imported once Django is set up

        last = tried[-1]
        ok, problem = call_outcome(status=last.status, error=last.error)
        try:
            call_status_record(tenant_id=self.tenant_id, system=self.system, ok=ok, problem=problem)
        except Exception as exc:  # noqa: BLE001 - a status not recorded must never fail the call
            log.warning("connection status not recorded", system=self.system, error=type(exc).__name__)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
