"""Validation of whole interchanges, 4010 and 5010, in one streaming pass.

The checks themselves live where the data goes by (`envelope` for ISA/GS/ST counts and control
numbers, `checks` for the set's layout, elements, CTT01 and TDS); this module runs them over a
source without keeping invoices, so a very large file can be validated in bounded memory.
"""

from __future__ import annotations

import os
from typing import cast

from .envelope import InterchangeReader
from .errors import Problem
from .parser import ParseResult, cyclic_gc_paused, open_x12
from .reader import Source


def _order(problem: Problem) -> tuple[int, int]:
    return problem.position.segment_number, problem.position.element or 0


def _collect(reader: InterchangeReader) -> list[Problem]:
    problems: list[Problem] = []
    with cyclic_gc_paused():
        for ts in reader:
            problems.extend(ts.problems)
    problems.extend(reader.notes)
    for interchange in reader.interchanges:
        for group in interchange.groups:
            problems.extend(group.problems)
        problems.extend(interchange.problems)
    return sorted(problems, key=_order)


def validate(source: Source | ParseResult | os.PathLike[str]) -> list[Problem]:
    """Every problem in `source`, in file order; an empty list means nothing to report.

    `source` is X12 text or bytes, an open file, a path (`pathlib.Path`), or a `ParseResult`
    already read (checked when it was parsed). Severity says what matters: errors reject a set in
    the 997, warnings (such as TDS against the lines) are for the people paying the invoice.
    """
    if isinstance(source, ParseResult):
        return source.problems
    if isinstance(source, os.PathLike):
        for handle in open_x12(source):
            return _collect(InterchangeReader(handle, check=True))
    return _collect(InterchangeReader(cast(Source, source), check=True))
