"""Secret-key authentication as Stripe does it.

The key travels as HTTP Basic (the key as user name, no password) or as a Bearer token.
A missing, unknown or revoked key is 401 and an expired (rolled) one 401 `api_key_expired`,
each naming the key masked to its last four characters; a restricted key (`rk_...`) without
the permission an endpoint needs is 403. Errors carry Stripe's shape and
`WWW-Authenticate`, and never the key itself.
"""
from __future__ import annotations

import base64
import binascii

from .state import ACTIVE, EXPIRED, ApiKey, mask_key
from .web import Request, StripeError

CHALLENGE = {"WWW-Authenticate": 'Basic realm="Stripe"'}
MISSING = ("You did not provide an API key. You need to provide your API key in the Authorization header, using "
           "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
           "for details, or we can help at https://support.stripe.com/.")
# The permission a restricted key needs, by the first part of the path below /v1/.
RESOURCES = {"customers": "customers", "invoices": "invoices", "invoiceitems": "invoices", "invoice_payments": "invoices",
             "credit_notes": "credit_notes", "charges": "charges", "refunds": "charges",
             "payment_intents": "payment_intents", "events": "events", "account": "account"}


def presented_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user, _, _ = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


def authenticate(request: Request, keys: dict[str, ApiKey]) -> ApiKey:
    secret = presented_key(request)
    if secret is None:
        raise StripeError(401, MISSING, headers=CHALLENGE)
    key = keys.get(secret)
    if key is None or key.state not in (ACTIVE, EXPIRED):
        raise StripeError(401, f"Invalid API Key provided: {mask_key(secret)}", headers=CHALLENGE)
    if key.state == EXPIRED:
        raise StripeError(401, f"Expired API Key provided: {mask_key(secret)}. Application access may have been revoked.",
                          code="api_key_expired", headers=CHALLENGE)
    if secret.startswith("pk_"):
        raise StripeError(401, "This API call cannot be made with a publishable API key. Please use a secret API key. "
                               "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
                          code="secret_key_required", headers=CHALLENGE)
    return key


def authorize(key: ApiKey, method: str, path: str) -> None:
    if key.permissions is None:
        return
    resource = RESOURCES.get(path.removeprefix("/v1/").split("/", 1)[0], "other")
    needed = "read" if method == "GET" else "write"
    granted = key.permissions.get(resource)
    if granted == "write" or granted == needed:
        return
    raise StripeError(403, f"The provided key '{mask_key(key.secret)}' does not have the required permissions for this "
                           f"endpoint on account '{key.account_id}'. Having the 'rak_{resource}_{needed}' permission "
                           "would allow this request to continue.")
