"""Query parameters for Vantagepoint collections: filterHash, order, fieldFilter, pages.

Vantagepoint has no `since` parameter: modified-since polling is a filterHash on a date
column. The filter is written out as `filterHash[i][name|value|opp]` (plus `condition`
when it is not "and").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .records import format_datetime

OPERATORS = frozenset({"=", "!=", ">", ">=", "<", "<=", "like"})
Params = list[tuple[str, str]]


@dataclass(frozen=True)
class Condition:
    column: str
    value: str | int | Decimal | date | datetime
    op: str = "="
    join: str = "and"  # how it combines with the conditions before it

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown filterHash operator {self.op!r}")
        if self.join not in ("and", "or"):
            raise ValueError("join must be 'and' or 'or'")


def render_value(value: str | int | Decimal | date | datetime) -> str:
    if isinstance(value, date):
        return format_datetime(value)
    return str(value)


def filter_params(conditions: list[Condition]) -> Params:
    params: Params = []
    for index, condition in enumerate(conditions):
        params += [(f"filterHash[{index}][name]", condition.column),
                   (f"filterHash[{index}][value]", render_value(condition.value)),
                   (f"filterHash[{index}][opp]", condition.op)]
        if condition.join != "and":
            params.append((f"filterHash[{index}][condition]", condition.join))
    return params


def order_param(*columns: str, descending: bool = False) -> Params:
    """`order=ColA_A|ColB_A`: finish with a unique key, or pages skip and repeat tied rows."""
    suffix = "_D" if descending else "_A"
    return [("order", "|".join(f"{column}{suffix}" for column in columns))]


def page_params(page: int, page_size: int) -> Params:
    return [("page", str(page)), ("pageSize", str(page_size))]
