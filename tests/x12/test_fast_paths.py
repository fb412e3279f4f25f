"""The parser's fast paths read exactly what the plain reading of each segment gives.

The builder makes its objects through generated constructors, reads the usual IT1 shapes through
generated pair readers, remembers the Decimal of each number text, and a whole-file parse settles
its objects in the oldest GC generation. Each is checked here against the obvious code it stands
in for, on the shapes seen in files and on anything hypothesis makes up.
"""

from __future__ import annotations

import dataclasses
import gc
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.x12 import ProblemCode, parse_text
from edi.x12.builder import InvoiceBuilder, constructor
from edi.x12.envelope import InterchangeReader
from edi.x12.model import Charge, InvoiceLine, Party, ProductId, Reference, Tax
from edi.x12.reader import SegmentReader
from edi.x12.values import parse_decimal, parse_implied

from .helpers import VALID_4010, edit

MADE = (Reference, Party, ProductId, InvoiceLine, Charge, Tax)


def _full(cls: type) -> list[object]:
    return [f"{spec.name}-value" for spec in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls", MADE)
def test_constructors_make_what_the_class_makes(cls: type) -> None:
    make = constructor(cls)
    fields = dataclasses.fields(cls)
    required = [f"{spec.name}-value" for spec in fields if spec.default is dataclasses.MISSING]
    for args in (required, _full(cls)):
        made, expected = make(*args), cls(*args)
        assert type(made) is cls
        assert made == expected
        assert dataclasses.asdict(made) == dataclasses.asdict(expected)  # every slot is set


def test_constructors_refuse_classes_they_cannot_stand_in_for() -> None:
    @dataclasses.dataclass
    class NoSlots:
        name: str

    @dataclasses.dataclass(slots=True)
    class Factory:
        names: list[str] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(slots=True)
    class PostInit:
        name: str

        def __post_init__(self) -> None:
            self.name = self.name.strip()

    for cls in (NoSlots, Factory, PostInit, str):
        with pytest.raises(TypeError):
            constructor(cls)


# ---------------------------------------------------------------- plain readings, for comparison

def _pad(e: list[str], size: int) -> list[str]:
    return e + [""] * (size - len(e))


def _none(value: str) -> str | None:
    return value or None


def plain_line(e: list[str]) -> InvoiceLine:
    size = len(e)
    p = _pad(e, max(size + size % 2, 6))
    ids = tuple(ProductId(p[i], p[i + 1]) for i in range(6, len(p) - 1, 2) if p[i] or p[i + 1])
    return InvoiceLine(_none(p[1]), parse_decimal(p[2]), _none(p[3]), parse_decimal(p[4]), _none(p[5]), ids)


def plain_tax(e: list[str]) -> Tax:
    p = _pad(e, 10)
    return Tax(p[1], parse_decimal(p[2]), parse_decimal(p[3]), _none(p[4]), _none(p[5]), _none(p[6]), _none(p[9]))


def plain_charge(e: list[str]) -> Charge:
    p = _pad(e, 16)
    return Charge(p[1], _none(p[2]), parse_implied(p[5]) if p[5] else None, _none(p[6]), parse_decimal(p[7]),
                  _none(p[12]), _none(p[15]))


def plain_reference(e: list[str]) -> Reference:
    p = _pad(e, 4)
    return Reference(p[1], p[2], _none(p[3]))


def plain_party(n1: list[str], n2: list[str], n3: list[str], n4: list[str]) -> Party:
    p = _pad(n1, 5)
    party = Party(p[1], _none(p[2]), _none(p[3]), _none(p[4]))
    party.extra_names = tuple(value for value in n2[1:3] if value)
    party.address = tuple(value for value in n3[1:3] if value)
    q = _pad(n4, 5)
    party.city, party.state, party.postal_code, party.country = _none(q[1]), _none(q[2]), _none(q[3]), _none(q[4])
    return party


NUMBERS = st.sampled_from(["", "0", "1", "12", "446", "-5", "10.50", "6015.94", ".5", "1e3", "NaN", "inf", "ABC",
                           "1.2.3", " 7", "0.00"])
TEXT = st.sampled_from(["", "VP", "UP", "SKU-1", "EA", "X"])


@st.composite
def segments(draw: st.DrawFn, sid: str, most: int, fields: st.SearchStrategy[str] = TEXT) -> list[str]:
    size = draw(st.integers(0, most))
    return [sid, *(draw(st.one_of(fields, NUMBERS)) for _ in range(size))]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(segments("IT1", 30), segments("TXI", 11), segments("SAC", 17)), min_size=1, max_size=12))
def test_lines_taxes_and_charges_read_as_the_plain_reading_does(segs: list[list[str]]) -> None:
    builder = InvoiceBuilder()
    lines: list[InvoiceLine] = []
    taxes: list[Tax] = []
    charges: list[Charge] = []
    for e in segs:
        builder.feed(list(e))
        if e[0] == "IT1":
            lines.append(plain_line(e))
        elif lines:
            if e[0] == "TXI":
                lines[-1].taxes += (plain_tax(e),)
            else:
                lines[-1].charges += (plain_charge(e),)
        elif e[0] == "TXI":
            taxes.append(plain_tax(e))
        else:
            charges.append(plain_charge(e))
    invoice = builder.finish()
    assert list(invoice.lines) == lines
    assert (list(invoice.taxes), list(invoice.charges)) == (taxes, charges)


@pytest.mark.parametrize("pairs", range(13))
@pytest.mark.parametrize("hole", [None, "qualifier", "value", "both", "odd"])
def test_product_id_pairs_of_every_count_and_with_holes(pairs: int, hole: str | None) -> None:
    e = ["IT1", "1", "2", "EA", "3.50", ""]
    for index in range(pairs):
        e += [f"Q{index}", f"V{index}"]
    if pairs and hole in ("qualifier", "both"):
        e[6 + 2 * (pairs // 2)] = ""
    if pairs and hole in ("value", "both"):
        e[7 + 2 * (pairs // 2)] = ""
    if hole == "odd":
        e.append("QX")
    builder = InvoiceBuilder()
    builder.feed(e)
    assert builder.lines == [plain_line(e)]


def test_references_and_parties_of_every_length() -> None:
    builder = InvoiceBuilder()
    expected = []
    for ref in (["REF", "PO"], ["REF", "PO", "1"], ["REF", "PO", "1", ""], ["REF", "PO", "1", "DESC", "X"]):
        builder.feed(ref)
        expected.append(plain_reference(ref))
    assert builder.refs == expected
    loops = [
        (["N1", "ST"], ["N2"], ["N3", "", "B"], ["N4", "CITY"]),
        (["N1", "ST", "NAME", "92", "1"], ["N2", "A", "B"], ["N3", "A"], ["N4", "C", "S", "P", "US", "X"]),
        (["N1", "BT", "", "", ""], ["N2", "", ""], ["N3", "A", "B", "C"], ["N4"]),
    ]
    for n1, n2, n3, n4 in loops:
        for e in (n1, n2, n3, n4):
            builder.feed(e)
    assert builder.parties == [plain_party(*loop) for loop in loops]


def test_number_texts_are_read_once_per_set_and_still_by_their_own_rules() -> None:
    builder = InvoiceBuilder()
    for index in range(3):
        builder.feed(["IT1", str(index), "500", "EA", "0", ""])
        builder.feed(["SAC", "C", "D240", "", "", "500", "", "500"])
        builder.feed(["TXI", "ST", "0", "500"])
    lines = builder.lines
    assert {line.quantity for line in lines} == {Decimal(500)} and lines[0].quantity is lines[2].quantity
    assert all(line.unit_price == 0 and line.unit_price is not None for line in lines)
    charge, tax = lines[1].charges[0], lines[1].taxes[0]
    assert (charge.amount, charge.percent) == (Decimal("5.00"), Decimal(500))  # SAC05 is N2, SAC07 is R
    assert (tax.amount, tax.percent) == (Decimal(0), Decimal(500))
    assert len(builder.numbers) <= 2 and set(builder.implied) == {"500"}


def test_remembered_numbers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import edi.x12.builder as builder_module

    monkeypatch.setattr(builder_module, "_NUMBERS_KEPT", 5)
    builder = InvoiceBuilder()
    for index in range(20):
        builder.feed(["IT1", str(index), str(index + 1), "EA", f"{index}.25", ""])
    assert len(builder.numbers) == 5
    assert [line.quantity for line in builder.lines] == [Decimal(index + 1) for index in range(20)]
    assert [line.unit_price for line in builder.lines] == [Decimal(f"{index}.25") for index in range(20)]


# ---------------------------------------------------------------- the collector around a parse

@pytest.fixture
def settle_any(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settle even the small test parse (the threshold keeps tiny parses from paying for it)."""
    import edi.x12.parser as parser_module

    monkeypatch.setattr(parser_module, "_SETTLE_FROM", 0)


def test_a_parse_leaves_the_collector_on_with_an_empty_young_generation(settle_any: None) -> None:
    assert gc.isenabled()
    (invoice,) = parse_text(VALID_4010).invoices
    assert gc.isenabled()
    assert gc.get_count()[0] < 50  # settled in the oldest generation, not left for a young collection
    assert gc.get_freeze_count() == 0
    assert invoice.lines[0].product_ids == (ProductId("VP", "SKU-1"),)


def test_a_large_parse_settles_by_itself() -> None:
    lines = "".join(f"IT1*{n}*1*EA*1**VP*A{n}*UP*B{n}~\nTXI*ST*1*8.25~\nREF*FJ*{n}~\n" for n in range(3000))
    text = VALID_4010.replace("IT1*1*2*EA*10.50**VP*SKU-1~\nPID*F****WIDGET~\nIT1*2*1*EA*5**VP*SKU-2~\n", lines)
    (invoice,) = parse_text(text, check=False).invoices
    assert len(invoice.lines) == 3000 and gc.get_count()[0] < 50


def test_a_parse_keeps_what_the_program_froze_frozen(settle_any: None) -> None:
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        parse_text(VALID_4010)
        # Settling would unfreeze everything (the count drops to 0). Another thread of the test
        # session (a live server, a browser driver) may free one or two frozen objects meanwhile:
        # that is not the parse's doing, so the count may drop by a handful, never to nothing.
        assert frozen - 10 <= gc.get_freeze_count() <= frozen and gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_parse_leaves_a_disabled_collector_disabled(settle_any: None) -> None:
    gc.disable()
    try:
        parse_text(VALID_4010)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---------------------------------------------------------------- the reader's small chunks

@pytest.mark.parametrize("chunk", [7, 64, 4096])
def test_a_segment_longer_than_many_chunks_is_read_whole(chunk: int) -> None:
    """Chunks are small (32K characters) so a long segment spans many; it is gathered, then split
    once, and reads as it would in one piece (also with no terminator after it at all)."""
    name = "LONG NAME " * 5000
    text = VALID_4010.replace("N1*BT*BUYER INC*92*B1~", f"N1*BT*{name}*92*B1~")
    for data in (text, text.rstrip().removesuffix("~"), text.encode()):
        whole = list(SegmentReader(data, chunk_chars=1 << 20))
        assert list(SegmentReader(data, chunk_chars=chunk)) == whole
        assert ["N1", "BT", name.rstrip(), "92", "B1"] in whole  # the trailing space is padding


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.from_regex(r"\A[0-9]{1,30}\Z"), st.text(alphabet="0123456789-+. eE_naNIfity", max_size=12),
                 st.sampled_from(["0", "00", "0050", "6755", "-5", "5.", ".5", "1e3", "NaN", "Infinity", "١٢", "²"])))
def test_implied_numbers_read_as_parse_implied_reads_them(text: str) -> None:
    from edi.x12.builder import _implied

    kept: dict[str, Decimal] = {}
    expected = parse_implied(text) if text else None
    for _ in range(2):  # read, then remembered
        found = _implied(kept, text) if not kept else (kept.get(text) or _implied(kept, text))
        assert str(found) == str(expected)


# ---------------------------------------------------------------- segment numbers without counting

def _numbered(text: str, chunk: int, check: bool) -> list[object]:
    reader = InterchangeReader(text, check=check, chunk_chars=chunk)
    sets = [(ts.set_id, ts.segment_number, ts.segment_count, [(p.code, p.position) for p in ts.problems]) for ts in reader]
    envelopes = [(p.code, p.position) for i in reader.interchanges for g in i.groups for p in g.problems] + \
        [(p.code, p.position) for i in reader.interchanges for p in i.problems]
    return [sets, envelopes]


@pytest.mark.parametrize("check", [True, False])
def test_segment_numbers_are_the_same_whatever_the_batches(check: bool) -> None:
    """The inner loop works a segment's number out from its batch only where one is needed: in
    problems, in set positions and counts. Every batch size gives the numbers one batch does."""
    skipped = "ST*850*0002~\nBEG*00*NE*PO-1**20240101~\nSE*4*0002~\n"  # SE01 wrong on purpose
    text = edit(VALID_4010, "GE*1*7~", skipped + "GE*2*7~")
    text = edit(text, "GS*IN*", "REF*ZZ*OUTSIDE~\nGS*IN*")  # a segment outside any set: number 2
    text = edit(text, "TDS*2600~", "ZZZ*1~\nTDS*2600~")  # an unknown segment inside the 810
    text = text + text.replace("000000042", "000000043").replace("INV-1", "INV-2")
    whole = _numbered(text, 1 << 20, check)
    sets, envelopes = whole
    assert [(set_id, number, count) for set_id, number, count, _ in sets] == [
        ("810", 4, 13), ("850", 17, 3), ("810", 25, 13), ("850", 38, 3)]
    assert [(code, position.segment_number) for code, position in envelopes] == [
        (ProblemCode.SEGMENT_OUTSIDE_SET, 2), (ProblemCode.SEGMENT_OUTSIDE_SET, 23)]
    found = [(code, position.segment_number, position.set_position) for code, position in sets[0][3] + sets[1][3]]
    expected = [(ProblemCode.SET_COUNT_MISMATCH, 16, 13), (ProblemCode.SET_SKIPPED, 17, 1),
                (ProblemCode.SET_COUNT_MISMATCH, 19, 3)]
    assert found == ([(ProblemCode.SEGMENT_UNRECOGNIZED, 13, 10)] if check else []) + expected
    for chunk in (5, 37, 200, 1 << 15):
        assert _numbered(text, chunk, check) == whole


def test_readers_return_nothing_so_only_the_envelope_ends_a_run() -> None:
    """A run reads segments until one's reader returns something; only the envelope ids' does."""
    from edi.x12.builder import HANDLERS
    from edi.x12.envelope import _AT_ENVELOPE, _READERS

    builder = InvoiceBuilder()
    for sid, handler in HANDLERS.items():
        for e in ([sid], [sid, "ST", "1", "EA", "2", "", "VP", "X"], [sid] + ["1"] * 20):
            assert handler(builder, list(e)) is None, sid
    assert InvoiceBuilder.other(builder, ["ZZZ"]) is None
    assert {sid for sid, read in _READERS.items() if read(builder, [sid])} == set(_AT_ENVELOPE)
