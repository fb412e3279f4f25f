"""Walk ISA/GS/ST envelopes: count, match control numbers, hand each 810 to a builder and a checker.

This is the one loop every read goes through (parse, validate, acknowledge), written so that a
segment inside a set costs one lookup and one or two calls (its element check when checking, and
its reader). Sets are yielded as soon as their SE (or whatever ends them) is seen; groups and
interchanges keep only their headers and counts, so memory does not grow with the file unless
the caller keeps the sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from operator import length_hint

from .builder import HANDLERS, Handler, InvoiceBuilder
from .checks import SetChecker, check_totals
from .elements import check_elements
from .errors import Position, Problem, ProblemCode, Severity
from .grammar import SegmentRule, rules_for
from .layout import Move
from .model import FunctionalGroup, Interchange, SourceEnvelope, TransactionSet
from .reader import CHUNK_CHARS, SegmentReader, Source
from .values import is_digits, parse_count

_ENVELOPE = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
_IDLE = InvoiceBuilder()
"""Stands in for the builder where segments are only counted (a set that is not an 810)."""


def _skip(builder: InvoiceBuilder, elements: list[str]) -> None:
    """Segments of a set that is not an 810: counted, not read."""


def _stop(builder: InvoiceBuilder, elements: list[str]) -> bool:
    """The reader of the envelope ids in a run: the one that returns something, which ends it."""
    return True


RunReader = Callable[[InvoiceBuilder, list[str]], bool | None]
"""A reader in a run: a builder handler (None) or `_stop` (True)."""

_AT_ENVELOPE: dict[str, RunReader] = dict.fromkeys(_ENVELOPE, _stop)
"""The run lookup in a set that is only counted: the envelope ids end the run, the rest is skipped."""
_READERS: dict[str, RunReader] = {**HANDLERS, **_AT_ENVELOPE}
"""The run lookup in an 810 read without checks: the builder's readers (which return None), and
the envelope ids."""


def _get(elements: list[str], index: int) -> str:
    return elements[index] if index < len(elements) else ""


def _same_number(left: str, right: str) -> bool:
    """Control numbers compare as numbers when both are (000000001 is 1), else as text."""
    first, second = parse_count(left), parse_count(right)
    if first is not None and second is not None:
        return first == second
    return left == right


class InterchangeReader:
    """Iterates the transaction sets of X12 data, checking envelopes (and sets when `check`).

    After iteration, `interchanges` holds every interchange with its groups and their problems;
    `keep` also keeps each set (with its invoice) in its group, which `parse_*` wants and a
    streaming consumer of a 100 MB file does not.
    """

    def __init__(self, source: Source, *, check: bool = True, keep: bool = False,
                 chunk_chars: int = CHUNK_CHARS) -> None:
        self.check = check
        self.keep = keep
        self.segments = SegmentReader(source, chunk_chars)
        self.interchanges: list[Interchange] = []
        self._interchange: Interchange | None = None
        self._group: FunctionalGroup | None = None
        self._set: TransactionSet | None = None
        self._builder: InvoiceBuilder | None = None
        self._checker: SetChecker | None = None
        self._rules: dict[str, SegmentRule] = rules_for("004010")
        self._set_controls: set[str] = set()
        self._invoice_numbers: dict[str, int] = {}
        self._previous_total: Decimal | None = None

    @property
    def notes(self) -> list[Problem]:
        """What the segment reader tolerated (encoding, text before the ISA)."""
        return self.segments.notes

    def __iter__(self) -> Iterator[TransactionSet]:
        """The inner loop of every read: keep it free of calls and bytecodes that are not needed.

        Inside a set read without checks (an 810's builder, or a set that is only counted) the
        segments up to the next envelope one are a run: each costs one lookup in `run` and one
        call of what it finds, the segment's reader or, for an envelope id, `_stop`, the only
        reader that returns anything. Inside a checked 810 a
        segment costs one move lookup (its place, almost always "quick"), which also hands over
        its compiled element check and its builder reader. Segment numbers are not counted one by
        one: `last` is the number of the batch's last segment, and the iterator's length hint says
        how far before it the current one is, worked out only where a number is needed.
        """
        number = base = last = 0
        envelope = _ENVELOPE
        run: dict[str, RunReader] | None = None
        other: Handler = _skip
        reading = _IDLE
        checker: SetChecker | None = None
        state = 0
        table: dict[str, Move] = {}
        tables: list[dict[str, Move]] = []
        at: list[int] = []
        pending: dict[int, dict[str, Problem]] = {}
        for batch in self.segments.batches():
            last += len(batch)
            segments = iter(batch)
            for e in segments:
                if run is not None and not run.get(e[0], other)(reading, e):
                    for e in segments:  # noqa: B020 - the run goes on with the same iterator
                        if run.get(e[0], other)(reading, e):
                            break
                    else:
                        break
                    # e is an envelope segment, handled below
                sid = e[0]
                if sid not in envelope:
                    if checker is None:
                        self._outside(e, last - length_hint(segments))
                        continue
                    # A set's segment number is number - base; it is only worked out when needed.
                    move = table.get(sid)
                    if move is not None and move.quick and not (pending and (move.opens or move.closes)):
                        state, table = move.state, move.table
                        if move.opens:
                            at[move.depth + 1] = -1
                    else:
                        number = last - length_hint(segments)
                        checker.state = state
                        move = checker.place(move, e, number, number - base)
                        state = checker.state
                        table = tables[state]
                    test = move.check
                    if test is not None and not test(e):
                        number = last - length_hint(segments)
                        checker.elements(e, number, number - base)
                    move.read(reading, e)
                    continue
                number = last - length_hint(segments)
                if checker is not None:
                    checker.state = state
                if sid == "SE" and self._set is not None:
                    yield from self._end_set(number, e, number - base)
                elif sid == "ST":
                    yield from self._end_set(number, None, number - 1 - base)
                    self._start_set(e, number)
                    base = number - 1
                elif sid == "SE":
                    self._outside(e, number)
                elif sid == "GS":
                    yield from self._end_set(number, None, number - 1 - base)
                    self._end_group(number, None)
                    self._start_group(e, number)
                elif sid == "GE":
                    yield from self._end_set(number, None, number - 1 - base)
                    self._end_group(number, e)
                elif sid == "ISA":
                    yield from self._end_set(number, None, number - 1 - base)
                    self._end_group(number, None)
                    self._end_interchange(number, None)
                    self._start_interchange(e, number)
                else:
                    yield from self._end_set(number, None, number - 1 - base)
                    self._end_group(number, None)
                    self._end_interchange(number, e)
                builder, checker = self._builder, self._checker
                run = None
                if checker is not None:
                    state, tables, at, pending = checker.state, checker.layout.tables, checker.at, checker.pending
                    table = tables[state]
                    reading = builder or _IDLE
                elif self._set is not None:
                    if builder is None:
                        run, other = _AT_ENVELOPE, _skip
                    else:
                        run, other, reading = _READERS, InvoiceBuilder.other, builder
        number = last
        end = number + 1
        yield from self._end_set(end, None, number - base)
        self._end_group(end, None)
        self._end_interchange(end, None)

    # ------------------------------------------------------------------ interchange

    def _start_interchange(self, e: list[str], number: int) -> None:
        delimiters = self.segments.delimiters
        interchange = Interchange(
            sender_qualifier=_get(e, 5), sender_id=_get(e, 6), receiver_qualifier=_get(e, 7),
            receiver_id=_get(e, 8), date=_get(e, 9), time=_get(e, 10), standards_version=_get(e, 12),
            control_number=_get(e, 13), ack_requested=_get(e, 14), usage=_get(e, 15), segment_number=number,
            component_separator=delimiters.component, repetition_separator=delimiters.repetition,
        )
        self._interchange = interchange
        self._invoice_numbers = {}
        self.interchanges.append(interchange)
        if len(e) != 17:
            interchange.problems.append(Problem(
                ProblemCode.INTERCHANGE_HEADER_INVALID, f"ISA has {len(e) - 1} elements; it must have 16",
                Position(number, "ISA")))
        control = interchange.control_number
        if not (is_digits(control) and len(control) == 9):
            interchange.problems.append(Problem(
                ProblemCode.INTERCHANGE_HEADER_INVALID, f"ISA13 control number {control!r} is not nine digits",
                Position(number, "ISA", 13), Severity.ERROR, control))

    def _ensure_interchange(self, number: int) -> Interchange:
        if self._interchange is None:
            self._interchange = Interchange("", "", "", "", "", "", "", "", "", "", number, enveloped=False)
            self._invoice_numbers = {}
            self.interchanges.append(self._interchange)
            self._interchange.problems.append(Problem(
                ProblemCode.NO_ENVELOPE, "no ISA envelope; read as a bare group or transaction set",
                Position(number, "ISA"), Severity.NOTE))
        return self._interchange

    def _end_interchange(self, number: int, iea: list[str] | None) -> None:
        interchange = self._interchange
        if interchange is None:
            if iea is not None:
                self._outside(iea, number)
            return
        self._interchange = None
        problems = interchange.problems
        if iea is None:
            if interchange.enveloped:
                problems.append(Problem(ProblemCode.INTERCHANGE_TRAILER_MISSING,
                                        f"interchange {interchange.control_number} has no IEA",
                                        Position(number, "IEA")))
            return
        count, control = _get(iea, 1), _get(iea, 2)
        groups = len(interchange.groups)
        if parse_count(count) != groups:
            problems.append(Problem(ProblemCode.INTERCHANGE_COUNT_MISMATCH,
                                    f"IEA01 says {count!r} groups; the interchange has {groups}",
                                    Position(number, "IEA", 1), Severity.ERROR, count))
        if not _same_number(control, interchange.control_number):
            problems.append(Problem(ProblemCode.INTERCHANGE_CONTROL_MISMATCH,
                                    f"IEA02 {control!r} does not match ISA13 {interchange.control_number!r}",
                                    Position(number, "IEA", 2), Severity.ERROR, control))

    # ------------------------------------------------------------------ group

    def _start_group(self, e: list[str], number: int) -> None:
        interchange = self._ensure_interchange(number)
        group = FunctionalGroup(
            functional_id=_get(e, 1), sender_id=_get(e, 2), receiver_id=_get(e, 3), date=_get(e, 4),
            time=_get(e, 5), control_number=_get(e, 6), version=_get(e, 8), segment_number=number,
        )
        self._group = group
        self._rules = rules_for(group.version)
        self._set_controls = set()
        self._previous_total = None
        interchange.groups.append(group)

    def _ensure_group(self, number: int) -> FunctionalGroup:
        if self._group is None:
            interchange = self._ensure_interchange(number)
            self._group = FunctionalGroup("IN", "", "", "", "", "", "", number, enveloped=False)
            self._rules = rules_for("004010")
            self._set_controls = set()
            self._previous_total = None
            interchange.groups.append(self._group)
        return self._group

    def _end_group(self, number: int, ge: list[str] | None) -> None:
        group = self._group
        if group is None:
            if ge is not None:
                self._outside(ge, number)
            return
        self._group = None
        problems = group.problems
        if ge is None:
            if group.enveloped:
                problems.append(Problem(ProblemCode.GROUP_TRAILER_MISSING,
                                        f"group {group.control_number} has no GE", Position(number, "GE")))
            return
        count, control = _get(ge, 1), _get(ge, 2)
        if parse_count(count) != group.set_count:
            problems.append(Problem(ProblemCode.GROUP_COUNT_MISMATCH,
                                    f"GE01 says {count!r} transaction sets; the group has {group.set_count}",
                                    Position(number, "GE", 1), Severity.ERROR, count))
        if not _same_number(control, group.control_number):
            problems.append(Problem(ProblemCode.GROUP_CONTROL_MISMATCH,
                                    f"GE02 {control!r} does not match GS06 {group.control_number!r}",
                                    Position(number, "GE", 2), Severity.ERROR, control))

    # ------------------------------------------------------------------ transaction set

    def _start_set(self, e: list[str], number: int) -> None:
        group = self._ensure_group(number)
        interchange = self._interchange
        assert interchange is not None
        group.set_count += 1
        ts = TransactionSet(set_id=_get(e, 1), control_number=_get(e, 2), segment_number=number)
        self._set = ts
        if ts.control_number in self._set_controls:
            ts.problems.append(Problem(ProblemCode.SET_CONTROL_NOT_UNIQUE,
                                       f"ST02 {ts.control_number!r} is used twice in group {group.control_number}",
                                       Position(number, "ST", 2, None, 1), Severity.ERROR, ts.control_number))
        self._set_controls.add(ts.control_number)
        if ts.set_id != "810":
            ts.problems.append(Problem(ProblemCode.SET_SKIPPED,
                                       f"transaction set {ts.set_id!r} is not an invoice; skipped",
                                       Position(number, "ST", 1, None, 1), Severity.NOTE))
            self._builder = self._checker = None
            return
        self._builder = InvoiceBuilder(SourceEnvelope(
            sender_qualifier=interchange.sender_qualifier, sender_id=interchange.sender_id,
            receiver_qualifier=interchange.receiver_qualifier, receiver_id=interchange.receiver_id,
            interchange_control=interchange.control_number, group_sender_id=group.sender_id,
            group_receiver_id=group.receiver_id, group_control=group.control_number, version=group.version,
            set_control=ts.control_number, usage=interchange.usage, segment_number=number,
        ))
        self._checker = SetChecker(self._rules, ts.problems, e, number) if self.check else None

    def _end_set(self, number: int, se: list[str] | None, position: int) -> Iterator[TransactionSet]:
        ts = self._set
        if ts is None:
            return
        self._set = None
        ts.segment_count = position
        checker, builder = self._checker, self._builder
        self._checker = self._builder = None
        problems = ts.problems
        if se is None:
            problems.append(Problem(ProblemCode.SET_TRAILER_MISSING,
                                    f"transaction set {ts.control_number} has no SE",
                                    Position(number, "SE", None, None, position + 1)))
            if checker is not None:
                checker.finish(number, position + 1, len(builder.lines) if builder else 0)
        else:
            if checker is not None:
                checker.feed(se, number, position)
                checker.finish(number, position, len(builder.lines) if builder else 0)
            elif self.check and "SE" in self._rules:
                check_elements(se, self._rules["SE"], number, position, problems)
            count, control = _get(se, 1), _get(se, 2)
            stated = parse_count(count)
            if stated is not None and stated != position:
                problems.append(Problem(ProblemCode.SET_COUNT_MISMATCH,
                                        f"SE01 says {count} segments; the set has {position} (ST to SE)",
                                        Position(number, "SE", 1, None, position), Severity.ERROR, count))
            if control != ts.control_number:
                problems.append(Problem(ProblemCode.SET_CONTROL_MISMATCH,
                                        f"SE02 {control!r} does not match ST02 {ts.control_number!r}",
                                        Position(number, "SE", 2, None, position), Severity.ERROR, control))
        if builder is not None:
            invoice = ts.invoice = builder.finish()
            if checker is not None:
                check_totals(invoice, checker.tds, self._previous_total, problems)
                self._note_invoice_number(invoice.invoice_number, ts, checker.big)
            self._previous_total = invoice.total_stated
        group = self._group
        if self.keep and group is not None:
            group.sets.append(ts)
        yield ts

    def _note_invoice_number(self, invoice_number: str, ts: TransactionSet, big: tuple[int, int] | None) -> None:
        if not invoice_number or big is None:
            return
        first = self._invoice_numbers.setdefault(invoice_number, ts.segment_number)
        if first != ts.segment_number:
            ts.problems.append(Problem(
                ProblemCode.DUPLICATE_INVOICE_NUMBER,
                f"invoice number {invoice_number!r} was already used by the set at segment {first}",
                Position(big[0], "BIG", 2, None, big[1]), Severity.WARNING, invoice_number))

    def _outside(self, elements: list[str], number: int) -> None:
        target = self._group.problems if self._group is not None else self._ensure_interchange(number).problems
        target.append(Problem(ProblemCode.SEGMENT_OUTSIDE_SET,
                              f"{elements[0]} appears outside any transaction set", Position(number, elements[0])))
