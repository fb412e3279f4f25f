"""Uploads never repeat blindly: a lost answer is followed by a look, never a second file."""
from __future__ import annotations

import httpx
import pytest

from connector.failures import DataFailure, TransientFailure
from connector.http import DeliveryUnknown
from sandbox.cleo import OUTBOUND_FOLDER

NAME = "ACME_INV-1001_20250102T030405678901Z.edi"
X12 = b"ISA*00*          *00*          *ZZ*ML*ZZ*ACME~"


@pytest.fixture
def outbound(client):
    return client.folder_named(OUTBOUND_FOLDER)


def uploads(sim) -> list:
    return sim.calls_to(path_contains="/files", method="POST")


def test_a_plain_upload_stores_the_bytes_under_the_name(client, sim, outbound):
    result = client.upload_file(outbound, NAME, X12)
    assert (result.found_existing, result.tries) == (False, 1)
    [stored] = sim.files(OUTBOUND_FOLDER)
    assert (stored.name, stored.content) == (NAME, X12)
    assert result.file.id == stored.id and result.file.size == len(X12)


def test_simulator_keeps_a_blind_reupload_as_a_second_file(client, sim, outbound):
    """The hazard itself: Cleo has no idempotency key."""
    client.upload_file(outbound, NAME, X12)
    client.upload_file(outbound, NAME, X12)
    assert sim.file_names(OUTBOUND_FOLDER) == [NAME, NAME]


@pytest.mark.parametrize("fault", ["drop_after_processing", "timeout_after_processing"])
def test_answer_lost_after_the_file_was_stored_ends_with_it_there_exactly_once(client, sim, outbound, fault):
    sim.fail_next(fault, method="POST", path_contains="/files")

    result = client.upload_file(outbound, NAME, X12)

    assert sim.file_names(OUTBOUND_FOLDER) == [NAME]
    assert result.found_existing is True
    assert result.tries == 1
    assert result.file.id == sim.files(OUTBOUND_FOLDER)[0].id
    assert len(uploads(sim)) == 1  # looked, found it, never sent again


@pytest.mark.parametrize("fault", ["drop", "timeout", "500"])
def test_a_try_that_stored_nothing_is_checked_then_sent_again(client, sim, outbound, fault):
    sim.fail_next(fault, method="POST", path_contains="/files")

    result = client.upload_file(outbound, NAME, X12)

    assert sim.file_names(OUTBOUND_FOLDER) == [NAME]
    assert (result.found_existing, result.tries) == (False, 2)
    methods = [c.method for c in sim.calls_to(path_contains="/files")]
    assert methods == ["POST", "GET", "POST"]  # the look comes before the second send


def test_503_with_retry_after_is_resent_by_the_policy(client, sim, sim_time, outbound):
    sim.fail_next("503", method="POST", path_contains="/files", retry_after=7)

    result = client.upload_file(outbound, NAME, X12)

    assert sim.file_names(OUTBOUND_FOLDER) == [NAME]
    assert result.tries == 1
    assert 7 in sim_time.sleeps  # Retry-After honoured


def test_check_first_finds_an_upload_made_before_a_crash(client, sim, outbound):
    sim.put_file(OUTBOUND_FOLDER, NAME, X12)
    result = client.upload_file(outbound, NAME, X12, check_first=True)
    assert (result.found_existing, result.tries) == (True, 0)
    assert sim.file_names(OUTBOUND_FOLDER) == [NAME]
    assert uploads(sim) == []


def test_a_different_file_under_our_name_is_never_taken_for_ours(client, sim, outbound):
    sim.put_file(OUTBOUND_FOLDER, NAME, b"something else entirely")
    with pytest.raises(DataFailure, match="check it in Cleo"):
        client.upload_file(outbound, NAME, X12, check_first=True)


def test_every_try_failing_without_storing_says_it_is_safe_to_retry(client, sim, outbound):
    sim.fail_next("drop", method="POST", path_contains="/files", times=10)
    with pytest.raises(TransientFailure, match="safe to retry") as caught:
        client.upload_file(outbound, NAME, X12)
    assert not isinstance(caught.value, DeliveryUnknown)
    assert sim.files(OUTBOUND_FOLDER) == []
    assert len(uploads(sim)) == 3


def test_when_the_folder_cannot_be_checked_the_outcome_is_reported_unknown(client, sim, outbound):
    sim.fail_next("drop", method="POST", path_contains="/files", times=10)
    sim.fail_next("503", method="GET", path_contains="/files", times=100)
    with pytest.raises(DeliveryUnknown, match="search for the name before uploading again"):
        client.upload_file(outbound, NAME, X12)


def test_no_call_records_or_messages_carry_the_token(client, sim, outbound, connection):
    from connector.http import recording_calls

    sim.fail_next("drop_after_processing", method="POST", path_contains="/files")
    with recording_calls() as calls:
        client.upload_file(outbound, NAME, X12)
    assert calls and all(connection.access_token not in str(c.as_dict()) for c in calls)
    assert all(NAME not in c.path for c in calls)  # the query string is not recorded either


@pytest.mark.parametrize("fault", ["drop_after_processing", "timeout_after_processing"])
def test_upload_through_a_real_socket_to_the_served_simulator(connection, fault):
    """The same lost answers over HTTP: the served simulator promises a body and closes, or
    answers later than the client's read timeout."""
    from connector.http import HttpPolicy
    from connector.ratelimit import LocalRateLimiter
    from edi.cleo import CleoClient
    from sandbox.cleo import CleoSimulator
    from sandbox.servers import serve_in_thread

    sim = CleoSimulator(rate_limit=None, hang_seconds=0.6)
    server, thread = serve_in_thread(sim, port=0)
    try:
        connection.base_url = f"http://127.0.0.1:{server.server_port}"
        sim.fail_next(fault, method="POST", path_contains="/files")
        with CleoClient(connection, transport=httpx.HTTPTransport(), sleep=lambda s: None,
                        policy=HttpPolicy(read_timeout=0.3), limiter=LocalRateLimiter(sleep=lambda s: None)) as cleo:
            result = cleo.upload_file(cleo.folder_named(OUTBOUND_FOLDER), NAME, X12)
        assert result.found_existing is True
        assert sim.file_names(OUTBOUND_FOLDER) == [NAME]
    finally:
        server.shutdown()
        server.server_close()


def test_refusals_that_stored_nothing_are_not_reported_as_unknown(client, sim, outbound):
    """503 to the end is Cleo saying "not processed": even if the look fails, nothing is unknown."""
    sim.fail_next("503", method="POST", path_contains="/files", times=100)
    sim.fail_next("503", method="GET", path_contains="/files", times=100)
    with pytest.raises(TransientFailure) as caught:
        client.upload_file(outbound, NAME, X12)
    assert not isinstance(caught.value, DeliveryUnknown)
    assert sim.files(OUTBOUND_FOLDER) == []
