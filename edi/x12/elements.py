"""Element checks: types, lengths, code values and syntax notes, precise and fast.

`check_elements` is the precise one: it names every problem with its element and AK4 code. It is
also slow, and a large file is almost all valid segments, so each segment rule is also compiled
into a straight-line Python function (`fast_check`) that only answers "all fine?". Only segments
it does not pass are given to `check_elements`. The two are generated from the same rules, and a
property test holds them to agreeing: whenever the fast check passes, the precise one finds
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .errors import Position, Problem, ProblemCode, Severity
from .grammar import Kind, SegmentRule
from .values import digit_count, is_decimal_text, is_integer_text, is_time, parse_date

_TEXT_KINDS = (Kind.AN, Kind.ID)
_INTEGER_KINDS = (Kind.N0, Kind.N2)


def check_elements(elements: list[str], rule: SegmentRule, number: int, set_position: int | None,
                   problems: list[Problem]) -> None:
    """Element types, lengths, code values and syntax notes of one segment."""
    sid = elements[0]
    size = len(elements) - 1
    rules = rule.elements

    def report(code: ProblemCode, index: int, message: str, value: str | None = None) -> None:
        problems.append(Problem(code, message, Position(number, sid, index, None, set_position), Severity.ERROR,
                                value))

    if size > rule.max_elements:
        report(ProblemCode.TOO_MANY_ELEMENTS, rule.max_elements + 1,
               f"{sid} has {size} elements; at most {rule.max_elements} are defined")
    for index in rule.positions:
        element = rules[index]
        value = elements[index] if index <= size else ""
        if not value:
            if element.required:
                report(ProblemCode.ELEMENT_MISSING, index, f"{element.ref} {element.name} is required")
            continue
        kind = element.kind
        if kind in _TEXT_KINDS:
            length = len(value)
            if element.codes is not None and value not in element.codes:
                report(ProblemCode.ELEMENT_INVALID_CODE, index,
                       f"{element.ref} {element.name} {value!r} is not one of {', '.join(sorted(element.codes))}",
                       value)
            elif length > element.max_length:
                report(ProblemCode.ELEMENT_TOO_LONG, index,
                       f"{element.ref} {element.name} {value!r} is {length} characters; max {element.max_length}",
                       value)
            elif length < element.min_length:
                report(ProblemCode.ELEMENT_TOO_SHORT, index,
                       f"{element.ref} {element.name} {value!r} is {length} characters; min {element.min_length}",
                       value)
        elif kind is Kind.DT:
            if parse_date(value) is None:
                report(ProblemCode.ELEMENT_INVALID_DATE, index,
                       f"{element.ref} {element.name} {value!r} is not a CCYYMMDD date", value)
        elif kind is Kind.TM:
            if not is_time(value):
                report(ProblemCode.ELEMENT_INVALID_TIME, index,
                       f"{element.ref} {element.name} {value!r} is not an HHMM[SS] time", value)
        else:
            if kind in _INTEGER_KINDS:
                if not is_integer_text(value):
                    why = "has a decimal point; its two decimals are implied" if kind is Kind.N2 and "." in value \
                        else "is not a whole number"
                    report(ProblemCode.ELEMENT_INVALID_CHARACTER, index, f"{element.ref} {element.name} {value!r} {why}",
                           value)
                    continue
            elif not is_decimal_text(value):
                report(ProblemCode.ELEMENT_INVALID_CHARACTER, index,
                       f"{element.ref} {element.name} {value!r} is not a decimal number", value)
                continue
            digits = digit_count(value)
            if digits > element.max_length:
                report(ProblemCode.ELEMENT_TOO_LONG, index,
                       f"{element.ref} {element.name} {value!r} has {digits} digits; max {element.max_length}", value)
    if rule.paired or rule.one_of or rule.conditional:
        _check_syntax_notes(elements, rule, report)


def _check_syntax_notes(elements: list[str], rule: SegmentRule, report: _Report) -> None:
    size = len(elements) - 1
    sid = rule.id

    def present(index: int) -> bool:
        return index <= size and elements[index] != ""

    for group in rule.paired:
        given = [index for index in group if present(index)]
        if given and len(given) != len(group):
            for index in group:
                if index not in given:
                    report(ProblemCode.ELEMENT_CONDITIONAL_MISSING, index,
                           f"{sid}{index:02d} is required with {', '.join(f'{sid}{i:02d}' for i in given)}")
    for group in rule.one_of:
        if not any(present(index) for index in group):
            report(ProblemCode.ELEMENT_CONDITIONAL_MISSING, group[0],
                   f"one of {', '.join(f'{sid}{i:02d}' for i in group)} is required")
    for first, *others in rule.conditional:
        if present(first):
            for index in others:
                if not present(index):
                    report(ProblemCode.ELEMENT_CONDITIONAL_MISSING, index,
                           f"{sid}{index:02d} is required with {sid}{first:02d}")


class _Report(Protocol):
    def __call__(self, code: ProblemCode, index: int, message: str, value: str | None = None) -> None: ...


FastCheck = Callable[[list[str]], bool]


def _int_ok(value: str, max_length: int) -> bool:
    return is_integer_text(value) and digit_count(value) <= max_length


def _decimal_ok(value: str, max_length: int) -> bool:
    return is_decimal_text(value) and digit_count(value) <= max_length


_DIRECT_POSITIONS = 6
"""Segments with this few checked elements are checked directly; longer ones go by shape."""

_SHAPE_MEMORY = 4096
"""Remembered element-length shapes per segment id; files with more variety are checked, not stored."""


def _shape_check(rule: SegmentRule) -> tuple[dict[tuple[int, ...], bool], Callable[[tuple[int, ...]], bool]]:
    """Everything about a segment that its element lengths decide, remembered per length tuple.

    Element count, mandatory elements, minimum and maximum lengths and the syntax notes (which
    only ask whether an element is present) depend on nothing but the lengths, and real files
    repeat the same few length shapes over and over. Numbers are judged on their whole length,
    which is never less than their digit count, so this errs only towards the precise check.
    """
    memory: dict[tuple[int, ...], bool] = {}
    rules = sorted(rule.elements.items())

    def decide(lengths: tuple[int, ...]) -> bool:
        size = len(lengths)
        if size - 1 > rule.max_elements:
            return False
        for index, element in rules:
            length = lengths[index] if index < size else 0
            if not length:
                if element.required:
                    return False
            elif length > element.max_length or (element.kind in _TEXT_KINDS and length < element.min_length):
                return False

        def present(index: int) -> bool:
            return index < size and lengths[index] > 0

        for group in rule.paired:
            if len({present(index) for index in group}) > 1:
                return False
        for group in rule.one_of:
            if not any(present(index) for index in group):
                return False
        for first, *others in rule.conditional:
            if present(first) and not all(present(index) for index in others):
                return False
        return True

    def shape_ok(lengths: tuple[int, ...]) -> bool:
        verdict = decide(lengths)
        if len(memory) < _SHAPE_MEMORY:
            memory[lengths] = verdict
        return verdict

    return memory, shape_ok


def _content_test(index: int, kind: Kind, high: int, has_codes: bool) -> str | None:
    """An expression true when non-empty `v` (element `index`) has the right content, or None.

    Numbers are first tried as `values.is_digits` inlined (ASCII digits, with one point for R), the
    shape nearly every value has; anything else goes to the precise test."""
    if has_codes:
        return f"v in C{index}"
    if kind is Kind.DT:
        return "_date(v) is not None"
    if kind is Kind.TM:
        return "_time(v)"
    if kind in _INTEGER_KINDS:
        return f"(v.isascii() and v.isdigit()) or _int_ok(v, {high})"
    if kind is Kind.R:
        return f"((w := v.replace('.', '', 1)).isascii() and w.isdigit()) or _decimal_ok(v, {high})"
    return None


def _direct_lines(rule: SegmentRule) -> list[str]:
    """Straight-line checks of every rule of a small segment, without the shape memory."""
    lines = ["    n = len(e)", f"    if n > {rule.max_elements + 1}: return False"]
    for index in rule.positions:
        if rule.elements[index].required:
            lines.append(f"    if n <= {index} or not e[{index}]: return False")
    for index in rule.positions:
        element = rule.elements[index]
        tests = [f"len(v) > {element.max_length}"]
        if element.kind in _TEXT_KINDS and element.min_length > 1:
            tests.append(f"len(v) < {element.min_length}")
        content = _content_test(index, element.kind, element.max_length, element.codes is not None)
        if content is not None:
            tests.append(f"not ({content})")
        lines += [f"    if n > {index}:", f"        v = e[{index}]", f"        if v and ({' or '.join(tests)}): return False"]

    def present(index: int) -> str:
        return f"(n > {index} and e[{index}] != '')"

    for group in rule.paired:
        lines.append(f"    if not ({' == '.join(present(i) for i in group)}): return False")
    for group in rule.one_of:
        lines.append(f"    if not ({' or '.join(present(i) for i in group)}): return False")
    for first, *others in rule.conditional:
        lines.append(f"    if {present(first)} and not ({' and '.join(present(i) for i in others)}): return False")
    return lines


def compile_fast_check(rule: SegmentRule) -> FastCheck:
    """A function answering "does this segment pass `check_elements` without a problem?".

    For long segments, lengths, counts and notes are settled by the remembered shape check; what
    is left are the few elements whose characters matter (numbers, dates, times, coded values).
    Short segments are checked element by element. Either way the code is straight-line and
    generated here: a generic loop over rule objects costs several times more per element, on
    every segment of every file.
    """
    memory, decide = _shape_check(rule)
    namespace: dict[str, object] = {"_date": parse_date, "_time": is_time, "_int_ok": _int_ok,
                                    "_decimal_ok": _decimal_ok, "_memory": memory.get, "_decide": decide}
    for index, element in rule.elements.items():
        if element.codes is not None:
            namespace[f"C{index}"] = element.codes
    if len(rule.positions) <= _DIRECT_POSITIONS:
        lines = ["def fast(e):", *_direct_lines(rule)]
    else:
        lines = ["def fast(e):", "    shape = (*map(len, e),)", "    ok = _memory(shape)",
                 "    if ok is None: ok = _decide(shape)", "    if not ok: return False", "    n = len(e)"]
        for index in rule.positions:
            element = rule.elements[index]
            test = _content_test(index, element.kind, element.max_length, element.codes is not None)
            if test is not None:
                lines += [f"    if n > {index}:", f"        v = e[{index}]", f"        if v and not ({test}): return False"]
    lines.append("    return True")
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from our own rule table
    fast = namespace["fast"]
    assert callable(fast)
    return fast


_FAST_CHECKS: dict[int, dict[str, FastCheck]] = {}


def fast_checks(rules: dict[str, SegmentRule]) -> dict[str, FastCheck]:
    """Compiled checks for a rule table (compiled once per table)."""
    compiled = _FAST_CHECKS.get(id(rules))
    if compiled is None:
        compiled = _FAST_CHECKS[id(rules)] = {sid: compile_fast_check(rule) for sid, rule in rules.items()}
    return compiled
