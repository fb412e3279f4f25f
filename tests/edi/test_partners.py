"""Control numbers are unique under concurrency and never reused; envelopes follow the partner."""
import threading

import pytest
from django.db import connection

from edi.partners import MAX_CONTROL, control_numbers_allocate, envelope_for
from tests.factories import make_partner, make_tenant


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_never_share_a_number():
    partner = make_partner(make_tenant())
    results, errors = [], []

    def allocate():
        from django.db import connection as thread_connection
        try:
            for _ in range(10):
                results.append(control_numbers_allocate(partner=partner, sets=3))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    interchanges = [r.interchange for r in results]
    sets = [s for r in results for s in r.sets]
    assert sorted(interchanges) == list(range(1, 41)), f"{connection.vendor}: every ISA13 once"
    assert sorted(sets) == list(range(1, 121))
    partner.refresh_from_db()
    assert (partner.last_interchange_control, partner.last_set_control) == (40, 120)


@pytest.mark.django_db
def test_numbers_wrap_past_nine_digits_to_one_never_zero():
    partner = make_partner(make_tenant(), last_interchange_control=MAX_CONTROL, last_group_control=5)
    allocated = control_numbers_allocate(partner=partner)
    assert (allocated.interchange, allocated.group, allocated.sets) == (1, 6, (1,))


@pytest.mark.django_db
def test_envelope_follows_the_partner_agreement():
    partner = make_partner(make_tenant(), x12_version="005010", production=True, element_separator="|",
                           credit_memo_style="negative", write_ctt=False)
    envelope = envelope_for(partner)
    assert (envelope.version, envelope.usage, envelope.element_separator, envelope.write_ctt) == \
        ("005010", "P", "|", False)
    assert envelope.sender_id == "MLCONNECTOR" and envelope.receiver_id == partner.their_isa_id
