"""The subset of Stripe's search query language the simulator understands.

    metadata['vp_firm']:'F-100' AND email:'ap@acme.example'
    name~'acme' OR -email:'x@y.example'
    created>1700000000

Clauses are `field:value` (exact), `field~value` (substring, at least 3 characters),
`field>value` and friends for numbers, a leading `-` negates, `metadata['key']` reaches a
metadata value (case-sensitive; the others compare ignoring case, an assumption).
Clauses join with AND or with OR, never both in one query (Stripe refuses that too), at
most 10 of them. Quotes are single or double; a backslash escapes one inside a value.

Search is eventually consistent at Stripe: an object shows up in results a little while
after it was created or changed ("under a minute" in normal operation). The simulator
models that with a lag on its clock (`search_lag`), so a read-after-write through search
misses, as it would in production.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .web import StripeError

CLAUSE = re.compile(
    r"""^(?P<neg>-)?(?P<field>metadata\[(?P<q1>['"])(?P<key>[^'"]+)(?P=q1)\]|[a-z_]+)"""
    r"""(?P<op>:|~|>=|<=|>|<)(?:(?P<q2>['"])(?P<text>(?:\\.|(?!(?P=q2)).)*)(?P=q2)|(?P<number>-?\d+)|(?P<null>null))$"""
)
SPLIT = re.compile(r"""\s+(AND|OR)\s+(?=(?:[^'"]*['"][^'"]*['"])*[^'"]*$)""")
MAX_CLAUSES = 10


@dataclass(frozen=True)
class Clause:
    field: str
    metadata_key: str | None
    op: str
    value: str | int | None
    negate: bool

    def test(self, obj: dict[str, Any]) -> bool:
        if self.metadata_key is not None:
            actual: Any = (obj.get("metadata") or {}).get(self.metadata_key)
        else:
            actual = obj.get(self.field)
        result = _compare(actual, self.op, self.value, case_sensitive=self.metadata_key is not None)
        return not result if self.negate else result


def _compare(actual: Any, op: str, wanted: str | int | None, *, case_sensitive: bool) -> bool:
    if wanted is None:
        return actual in (None, "")
    if op in (">", "<", ">=", "<="):
        if not isinstance(actual, int) or not isinstance(wanted, int):
            return False
        return {">": actual > wanted, "<": actual < wanted, ">=": actual >= wanted, "<=": actual <= wanted}[op]
    if actual is None:
        return False
    left, right = str(actual), str(wanted)
    if not case_sensitive:
        left, right = left.lower(), right.lower()
    return right in left if op == "~" else left == right


def parse_query(query: str, fields: tuple[str, ...], resource: str) -> Callable[[dict[str, Any]], bool]:
    text = query.strip()
    if not text:
        raise StripeError(400, "Missing required param: query.", code="parameter_missing", param="query")
    parts = SPLIT.split(text)
    clauses_text, joins = parts[0::2], set(parts[1::2])
    if len(joins) > 1:
        raise StripeError(400, "Search queries cannot combine AND and OR; use one of them.", param="query")
    if len(clauses_text) > MAX_CLAUSES:
        raise StripeError(400, f"Search queries can have at most {MAX_CLAUSES} clauses.", param="query")
    clauses = [_clause(c.strip(), fields, resource) for c in clauses_text]
    if joins == {"OR"}:
        return lambda obj: any(c.test(obj) for c in clauses)
    return lambda obj: all(c.test(obj) for c in clauses)


def _clause(text: str, fields: tuple[str, ...], resource: str) -> Clause:
    match = CLAUSE.match(text)
    if not match:
        raise StripeError(400, f"Invalid search query: could not parse '{text}'. Use field:'value', "
                               "for example metadata['key']:'value'.", param="query")
    key = match.group("key")
    field = "metadata" if key is not None else match.group("field")
    if field not in fields:
        raise StripeError(400, f"Field '{field}' is not supported for search on {resource}. Supported fields: "
                               f"{', '.join(fields)}.", param="query")
    op = match.group("op")
    if match.group("null") is not None:
        value: str | int | None = None
    elif match.group("number") is not None:
        value = int(match.group("number"))
    else:
        value = re.sub(r"\\(.)", r"\1", match.group("text"))
    if op == "~" and (not isinstance(value, str) or len(value) < 3):
        raise StripeError(400, "Substring search (~) needs a quoted value of at least 3 characters.", param="query")
    if op in (">", "<", ">=", "<=") and not isinstance(value, int):
        raise StripeError(400, f"Comparison ({op}) needs a number: '{text}'.", param="query")
    return Clause(field, key, op, value, bool(match.group("neg")))
