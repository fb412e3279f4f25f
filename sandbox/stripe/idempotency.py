"""Stripe's idempotency layer, as documented for API v1.

- A POST's `Idempotency-Key` is kept 24 hours (of the simulator's clock) per account and mode.
- The result is saved once the endpoint began executing, whatever it was: a 200, a 402
  decline, a 400 from the business rules, and a 500. The same key with the same parameters
  gets that saved answer again, with `Idempotent-Replayed: true` and `Original-Request`.
  (So a 500 replays as a 500: retrying it under the same key is pointless.)
- Nothing is saved for what fails before execution: a bad key (401), a refused version,
  the rate limit (429), a 503, unknown or malformed parameters (400).
- The same key on another endpoint, or with other parameters, is refused with 400
  `idempotency_error`; nothing runs.
- GET and DELETE ignore the header.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .state import DAY
from .web import Response, StripeError

MAX_KEY_LENGTH = 255


@dataclass
class Saved:
    method: str
    path: str
    params: dict[str, Any]
    response: Response
    request_id: str
    at: float


@dataclass
class IdempotencyStore:
    ttl: float = DAY
    saved: dict[tuple[str, bool, str], Saved] = field(default_factory=dict)

    @staticmethod
    def check_key(key: str) -> None:
        if len(key) > MAX_KEY_LENGTH:
            raise StripeError(400, f"Idempotency-Key is {len(key)} characters long; the maximum is {MAX_KEY_LENGTH}.")

    def replay(self, scope: tuple[str, bool], key: str, method: str, path: str, params: dict[str, Any],
               now: float) -> Response | None:
        """The saved answer for this key, None if there is none (or it has expired)."""
        saved = self.saved.get((*scope, key))
        if saved is None or saved.at <= now - self.ttl:
            return None
        if (saved.method, saved.path) != (method, path):
            raise StripeError(400, f"Keys for idempotent requests can only be used for the same endpoint they were "
                                   f"first used for ('{saved.method} {saved.path}' vs '{method} {path}'). Try using a "
                                   f"key other than '{key}' if you meant to execute a different request.",
                              type="idempotency_error")
        if saved.params != params:
            raise StripeError(400, "Keys for idempotent requests can only be used with the same parameters they were "
                                   f"first used with. Try using a key other than '{key}' if you meant to execute a "
                                   "different request.", type="idempotency_error")
        headers = {**saved.response.headers, "Idempotent-Replayed": "true", "Original-Request": saved.request_id}
        return Response(saved.response.status, saved.response.body, headers)

    def save(self, scope: tuple[str, bool], key: str, method: str, path: str, params: dict[str, Any],
             response: Response, request_id: str, now: float) -> None:
        self.saved[(*scope, key)] = Saved(method, path, params, response, request_id, now)

    def expired(self, now: float) -> None:
        for k in [k for k, s in self.saved.items() if s.at <= now - self.ttl]:
            del self.saved[k]
