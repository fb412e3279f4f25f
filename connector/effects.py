"""Outside effects, made at most once: declared before they are made, looked for after a crash.

"Never twice" rests on one habit: before a step changes something outside (uploads a file,
posts a voucher batch, creates a Stripe invoice) it declares the effect, and the declaration
is committed first. The row (connector.models.Effect, one per document, step and name) holds
a stable idempotency key that every try of that effect uses, retries and replays included,
and a state:

    intended  --do succeeds-->  confirmed
        |                           ^
        +-- do starts --> unknown --+-- look finds it made
                             |
                             +-- look proves it was not made --> do again

A step writes it in one call:

    invoice = ctx.effect(
        "create_invoice",
        do=lambda key: stripe.Invoice.create(customer=customer_id, idempotency_key=key, ...),
        look=lambda: find_invoice_by_metadata(document_id) or None,
    )

- `do(key)` makes the effect, using `key` as the outside system's idempotency key where it
  has one (Stripe's Idempotency-Key) or as the name it is known by (a Cleo file name, a
  Vantagepoint batch name: pass `key=` to choose it). It returns what is worth keeping of the
  answer as JSON data (a dict of ids); the engine stores it on the row and returns it.
- `look()` asks the outside system whether the effect already happened: the found record as
  JSON data, or None when it proves the effect was not made. It is called only when an earlier
  try may have made the effect: the worker died after `do` started (a SIGKILL leaves the row
  unknown, since it is marked unknown before `do` is called), or `do` raised DeliveryUnknown
  (the request went out and its answer was lost) or an exception the engine cannot read.
  An IntegrationFailure other than DeliveryUnknown means the outside system did not act: the
  row goes back to intended and the next try calls `do` without looking.
- Confirmed is final: a later try (a retry of a later step, a replay from an earlier step)
  gets the stored result back and neither looks nor acts.
- `intent=` fixes values at the first declaration that every later try must reuse (the
  posting period of a voucher batch); `ctx.effect_declare(name, key=..., intent=...)` returns
  the row, so a step can read them before making the effect.

The declaration must be committed before `do` runs, so call it outside any transaction
(steps run in autocommit). One row per (document, step, name) is a database constraint.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from .failures import IntegrationFailure
from .http import DeliveryUnknown
from .models import Document, Effect, EffectState

Do = Callable[[str], Any]
Look = Callable[[], Any]


def effect_key(document: Document, step: str, name: str) -> str:
    """A key no other effect will use: readable, and unique even across installations that
    share one outside account (a test and a staging database both at document 42)."""
    return f"mlc-{document.flow}-{document.pk}-{step}-{name}-{uuid.uuid4().hex[:12]}"[:255]


def effect_declare(*, document: Document, step: str, name: str, key: str | None = None,
                   intent: dict[str, Any] | None = None) -> Effect:
    """The effect's row, created (and committed) on the first call; later calls return it
    unchanged, with the key and intent it was first declared with."""
    return _create(document, step, name, key, intent, EffectState.INTENDED, calls=0)[0]


def effect_make(*, document: Document, step: str, name: str, do: Do, look: Look, key: str | None = None,
                intent: dict[str, Any] | None = None, declared: Effect | None = None) -> Any:
    """Make the effect at most once (see the module docstring); returns the stored result.
    `declared`: the row, when the caller has just declared (or read) it."""
    effect = declared
    if effect is None:
        # The first try declares it and marks it "may have happened" in one insert, committed
        # before `do` runs; any later try finds the row instead.
        effect, created = _create(document, step, name, key, intent, EffectState.UNKNOWN, calls=1)
        if created:
            return _do(effect, do)
    if effect.state == EffectState.CONFIRMED:
        return effect.result
    if effect.state == EffectState.UNKNOWN:
        found = look()
        if found is not None:
            return _settle(effect, EffectState.CONFIRMED, result=found, confirmed_by="look")
    # From here on the effect may have happened, whatever becomes of this process.
    effect.calls += 1
    _settle(effect, EffectState.UNKNOWN)
    return _do(effect, do)


def _create(document: Document, step: str, name: str, key: str | None, intent: dict[str, Any] | None, state: str,
            *, calls: int) -> tuple[Effect, bool]:
    """Insert first (the common case is a first try); the unique (document, step, name) turns
    a row that exists already into a lookup."""
    try:
        with transaction.atomic():
            return Effect.objects.create(document=document, step=step, name=name, state=state, calls=calls,
                                         key=key or effect_key(document, step, name), intent=intent or {}), True
    except IntegrityError:  # another worker declared it first: theirs is the one
        return Effect.objects.get(document=document, step=step, name=name), False


def _do(effect: Effect, do: Do) -> Any:
    try:
        made = do(effect.key)
    except DeliveryUnknown as exc:
        _settle(effect, EffectState.UNKNOWN, error=str(exc))
        raise
    except IntegrationFailure as exc:  # the outside system said no, or was never reached
        _settle(effect, EffectState.INTENDED, error=str(exc))
        raise
    except Exception as exc:
        _settle(effect, EffectState.UNKNOWN, error=f"{type(exc).__name__}: {exc}")
        raise
    return _settle(effect, EffectState.CONFIRMED, result=made, confirmed_by="do")


def _settle(effect: Effect, state: str, *, result: Any = None, confirmed_by: str = "", error: str = "") -> Any:
    effect.state = state
    fields = ["state", "calls", "error", "updated_at"]
    effect.error = error[:4000]
    if state == EffectState.CONFIRMED:
        effect.result = _as_json(result)
        effect.confirmed_by = confirmed_by
        fields += ["result", "confirmed_by"]
    effect.save(update_fields=fields)
    return effect.result


def _as_json(value: Any) -> Any:
    """What the database will give back on the next read, so the first try and a later one
    see the same value (a Stripe object is a dict; dates become text)."""
    return json.loads(json.dumps(value, default=str))


__all__ = ["Do", "Look", "effect_declare", "effect_key", "effect_make"]
