"""The Stripe-Signature check, written here rather than taken from stripe-python.

Stripe signs `"{t}.{raw body}"` with HMAC-SHA256 keyed by the whole `whsec_…` secret and
sends `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`; any v1 may match (Stripe sends one
per active secret while a secret is rolled). `stripe.WebhookSignature.verify_header` (16.1.0)
does not fit, for four reasons read in its source: it never rejects a timestamp from the
future (only `t < now - tolerance`, and nothing at all unless a tolerance is passed); it takes
one secret, so an endpoint with an old and a new secret would call it per secret and parse
the header each time; it decodes the body as UTF-8 before the MAC, so a body that is not
UTF-8 raises UnicodeDecodeError instead of a signature error, and the MAC is not computed over
the exact stored bytes; and its errors do not say which of our reasons (missing, malformed,
no match, stale, future) applied, which the ledger and the status code need. What is left is
a dozen lines of standard library: the HMAC over the raw bytes, compared in constant time.

The MAC is checked before the timestamp, as Stripe does: only an authentic timestamp says
anything, and an unsigned request learns nothing about our clock.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SCHEME = "v1"
HEADER = "Stripe-Signature"


class SignatureRejected(Exception):
    """The delivery is not proven to come from Stripe; `outcome` names why (a DeliveryOutcome value).

    The message names the problem only: never a secret, never an expected signature."""

    def __init__(self, outcome: str, message: str, *, timestamp: int | None = None,
                 secret_id: int | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.timestamp = timestamp
        # Set for a stale or future timestamp only: the MAC matched this secret.
        self.secret_id = secret_id


@dataclass(frozen=True)
class Verified:
    secret_id: int
    timestamp: int


def signature_header_parse(header: str | None) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) of a Stripe-Signature header; other schemes (v0) are ignored."""
    if header is None or not header.strip():
        raise SignatureRejected("no_signature", f"the {HEADER} header is missing")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureRejected("malformed_signature", f"{HEADER} item {item.strip()[:20]!r} is not key=value")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        raise SignatureRejected("malformed_signature", f"{HEADER} needs exactly one t=<unix seconds>")
    if not signatures:
        raise SignatureRejected("malformed_signature", f"{HEADER} has no {SCHEME}= signature")
    return int(timestamps[0]), signatures


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def signature_verify(*, body: bytes, header: str | None, secrets: Iterable[tuple[int, str]], now: float,
                     tolerance: int) -> Verified:
    """Which of `secrets` (id, value) signed `body`, and when; raises SignatureRejected otherwise.

    `secrets` are the endpoint's active ones (the caller drops expired ones). The timestamp must
    lie within `tolerance` seconds of `now`, before or after it."""
    timestamp, signatures = signature_header_parse(header)
    candidates: Sequence[tuple[int, str]] = list(secrets)
    if not candidates:
        raise SignatureRejected("signature_mismatch", "the endpoint has no active signing secret", timestamp=timestamp)
    wanted = [s.encode() for s in signatures]

    def signed_with(secret: str) -> bool:
        expected = signature_compute(secret=secret, timestamp=timestamp, body=body).encode()
        return any(hmac.compare_digest(expected, s) for s in wanted)

    secret_id = next((secret_id for secret_id, secret in candidates if signed_with(secret)), None)
    if secret_id is None:
        raise SignatureRejected("signature_mismatch", f"no {SCHEME} signature matches a secret of this endpoint",
                                timestamp=timestamp)
    if timestamp < now - tolerance:
        raise SignatureRejected("stale", f"signed {int(now - timestamp)} s ago, more than the {tolerance} s allowed",
                                timestamp=timestamp, secret_id=secret_id)
    if timestamp > now + tolerance:
        raise SignatureRejected("future", f"signed {int(timestamp - now)} s in the future, more than the "
                                          f"{tolerance} s allowed", timestamp=timestamp, secret_id=secret_id)
    return Verified(secret_id=secret_id, timestamp=timestamp)
