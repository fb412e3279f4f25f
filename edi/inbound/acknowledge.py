"""Our 997 for a received file, and the verdict on every set it holds.

One 997 interchange answers each interchange received (its own ISA13 and GS06 from the
partner's counters), one 997 set each functional group; they travel together in one file,
named on the ledger entry before it is uploaded. A 997 is never itself acknowledged, so
groups of 997s (GS01 FA) are left out.

What we import is exactly what the 997 accepted: the verdicts are read back from the text we
are about to send (read_997), not recomputed beside it, so the partner is never told
"accepted" about an invoice we dropped, nor "rejected" about one we posted. A set rejected
here (AK5 R, or its group rejected in AK9) is never imported, in whole or in part.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..models import TradingPartner
from ..partners import control_numbers_allocate, envelope_for
from ..x12 import (
    ControlNumbers,
    EnvelopeSettings,
    FunctionalGroup,
    Interchange,
    ParseResult,
    TransactionSet,
    build_997,
    read_997,
    reply_envelope,
)

ACKNOWLEDGMENT_SETS = frozenset({"997", "999"})


@dataclass(frozen=True)
class SetVerdict:
    """What our 997 says about one received set."""

    interchange: Interchange
    group: FunctionalGroup
    transaction_set: TransactionSet
    status: str  # AK5: A accepted, E accepted with errors, R rejected
    group_status: str  # AK9

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E") and self.group_status != "R"


@dataclass(frozen=True)
class Acknowledgment:
    text: str  # "" when the file holds nothing to acknowledge
    verdicts: tuple[SetVerdict, ...]


def is_acknowledgment_group(group: FunctionalGroup) -> bool:
    """A group of 997s (or 999s): the partner's answer to us, applied, never acknowledged."""
    return group.functional_id == "FA" or (
        bool(group.sets) and all(ts.set_id in ACKNOWLEDGMENT_SETS for ts in group.sets))


def acknowledgment_build(*, partner: TradingPartner, result: ParseResult,
                         when: datetime | None = None) -> Acknowledgment:
    """The 997 text for every interchange that carries something other than 997s, with the
    control numbers taken from the partner's counters (a number taken and never sent is a gap,
    which X12 allows)."""
    texts: list[str] = []
    verdicts: list[SetVerdict] = []
    for interchange in result.interchanges:
        groups = [group for group in interchange.groups if not is_acknowledgment_group(group)]
        if not groups:
            continue
        answered = replace(interchange, groups=groups)
        allocated = control_numbers_allocate(partner=partner, sets=len(groups))
        controls = ControlNumbers(allocated.interchange, allocated.group, allocated.sets[0])
        text = build_997(ParseResult([answered]), _envelope(partner, answered), controls=controls, when=when)
        texts.append(text)
        verdicts.extend(_verdicts(answered, text))
    return Acknowledgment("".join(texts), tuple(verdicts))


def _envelope(partner: TradingPartner, interchange: Interchange) -> EnvelopeSettings:
    """Back the way it came (ids swapped, same usage), in the partner's delimiters; a bare
    group or set with no ISA is answered with the partner agreement's own ids."""
    version = "005010" if any(g.version.startswith("00501") for g in interchange.groups) else "004010"
    if not interchange.enveloped:
        return replace(envelope_for(partner), version=version)
    return replace(reply_envelope(interchange, version), element_separator=partner.element_separator,
                   component_separator=partner.component_separator,
                   segment_terminator=partner.segment_terminator,
                   repetition_separator=partner.repetition_separator)


def _verdicts(interchange: Interchange, text: str) -> list[SetVerdict]:
    """Pair each received set with its AK2 loop: the 997 lists them in the order received."""
    results = [r for r in read_997(text) if r.set_control is not None]
    received = [(group, ts) for group in interchange.groups for ts in group.sets]
    if len(results) != len(received) or any(
            r.set_control != ts.control_number and ts.control_number for r, (_, ts) in zip(results, received,
                                                                                          strict=True)):
        raise AssertionError(f"our 997 answers {len(results)} sets of {len(received)} received: "
                             "edi.x12.build_997 and read_997 disagree")
    return [SetVerdict(interchange, group, ts, r.status, r.group_status)
            for r, (group, ts) in zip(results, received, strict=True)]
