"""Mount the simulator in process: httpx.WSGITransport plus what a real socket would do.

A WSGI app cannot drop a connection or stop answering; the simulator raises instead and
this transport turns that into the httpx error the client would meet on the wire.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from .faults import SimulatedDisconnect, SimulatedTimeout

IN_PROCESS = "sandbox.in_process"


class SimulatorTransport(httpx.BaseTransport):
    def __init__(self, app: Callable[..., Any]) -> None:
        def marked(environ: dict[str, Any], start_response: Callable) -> Any:
            environ[IN_PROCESS] = True
            return app(environ, start_response)

        self._wsgi = httpx.WSGITransport(app=marked)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._wsgi.handle_request(request)
        except SimulatedDisconnect as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        except SimulatedTimeout as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from None

    def close(self) -> None:
        self._wsgi.close()
