"""Faults a test can inject: what a flaky network and a struggling Cleo do to a client.

A fault is armed for the next `times` requests matching a method and a path fragment.
`*_after_processing` faults let the request take effect first (the upload is stored)
and then lose the answer: the case where blindly resending creates a second file at the
partner.

In process (tests through `CleoSimulator.transport()`), a lost answer raises
`SimulatedDisconnect` or `SimulatedTimeout`, which the transport turns into the httpx
errors a real socket would give. Served over HTTP, a timeout really hangs for
`hang_seconds` and a disconnect promises a body it never sends, so the client sees the
peer close mid-response.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    ERROR_500 = "500"
    UNAVAILABLE_503 = "503"
    TIMEOUT = "timeout"  # no answer; the request was not processed
    DROP = "drop"  # connection closed; the request was not processed
    TIMEOUT_AFTER_PROCESSING = "timeout_after_processing"
    DROP_AFTER_PROCESSING = "drop_after_processing"

    @property
    def after_processing(self) -> bool:
        return self in (FaultKind.TIMEOUT_AFTER_PROCESSING, FaultKind.DROP_AFTER_PROCESSING)

    @property
    def loses_answer(self) -> bool:
        return self not in (FaultKind.ERROR_500, FaultKind.UNAVAILABLE_503)


@dataclass
class Fault:
    kind: FaultKind
    method: str | None = None
    path_contains: str | None = None
    remaining: int = 1
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method.upper() == method)
            and (self.path_contains is None or self.path_contains in path)
        )


class SimulatedDisconnect(ConnectionError):
    """The server closed the connection without a (complete) response."""


class SimulatedTimeout(TimeoutError):
    """The server did not answer within the client's read timeout."""


def take_fault(faults: list[Fault], method: str, path: str) -> Fault | None:
    """The first armed fault matching this request, spent by one."""
    for fault in faults:
        if fault.matches(method, path):
            fault.remaining -= 1
            return fault
    return None


def lose_answer(fault: Fault, response: Any, *, in_process: bool, hang_seconds: float,
                start_response: Callable) -> Iterable[bytes]:
    """Do to the client what a lost answer does: `response` (status, body, wsgi()) is never
    delivered whole. Shared by every simulator that injects these faults."""
    timeout = fault.kind in (FaultKind.TIMEOUT, FaultKind.TIMEOUT_AFTER_PROCESSING)
    if in_process:
        if timeout:
            raise SimulatedTimeout(f"simulated read timeout ({fault.kind})")
        raise SimulatedDisconnect(f"Server disconnected without sending a response ({fault.kind})")
    if timeout:
        time.sleep(hang_seconds)  # longer than the client's read timeout
        return response.wsgi(start_response)
    # Promise a body and send none: the client sees the peer close mid-response.
    start_response(f"{response.status} Lost", [("Content-Length", str(len(response.body) + 1024))])
    return [b""]
