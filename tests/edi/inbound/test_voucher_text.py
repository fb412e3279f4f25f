"""The partner's free text reaches Vantagepoint as the characters the partner typed: a Windows
file's curly quotes as quotes, never as control characters, and nothing that prints nothing."""
from __future__ import annotations

import pytest

from connector.models import DocumentState
from edi.inbound.demo import supplier_interchange, supplier_invoice
from edi.inbound.voucher import vantagepoint_text

from .conftest import SNACKS_SENDER, ap_rows, document_for, poll

PLACEHOLDER = "PLACEHOLDER KIT"


def drop_described(cleo_sim, name: str, number: str, description: bytes, *, interchange: int) -> None:
    """A supplier file whose one line's PID05 is `description`, bytes exactly as the partner wrote them."""
    content = supplier_interchange([supplier_invoice(number, po="2023001.00", lines=(("1", "EA", "10.00",
                                                                                      PLACEHOLDER),))],
                                   interchange=interchange, sender_id=SNACKS_SENDER)
    assert content.count(PLACEHOLDER.encode()) == 1
    cleo_sim.put_file("Inbound", name, content.replace(PLACEHOLDER.encode(), description))


def posted_description(vp_sim, document) -> str:
    assert document.state == DocumentState.POSTED, document.last_error
    (row,) = ap_rows(vp_sim, document.external_ids["vantagepoint"]["batch"])
    return row["Description"]


@pytest.mark.django_db
def test_a_windows_1252_file_posts_its_curly_quotes_as_quotes(edi_tenant, partner, cleo_sim, vp_sim):
    drop_described(cleo_sim, "windows.edi", "SF-50", "“Deluxe” survey kit – 10€".encode("cp1252"), interchange=50)
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-50")
    assert posted_description(vp_sim, document) == "“Deluxe” survey kit – 10€"
    assert document.mapped["voucher"]["notes"] == []


@pytest.mark.django_db
def test_characters_that_print_nothing_are_folded_before_posting_with_a_note(edi_tenant, partner, cleo_sim, vp_sim):
    """UTF-8 that already carries U+0093/U+0094 (Windows text read as Latin-1 by the partner's own
    system), a bell and a zero-width space."""
    drop_described(cleo_sim, "utf8.edi", "SF-51", "\x93Deluxe\x94 kit\x07\u200bfor site".encode(), interchange=51)
    poll(edi_tenant)

    document = document_for(edi_tenant, "SF-51")
    assert posted_description(vp_sim, document) == "“Deluxe” kit for site"
    assert document.mapped["voucher"]["notes"] == [
        "line 1 description: read U+0093 as “, U+0094 as ” (Windows-1252 sent as control characters); "
        "replaced U+0007, U+200B by spaces (characters Vantagepoint should not get)"]


@pytest.mark.parametrize("text,expected,noted", [
    ("Survey kit, 4 x 125.00", "Survey kit, 4 x 125.00", False),
    ("Café déjà vu – Ölfass №5 «ok» 東京", "Café déjà vu – Ölfass №5 «ok» 東京", False),
    ("Cafe\u0301", "Café", False),  # composed, as Vantagepoint's search expects
    ("tab\tand\r\nbreak\xa0space", "tab and break space", False),
    ("\x85 more \x80", "… more €", True),
    ("ends \x81\x8d\x9d", "ends", True),
    ("right\u202eto left\ufeff\ue000", "right to left", True),
    ("line\u2028sep", "line sep", True),
])
def test_vantagepoint_text_keeps_every_script_and_folds_what_prints_nothing(text: str, expected: str,
                                                                            noted: bool) -> None:
    folded, note = vantagepoint_text(text)
    assert folded == expected
    assert bool(note) is noted
