"""Where each segment of a set may go: the loop walk X12 defines, worked out once per situation.

A segment is looked for from the current position onwards, first in the innermost open loop,
then in the loops around it; a loop's first segment starts a new repetition. What happens next
(which loops close, which mandatory segments were skipped, whether a loop opens, or why the
segment is misplaced) depends only on where we are and on the segment id, so each answer is a
`Move` computed once and remembered. Counting uses against maximum use is the only per-set work
left, and it is a dictionary increment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ProblemCode
from .grammar import KNOWN_SEGMENTS, Loop, Slot

_MEMO_LIMIT = 50_000

UNCOUNTED = 100_000
"""Segments and loops allowed this often or more are not counted per use: the IT1 loop (200000)
is checked against the line count instead, the others (999999) no file reaches."""

Shape = tuple[tuple[Loop, int], ...]
"""The open loops, outermost first, each with the index of the child last matched."""


Check = Callable[[list[str]], bool]
Reader = Callable[[Any, list[str]], None]


def _nothing(reader: Any, elements: list[str]) -> None:
    """The reader of a segment nobody reads."""


@dataclass(frozen=True, slots=True, eq=False)
class Move:
    """The effect of one segment id in one situation.

    `depth` and `position` say where the segment landed (after closing `closes` loops), `opens`
    whether it started a loop repetition, `skipped` the mandatory segment ids passed over in that
    loop, `closed_missing` the mandatory ids never seen in each loop it closed (innermost first).
    A misplaced segment has `depth` -1, a `problem` code and, when out of sequence, the depth of
    the loop where it belonged (`belongs_at`) and the segment it should have preceded.
    `repeat` is the same segment (or loop) again, to be counted against its maximum use. A
    `quick` move needs no counting, reporting or watching: take its `state` (and reset the use
    count of a loop it opens), nothing else. `table` holds the moves from the state this one
    leads to, `check` the compiled element check of the segment and `read` the function that
    reads it into the model, so one lookup serves all three.
    """

    state: int
    depth: int
    position: int
    max_use: int
    opens: bool
    closes: int
    skipped: tuple[str, ...] = ()
    closed_missing: tuple[tuple[str, ...], ...] = ()
    problem: ProblemCode | None = None
    belongs_at: int = -1
    before: str = ""
    loop_name: str = ""
    repeat: bool = False
    watched: bool = False
    closes_clean: bool = True
    quick: bool = False
    table: dict[str, Move] = field(default_factory=dict, repr=False)
    check: Check | None = field(default=None, repr=False)
    read: Reader = field(default=_nothing, repr=False)


def _required_after(loop: Loop, start: int, stop: int) -> tuple[str, ...]:
    return tuple(child.id for child in loop.children[start:stop]
                 if isinstance(child, Slot) and child.required and child.id != "SE")


def _depth(loop: Loop) -> int:
    return 1 + max((_depth(child) for child in loop.children if isinstance(child, Loop)), default=0)


def _name(child: Slot | Loop) -> str:
    return child.id if isinstance(child, Slot) else child.trigger


class Layout:
    """The memoized walk of one transaction set layout (the 810's) for one rule table.

    `tables[state]` maps a segment id to its `Move` from that state; the parser's inner loop
    follows `move.table` from move to move without computing anything once a file's shape is
    known.
    """

    def __init__(self, root: Loop, ids: frozenset[str], watched: frozenset[str] = frozenset(),
                 checks: dict[str, Check] | None = None, readers: dict[str, Reader] | None = None,
                 default_reader: Reader = _nothing) -> None:
        self.root = root
        self.ids = ids
        self.watched = watched
        self.checks = checks or {}
        self.readers = readers or {}
        self.default_reader = default_reader
        self.shapes: list[Shape] = []
        self.tables: list[dict[str, Move]] = []
        self._state_of: dict[Shape, int] = {}
        self._remembered = 0
        self._finish: dict[int, tuple[tuple[str, ...], ...]] = {}
        self._lock = threading.Lock()
        self.start = self._state(((root, 0),))
        self.depth = _depth(root)

    def _state(self, shape: Shape) -> int:
        state = self._state_of.get(shape)
        if state is None:
            state = self._state_of[shape] = len(self.shapes)
            self.shapes.append(shape)
            self.tables.append({})
        return state

    def move(self, state: int, sid: str) -> Move:
        """The move for `sid` in `state` (remembered; look in `tables[state]` first when hot).

        Remembering stops at `_MEMO_LIMIT` moves so a file full of invented segment ids cannot
        grow the tables without bound; the lock keeps state numbering consistent across threads.
        """
        found = self.tables[state].get(sid)
        if found is None:
            with self._lock:
                found = self._compute(self.shapes[state], sid, state)
                if self._remembered < _MEMO_LIMIT:
                    self._remembered += 1
                    self.tables[state][sid] = found
        return found

    def _compute(self, shape: Shape, sid: str, state: int) -> Move:
        for depth in range(len(shape) - 1, -1, -1):
            loop, index = shape[depth]
            positions = loop.index.get(sid)
            if positions is None:
                continue
            floor = index if depth == 0 or index > 0 else 1
            position = next((p for p in positions if p >= floor), None)
            if position is None:
                continue
            closed_missing = tuple(_required_after(inner, inner_index + 1, len(inner.children))
                                   for inner, inner_index in reversed(shape[depth + 1 :]))
            skipped = _required_after(loop, index + 1, position)
            child = loop.children[position]
            new_shape: Shape = (*shape[:depth], (loop, position))
            opens = isinstance(child, Loop)
            if isinstance(child, Loop):
                new_shape = (*new_shape, (child, 0))
            closes = len(shape) - depth - 1
            repeat = position == index
            watched = sid in self.watched
            counted = repeat and child.max_use < UNCOUNTED
            target = self._state(new_shape)
            return Move(target, depth, position, child.max_use, opens, closes, skipped,
                        closed_missing, loop_name=child.name if isinstance(child, Loop) else "",
                        repeat=counted, watched=watched,
                        closes_clean=not any(closed_missing),
                        quick=not (skipped or counted or watched or any(closed_missing)),
                        table=self.tables[target], check=self.checks.get(sid),
                        read=self.readers.get(sid, self.default_reader))
        return self._misplaced(shape, sid, state)

    def _misplaced(self, shape: Shape, sid: str, state: int) -> Move:
        def stay(problem: ProblemCode, belongs_at: int = -1, before: str = "") -> Move:
            return Move(state, -1, -1, 0, False, 0, problem=problem, belongs_at=belongs_at, before=before,
                        watched=sid in self.watched, table=self.tables[state], check=self.checks.get(sid),
                        read=self.readers.get(sid, self.default_reader))

        if sid in self.ids:
            for depth, (loop, index) in enumerate(shape):
                positions = loop.index.get(sid)
                if positions is not None and positions[0] < index:
                    return stay(ProblemCode.SEGMENT_OUT_OF_SEQUENCE, depth, _name(loop.children[index]))
            return stay(ProblemCode.SEGMENT_UNEXPECTED)
        return stay(ProblemCode.SEGMENT_NOT_IN_SET if sid in KNOWN_SEGMENTS else ProblemCode.SEGMENT_UNRECOGNIZED)

    def finish(self, state: int) -> tuple[tuple[str, ...], ...]:
        """Mandatory ids never seen in each open loop when the set ends (innermost first)."""
        found = self._finish.get(state)
        if found is None:
            with self._lock:
                found = self._finish[state] = tuple(_required_after(loop, index + 1, len(loop.children))
                                                for loop, index in reversed(self.shapes[state]))
        return found
