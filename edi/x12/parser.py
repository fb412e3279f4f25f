"""Reading X12 into invoices: whole files for the inbound flow, streams for anything large.

`parse_text` and `parse_file` keep every set (with its invoice and problems) in its group, which
is what a 997 and a review screen need. `iter_transaction_sets` and `iter_invoices` keep nothing,
so a 100 MB interchange is read in bounded memory.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .envelope import InterchangeReader
from .errors import Problem, ReadError, Severity
from .model import Interchange, Invoice810, TransactionSet
from .reader import Source


def _order(problem: Problem) -> tuple[int, int]:
    return problem.position.segment_number, problem.position.element or 0


@dataclass(slots=True)
class ParseResult:
    """Everything read from one file: its interchanges (groups, sets, invoices) and all problems."""

    interchanges: list[Interchange]
    notes: list[Problem] = field(default_factory=list)

    @property
    def transaction_sets(self) -> list[TransactionSet]:
        return [ts for interchange in self.interchanges for group in interchange.groups for ts in group.sets]

    @property
    def invoices(self) -> list[Invoice810]:
        return [ts.invoice for ts in self.transaction_sets if ts.invoice is not None]

    @property
    def problems(self) -> list[Problem]:
        """Every problem in file order: reader notes, envelopes, sets."""
        found = list(self.notes)
        for interchange in self.interchanges:
            for group in interchange.groups:
                for ts in group.sets:
                    found.extend(ts.problems)
                found.extend(group.problems)
            found.extend(interchange.problems)
        return sorted(found, key=_order)

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity is Severity.ERROR]

    @property
    def is_valid(self) -> bool:
        return not self.errors


_SETTLE_FROM = 20_000
"""Objects a parse must have made for `cyclic_gc_paused(keep=True)` to settle them (see there)."""


@contextmanager
def cyclic_gc_paused(*, keep: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while a whole file is turned into objects.

    Every object a parse creates survives to the end of it, so each collection the allocations
    trigger walks a growing heap to free nothing: about a sixth of the parse time. The parser
    makes no reference cycles, so reference counting still frees everything; the collector is
    switched back on (if it was on) however the parse ends.

    `keep` says the objects made meanwhile are the caller's result. Left young, the first
    allocation after the collector is back on would walk every one of them (a 10,000-line invoice
    is some 200,000 objects, a sixth of the parse again) and then walk them once more a generation
    up, only to move them to the oldest generation, where long-lived objects end up anyway. A
    successful parse therefore puts them there directly: `gc.freeze()` then `gc.unfreeze()` moves
    the young generations into the oldest one in constant time, without collecting anything.
    Whatever else was young at that moment goes along, and the next full collection, which walks
    the oldest generation, frees it if it is garbage. A program that froze objects itself (as
    before a fork) keeps them frozen: the step is skipped when anything is frozen. It is also
    skipped for small parses, where a young collection costs little, because counting the frozen
    objects walks them.
    """
    enabled = gc.isenabled()
    gc.disable()
    done = False
    try:
        yield
        done = True
    finally:
        if enabled:
            if keep and done and gc.get_count()[0] >= _SETTLE_FROM and gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _read(source: Source, check: bool) -> ParseResult:
    reader = InterchangeReader(source, check=check, keep=True)
    with cyclic_gc_paused(keep=True):
        for _ in reader:
            pass
    return ParseResult(reader.interchanges, reader.notes)


def parse_text(text: str | bytes, *, check: bool = True) -> ParseResult:
    """Parse X12 held in memory. `check` False skips validation (envelope counts are still checked)."""
    return _read(text, check)


def open_x12(path: str | os.PathLike[str]) -> Iterator[Source]:
    """Open a file for reading as X12, turning OS errors into `ReadError`."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the caller is done
    except OSError as exc:
        raise ReadError("unreadable", f"cannot open {os.fspath(path)!r}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


def parse_file(path: str | os.PathLike[str], *, check: bool = True) -> ParseResult:
    """Parse an X12 file (bytes, any of the encodings and layouts partners send)."""
    for handle in open_x12(path):
        return _read(handle, check)
    raise AssertionError("unreachable")  # pragma: no cover


def iter_transaction_sets(source: Source, *, check: bool = True) -> Iterator[TransactionSet]:
    """Sets one by one, each with its invoice (for 810s) and problems, holding nothing back."""
    yield from InterchangeReader(source, check=check)


def iter_invoices(source: Source, *, check: bool = False) -> Iterator[Invoice810]:
    """Just the invoices, streamed; for when problems are looked at elsewhere or not at all."""
    for ts in InterchangeReader(source, check=check):
        if ts.invoice is not None:
            yield ts.invoice
