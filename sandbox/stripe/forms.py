"""Form parameters as Stripe reads them: nested keys decoded, then checked against a schema.

`metadata[k]=v`, `address[city]=x`, `lines[0][amount]=5`, `expand[]=payments` and
`expand[0]=payments` all decode to nested dicts and lists. Each endpoint declares the
parameters it accepts; anything else is refused with 400 `parameter_unknown` naming the
parameter (`address[zip]`, not just `address`), as Stripe does. Values are typed here:
integers, booleans ("true"/"false"), enums, decimals with at most 12 places, currencies,
emails, metadata (50 keys, 40-character keys, 500-character values).

An empty string is how Stripe clients unset a field (`description=`, `metadata[k]=`), so
the cleaned value of an optional parameter may be "" and handlers treat it as "clear".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .web import StripeError

KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_AMOUNT = 99_999_999
CURRENCIES = frozenset(
    "usd eur gbp cad aud chf sek nok dkk pln czk huf ron bgn nzd sgd hkd mxn brl inr zar aed sar ils thb myr php idr "
    "jpy krw vnd clp pyg ugx rwf xaf xof kmf gnf mga djf bif vuv xpf isk bhd jod kwd omr tnd twd".split()
)


def decode(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Nested dicts from bracketed keys; `name[]` appends. Lists stay dicts of "0", "1"...
    until the schema asks for a list, so a stray `metadata[0]` stays a metadata key."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = KEY.match(key)
        if not match:
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                if not last:
                    raise StripeError(400, f"Invalid array: {key}", param=key)
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                if isinstance(node.get(part), dict):
                    raise StripeError(400, f"Invalid {_name(parts[:depth + 1])}: cannot be both a value and a hash",
                                      param=_name(parts[:depth + 1]))
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise StripeError(400, f"Invalid {_name(parts[:depth + 1])}: cannot be both a value and a hash",
                                      param=_name(parts[:depth + 1]))
                node = child
    return root


def _name(parts: list[str]) -> str:
    return parts[0] + "".join(f"[{p}]" for p in parts[1:])


class Spec:
    def clean(self, value: Any, name: str) -> Any:
        raise NotImplementedError

    @staticmethod
    def scalar(value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise StripeError(400, f"Invalid {name}: must be a string, not a hash", param=name)
        return value


@dataclass
class Str(Spec):
    max_length: int = 5000

    def clean(self, value: Any, name: str) -> str:
        text = self.scalar(value, name)
        if len(text) > self.max_length:
            raise StripeError(400, f"Invalid {name}: must be at most {self.max_length} characters", param=name)
        return text


@dataclass
class Int(Spec):
    minimum: int | None = None
    maximum: int | None = MAX_AMOUNT

    def clean(self, value: Any, name: str) -> int:
        text = self.scalar(value, name)
        if not re.fullmatch(r"-?\d+", text):
            raise StripeError(400, f"Invalid integer: {text}", code="parameter_invalid_integer", param=name)
        number = int(text)
        if self.minimum is not None and number < self.minimum:
            raise StripeError(400, f"Invalid {name}: must be at least {self.minimum}", param=name)
        if self.maximum is not None and number > self.maximum:
            raise StripeError(400, f"Invalid {name}: must be at most {self.maximum}", param=name)
        return number


class Bool(Spec):
    def clean(self, value: Any, name: str) -> bool:
        text = self.scalar(value, name)
        if text not in ("true", "false"):
            raise StripeError(400, f"Invalid boolean: {text}", param=name)
        return text == "true"


class Enum(Spec):
    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def clean(self, value: Any, name: str) -> str:
        text = self.scalar(value, name)
        if text not in self.choices:
            raise StripeError(400, f"Invalid {name}: must be one of {', '.join(self.choices)}", param=name)
        return text


class DecimalString(Spec):
    """A decimal string with at most 12 places, as `unit_amount_decimal` takes."""

    def clean(self, value: Any, name: str) -> Decimal:
        text = self.scalar(value, name)
        if not re.fullmatch(r"-?\d+(\.\d{1,12})?", text):
            raise StripeError(400, f"Invalid decimal: {text}", param=name)
        try:
            return Decimal(text)
        except InvalidOperation:
            raise StripeError(400, f"Invalid decimal: {text}", param=name) from None


class Currency(Spec):
    def clean(self, value: Any, name: str) -> str:
        text = self.scalar(value, name)
        if text.lower() not in CURRENCIES:
            raise StripeError(400, f"Invalid currency: {text}. Stripe currently supports these currencies: "
                                   f"{', '.join(sorted(CURRENCIES))}", param=name)
        return text.lower()


class Email(Spec):
    def clean(self, value: Any, name: str) -> str:
        text = self.scalar(value, name)
        if text and (len(text) > 512 or not EMAIL.match(text)):
            raise StripeError(400, f"Invalid email address: {text}", code="email_invalid", param=name)
        return text


class Metadata(Spec):
    """A hash of strings; `metadata=` (empty) clears all, `metadata[k]=` clears one key."""

    def clean(self, value: Any, name: str) -> dict[str, str] | str:
        if value == "":
            return ""
        if not isinstance(value, dict):
            raise StripeError(400, f"Invalid {name}: must be a hash", param=name)
        if len(value) > 50:
            raise StripeError(400, f"Invalid {name}: at most 50 keys", param=name)
        for key, item in value.items():
            if not isinstance(item, str):
                raise StripeError(400, f"Invalid {name}[{key}]: metadata values must be strings", param=f"{name}[{key}]")
            if len(key) > 40:
                raise StripeError(400, f"Invalid {name}: keys must be at most 40 characters ({key})", param=name)
            if len(item) > 500:
                raise StripeError(400, f"Invalid {name}[{key}]: values must be at most 500 characters",
                                  param=f"{name}[{key}]")
        return dict(value)


@dataclass
class Obj(Spec):
    """A hash with its own known keys: unknown ones are refused by their full bracketed name."""

    fields: dict[str, Spec]
    required: tuple[str, ...] = ()

    def clean(self, value: Any, name: str) -> dict[str, Any] | str:
        if value == "":
            return ""
        if not isinstance(value, dict):
            raise StripeError(400, f"Invalid {name}: must be a hash", param=name)
        return clean_params(value, self.fields, prefix=name, required=self.required)


@dataclass
class ListOf(Spec):
    item: Spec
    max_items: int = 250

    def clean(self, value: Any, name: str) -> list[Any]:
        if isinstance(value, dict):
            if not all(k.isdigit() for k in value):
                raise StripeError(400, f"Invalid array: {name}", param=name)
            items = [value[k] for k in sorted(value, key=int)]
        elif value == "":
            return []
        else:
            raise StripeError(400, f"Invalid array: {name}", param=name)
        if len(items) > self.max_items:
            raise StripeError(400, f"Invalid {name}: at most {self.max_items} items", param=name)
        return [self.item.clean(item, f"{name}[{i}]") for i, item in enumerate(items)]


@dataclass
class Range(Spec):
    """`created[gte]=...` and friends, or a bare integer."""

    ops: tuple[str, ...] = ("gt", "gte", "lt", "lte")
    number: Int = field(default_factory=lambda: Int(minimum=0, maximum=None))

    def clean(self, value: Any, name: str) -> dict[str, int]:
        if isinstance(value, str):
            return {"eq": self.number.clean(value, name)}
        return clean_params(value, {op: self.number for op in self.ops}, prefix=name)


def clean_params(params: dict[str, Any], schema: dict[str, Spec], *, prefix: str = "",
                 required: tuple[str, ...] = ()) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        spec = schema.get(key)
        if spec is None:
            raise StripeError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        cleaned[key] = spec.clean(value, name)
    for key in required:
        if cleaned.get(key) in (None, ""):
            name = f"{prefix}[{key}]" if prefix else key
            raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
    return cleaned


# Parameters every endpoint takes.
EXPAND = {"expand": ListOf(Str(max_length=500), max_items=50)}
PAGE = {"limit": Int(minimum=1, maximum=100), "starting_after": Str(), "ending_before": Str(), **EXPAND}
ADDRESS = Obj({k: Str(max_length=200) for k in ("line1", "line2", "city", "state", "postal_code", "country")})
