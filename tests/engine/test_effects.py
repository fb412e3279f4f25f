"""Effects: declared before they are made, made at most once, looked for when an earlier try may
have made them; the key is the same on every try and every replay."""
from __future__ import annotations

import pytest

from connector.documents import document_receive
from connector.effects import effect_declare, effect_make
from connector.failures import DataFailure, TransientFailure
from connector.http import DeliveryUnknown
from connector.models import Effect, EffectState
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


class Died(BaseException):
    """The process dies inside the call: no handler of ours runs."""


class Outside:
    """An outside system with no idempotency: every create is a new record."""

    def __init__(self) -> None:
        self.records: list[str] = []
        self.looks = 0

    def create(self, key: str, *, then: BaseException | None = None) -> dict:
        self.records.append(key)
        if then is not None:
            raise then
        return {"id": f"R{len(self.records)}"}

    def look(self) -> dict | None:
        self.looks += 1
        return {"id": f"R{len(self.records)}", "found": True} if self.records else None


@pytest.fixture
def document():
    return document_receive(tenant=make_tenant(), flow="echo", external_key="K-1", raw="r")[0]


def make(document, outside: Outside, **kwargs):
    return effect_make(document=document, step="send", name="create", look=outside.look, **kwargs)


def test_the_first_try_declares_then_makes_it_and_keeps_the_answer(document):
    outside, seen = Outside(), []

    result = make(document, outside, do=lambda key: seen.append(Effect.objects.get().state) or outside.create(key))

    assert seen == [EffectState.UNKNOWN], "committed as 'may have happened' before the call"
    effect = Effect.objects.get()
    assert (effect.state, effect.confirmed_by, effect.calls, effect.result) == (EffectState.CONFIRMED, "do", 1, result)
    assert outside.records == [effect.key] and effect.key.startswith("mlc-echo-")
    assert outside.looks == 0, "nothing to look for on a first try"


def test_a_confirmed_effect_is_never_made_or_looked_for_again(document):
    outside = Outside()
    first = make(document, outside, do=outside.create)
    again = make(document, outside, do=outside.create)
    assert again == first and len(outside.records) == 1 and outside.looks == 0


def test_after_a_crash_the_next_try_looks_first_and_does_not_make_it_twice(document):
    outside = Outside()
    with pytest.raises(Died):
        make(document, outside, do=lambda key: outside.create(key, then=Died()))
    assert Effect.objects.get().state == EffectState.UNKNOWN

    result = make(document, outside, do=outside.create)

    assert outside.records == [Effect.objects.get().key] and outside.looks == 1
    effect = Effect.objects.get()
    assert (effect.state, effect.confirmed_by, effect.calls) == (EffectState.CONFIRMED, "look", 1)
    assert result == {"id": "R1", "found": True}


def test_a_crash_before_the_call_went_out_is_found_not_made_and_made_once(document):
    outside = Outside()
    with pytest.raises(Died):
        make(document, outside, do=lambda key: (_ for _ in ()).throw(Died()))
    assert outside.records == []

    make(document, outside, do=outside.create)

    effect = Effect.objects.get()
    assert outside.looks == 1 and outside.records == [effect.key], "looked, found nothing, made it"
    assert (effect.confirmed_by, effect.calls) == ("do", 2)


def test_a_lost_answer_leaves_it_unknown_and_the_retry_looks(document):
    outside = Outside()
    lost = DeliveryUnknown("POST /records: ReadTimeout after sending", system="outside")
    with pytest.raises(DeliveryUnknown):
        make(document, outside, do=lambda key: outside.create(key, then=lost))
    effect = Effect.objects.get()
    assert effect.state == EffectState.UNKNOWN and "ReadTimeout" in effect.error

    make(document, outside, do=outside.create)
    assert len(outside.records) == 1 and Effect.objects.get().confirmed_by == "look"


@pytest.mark.parametrize("refusal", [TransientFailure("503, not processed", system="outside"),
                                     DataFailure("400: invalid amount", system="outside")])
def test_a_refusal_means_not_made_so_the_retry_makes_it_without_looking(document, refusal):
    outside = Outside()
    with pytest.raises(type(refusal)):
        make(document, outside, do=lambda key: (_ for _ in ()).throw(refusal))
    assert Effect.objects.get().state == EffectState.INTENDED

    make(document, outside, do=outside.create)
    assert outside.looks == 0 and len(outside.records) == 1


def test_the_key_and_intent_are_fixed_at_the_first_declaration(document):
    keys = []
    declared = effect_declare(document=document, step="post", name="post", key="EDIAP0001", intent={"period": 202406})
    again = effect_declare(document=document, step="post", name="post", key="OTHER", intent={"period": 202407})
    assert (again.pk, again.key, again.intent) == (declared.pk, "EDIAP0001", {"period": 202406})

    for _ in range(2):
        with pytest.raises(TransientFailure):
            effect_make(document=document, step="post", name="post", look=lambda: None, key="IGNORED",
                        do=lambda key: keys.append(key) or (_ for _ in ()).throw(TransientFailure("busy")))
    assert keys == ["EDIAP0001", "EDIAP0001"], "every try uses the declared key"


def test_one_row_per_document_step_and_name(document):
    from django.db import IntegrityError, transaction

    effect_declare(document=document, step="send", name="create")
    with pytest.raises(IntegrityError), transaction.atomic():
        Effect.objects.create(document=document, step="send", name="create", key="x")
    effect_declare(document=document, step="send", name="another")
    effect_declare(document=document, step="confirm", name="create")
    assert Effect.objects.filter(document=document).count() == 3
