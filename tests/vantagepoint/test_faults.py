"""Every injected fault is either recovered or reported as the right failure kind.

Nothing sleeps: the HTTP policy's waits land in `sleeps`, the simulator's in `sim_sleeps`.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.failures import ConfigFailure, DataFailure, TransientFailure
from connector.http import DeliveryUnknown, mount_transport, unmount_transport
from connector.vantagepoint import (
    APVoucher,
    APVoucherBatch,
    APVoucherLine,
    VantagepointClient,
    batch_name,
    parse_post_reply,
)
from connector.vantagepoint.postings import UnreadablePostReply

MAX_ATTEMPTS = 5  # HttpPolicy's default


def a_batch(key: str = "file-1:inv-1") -> APVoucherBatch:
    line = APVoucherLine(wbs1="2023001.00", account="5010.00", amount=Decimal("410.00"), description="Drafting")
    voucher = APVoucher(vendor="V90002", invoice=f"INV-{key}", invoice_date=date(2024, 6, 3), lines=(line,))
    return APVoucherBatch(name=batch_name("MLAP", key), period=202406, vouchers=(voucher,))


def postings_of(sim, name: str) -> int:
    return len([b for b in sim.posted_batches() if b.name == name])


# -- reads: recovered, or transient when it persists ---------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_passing_server_error_on_a_read_is_retried(client, sim, sleeps, status):
    client.authenticate()
    sim.faults.fail(status, path="/firm", times=2)
    assert client.firms()
    assert [r.status for r in sim.requests_to("/firm")] == [status, status, 200]
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)  # backoff with jitter, capped per attempt


def test_a_persistent_500_is_a_transient_failure(client, sim, sleeps):
    client.authenticate()
    sim.faults.fail(500, path="/firm", times=None)
    with pytest.raises(TransientFailure) as failure:
        client.firms()
    assert failure.value.status == 500 and len(sim.requests_to("/firm")) == MAX_ATTEMPTS


def test_503_retry_after_is_honoured(client, sim, sleeps):
    client.authenticate()
    sim.faults.fail(503, path="/project", retry_after=7)
    assert client.projects()
    assert sleeps == [7.0]


def test_429_retry_after_is_honoured_then_reported_when_it_persists(client, sim, sleeps):
    client.authenticate()
    sim.faults.fail(429, path="/firm", retry_after=3)
    client.firms()
    assert sleeps == [3.0]
    sim.faults.fail(429, path="/firm", retry_after=11, times=None)
    with pytest.raises(TransientFailure) as failure:
        client.firms()
    assert failure.value.status == 429 and failure.value.retry_after == 11.0


def test_a_slow_answer_is_waited_for(client, sim, sim_sleeps, sleeps):
    sim.faults.slow(20, path="/PSALedger/IN")
    assert client.ar_invoices_since(None).invoices
    assert sim_sleeps == [20] and sleeps == []


def test_a_read_timeout_on_a_read_is_retried(client, sim, sim_sleeps):
    sim.faults.slow(45, path="/firm", read_timeout=30)
    assert client.firms()
    assert sim_sleeps == [30]
    first, second = sim.requests_to("/firm")
    assert first.status is None and "processed as 200" in first.fault and second.status == 200


def test_a_dropped_connection_on_a_read_is_retried(client, sim):
    sim.faults.drop(path="/firm", times=2)
    assert client.firms()
    assert [r.status for r in sim.requests_to("/firm")] == [None, None, 200]


def test_a_connection_that_keeps_dropping_is_a_transient_failure_not_a_bug(client, sim):
    sim.faults.drop(path="/firm", times=None)
    with pytest.raises(TransientFailure) as failure:
        client.firms()
    assert not isinstance(failure.value, DeliveryUnknown)


def test_the_token_endpoint_failing_for_a_while_is_recovered(client, sim, sleeps):
    sim.faults.fail(503, path="/token", times=2, retry_after=1)
    client.firms()
    assert sleeps == [1.0, 1.0] and [g.ok for g in sim.grants] == [True]


@pytest.mark.parametrize("status, kind", [(403, ConfigFailure), (400, DataFailure)])
def test_refusals_map_to_config_or_data(client, sim, status, kind):
    client.authenticate()
    sim.faults.fail(status, path="/firm", message="Request refused for a reason")
    with pytest.raises(kind) as failure:
        client.firms()
    assert failure.value.status == status


def test_a_400_about_the_role_is_a_config_failure(client, sim):
    client.authenticate()
    sim.faults.fail(400, path="/firm", message="Your role does not have access to Firms.")
    with pytest.raises(ConfigFailure, match="role"):
        client.firms()


# -- writes: never posted twice -------------------------------------------------------------------


def test_dropped_after_the_batch_was_created_the_retry_finds_it(client, sim):
    batch = a_batch()
    sim.faults.drop(path="/DataEntry/apControl", method="POST", after_processing=True)
    result = client.post_ap_voucher_batch(batch)
    assert not result.already_posted and postings_of(sim, batch.name) == 1
    created, duplicate = sim.requests_to("/DataEntry/apControl", "POST")
    assert created.status is None and "processed as 201" in created.fault and duplicate.status == 400


def test_a_timeout_while_creating_is_recovered_the_same_way(client, sim, sim_sleeps):
    batch = a_batch()
    sim.faults.slow(90, path="/DataEntry/apControl", method="POST", read_timeout=30)
    client.post_ap_voucher_batch(batch)
    assert postings_of(sim, batch.name) == 1


def test_dropped_after_posting_the_ledger_says_it_posted(client, sim):
    batch = a_batch()
    sim.faults.drop(path="/DataEntry/PostTransFile", after_processing=True)
    result = client.post_ap_voucher_batch(batch)
    assert result.already_posted and result.post_seqs == (sim.posted_batches()[0].post_seq,)
    assert postings_of(sim, batch.name) == 1
    assert len(sim.requests_to("/DataEntry/PostTransFile")) == 1  # never resent blindly


def test_dropped_before_posting_is_delivery_unknown_and_the_next_attempt_posts_once(client, sim):
    batch = a_batch()
    sim.faults.drop(path="/DataEntry/PostTransFile")
    with pytest.raises(DeliveryUnknown):
        client.post_ap_voucher_batch(batch)
    assert postings_of(sim, batch.name) == 0
    client.post_ap_voucher_batch(batch)
    client.post_ap_voucher_batch(batch)
    assert postings_of(sim, batch.name) == 1


def test_a_500_from_post_trans_file_is_transient_and_not_resent(client, sim, sleeps):
    batch = a_batch()
    sim.faults.fail(500, path="/DataEntry/PostTransFile")
    with pytest.raises(TransientFailure) as failure:
        client.post_ap_voucher_batch(batch)
    assert failure.value.status == 500 and len(sim.requests_to("/DataEntry/PostTransFile")) == 1


def test_a_503_from_post_trans_file_is_retried_because_nothing_was_done(client, sim, sleeps):
    batch = a_batch()
    sim.faults.fail(503, path="/DataEntry/PostTransFile", retry_after=2)
    assert not client.post_ap_voucher_batch(batch).already_posted
    assert sleeps == [2.0] and postings_of(sim, batch.name) == 1


@pytest.mark.parametrize("odd", [b"", b"[]", b'"postseqList="', b'"{\\"postseqList\\": \\"x|\\"}"', b"<html/>",
                                 b'{"postseqList": "|"}'])
def test_an_unreadable_reply_is_checked_against_the_ledger(client, sim, odd):
    posted = a_batch()
    sim.faults.reply(200, odd, path="/DataEntry/PostTransFile", after_processing=True)
    result = client.post_ap_voucher_batch(posted)
    assert result.already_posted and postings_of(sim, posted.name) == 1

    # The same garbage without a posting: a data failure saying what came back, not an IndexError.
    not_posted = a_batch("file-2:inv-9")
    sim.faults.reply(200, odd, path="/DataEntry/PostTransFile")
    with pytest.raises(UnreadablePostReply) as failure:
        client.post_ap_voucher_batch(not_posted)
    assert "PostTransFile" in failure.value.message and postings_of(sim, not_posted.name) == 0


def test_an_error_list_in_the_reply_is_a_data_failure(client, sim):
    reply = json.dumps(json.dumps({"batchList": "", "postseqList": "", "errorList": "Period is locked|"}))
    sim.faults.reply(200, reply, path="/DataEntry/PostTransFile")
    with pytest.raises(DataFailure, match="Period is locked"):
        client.post_ap_voucher_batch(a_batch())


# -- the reply parser on its own ------------------------------------------------------------------


def test_the_documented_reply_shape_is_read():
    reply = parse_post_reply(json.dumps({"batchList": "B1|B2|", "postseqList": "57|58|", "periodList": "202406|"}))
    assert reply.post_seqs == (57, 58) and reply.batches == ("B1", "B2") and reply.periods == (202406,)
    assert parse_post_reply({"PostSeqList": "9"}).post_seqs == (9,)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@given(st.one_of(json_values, json_values.map(json.dumps), json_values.map(lambda v: json.dumps(json.dumps(v))),
                 st.dictionaries(st.sampled_from(["postseqList", "periodList", "batchList", "errorList"]),
                                 st.text(alphabet="0123456789|x ", max_size=12))))
def test_any_reply_is_read_or_refused_clearly(payload):
    try:
        reply = parse_post_reply(payload)
    except UnreadablePostReply as exc:
        assert "PostTransFile" in exc.message
    else:
        assert all(isinstance(seq, int) for seq in reply.post_seqs)


def test_a_simulator_mounted_by_url_prefix_fails_like_a_socket_too(connection, sim, sleeps):
    """Flows reach the simulator through connector.http.mount_transport, not a transport argument."""
    mount_transport(connection.base_url, httpx.WSGITransport(app=sim))
    try:
        sim.faults.drop(path="/firm")
        with VantagepointClient(connection, sleep=sleeps.append) as client:
            assert client.firms()
    finally:
        unmount_transport(connection.base_url)
    assert [r.status for r in sim.requests_to("/firm")] == [None, 200]
