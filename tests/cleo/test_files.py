"""Folders and files: paging, filters, download, delete and move after pickup, links."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connector.failures import ConfigFailure, DataFailure
from edi.cleo import CleoFile, CleoNotFound, unique_upload_name
from sandbox.cleo import INBOUND_FOLDER, OUTBOUND_FOLDER, PROCESSED_FOLDER


def test_folders_are_listed_with_their_links(client):
    folders = {f.name: f for f in client.list_folders()}
    assert set(folders) == {OUTBOUND_FOLDER, INBOUND_FOLDER, PROCESSED_FOLDER}
    outbound = folders[OUTBOUND_FOLDER]
    assert len(outbound.id) == 22
    assert outbound.kind == "Upload"
    assert outbound.link("files").endswith(f"/api/folders/{outbound.id}/files")


def test_folder_named_uses_the_filter_and_refuses_unknown_names(client, sim):
    assert client.folder_named(INBOUND_FOLDER).kind == "Download"
    assert sim.calls_to(path_contains="/api/folders")[-1].status == 200
    with pytest.raises(ConfigFailure, match="no folder named 'Nope'"):
        client.folder_named("Nope")


def test_paging_reads_every_file_oldest_first(client, sim):
    start = datetime(2025, 3, 1, tzinfo=UTC)
    # Seeded newest first, so only the server's ordering (and ours) puts them back in order.
    for n in reversed(range(250)):
        sim.put_file(INBOUND_FOLDER, f"ACME_810_{n:03}.edi", b"ISA*", created=start + timedelta(minutes=n))

    files = client.list_files(client.folder_named(INBOUND_FOLDER))

    assert [f.name for f in files] == [f"ACME_810_{n:03}.edi" for n in range(250)]
    assert len({f.id for f in files}) == 250
    pages = sim.calls_to(path_contains="/files", method="GET")
    assert len(pages) == 3  # 100 + 100 + 50
    assert files[0].created == start and files[0].size == 4


def test_a_name_filter_lists_only_that_name(client, sim):
    for name in ("a.edi", 'quote"d.edi', "b.edi"):
        sim.put_file(INBOUND_FOLDER, name, b"x")
    folder = client.folder_named(INBOUND_FOLDER)
    assert [f.name for f in client.list_files(folder, name='quote"d.edi')] == ['quote"d.edi']
    assert client.find_file(folder, "missing.edi") is None


def test_a_tenant_refusing_filters_is_listed_in_full(connection, sim, sim_time):
    from connector.ratelimit import LocalRateLimiter
    from edi.cleo import CleoClient

    inner = sim.transport()

    def no_filters(request: httpx.Request) -> httpx.Response:
        if "filter" in request.url.params:
            return httpx.Response(400, json={"message": "filter is not supported"})
        return inner.handle_request(request)

    sim.put_file(INBOUND_FOLDER, "a.edi", b"x")
    sim.put_file(INBOUND_FOLDER, "b.edi", b"x")
    limiter = LocalRateLimiter(clock=sim_time.clock, sleep=sim_time.sleep)
    with CleoClient(connection, transport=httpx.MockTransport(no_filters), sleep=sim_time.sleep,
                    limiter=limiter) as cleo:
        folder = cleo.folder_named(INBOUND_FOLDER)
        assert cleo.find_file(folder, "b.edi").name == "b.edi"


def test_download_then_delete_after_pickup(client, sim):
    sim.put_file(INBOUND_FOLDER, "ACME_810_1.edi", b"ISA*00*...~")
    folder = client.folder_named(INBOUND_FOLDER)
    [file] = client.list_files(folder)

    assert client.download_file(file) == b"ISA*00*...~"
    assert client.delete_file(file) is True
    assert sim.files(INBOUND_FOLDER) == []
    assert client.delete_file(file) is False  # already gone: same end state
    with pytest.raises(CleoNotFound):
        client.download_file(file)


def test_move_after_pickup_follows_the_move_link(client, sim):
    sim.put_file(INBOUND_FOLDER, "ACME_810_2.edi", b"ISA*")
    inbound, processed = client.folder_named(INBOUND_FOLDER), client.folder_named(PROCESSED_FOLDER)
    [file] = client.list_files(inbound)

    moved = client.move_file(file, processed)

    assert moved.id == file.id
    assert sim.file_names(INBOUND_FOLDER) == []
    assert sim.file_names(PROCESSED_FOLDER) == ["ACME_810_2.edi"]


def test_move_is_resent_after_a_lost_answer_without_harm(client, sim):
    sim.put_file(INBOUND_FOLDER, "ACME_810_3.edi", b"ISA*")
    inbound, processed = client.folder_named(INBOUND_FOLDER), client.folder_named(PROCESSED_FOLDER)
    [file] = client.list_files(inbound)
    sim.fail_next("drop_after_processing", method="POST", path_contains="/move")

    client.move_file(file, processed)

    assert sim.file_names(PROCESSED_FOLDER) == ["ACME_810_3.edi"]


def test_a_file_without_a_move_link_asks_for_delete_instead(client):
    file = CleoFile(id="x" * 22, name="a.edi", size=1, created=None, links={"self": "/api/files/" + "x" * 22})
    with pytest.raises(ConfigFailure, match="delete after pickup"):
        client.move_file(file, client.folder_named(PROCESSED_FOLDER))


def test_uploading_into_a_download_folder_is_a_config_failure(client):
    with pytest.raises(ConfigFailure, match="Download folder"):
        client.upload_file(client.folder_named(INBOUND_FOLDER), "a.edi", b"x")


def test_links_to_another_host_are_not_followed(client):
    folder = client.folder_named(INBOUND_FOLDER)
    evil = dataclasses.replace(folder, links={"files": "https://attacker.example/api/folders/x/files"})
    with pytest.raises(DataFailure, match="another host"):
        client.list_files(evil)


def test_relative_links_resolve_against_the_base_url(client, sim):
    sim.put_file(INBOUND_FOLDER, "rel.edi", b"x")
    folder = client.folder_named(INBOUND_FOLDER)
    relative = dataclasses.replace(folder, links={"files": f"/api/folders/{folder.id}/files"})
    assert [f.name for f in client.list_files(relative)] == ["rel.edi"]


def test_unique_upload_names_carry_partner_document_and_microseconds():
    now = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert unique_upload_name("ACME 01", "INV/1001", now) == "ACME-01_INV-1001_20250102T030405678901Z.edi"
    later = now + timedelta(microseconds=1)
    assert unique_upload_name("ACME", "1", now) != unique_upload_name("ACME", "1", later)
    with pytest.raises(ValueError):
        unique_upload_name("ACME", "1", datetime(2025, 1, 1))
