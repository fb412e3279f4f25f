"""One Stripe create as an engine effect, with the Idempotency-Key Stripe needs.

The key is derived from (tenant, invoice or firm, step, effect) and fixed at the effect's
declaration: every try while the outcome is unknown sends it again, so Stripe replays the
object it made instead of making a second. Only after the effect's look has proved the
object absent (or Stripe refused the request before acting) does a new try send the key
with the try's number appended: Stripe keeps a 500 under its key for 24 hours and would
replay that failure to every resend of the same key. So every look here must read Stripe
at once (a list or a retrieve, never search, which lags).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.pipeline import StepContext


def stripe_effect(ctx: StepContext, name: str, *, key: str, do: Callable[[str], Any],
                  look: Callable[[], Any]) -> Any:
    row = ctx.effect_declare(name, key=key[:255])

    def attempt(declared_key: str) -> Any:
        return do(declared_key if row.calls <= 1 else f"{declared_key[:240]}-try{row.calls}")

    return ctx.effect(name, do=attempt, look=look)
