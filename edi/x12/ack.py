"""997 functional acknowledgments: building ours for what we received, reading the partner's.

A 997 answers one functional group: AK1 names it, one AK2 loop per transaction set says what was
wrong (AK3 segment, AK4 element) and whether the set is accepted (AK5), AK9 sums up the group.
The codes come straight from the problems the validator found, so what `validate` prints and what
the partner is told cannot drift apart. Problems without an acknowledgment code (a TDS that
disagrees with its lines, a duplicate invoice number) are business questions for the inbound
flow, not syntax errors, and do not change the 997.

Reading accepts 999 (IK3/IK4/IK5) as well, since 5010 partners often answer with one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from .errors import AckLevel, Problem, ProblemCode, ReadError, Severity
from .model import FunctionalGroup, Interchange, TransactionSet
from .parser import ParseResult, parse_text
from .reader import SegmentReader
from .renderer import ControlNumbers, EnvelopeSettings, _close, _isa_gs, _Writer
from .values import parse_count

ACCEPTED, ACCEPTED_WITH_ERRORS, PARTIAL, REJECTED = "A", "E", "P", "R"


def _echo(value: str, high: int, fallback: str) -> str:
    """An id from a received (maybe damaged) envelope, made writable: printable, no default
    delimiter, not too long. What a partner sent badly is answered, not refused."""
    kept = "".join(char for char in value if char.isprintable() and char not in "*>~^|:").strip()[:high]
    return kept or fallback


def reply_envelope(interchange: Interchange, version: str = "004010") -> EnvelopeSettings:
    """Envelope settings for answering `interchange`: its receiver becomes our sender."""
    group = interchange.groups[0] if interchange.groups else None

    def qualifier(value: str) -> str:
        cleaned = _echo(value, 2, "ZZ")
        return cleaned if len(cleaned) == 2 else "ZZ"

    def group_id(value: str | None) -> str | None:
        cleaned = _echo(value or "", 15, "")
        return cleaned if len(cleaned) >= 2 else None

    return EnvelopeSettings(
        sender_id=_echo(interchange.receiver_id, 15, "UNKNOWN"), receiver_id=_echo(interchange.sender_id, 15, "UNKNOWN"),
        sender_qualifier=qualifier(interchange.receiver_qualifier),
        receiver_qualifier=qualifier(interchange.sender_qualifier),
        group_sender_id=group_id(group.receiver_id if group else None),
        group_receiver_id=group_id(group.sender_id if group else None),
        version=version, usage=interchange.usage if interchange.usage in ("P", "T") else "P",
    )


def _writable(writer: _Writer, value: str, high: int, fallback: str) -> str:
    """A received id echoed into the 997 (AK1, AK2), without the reply's own delimiters."""
    characters = (writer.sep, *writer.forbidden)
    kept = "".join(char for char in value if char.isprintable() and char not in characters).strip()[:high]
    return kept or fallback


def _set_status(ts: TransactionSet, noted_only: Collection[ProblemCode]) -> tuple[str, list[str]]:
    codes: list[str] = []
    rejected = noted = False
    for problem in ts.problems:
        code = problem.code
        level = code.level
        rejects = problem.is_error and code not in noted_only
        if code is ProblemCode.SET_SKIPPED:
            rejected = True
            codes.append(ProblemCode.SET_NOT_SUPPORTED.ack_code)
        elif level is AckLevel.SET:
            rejected = rejected or rejects
            noted = True
            codes.append(code.ack_code)
        elif level in (AckLevel.SEGMENT, AckLevel.ELEMENT) and problem.severity is not Severity.NOTE:
            rejected = rejected or rejects
            noted = True
            if "5" not in codes:
                codes.append("5")
    unique = list(dict.fromkeys(codes))[:5]
    return (REJECTED if rejected else ACCEPTED_WITH_ERRORS if noted else ACCEPTED), unique


def _segment_errors(writer: _Writer, ts: TransactionSet) -> None:
    """AK3 for each segment in error, with AK4 for each element in error under it."""
    by_segment: dict[int, list[Problem]] = {}
    for problem in ts.problems:
        if problem.code.level in (AckLevel.SEGMENT, AckLevel.ELEMENT) and problem.severity is not Severity.NOTE:
            by_segment.setdefault(problem.position.segment_number, []).append(problem)
    rules = writer.rules
    for problems in by_segment.values():
        first = problems[0].position
        position = str(first.set_position or "")
        for problem in problems:
            if problem.code.level is AckLevel.SEGMENT:
                writer.write(["AK3", _writable(writer, problem.position.segment_id, 3, "UNK"), position, "",
                              problem.code.ack_code])
        elements = [problem for problem in problems if problem.code.level is AckLevel.ELEMENT]
        if not elements:
            continue
        writer.write(["AK3", _writable(writer, first.segment_id, 3, "UNK"), position, "", "8"])
        for problem in elements[:99]:
            index = problem.position.element or 0
            rule = rules.get(first.segment_id)
            element_rule = rule.elements.get(index) if rule else None
            number = str(element_rule.number) if element_rule and element_rule.number else ""
            where = str(index) + (f"{writer.envelope.component_separator}{problem.position.component}"
                                  if problem.position.component else "")
            writer.write(["AK4", where, number, problem.code.ack_code, _copy(writer, problem.value)])


def _copy(writer: _Writer, value: str | None) -> str:
    """AK404, the bad data itself, left out when it would carry one of our own delimiters."""
    if not value:
        return ""
    value = value[:99].rstrip(" ")
    if writer.sep in value or any(char in value for char in writer.forbidden) or not value.isprintable():
        return ""
    return value


def _group_ack(writer: _Writer, group: FunctionalGroup, control: int, noted_only: Collection[ProblemCode]) -> None:
    start = len(writer.segments)
    st02 = f"{control:04d}"
    writer.write(["ST", "997", st02])
    ak1 = ["AK1", _writable(writer, group.functional_id, 2, "IN"), _writable(writer, group.control_number, 9, "0")]
    if writer.envelope.is_5010 and group.version:
        ak1.append(_writable(writer, group.version, 12, ""))
    writer.write(ak1)
    accepted = 0
    statuses: list[str] = []
    for ts in group.sets:
        writer.write(["AK2", _writable(writer, ts.set_id, 3, "810"), _writable(writer, ts.control_number, 9, "0000")])
        _segment_errors(writer, ts)
        status, codes = _set_status(ts, noted_only)
        statuses.append(status)
        accepted += status != REJECTED
        writer.write(["AK5", status, *codes])
    group_codes = [p.code.ack_code for p in group.problems if p.code.level is AckLevel.GROUP and p.is_error]
    if group.functional_id and group.functional_id != "IN" and group.sets:
        group_codes.insert(0, ProblemCode.GROUP_NOT_SUPPORTED.ack_code)
    if group_codes or (statuses and accepted == 0):
        group_status = REJECTED
        accepted = 0 if group_codes else accepted
    elif accepted < len(statuses):
        group_status = PARTIAL
    elif ACCEPTED_WITH_ERRORS in statuses:
        group_status = ACCEPTED_WITH_ERRORS
    else:
        group_status = ACCEPTED
    received = len(group.sets)
    writer.write(["AK9", group_status, str(group.set_count or received), str(received), str(accepted),
                  *list(dict.fromkeys(group_codes))[:5]])
    writer.write(["SE", str(len(writer.segments) - start + 1), st02])


def build_997(received: ParseResult | str | bytes, envelope: EnvelopeSettings | None = None, *,
              controls: ControlNumbers, when: datetime | None = None,
              noted_only: Collection[ProblemCode] = ()) -> str:
    """The 997 interchange(s) answering `received`: one per received interchange, one 997 per group.

    Without `envelope` the reply goes back the way the interchange came (ids swapped, same
    usage indicator, 4010 or 5010 as the received groups). Later interchanges take the next
    control numbers after `controls`. Errors whose code is in `noted_only` are reported but do
    not reject their set (AK5 E): a partner policy, e.g. tolerating a misplaced summary segment.
    """
    result = received if isinstance(received, ParseResult) else parse_text(received)
    if not any(interchange.groups for interchange in result.interchanges):
        raise ReadError("nothing-to-acknowledge", "no functional group to acknowledge")
    texts: list[str] = []
    moment = when or datetime.now()
    offset = 0
    for interchange in result.interchanges:
        if not interchange.groups:
            continue
        version = "005010" if any(g.version.startswith("00501") for g in interchange.groups) else "004010"
        settings = envelope or reply_envelope(interchange, version)
        writer = _Writer(settings)
        numbers = ControlNumbers(controls.interchange + offset, controls.group + offset, controls.first_set)
        _isa_gs(writer, numbers, moment, "FA")
        for index, group in enumerate(interchange.groups):
            _group_ack(writer, group, controls.first_set + index, noted_only)
        texts.append(_close(writer, len(interchange.groups), numbers))
        offset += 1
    return "".join(texts)


# ---------------------------------------------------------------------- reading a 997


@dataclass(frozen=True, slots=True)
class AckElementError:
    """AK4/IK4: which element (1-based, with component) and why (AK4 code)."""

    element: int | None
    component: int | None
    element_number: str | None
    code: str
    bad_value: str | None


@dataclass(frozen=True, slots=True)
class AckSegmentError:
    """AK3/IK3: a segment of our set the partner found wrong, with its element errors."""

    segment_id: str
    position: int | None
    loop_id: str | None
    code: str | None
    elements: tuple[AckElementError, ...] = ()


@dataclass(frozen=True, slots=True)
class AckSetResult:
    """What the partner said about one set we sent (or about a whole group, when no AK2 is given)."""

    functional_id: str
    group_control: str
    set_id: str | None
    set_control: str | None
    status: str
    set_codes: tuple[str, ...] = ()
    segment_errors: tuple[AckSegmentError, ...] = ()
    group_status: str = ""
    group_codes: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status in (ACCEPTED, ACCEPTED_WITH_ERRORS)


def _element_error(e: list[str], component_separator: str) -> AckElementError:
    where = e[1] if len(e) > 1 else ""
    element, _, component = where.partition(component_separator)
    return AckElementError(parse_count(element), parse_count(component), (e[2] if len(e) > 2 else "") or None,
                           e[3] if len(e) > 3 else "", (e[4] if len(e) > 4 else "") or None)


def read_997(text: str | bytes) -> list[AckSetResult]:
    """Per-set results of a received 997 (or 999), in the order the partner listed them."""
    reader = SegmentReader(text)
    results: list[AckSetResult] = []
    group: list[AckSetResult] = []
    functional_id = group_control = ""
    current: AckSetResult | None = None
    segment_errors: list[AckSegmentError] = []
    seen_ack = False
    for e in reader:
        sid = e[0]

        def value(index: int, e: list[str] = e) -> str:
            return e[index] if index < len(e) else ""

        if sid == "ST":
            seen_ack = seen_ack or value(1) in ("997", "999")
        elif sid == "AK1":
            functional_id, group_control, group = value(1), value(2), []
        elif sid == "AK2":
            current = AckSetResult(functional_id, group_control, value(1), value(2), "")
            segment_errors = []
        elif sid in ("AK3", "IK3"):
            segment_errors.append(AckSegmentError(value(1), parse_count(value(2)), value(3) or None, value(4) or None))
        elif sid in ("AK4", "IK4") and segment_errors:
            last = segment_errors[-1]
            error = _element_error(e, reader.delimiters.component)
            segment_errors[-1] = replace(last, elements=(*last.elements, error))
        elif sid in ("AK5", "IK5") and current is not None:
            group.append(replace(current, status=value(1), set_codes=tuple(c for c in e[2:] if c),
                                 segment_errors=tuple(segment_errors)))
            current = None
        elif sid == "AK9":
            codes = tuple(c for c in e[5:] if c)
            if not group:
                group = [AckSetResult(functional_id, group_control, None, None, value(1))]
            results.extend(replace(item, group_status=value(1), group_codes=codes) for item in group)
            group = []
    if not seen_ack:
        raise ReadError("not-997", "the input holds no 997 or 999 transaction set")
    return results
