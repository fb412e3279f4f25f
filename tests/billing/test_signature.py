"""The Stripe-Signature check on its own, with signatures made here by hmac and by stripe-python.

The last two tests pin down why the check is ours and not stripe.WebhookSignature.verify_header:
if stripe-python ever refuses future timestamps and non-UTF-8 bodies cleanly, they fail and
the choice can be revisited."""
from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import stripe

from billing.webhooks.signature import SignatureRejected, signature_header_parse, signature_verify

from .events import signature_header

NOW = 1_760_000_000
SECRET, ROLLED = "whsec_first0123456789abcdef", "whsec_second0123456789abcdef"
BODY = b'{\n  "id": "evt_1",\n  "type": "invoice.paid"\n}'


def verify(header, *, body=BODY, secrets=((1, SECRET),), now=NOW, tolerance=300):
    return signature_verify(body=body, header=header, secrets=secrets, now=now, tolerance=tolerance)


def rejected(header, **kwargs) -> SignatureRejected:
    with pytest.raises(SignatureRejected) as info:
        verify(header, **kwargs)
    return info.value


def test_a_signature_by_the_endpoint_secret_verifies_and_names_the_secret():
    result = verify(signature_header(BODY, SECRET, timestamp=NOW), secrets=((7, ROLLED), (9, SECRET)))
    assert (result.secret_id, result.timestamp) == (9, NOW)


def test_stripe_pythons_own_header_verifies():
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=NOW)
    assert verify(header).secret_id == 1


def test_any_v1_of_several_may_match_and_other_schemes_are_ignored():
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    header = f"t={NOW},v0=deadbeef,v1={'0' * 64},v1={mac}"
    assert verify(header).secret_id == 1


def test_the_mac_is_over_the_exact_bytes_even_when_they_are_not_utf8():
    body = b'{"id": "evt_1", "type": "caf\xe9"}'
    assert verify(signature_header(body, SECRET, timestamp=NOW), body=body).secret_id == 1
    assert rejected(signature_header(body, SECRET, timestamp=NOW), body=body + b" ").outcome == "signature_mismatch"


@pytest.mark.parametrize(("offset", "outcome"), [(-300, None), (-301, "stale"), (300, None), (301, "future")])
def test_the_tolerance_holds_in_both_directions_to_the_second(offset, outcome):
    header = signature_header(BODY, SECRET, timestamp=NOW + offset)
    if outcome is None:
        assert verify(header).timestamp == NOW + offset
    else:
        problem = rejected(header)
        assert problem.outcome == outcome and problem.secret_id == 1 and "300 s allowed" in str(problem)


def test_the_mac_is_judged_before_the_time():
    assert rejected(signature_header(BODY, "whsec_wrong0123456789", timestamp=NOW - 3600)).outcome == "signature_mismatch"


def test_no_active_secret_is_a_mismatch_that_says_so():
    problem = rejected(signature_header(BODY, SECRET, timestamp=NOW), secrets=())
    assert problem.outcome == "signature_mismatch" and "no active signing secret" in str(problem)


@pytest.mark.parametrize(("header", "outcome"), [
    (None, "no_signature"), ("  ", "no_signature"), ("t=1", "malformed_signature"), ("v1=ab", "malformed_signature"),
    ("t=x,v1=ab", "malformed_signature"), ("t=-5,v1=ab", "malformed_signature"), ("t=1,,v1=ab", "malformed_signature"),
    ("t=١٢٣,v1=ab", "malformed_signature"),
])
def test_malformed_headers_are_named(header, outcome):
    with pytest.raises(SignatureRejected) as info:
        signature_header_parse(header)
    assert info.value.outcome == outcome


def test_no_message_contains_the_secret_or_the_expected_signature():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    messages = [str(rejected(h)) for h in (
        signature_header(BODY + b"x", SECRET, timestamp=NOW), signature_header(BODY, SECRET, timestamp=NOW - 999),
        signature_header(BODY, SECRET, timestamp=NOW + 999), "t=1", None)]
    assert all(SECRET not in m and expected not in m for m in messages)


def test_why_not_stripe_python_it_accepts_a_timestamp_an_hour_ahead():
    now = int(time.time())  # stripe-python reads the clock itself
    header = signature_header(BODY, SECRET, timestamp=now + 3600)
    stripe.WebhookSignature.verify_header(BODY, header, SECRET, tolerance=300)  # no error: the future is fine to it
    assert rejected(header, now=now).outcome == "future"


def test_why_not_stripe_python_a_non_utf8_body_raises_a_decode_error_not_a_signature_error():
    body = b'{"id": "evt_1", "type": "caf\xe9"}'
    with pytest.raises(UnicodeDecodeError):
        stripe.WebhookSignature.verify_header(body, signature_header(body, SECRET), SECRET, tolerance=300)
