"""Checking one 810 as its segments go by: place in the set, elements, CTT01, and TDS afterwards.

The place of each segment comes from the memoized `Layout` walk, the elements from the compiled
fast check with the precise `check_elements` behind it. A mandatory segment skipped over is held
back until its loop closes, because it often turns up later, out of sequence, and is then
reported once, as that, instead of twice.
"""

from __future__ import annotations

from decimal import Decimal

from .builder import HANDLERS, InvoiceBuilder
from .elements import check_elements, fast_checks
from .errors import Position, Problem, ProblemCode, Severity
from .grammar import IDS_810, INVOICE_810, RULES_4010, RULES_5010, SegmentRule
from .layout import Layout, Move
from .model import Invoice810
from .values import parse_int

_WATCHED = frozenset({"TDS", "CTT", "BIG"})
_LAYOUTS: dict[int, Layout] = {}


def layout_for(rules: dict[str, SegmentRule]) -> Layout:
    """The 810 layout walk with the compiled element checks of one rule table (4010 or 5010) and the
    builder's readers."""
    layout = _LAYOUTS.get(id(rules))
    if layout is None:
        layout = _LAYOUTS[id(rules)] = Layout(INVOICE_810, IDS_810, _WATCHED, fast_checks(rules), HANDLERS,
                                              InvoiceBuilder.other)
    return layout


LAYOUT_810 = layout_for(RULES_4010)
layout_for(RULES_5010)
_MAX_LINES = 200_000


class SetChecker:
    """Checks one 810; problems go to the list it was given, in file order once `finish` ran.

    `feed` does everything for one segment. The parser's inner loop inlines its common case
    instead (take a quick move's state, run the element fast check) and calls `place` and
    `elements` for the rest, which is why those are separate.
    """

    __slots__ = ("rules", "fast", "layout", "problems", "state", "at", "count", "pending", "ctt", "tds", "big")

    def __init__(self, rules: dict[str, SegmentRule], problems: list[Problem], st: list[str], number: int) -> None:
        self.rules = rules
        self.fast = fast_checks(rules)
        self.layout = layout_for(rules)
        self.problems = problems
        self.state = self.layout.start
        # Per loop depth: the child position whose repeated uses `count` holds. A segment used once
        # needs no entry, so most moves touch nothing but `state`; a loop opening resets its depth.
        self.at: list[int] = [-1] * (self.layout.depth + 1)
        self.count: list[int] = [1] * (self.layout.depth + 1)
        self.pending: dict[int, dict[str, Problem]] = {}
        self.ctt: tuple[list[str], int, int] | None = None
        self.tds: tuple[int, int] | None = None
        self.big: tuple[int, int] | None = None
        if not self.fast["ST"](st):
            check_elements(st, rules["ST"], number, 1, problems)

    def feed(self, elements: list[str], number: int, set_position: int) -> None:
        sid = elements[0]
        move = self.layout.tables[self.state].get(sid)
        if move is not None and move.quick and not (self.pending and (move.opens or move.closes)):
            self.state = move.state
            if move.opens:
                self.at[move.depth + 1] = -1
        else:
            move = self.place(move, elements, number, set_position)
        if move.check is not None and not move.check(elements):
            self.elements(elements, number, set_position)

    def elements(self, elements: list[str], number: int, set_position: int) -> None:
        check_elements(elements, self.rules[elements[0]], number, set_position, self.problems)

    def place(self, move: Move | None, elements: list[str], number: int, set_position: int) -> Move:
        """Everything about a segment's place that is not a quick move: uses, loops, watched ids."""
        sid = elements[0]
        if move is None:
            move = self.layout.move(self.state, sid)
        if move.watched:
            if sid == "TDS":
                self.tds = (number, set_position)
            elif sid == "CTT":
                self.ctt = (elements, number, set_position)
            else:
                self.big = (number, set_position)
        if move.problem is not None:
            self._misplaced(move, sid, number, set_position)
            return move
        if move.closes and (self.pending or not move.closes_clean):
            innermost = move.depth + move.closes
            for depth, missing in zip(range(innermost, move.depth, -1), move.closed_missing, strict=True):
                self._close(depth, missing, number, set_position)
        if move.skipped:
            self._missing(move.depth, move.skipped, number, set_position)
        if move.repeat:
            at, count, depth, position = self.at, self.count, move.depth, move.position
            if at[depth] == position:
                uses = count[depth] = count[depth] + 1
                if uses > move.max_use:
                    self._over_max(move, sid, uses, number, set_position)
            else:
                at[depth], count[depth] = position, 2
                if move.max_use < 2:
                    self._over_max(move, sid, 2, number, set_position)
        if move.opens:
            self._close(move.depth + 1, (), number, set_position)
            self.at[move.depth + 1] = -1
        self.state = move.state
        return move

    def _report(self, code: ProblemCode, sid: str, number: int, set_position: int, message: str) -> None:
        self.problems.append(Problem(code, message, Position(number, sid, None, None, set_position)))

    def _missing(self, depth: int, ids: tuple[str, ...], number: int, set_position: int) -> None:
        pending = self.pending.setdefault(depth, {})
        for sid in ids:
            if sid not in pending:
                pending[sid] = Problem(ProblemCode.SEGMENT_MISSING, f"mandatory segment {sid} is missing",
                                       Position(number, sid, None, None, set_position))

    def _close(self, depth: int, missing: tuple[str, ...], number: int, set_position: int) -> None:
        if missing:
            self._missing(depth, missing, number, set_position)
        if self.pending:
            self.problems.extend(self.pending.pop(depth, {}).values())

    def _over_max(self, move: Move, sid: str, uses: int, number: int, set_position: int) -> None:
        if move.opens:
            self._report(ProblemCode.LOOP_OVER_MAX, sid, number, set_position,
                         f"loop {move.loop_name} repeats {uses} times; at most {move.max_use}")
        else:
            self._report(ProblemCode.SEGMENT_OVER_MAX_USE, sid, number, set_position,
                         f"{sid} is used {uses} times here; at most {move.max_use}")

    def _misplaced(self, move: Move, sid: str, number: int, set_position: int) -> None:
        problem = move.problem
        if problem is ProblemCode.SEGMENT_OUT_OF_SEQUENCE:
            self.pending.get(move.belongs_at, {}).pop(sid, None)
            message = f"{sid} is out of sequence: it belongs before {move.before}"
        elif problem is ProblemCode.SEGMENT_UNEXPECTED:
            message = f"{sid} is not expected here (outside the loop it belongs to)"
        elif problem is ProblemCode.SEGMENT_NOT_IN_SET:
            message = f"{sid} is not a segment of the 810"
        else:
            message = f"unrecognized segment id {sid!r}"
        assert problem is not None
        self._report(problem, sid, number, set_position, message)

    def finish(self, number: int, set_position: int, line_count: int) -> None:
        """Close the set at `number` (its SE, or where it was cut off) and check CTT01."""
        missing_by_loop = self.layout.finish(self.state)
        for depth, missing in zip(range(len(missing_by_loop) - 1, -1, -1), missing_by_loop, strict=True):
            self._close(depth, missing, number, set_position)
        for depth in sorted(self.pending):
            self.problems.extend(self.pending.pop(depth).values())
        if line_count > _MAX_LINES:
            self._report(ProblemCode.LOOP_OVER_MAX, "IT1", number, set_position,
                         f"loop IT1 repeats {line_count} times; at most {_MAX_LINES}")
        if self.ctt is not None:
            elements, ctt_number, ctt_position = self.ctt
            stated = parse_int(elements[1]) if len(elements) > 1 else None
            if stated is not None and stated != line_count:
                self.problems.append(Problem(
                    ProblemCode.LINE_COUNT_MISMATCH,
                    f"CTT01 says {stated} line items; the set has {line_count} IT1 segments",
                    Position(ctt_number, "CTT", 1, None, ctt_position), Severity.ERROR, elements[1]))
        self.problems.sort(key=_problem_order)


def _problem_order(problem: Problem) -> tuple[int, int]:
    return problem.position.segment_number, problem.position.element or 0


def check_totals(invoice: Invoice810, tds: tuple[int, int] | None, previous_total: Decimal | None,
                 problems: list[Problem]) -> None:
    """TDS01 against the recomputed total: a warning, because the lines are what was billed."""
    stated = invoice.total_stated
    if stated is None or tds is None:
        return
    computed = invoice.total_computed
    if stated == computed:
        return
    position = Position(tds[0], "TDS", 1, None, tds[1])
    if stated * 100 == computed:
        problems.append(Problem(
            ProblemCode.TOTAL_WITHOUT_IMPLIED_DECIMALS,
            f"TDS01 reads as {stated} but the invoice adds up to {computed}: written without its implied decimals?",
            position, Severity.WARNING))
    elif previous_total is not None and stated == previous_total:
        problems.append(Problem(
            ProblemCode.TOTAL_COPIED,
            f"TDS01 {stated} repeats the previous invoice's total; the invoice adds up to {computed}",
            position, Severity.WARNING))
    else:
        problems.append(Problem(
            ProblemCode.TOTAL_MISMATCH, f"TDS01 {stated} differs from the recomputed total {computed}",
            position, Severity.WARNING))
