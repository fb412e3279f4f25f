"""filterHash, order, fieldFilter and paging over in-memory rows, with SQL Server's habits.

Vantagepoint answers from SQL Server, and a client written against a lenient fake learns
bad habits, so these rules copy the database's:
- string comparisons ignore case and trailing spaces (`WBS2 = ''` matches the blank `' '`);
- a NULL never matches, whatever the operator;
- an unknown column is an error, not an empty result;
- rows that tie under the requested `order` come back in no stable order from one request
  to the next (no ORDER BY on a unique key means none), so a pager that does not finish
  its order with a unique key skips and doubles rows across pages, as it would in
  production;
- pages are 1-based (`page`, `pageSize`) or 0-based offsets (`offset`, `limit`); a page
  size above the server's cap is silently cut to the cap (assumed).
"""
from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .web import Request, refuse

OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "like")
_FILTER_KEY = re.compile(r"^filterHash\[(\d+)\]\[(\w+)\]$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?)?$")

# Column kinds: text, flag (Y/N), int, money, number, datetime.
Schema = dict[str, str]


@dataclass(frozen=True)
class Clause:
    column: str
    op: str
    value: str
    condition: str  # how it joins the clauses before it: "and" / "or"


def column_named(schema: Schema, name: str) -> str:
    for column in schema:
        if column.lower() == name.strip().lower():
            return column
    raise refuse(400, f"Invalid column name '{name}'.")


def parse_filters(request: Request, schema: Schema) -> list[Clause]:
    parts: dict[int, dict[str, str]] = {}
    for key, value in request.query:
        match = _FILTER_KEY.match(key)
        if match:
            parts.setdefault(int(match.group(1)), {})[match.group(2).lower()] = value
    clauses: list[tuple[int, int, Clause]] = []
    for index, part in parts.items():
        if not part.get("name"):
            raise refuse(400, f"filterHash[{index}] has no name.")
        op = part.get("opp", "=").strip().lower()
        if op not in OPERATORS:
            raise refuse(400, f"filterHash[{index}]: unknown operator '{part.get('opp')}'.")
        condition = part.get("condition", "and").strip().lower() or "and"
        if condition not in ("and", "or"):
            raise refuse(400, f"filterHash[{index}]: unknown condition '{part.get('condition')}'.")
        try:
            seq = int(part.get("seq", index))
        except ValueError:
            raise refuse(400, f"filterHash[{index}]: seq must be a number.") from None
        column = column_named(schema, part["name"])
        clauses.append((seq, index, Clause(column, op, part.get("value", ""), condition)))
    return [clause for _, _, clause in sorted(clauses, key=lambda c: (c[0], c[1]))]


def parse_value(text: str, kind: str, column: str) -> Any:
    """The filter value as the column's type; a bad value is SQL Server's conversion error."""
    try:
        if kind == "datetime":
            if not _DATE.match(text.strip()):
                raise ValueError
            return datetime.fromisoformat(text.strip())
        if kind == "int":
            return int(text)
        if kind in ("money", "number"):
            return Decimal(text)
    except (ValueError, InvalidOperation):
        raise refuse(400, f"Conversion failed when converting '{text}' for column '{column}'.") from None
    return text


def _as_datetime(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


def _like(pattern: str, text: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.rstrip())
    return re.fullmatch(regex, text.rstrip(), flags=re.IGNORECASE | re.DOTALL) is not None


def clause_holds(row: dict[str, Any], clause: Clause, schema: Schema) -> bool:
    left = row.get(clause.column)
    if left is None:
        return False
    kind = schema[clause.column]
    if clause.op == "like":
        rendered = left if isinstance(left, str) else str(left)
        return _like(clause.value, rendered)
    right = parse_value(clause.value, kind, clause.column)
    if kind in ("text", "flag"):
        left, right = str(left).rstrip().casefold(), str(right).rstrip().casefold()
    elif kind == "datetime":
        left, right = _as_datetime(left), _as_datetime(right)
    return {
        "=": left == right, "!=": left != right, ">": left > right,
        ">=": left >= right, "<": left < right, "<=": left <= right,
    }[clause.op]


def filter_rows(rows: Iterable[dict[str, Any]], clauses: list[Clause], schema: Schema) -> list[dict[str, Any]]:
    kept = []
    for row in rows:
        result = True
        for position, clause in enumerate(clauses):
            holds = clause_holds(row, clause, schema)
            if position == 0:
                result = holds
            elif clause.condition == "or":
                result = result or holds
            else:
                result = result and holds
        if result:
            kept.append(row)
    return kept


def order_rows(rows: list[dict[str, Any]], order: str | None, schema: Schema, rng: random.Random) -> list[dict]:
    if not order:
        return rows  # storage order: the clustered key
    keys: list[tuple[str, bool]] = []
    for part in order.split("|"):
        part = part.strip()
        if not part:
            continue
        name, descending = part, False
        if part[-2:].upper() in ("_A", "_D"):
            name, descending = part[:-2], part[-2:].upper() == "_D"
        keys.append((column_named(schema, name), descending))
    rows = list(rows)
    rng.shuffle(rows)  # ties stay in this arbitrary order: sorts below are stable
    for column, descending in reversed(keys):
        present = [r for r in rows if r.get(column) is not None]
        missing = [r for r in rows if r.get(column) is None]  # NULLs sort first ascending

        def sort_key(row: dict[str, Any], column: str = column) -> Any:
            value = _as_datetime(row[column])
            return value.rstrip().casefold() if isinstance(value, str) else value

        present.sort(key=sort_key, reverse=descending)
        rows = present + missing if descending else missing + present
    return rows


def _int_arg(request: Request, name: str, *, minimum: int) -> int | None:
    text = request.arg(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise refuse(400, f"The value '{text}' is not valid for {name}.") from None
    if value < minimum:
        raise refuse(400, f"{name} must be {minimum} or more.")
    return value


def page_rows(rows: list[dict[str, Any]], request: Request, *, max_page_size: int) -> list[dict[str, Any]]:
    size = _int_arg(request, "pageSize", minimum=1) or _int_arg(request, "limit", minimum=1) or max_page_size
    size = min(size, max_page_size)
    page = _int_arg(request, "page", minimum=1)
    offset = _int_arg(request, "offset", minimum=0)
    start = (page - 1) * size if page is not None else (offset or 0)
    return rows[start:start + size]


def select_fields(rows: list[dict[str, Any]], request: Request, schema: Schema) -> list[dict[str, Any]]:
    wanted = request.arg("fieldFilter")
    if not wanted:
        return rows
    columns = [column_named(schema, name) for name in wanted.split(",") if name.strip()]
    return [{column: row.get(column) for column in columns} for row in rows]


def run_query(rows: Iterable[dict[str, Any]], request: Request, schema: Schema, *, rng: random.Random,
              max_page_size: int) -> list[dict[str, Any]]:
    """filterHash, then order, then the page, then fieldFilter: the order SQL applies them."""
    selected = filter_rows(rows, parse_filters(request, schema), schema)
    selected = order_rows(selected, request.arg("order"), schema, rng)
    selected = page_rows(selected, request, max_page_size=max_page_size)
    return select_fields(selected, request, schema)
