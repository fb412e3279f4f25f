"""The control and inspection API over HTTP, under `/_sandbox/`, for the demo and manual use.

    GET  /_sandbox/state                      accounts, keys (last 4 only), counts, limits
    GET  /_sandbox/requests[?path_contains=&method=]
                                              every request: method, path, parameters,
                                              idempotency key, status, replayed (never the key)
    GET  /_sandbox/objects/{kind}             customers, invoices, charges... (newest version)
    GET  /_sandbox/events[?type=]             events, oldest first
    GET  /_sandbox/deliveries                 webhook delivery attempts
    GET  /_sandbox/webhook_endpoints          endpoints (never their secrets)
    POST /_sandbox/webhook_endpoints          {"url", "secret"?, "events"?, "api_version"?} → the secret once
    POST /_sandbox/webhooks/deliver           deliver what is due now
    POST /_sandbox/webhooks/duplicate_next    {"type"?, "times"?}
    POST /_sandbox/webhooks/hold_next         {"type"?, "times"?}
    POST /_sandbox/webhooks/release_held
    POST /_sandbox/clock/advance?seconds=N
    POST /_sandbox/faults                     {"kind", "method"?, "path_contains"?, "times"?}
    POST /_sandbox/rate_limit                 {"per_second": N or null}
    POST /_sandbox/keys                       {"live"?, "restricted"?} → {"secret"}
    POST /_sandbox/keys/revoke | /expire      {"secret"}
    POST /_sandbox/customers                  {"name", "email", "metadata"...}
    POST /_sandbox/invoices/{id}/pay          {"amount"?, "payment_method"?}
    POST /_sandbox/charges/{id}/refund        {"amount"?, "pending"?}
    POST /_sandbox/refunds/{id}/settle        {"status"}
    POST /_sandbox/refunds/{id}/fail          {"failure_reason"?}  a succeeded refund fails after the fact
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .payments import REFUND_FAILURE_DEFAULT
from .state import isoformat_epoch
from .web import Request, Response, StripeError, json_response

if TYPE_CHECKING:
    from .app import StripeSimulator


def handle(sim: StripeSimulator, request: Request) -> Response:
    try:
        return _route(sim, request)
    except StripeError as exc:
        return exc.response()
    except (KeyError, ValueError, TypeError) as exc:
        return StripeError(400, f"{type(exc).__name__}: {exc}").response()


def _route(sim: StripeSimulator, request: Request) -> Response:
    parts = request.path.strip("/").split("/")[1:]
    query = dict(parse_qsl(request.query_string, keep_blank_values=True))
    body = request.json() if request.method == "POST" else {}
    get, post = request.method == "GET", request.method == "POST"
    if get and parts == ["state"]:
        return json_response(state(sim))
    if get and parts == ["requests"]:
        records = sim.requests_to(path_contains=query.get("path_contains", ""), method=query.get("method"))
        return json_response([r.as_json() for r in records])
    if get and len(parts) == 2 and parts[0] == "objects":
        return json_response(sim.objects(parts[1].removesuffix("s")))
    if get and parts == ["events"]:
        return json_response(sim.events(query.get("type")))
    if get and parts == ["deliveries"]:
        return json_response([a.as_json() for a in sim.deliveries()])
    if parts == ["webhook_endpoints"]:
        if post:
            endpoint = sim.add_webhook_endpoint(body["url"], body.get("secret"), events=body.get("events", ["*"]),
                                                api_version=body.get("api_version"))
            return json_response({**endpoint.as_json(), "secret": endpoint.secret}, 201)
        return json_response([e.as_json() for e in sim.webhooks.endpoints.values()])
    if post and parts[:1] == ["webhooks"]:
        return _webhooks(sim, parts[1:], body)
    if post and parts == ["clock", "advance"]:
        sim.advance(float(query.get("seconds", "0")))
        return json_response({"now": isoformat_epoch(sim.clock.now())})
    if post and parts == ["faults"]:
        fault = sim.fail_next(body["kind"], method=body.get("method"), path_contains=body.get("path_contains"),
                              times=int(body.get("times", 1)))
        return json_response({"kind": str(fault.kind), "remaining": fault.remaining}, 201)
    if post and parts == ["rate_limit"]:
        sim.set_rate_limit(body.get("per_second"))
        return json_response({"per_second": sim.limit.per_second})
    if post and parts[:1] == ["keys"]:
        return _keys(sim, parts[1:], body)
    if post and parts == ["customers"]:
        return json_response(sim.add_customer(**body), 201)
    if post and len(parts) == 3:
        return _act(sim, parts, body)
    raise StripeError(404, f"No sandbox endpoint {request.method} {request.path}")


def _webhooks(sim: StripeSimulator, parts: list[str], body: dict[str, Any]) -> Response:
    if parts == ["deliver"]:
        return json_response([a.as_json() for a in sim.deliver_pending()])
    if parts == ["duplicate_next"]:
        sim.duplicate_next(body.get("type"), times=int(body.get("times", 1)))
    elif parts == ["hold_next"]:
        sim.hold_next(body.get("type"), times=int(body.get("times", 1)))
    elif parts == ["release_held"]:
        sim.webhooks.release_held()
    else:
        raise StripeError(404, f"No sandbox endpoint /webhooks/{'/'.join(parts)}")
    return json_response({"ok": True})


def _keys(sim: StripeSimulator, parts: list[str], body: dict[str, Any]) -> Response:
    if not parts:
        return json_response({"secret": sim.add_key(live=bool(body.get("live")), restricted=body.get("restricted"))}, 201)
    if parts == ["revoke"]:
        sim.revoke_key(body["secret"])
    elif parts == ["expire"]:
        sim.expire_key(body["secret"])
    else:
        raise StripeError(404, f"No sandbox endpoint /keys/{'/'.join(parts)}")
    return json_response({"ok": True})


def _act(sim: StripeSimulator, parts: list[str], body: dict[str, Any]) -> Response:
    kind, object_id, verb = parts
    if (kind, verb) == ("invoices", "pay"):
        return json_response(sim.pay_invoice(object_id, amount=body.get("amount"),
                                             payment_method=body.get("payment_method", "pm_card_visa")))
    if (kind, verb) == ("charges", "refund"):
        return json_response(sim.refund_charge(object_id, amount=body.get("amount"), pending=bool(body.get("pending"))))
    if (kind, verb) == ("refunds", "settle"):
        return json_response(sim.settle_refund(object_id, body.get("status", "succeeded")))
    if (kind, verb) == ("refunds", "fail"):
        return json_response(sim.fail_refund(object_id, body.get("failure_reason", REFUND_FAILURE_DEFAULT)))
    raise StripeError(404, f"No sandbox endpoint /{'/'.join(parts)}")


def state(sim: StripeSimulator) -> dict[str, Any]:
    with sim.lock:
        counts = Counter(o["object"] for ledger in sim.ledgers.values() for o in ledger.objects.values())
        return {
            "now": isoformat_epoch(sim.clock.now()),
            "accounts": [{"id": a.id, "name": a.name, "api_version": a.api_version,
                          "keys": [{"last4": k.last4, "livemode": k.livemode, "state": k.state,
                                    "restricted": k.permissions is not None}
                                   for k in sim.keys.values() if k.account_id == a.id]}
                         for a in sim.accounts.values()],
            "objects": dict(sorted(counts.items())),
            "rate_limit": sim.limit.per_second,
            "requests": len(sim.requests),
            "rejected_429": sum(1 for r in sim.requests if r.status == 429),
            "webhook_endpoints": len(sim.webhooks.endpoints),
            "pending_deliveries": len(sim.webhooks.pending),
        }
