"""Fault injection, switchable per test.

Each rule matches requests by method and path prefix (below the API root, case-insensitive),
lets `skip` matching requests through, then fires `times` times (None: for ever):

- `fail(status)`: answer with that status (500, 503, 429 ...), `Retry-After` if given,
  without touching any data;
- `slow(seconds)`: wait that long (through the simulator's injectable sleep) before
  answering; with `read_timeout` below `seconds`, the request is processed but the caller
  gets `TimeoutError`, as a client whose read timeout fires while the server carries on;
- `drop()`: the connection drops: the WSGI app raises `ConnectionResetError` (an OSError),
  before the request is processed or, with `after_processing=True`, after it was;
  in process (httpx.WSGITransport) the exception reaches the client's transport as is;
  served over HTTP, wsgiref turns it into a bare 500;
- `reply(status, body)`: a canned answer of any shape (odd PostTransFile replies ...),
  instead of handling the request or, with `after_processing=True`, after handling it;
- `call(fn)`: run `fn()` before the request is handled (advance the clock in the middle of
  a paged read, close a period between create and post ...).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class FaultRule:
    action: str
    path: str | None = None
    method: str | None = None
    skip: int = 0
    times: int | None = 1
    status: int = 500
    retry_after: str | None = None
    body: Any = None
    seconds: float = 0.0
    read_timeout: float | None = None
    after_processing: bool = False
    fn: Callable[[], Any] | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or path.lower().startswith(self.path.lower())

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times


class Faults:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def _add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(self, status: int = 500, *, path: str | None = None, method: str | None = None, times: int | None = 1,
             skip: int = 0, retry_after: float | str | None = None, message: str | None = None) -> FaultRule:
        body = {"Message": message or f"Simulated failure ({status})."}
        return self._add(FaultRule("fail", path, method, skip, times, status=status, body=body,
                                   retry_after=None if retry_after is None else str(retry_after)))

    def slow(self, seconds: float, *, path: str | None = None, method: str | None = None, times: int | None = 1,
             skip: int = 0, read_timeout: float | None = None) -> FaultRule:
        return self._add(FaultRule("slow", path, method, skip, times, seconds=seconds, read_timeout=read_timeout))

    def drop(self, *, path: str | None = None, method: str | None = None, times: int | None = 1, skip: int = 0,
             after_processing: bool = False) -> FaultRule:
        return self._add(FaultRule("drop", path, method, skip, times, after_processing=after_processing))

    def reply(self, status: int, body: Any, *, path: str | None = None, method: str | None = None,
              times: int | None = 1, skip: int = 0, after_processing: bool = False) -> FaultRule:
        return self._add(FaultRule("reply", path, method, skip, times, status=status, body=body,
                                   after_processing=after_processing))

    def call(self, fn: Callable[[], Any], *, path: str | None = None, method: str | None = None,
             times: int | None = 1, skip: int = 0) -> FaultRule:
        return self._add(FaultRule("call", path, method, skip, times, fn=fn))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def firing(self, method: str, path: str) -> list[FaultRule]:
        """The rules that fire for this request, counting it against every matching rule."""
        fired = []
        with self._lock:
            for rule in self.rules:
                if rule.spent or not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.seen > rule.skip:
                    rule.fired += 1
                    fired.append(rule)
        return fired
