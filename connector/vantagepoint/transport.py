"""Make an in-process transport fail the way a socket does.

httpx's real transport turns a reset or timed-out socket into httpx.NetworkError /
httpx.TimeoutException, which the HTTP policy classifies (retry, or DeliveryUnknown for a
POST that may have landed). An in-process transport (httpx.WSGITransport over a simulator)
lets the app's own exception through instead: the simulator's dropped connection is a
ConnectionResetError and its read timeout a TimeoutError, both OSErrors. Wrapping the
transport maps them to what the real transport would raise, so the client behaves the
same against the simulator as against the network. Anything else (a real bug in the app)
passes through untouched.
"""
from __future__ import annotations

import httpx


class SocketErrorsAsHttpx(httpx.BaseTransport):
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


def wrap_transport(transport: httpx.BaseTransport | None) -> httpx.BaseTransport | None:
    """None stays None: PolicyClient then builds httpx's real transport, which maps errors itself."""
    if transport is None or isinstance(transport, SocketErrorsAsHttpx):
        return transport
    return SocketErrorsAsHttpx(transport)
