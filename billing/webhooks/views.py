"""The webhook URL Stripe posts to: read the request, hand it to the receiving service, answer.

No CSRF (Stripe cannot hold a token: the signature is the proof) and no session or user is
touched, so no middleware reaches the database. Every method is routed here (not refused by
a decorator) so that a wrong one is kept in the ledger too.
"""
from __future__ import annotations

import ipaddress

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .receive import MAX_BODY_BYTES, IncomingDelivery, webhook_delivery_receive

READ_CHUNK = 64 * 1024


def body_read(request: HttpRequest, *, limit: int = MAX_BODY_BYTES) -> tuple[bytes, int]:
    """The body's first `limit` bytes and the size received (or declared, when larger).

    Reads at most limit + 1 bytes: enough to know the body is too large without taking in
    the rest of it."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    parts: list[bytes] = []
    kept = 0
    while kept <= limit:
        chunk = request.read(min(READ_CHUNK, limit + 1 - kept))
        if not chunk:
            break
        parts.append(chunk)
        kept += len(chunk)
    body = b"".join(parts)
    return body[:limit], max(declared, len(body))


def remote_address(request: HttpRequest) -> str | None:
    """The peer's IP address, or None when the server gave none (a unix socket) or not an IP."""
    value = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


@csrf_exempt
def stripe_webhook(request: HttpRequest, endpoint_key: str) -> JsonResponse:
    body, size = body_read(request)
    receipt = webhook_delivery_receive(incoming=IncomingDelivery(
        endpoint_key=endpoint_key, path=request.path, method=request.method or "", headers=dict(request.headers),
        remote_addr=remote_address(request), body=body, size=size,
    ))
    response = JsonResponse({"outcome": receipt.outcome, "detail": receipt.reason, "delivery": receipt.delivery_id},
                            status=receipt.status)
    if receipt.status == 405:
        response["Allow"] = "POST"
    return response
