"""A download streamed into a sink in chunks, stopped past a limit (nothing beyond it kept)."""
from __future__ import annotations

import io

import pytest

from edi.cleo import CleoNotFound, FileTooLarge
from sandbox.cleo import INBOUND_FOLDER

pytestmark = pytest.mark.django_db


def test_a_download_streams_into_the_sink(client, sim):
    content = b"ISA*00*" + b"x" * 700_000 + b"~"
    sim.put_file(INBOUND_FOLDER, "big.edi", content)
    [file] = client.list_files(client.folder_named(INBOUND_FOLDER))
    sink = io.BytesIO()

    assert client.download_file_to(file, sink, limit=len(content)) == len(content)
    assert sink.getvalue() == content


def test_a_download_past_the_limit_stops_there(client, sim):
    sim.put_file(INBOUND_FOLDER, "huge.edi", b"y" * 1_000_000)
    [file] = client.list_files(client.folder_named(INBOUND_FOLDER))
    sink = io.BytesIO()

    with pytest.raises(FileTooLarge, match="larger than 300,000 bytes") as refused:
        client.download_file_to(file, sink, limit=300_000)
    assert refused.value.received > 300_000
    assert len(sink.getvalue()) <= 300_000, "nothing past the limit is kept"


def test_a_download_of_a_file_gone_says_so(client, sim):
    sim.put_file(INBOUND_FOLDER, "gone.edi", b"ISA*")
    [file] = client.list_files(client.folder_named(INBOUND_FOLDER))
    client.delete_file(file)
    with pytest.raises(CleoNotFound):
        client.download_file_to(file, io.BytesIO())
