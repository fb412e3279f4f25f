"""Trading-partner services: control numbers, envelope settings, who bills through whom."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from tenants.models import Tenant

from .models import PartnerClient, TradingPartner

# ISA13 is nine digits and GS06 / ST02 at most nine: wrap past the largest, never to 0.
MAX_CONTROL = 999_999_999


@dataclass(frozen=True)
class AllocatedControls:
    interchange: int
    group: int
    sets: tuple[int, ...]


def control_numbers_allocate(*, partner: TradingPartner, sets: int = 1) -> AllocatedControls:
    """Hand out one ISA13, one GS06 and `sets` ST02 values, under a row lock on the partner.

    Unique under concurrency (the lock serialises allocators; on SQLite the IMMEDIATE
    transaction does) and never reused: a number handed out and then not sent is a gap,
    which X12 allows, never a repeat.
    """
    if sets < 1:
        raise ValueError("at least one transaction set")
    with transaction.atomic():
        locked = TradingPartner.objects.select_for_update().get(pk=partner.pk)
        interchange = _next(locked.last_interchange_control)
        group = _next(locked.last_group_control)
        first_set = locked.last_set_control
        set_numbers = []
        for _ in range(sets):
            first_set = _next(first_set)
            set_numbers.append(first_set)
        TradingPartner.objects.filter(pk=partner.pk).update(
            last_interchange_control=interchange, last_group_control=group, last_set_control=set_numbers[-1],
        )
    return AllocatedControls(interchange=interchange, group=group, sets=tuple(set_numbers))


def _next(value: int) -> int:
    return 1 if value >= MAX_CONTROL else value + 1


def partner_for_client(*, tenant: Tenant, client_id: str) -> TradingPartner | None:
    link = (PartnerClient.objects.select_related("partner")
            .filter(tenant=tenant, client_id=client_id, partner__enabled=True).first())
    return link.partner if link else None


def partner_for_sender(*, tenant: Tenant, qualifier: str, sender_id: str) -> TradingPartner | None:
    return TradingPartner.objects.filter(tenant=tenant, their_isa_qualifier=qualifier.strip(),
                                         their_isa_id=sender_id.strip(), enabled=True).first()


def partners_polled(*, tenant: Tenant) -> list[TradingPartner]:
    return list(TradingPartner.objects.filter(tenant=tenant, enabled=True).exclude(inbound_folder=""))




def envelope_for(partner: TradingPartner, *, newline: bool = False):
    """The partner agreement as edi.x12 envelope settings, for the 810s and 997s we send."""
    from .x12 import CREDIT_AS_BIG07, CREDIT_AS_NEGATIVE, EnvelopeSettings

    return EnvelopeSettings(
        sender_qualifier=partner.our_isa_qualifier, sender_id=partner.our_isa_id,
        receiver_qualifier=partner.their_isa_qualifier, receiver_id=partner.their_isa_id,
        group_sender_id=partner.our_gs_id, group_receiver_id=partner.their_gs_id,
        version=partner.x12_version, usage="P" if partner.production else "T",
        element_separator=partner.element_separator, component_separator=partner.component_separator,
        segment_terminator=partner.segment_terminator, repetition_separator=partner.repetition_separator,
        newline=newline, write_ctt=partner.write_ctt,
        credit_memo=CREDIT_AS_BIG07 if partner.credit_memo_style == "big07_cr" else CREDIT_AS_NEGATIVE,
    )

__all__ = ["AllocatedControls", "control_numbers_allocate", "envelope_for", "partner_for_client", "partner_for_sender",
           "partners_polled"]
