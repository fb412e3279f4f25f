"""Invoices and envelope settings to and from JSON-ready dicts.

The command line prints what `parse` found in this shape and `render` reads the same shape back,
so a person can parse a partner file, edit it and render it again. Money and quantities travel
as strings ("2554.38") and dates as ISO text: JSON numbers are floats to most readers and a float
is never money. Reading is strict: an unknown key or a wrong type is an `InvoiceDataError` naming
the path (e.g. "invoices[0].lines[3].unit_price"), not a half-built invoice.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InvoiceDataError
from .model import Invoice810, SourceEnvelope
from .renderer import ControlNumbers, EnvelopeSettings

_DERIVED = {"total_computed", "due_date", "is_credit_memo"}
"""Keys `parse` prints for people and `render` ignores: they follow from the rest."""


def to_jsonable(value: Any) -> Any:
    """Dataclasses, Decimals, dates and tuples as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    return value


def invoice_to_dict(invoice: Invoice810) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(invoice)
    data["total_computed"] = to_jsonable(invoice.total_computed)
    data["due_date"] = to_jsonable(invoice.due_date)
    return data


def _convert(value: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise InvoiceDataError(path, "is required")
        (inner,) = [option for option in options if option is not type(None)]
        return _convert(value, inner, path)
    if origin is tuple:
        if not isinstance(value, list):
            raise InvoiceDataError(path, f"must be a list, not {type(value).__name__}")
        item_hint = typing.get_args(hint)[0]
        return tuple(_convert(item, item_hint, f"{path}[{index}]") for index, item in enumerate(value))
    if hint is Decimal:
        if isinstance(value, float):
            raise InvoiceDataError(path, "must be a decimal string or an exact number, not a float")
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvoiceDataError(path, f"must be a decimal string, not {type(value).__name__}")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise InvoiceDataError(path, f"{value!r} is not a decimal number") from None
        if not number.is_finite():
            raise InvoiceDataError(path, f"{value!r} is not a finite number")
        return number
    if hint is date:
        if not isinstance(value, str):
            raise InvoiceDataError(path, "must be an ISO date string")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InvoiceDataError(path, f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvoiceDataError(path, f"must be a whole number, not {type(value).__name__}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise InvoiceDataError(path, f"must be a string, not {type(value).__name__}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise InvoiceDataError(path, "must be true or false")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, path)
    raise InvoiceDataError(path, f"cannot read a value of type {hint!r}")  # pragma: no cover


def _build(cls: type[Any], data: Any, path: str, ignore: set[str] = _DERIVED) -> Any:
    if not isinstance(data, dict):
        raise InvoiceDataError(path, f"must be an object, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields) - ignore)
    if unknown:
        raise InvoiceDataError(path, f"unknown key(s) {', '.join(unknown)}")
    values = {}
    for name, spec in fields.items():
        if name in data:
            values[name] = _convert(data[name], hints[name], f"{path}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise InvoiceDataError(f"{path}.{name}", "is required")
    return cls(**values)


def invoice_from_dict(data: Any, path: str = "invoice") -> Invoice810:
    invoice: Invoice810 = _build(Invoice810, data, path)
    return invoice


def source_from_dict(data: Any, path: str = "source") -> SourceEnvelope:
    source: SourceEnvelope = _build(SourceEnvelope, data, path, set())
    return source


_CONTROL_KEYS = {"interchange_control", "group_control", "first_set_control", "date"}


def envelope_from_dict(data: Any, path: str = "envelope") -> tuple[EnvelopeSettings, ControlNumbers, datetime | None]:
    """Envelope settings plus the control numbers and date the command line reads with them."""
    if not isinstance(data, dict):
        raise InvoiceDataError(path, "must be an object")
    settings: EnvelopeSettings = _build(EnvelopeSettings, {k: v for k, v in data.items() if k not in _CONTROL_KEYS},
                                        path, set())
    numbers = []
    for key, default in (("interchange_control", 1), ("group_control", 1), ("first_set_control", 1)):
        number = data.get(key, default)
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvoiceDataError(f"{path}.{key}", "must be a whole number")
        numbers.append(number)
    when = None
    if "date" in data:
        if not isinstance(data["date"], str):
            raise InvoiceDataError(f"{path}.date", "must be an ISO date-time string")
        try:
            when = datetime.fromisoformat(data["date"])
        except ValueError:
            raise InvoiceDataError(f"{path}.date", f"{data['date']!r} is not an ISO date-time") from None
    return settings, ControlNumbers(*numbers), when
