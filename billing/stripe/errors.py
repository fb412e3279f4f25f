"""Stripe's errors as the engine's failure kinds.

- card declined, invalid request (unknown parameter, bad state, missing object): data;
- authentication and permission (a wrong, revoked, expired or restricted key), and an API
  version Stripe does not know: config, naming the key by its last four characters only;
- rate limit, connection errors, 5xx: transient;
- a POST answered with 500 (or 502/504): Stripe says the outcome of a 500 is indeterminate,
  so it is `DeliveryUnknown` (transient, "look before you resend"), like a POST whose answer
  was lost on the way (connector.http raises that one itself). `replayed` tells the caller
  that Stripe replayed a saved 500 for this Idempotency-Key: resending under the same key
  will only replay it again.

Messages never carry a key: Stripe's own masked form is rewritten to "…" plus the last four.
"""
from __future__ import annotations

import re

import stripe

from connector.failures import ConfigFailure, DataFailure, IntegrationFailure, TransientFailure
from connector.http import DeliveryUnknown

SYSTEM = "stripe"
KEY_LIKE = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+")
NOT_PROCESSED = (503,)


def key_hint(secret: str) -> str:
    """How a key is named in a message: its last four characters, nothing else."""
    return f"…{secret[-4:]}" if secret else "(none)"


def sanitized(message: str | None) -> str:
    return KEY_LIKE.sub(lambda m: key_hint(m.group(0)), message or "").strip()


class StripeKeyRefused(ConfigFailure):
    """The secret key is wrong, revoked, expired, or lacks a permission."""


class StripeVersionRefused(ConfigFailure):
    """The connection pins an API version Stripe does not know."""


class StripeRequestRefused(DataFailure):
    """Stripe refused the request itself (a parameter, the object's state); `param` names what."""

    param: str | None = None
    code: str | None = None


class StripeNotFound(StripeRequestRefused):
    """No such object (code resource_missing)."""


class StripeIdempotencyConflict(StripeRequestRefused):
    """The Idempotency-Key was used before for another endpoint or other parameters."""


class StripeCardDeclined(DataFailure):
    decline_code: str | None = None


class StripeOutcomeUnknown(DeliveryUnknown):
    replayed: bool = False


def failure_from(exc: stripe.StripeError, *, method: str, path: str, key: str) -> IntegrationFailure:
    """The failure an SDK error stands for; the caller raises it `from None`."""
    status = exc.http_status
    detail = sanitized(exc.user_message or str(exc))
    where = f"{method} {path}"
    if isinstance(exc, stripe.AuthenticationError):
        return StripeKeyRefused(f"Stripe refused the secret key ending in {key_hint(key)} ({status}): {detail}",
                                status=status, system=SYSTEM)
    if isinstance(exc, stripe.PermissionError):
        return StripeKeyRefused(f"the secret key ending in {key_hint(key)} may not call {where} ({status}): {detail}",
                                status=status, system=SYSTEM)
    if isinstance(exc, stripe.CardError):
        failure = StripeCardDeclined(f"{where}: card declined ({exc.code}): {detail}", status=status, system=SYSTEM)
        failure.decline_code = (exc.error.decline_code if exc.error else None)
        return failure
    if isinstance(exc, stripe.RateLimitError):
        return TransientFailure(f"{where}: rate limited by Stripe ({status})", status=status, system=SYSTEM)
    if isinstance(exc, stripe.IdempotencyError):
        return _refused(StripeIdempotencyConflict, exc, f"{where}: {detail}", status)
    if isinstance(exc, stripe.InvalidRequestError):
        if detail.startswith("Invalid Stripe API version"):
            return StripeVersionRefused(f"{detail}: correct the API version pinned on the Stripe connection",
                                        status=status, system=SYSTEM)
        kind = StripeNotFound if exc.code == "resource_missing" else StripeRequestRefused
        return _refused(kind, exc, f"{where}: {detail}", status)
    if isinstance(exc, stripe.APIConnectionError):
        return TransientFailure(f"{where}: cannot reach Stripe ({detail})", system=SYSTEM)
    if isinstance(exc, stripe.APIError) and status is not None and status >= 500 and method == "POST" \
            and status not in NOT_PROCESSED:
        failure = StripeOutcomeUnknown(f"{where} answered {status}: the outcome is unknown until looked up ({detail})",
                                       status=status, system=SYSTEM)
        failure.replayed = bool(exc.headers and exc.headers.get("idempotent-replayed") == "true")
        return failure
    return TransientFailure(f"{where} answered {status}: {detail}", status=status, system=SYSTEM)


def _refused(kind: type[StripeRequestRefused], exc: stripe.StripeError, message: str, status: int | None):
    failure = kind(message, status=status, system=SYSTEM)
    failure.param = getattr(exc, "param", None)
    failure.code = exc.code
    return failure
