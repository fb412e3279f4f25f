"""What an 810 may contain: element rules for the segments we read and write, and the set's layout.

One table serves the validator (which checks what partners send) and the renderer (which refuses
to write what the validator would reject), so the two can never disagree. Element rules exist
for the envelope and for every segment the invoice model reads; other segments of the 810 (PER,
FOB, CAD, ...) are checked for their place in the set only. 4010 and 5010 differ in a few
lengths, applied as overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """X12 data element types."""

    AN = "AN"
    ID = "ID"
    DT = "DT"
    TM = "TM"
    N0 = "N0"
    N2 = "N2"
    R = "R"


@dataclass(frozen=True, slots=True)
class ElementRule:
    """One element: `ref` like "BIG02", a business `name` for messages, type and lengths."""

    ref: str
    name: str
    kind: Kind
    min_length: int
    max_length: int
    required: bool = False
    number: int | None = None
    codes: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class SegmentRule:
    """Element rules of one segment plus X12 syntax notes between its elements.

    `paired` (P): if any is present all are; `one_of` (R): at least one is present;
    `conditional` (C): if the first is present the others are too.
    """

    id: str
    max_elements: int
    elements: dict[int, ElementRule]
    paired: tuple[tuple[int, ...], ...] = ()
    one_of: tuple[tuple[int, ...], ...] = ()
    conditional: tuple[tuple[int, ...], ...] = ()
    positions: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", tuple(sorted(self.elements)))


AN, ID, DT, TM, N0, N2, R = Kind.AN, Kind.ID, Kind.DT, Kind.TM, Kind.N0, Kind.N2, Kind.R


def _rule(ref: str, name: str, kind: Kind, lo: int, hi: int, req: bool = False, num: int | None = None,
          codes: str | None = None) -> ElementRule:
    return ElementRule(ref, name, kind, lo, hi, req, num, frozenset(codes.split()) if codes else None)


def _segment(seg_id: str, max_elements: int, rules: list[ElementRule], *, paired: str = "", one_of: str = "",
             conditional: str = "") -> SegmentRule:
    """Rules from compact notes: "P0304 P0607" become ((3, 4), (6, 7))."""

    def notes(text: str) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(int(note[i : i + 2]) for i in range(1, len(note), 2)) for note in text.split())

    elements = {int(rule.ref[len(seg_id) :]): rule for rule in rules}
    return SegmentRule(seg_id, max_elements, elements, notes(paired), notes(one_of), notes(conditional))


def _it1_rules(quantity_max: int) -> SegmentRule:
    rules = [
        _rule("IT101", "line id", AN, 1, 20, num=350),
        _rule("IT102", "quantity", R, 1, quantity_max, num=358),
        _rule("IT103", "unit of measure", ID, 2, 2, num=355),
        _rule("IT104", "unit price", R, 1, 17, num=212),
        _rule("IT105", "basis of unit price", ID, 2, 2, num=639),
    ]
    for pair in range(6, 26, 2):
        rules.append(_rule(f"IT1{pair:02d}", "product id qualifier", ID, 2, 2, num=235))
        rules.append(_rule(f"IT1{pair + 1:02d}", "product id", AN, 1, 48, num=234))
    pairs = " ".join(f"P{i:02d}{i + 1:02d}" for i in range(6, 26, 2))
    return _segment("IT1", 25, rules, paired="P020304 " + pairs)


def _rules(version: str) -> dict[str, SegmentRule]:
    five = version.startswith("00501")
    rules = [
        _segment("ST", 3, [
            _rule("ST01", "transaction set id", ID, 3, 3, True, 143),
            _rule("ST02", "transaction set control number", AN, 4, 9, True, 329),
            _rule("ST03", "implementation convention", AN, 1, 35, num=1705),
        ]),
        _segment("SE", 2, [
            _rule("SE01", "number of included segments", N0, 1, 10, True, 96),
            _rule("SE02", "transaction set control number", AN, 4, 9, True, 329),
        ]),
        _segment("BIG", 11 if five else 10, [
            _rule("BIG01", "invoice date", DT, 8, 8, True, 373),
            _rule("BIG02", "invoice number", AN, 1, 22, True, 76),
            _rule("BIG03", "purchase order date", DT, 8, 8, num=373),
            _rule("BIG04", "purchase order number", AN, 1, 22, num=324),
            _rule("BIG05", "release number", AN, 1, 30, num=328),
            _rule("BIG06", "change order sequence", AN, 1, 8, num=327),
            _rule("BIG07", "transaction type", ID, 2, 2, num=640),
            _rule("BIG08", "purpose code", ID, 2, 2, num=353),
            _rule("BIG09", "action code", ID, 1, 2, num=306),
            _rule("BIG10", "invoice number", AN, 1, 22, num=76),
        ]),
        _segment("CUR", 21, [
            _rule("CUR01", "entity identifier", ID, 2, 3, True, 98),
            _rule("CUR02", "currency", ID, 3, 3, True, 100),
        ]),
        _segment("REF", 4, [
            _rule("REF01", "reference qualifier", ID, 2, 3, True, 128),
            _rule("REF02", "reference", AN, 1, 50 if five else 30, num=127),
            _rule("REF03", "reference description", AN, 1, 80, num=352),
        ], one_of="R0203"),
        _segment("N1", 6, [
            _rule("N101", "party role", ID, 2, 3, True, 98),
            _rule("N102", "party name", AN, 1, 60, num=93),
            _rule("N103", "party id qualifier", ID, 1, 2, num=66),
            _rule("N104", "party id", AN, 2, 80, num=67),
            _rule("N105", "entity relationship", ID, 2, 2, num=706),
            _rule("N106", "entity identifier", ID, 2, 3, num=98),
        ], paired="P0304", one_of="R0203"),
        _segment("N2", 2, [
            _rule("N201", "party name", AN, 1, 60, True, 93),
            _rule("N202", "party name", AN, 1, 60, num=93),
        ]),
        _segment("N3", 2, [
            _rule("N301", "address line", AN, 1, 55, True, 166),
            _rule("N302", "address line", AN, 1, 55, num=166),
        ]),
        _segment("N4", 7 if five else 6, [
            _rule("N401", "city", AN, 2, 30, num=19),
            _rule("N402", "state", ID, 2, 2, num=156),
            _rule("N403", "postal code", ID, 3, 15, num=116),
            _rule("N404", "country", ID, 2, 3, num=26),
            _rule("N405", "location qualifier", ID, 1, 2, num=309),
            _rule("N406", "location", AN, 1, 30, num=310),
        ], paired="P0506"),
        _segment("ITD", 15, [
            _rule("ITD01", "terms type", ID, 2, 2, num=336),
            _rule("ITD02", "terms basis date code", ID, 1, 2, num=333),
            _rule("ITD03", "discount percent", R, 1, 6, num=338),
            _rule("ITD04", "discount due date", DT, 8, 8, num=370),
            _rule("ITD05", "discount days", N0, 1, 3, num=351),
            _rule("ITD06", "net due date", DT, 8, 8, num=446),
            _rule("ITD07", "net days", N0, 1, 3, num=386),
            _rule("ITD08", "discount amount", N2, 1, 10, num=362),
            _rule("ITD12", "terms description", AN, 1, 80, num=352),
        ]),
        _segment("DTM", 6, [
            _rule("DTM01", "date qualifier", ID, 3, 3, True, 374),
            _rule("DTM02", "date", DT, 8, 8, num=373),
            _rule("DTM03", "time", TM, 4, 8, num=337),
            _rule("DTM04", "time code", ID, 2, 2, num=623),
        ], one_of="R020305"),
        _it1_rules(15 if five else 10),
        _segment("PID", 9, [
            _rule("PID01", "description type", ID, 1, 1, True, 349, "F S X"),
            _rule("PID02", "characteristic code", ID, 2, 3, num=750),
            _rule("PID03", "agency qualifier", ID, 2, 2, num=559),
            _rule("PID04", "description code", AN, 1, 12, num=751),
            _rule("PID05", "description", AN, 1, 80, num=352),
        ], one_of="R0405", conditional="C0403"),
        _segment("SAC", 16, [
            _rule("SAC01", "allowance or charge indicator", ID, 1, 1, True, 248, "A C N"),
            _rule("SAC02", "charge code", ID, 4, 4, num=1300),
            _rule("SAC03", "agency qualifier", ID, 2, 2, num=559),
            _rule("SAC04", "agency charge code", AN, 1, 10, num=1301),
            _rule("SAC05", "amount", N2, 1, 15, num=610),
            _rule("SAC06", "percent qualifier", ID, 1, 1, num=378),
            _rule("SAC07", "percent", R, 1, 6, num=332),
            _rule("SAC08", "rate", R, 1, 9, num=118),
            _rule("SAC09", "unit of measure", ID, 2, 2, num=355),
            _rule("SAC10", "quantity", R, 1, 15, num=380),
            _rule("SAC11", "quantity", R, 1, 15, num=380),
            _rule("SAC12", "handling method", ID, 2, 2, num=331),
            _rule("SAC13", "reference", AN, 1, 30, num=127),
            _rule("SAC14", "promotion number", AN, 1, 30, num=770),
            _rule("SAC15", "description", AN, 1, 80, num=352),
            _rule("SAC16", "language", ID, 2, 3, num=819),
        ], paired="P0304 P0607 P0910", one_of="R0203", conditional="C1413 C1615"),
        _segment("TXI", 10, [
            _rule("TXI01", "tax type", ID, 2, 2, True, 963),
            _rule("TXI02", "tax amount", R, 1, 18, num=782),
            _rule("TXI03", "tax percent", R, 1, 10, num=954),
            _rule("TXI04", "jurisdiction qualifier", ID, 2, 2, num=955),
            _rule("TXI05", "jurisdiction", AN, 1, 30, num=956),
            _rule("TXI06", "tax exempt code", ID, 1, 1, num=441),
            _rule("TXI08", "dollar basis", R, 1, 9, num=828),
            _rule("TXI09", "tax id", AN, 1, 20, num=325),
        ], paired="P0405", one_of="R020306", conditional="C0803"),
        _segment("TDS", 4, [
            _rule("TDS01", "invoice total", N2, 1, 15, True, 610),
            _rule("TDS02", "amount subject to terms discount", N2, 1, 15, num=610),
            _rule("TDS03", "discounted amount due", N2, 1, 15, num=610),
            _rule("TDS04", "terms discount amount", N2, 1, 15, num=610),
        ]),
        _segment("CTT", 7, [
            _rule("CTT01", "number of line items", N0, 1, 6, True, 354),
            _rule("CTT02", "hash total", R, 1, 10, num=347),
        ]),
    ]
    return {rule.id: rule for rule in rules}


RULES_4010 = _rules("00401")
RULES_5010 = _rules("00501")


def rules_for(version: str) -> dict[str, SegmentRule]:
    """Element rules for a GS08 version; anything that is not 5010 is read by 4010 rules."""
    return RULES_5010 if version.startswith("00501") else RULES_4010


# ---------------------------------------------------------------- layout of the 810


@dataclass(frozen=True, slots=True)
class Slot:
    """A segment's place in a loop."""

    id: str
    required: bool = False
    max_use: int = 1


@dataclass(frozen=True, slots=True)
class Loop:
    """A loop: its first child is the segment that starts each repetition."""

    name: str
    children: tuple[Slot | Loop, ...]
    max_use: int = 1
    index: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for position, child in enumerate(self.children):
            key = child.id if isinstance(child, Slot) else child.trigger
            self.index[key] = (*self.index.get(key, ()), position)

    @property
    def trigger(self) -> str:
        first = self.children[0]
        return first.id if isinstance(first, Slot) else first.trigger


MANY = 999_999


def _slot(seg_id: str, max_use: int = 1, required: bool = False) -> Slot:
    return Slot(seg_id, required, max_use)


def _party_loop() -> Loop:
    return Loop("N1", (_slot("N1"), _slot("N2", 2), _slot("N3", 2), _slot("N4"), _slot("REF", 12), _slot("PER", 3),
                       _slot("DMG")), 200)


def _small_loops() -> tuple[Loop, ...]:
    return (
        Loop("LM", (_slot("LM"), _slot("LQ", 100)), 10),
        Loop("V1", (_slot("V1"), _slot("R4", MANY), _slot("DTM", MANY)), MANY),
        Loop("FA1", (_slot("FA1"), _slot("FA2", MANY)), MANY),
    )


INVOICE_810 = Loop("810", (
    _slot("ST", required=True), _slot("BIG", required=True), _slot("NTE", 100), _slot("CUR"), _slot("REF", 12),
    _slot("YNQ", 10), _slot("PER", 3), _party_loop(), _slot("ITD", MANY), _slot("DTM", 10), _slot("FOB"),
    _slot("PID", 200), _slot("MEA", 40), _slot("PWK", 25), _slot("PKG", 200), _slot("L7"), _slot("BAL", MANY),
    _slot("INC"), _slot("PAM", 10), Loop("N9", (_slot("N9"), _slot("MSG", 10))), *_small_loops(),
    Loop("IT1", (
        _slot("IT1"), _slot("CRC"), _slot("QTY", 5), _slot("CUR"), _slot("IT3", 5), _slot("TXI", 10),
        _slot("CTP", 25), _slot("PAM", 10), _slot("MEA", 40), Loop("PID", (_slot("PID"), _slot("MEA", 10)), 1000),
        _slot("PWK", 25), _slot("PKG", 25), _slot("PO4"), _slot("ITD", 2), _slot("REF", MANY), _slot("YNQ", 10),
        _slot("PER", 5), _slot("SDQ", 500), _slot("DTM", 10), _slot("CAD", MANY), _slot("L7", MANY), _slot("SR"),
        Loop("SAC", (_slot("SAC"), _slot("TXI", 10)), 25),
        Loop("SLN", (_slot("SLN"), _slot("DTM"), _slot("REF", MANY), _slot("PID", 1000), _slot("SAC", 25),
                     _slot("TC2", 2), _slot("TXI", 10)), 1000),
        _party_loop(), *_small_loops(),
    ), 200_000),
    _slot("TDS", required=True), _slot("TXI", 10), _slot("CAD"), _slot("AMT", 10),
    Loop("SAC", (_slot("SAC"), _slot("TXI", 10)), 25),
    Loop("ISS", (_slot("ISS"), _slot("PID")), MANY),
    _slot("CTT"), _slot("SE", required=True),
))


def _ids(loop: Loop) -> set[str]:
    found: set[str] = set()
    for child in loop.children:
        found |= {child.id} if isinstance(child, Slot) else _ids(child)
    return found


IDS_810 = frozenset(_ids(INVOICE_810))

KNOWN_SEGMENTS = IDS_810 | frozenset(
    "ISA IEA GS GE TA1 AK1 AK2 AK3 AK4 AK5 AK9 IK3 IK4 IK5 CTX BEG PO1 PO2 PO3 PO4 ACK BAK BSN HL LIN SN1 PRF TD1 "
    "TD3 TD4 TD5 MAN BPR RMR ENT NM1 CLP SVC BCH BGN BSS FST SHP PRS W05 W06 W07 W12 W17 W27 G62 SCH TAX AMT QTY "
    "DTP HI SBR CLM LX SV1 SV2 N5 N7 N8 N10 POC IT8 BCO".split()
)
"""Segment ids of X12 in general, so an id from another set is "not in this set" (AK3 6), not
"unrecognized" (AK3 1)."""
