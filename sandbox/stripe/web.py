"""The wire as Stripe's v1 API speaks it: raw WSGI in, JSON and Stripe's error shape out.

No framework, and nothing shared with our client: form bodies are decoded here (forms.py),
errors are `{"error": {"type", "code", "message", "param"}}` with the status Stripe uses,
and every answer carries a `Request-Id`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

DOC_URL = "https://stripe.com/docs/error-codes/"


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        return cls(environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO") or "/", environ.get("QUERY_STRING", ""),
                   headers, body, f"{environ.get('wsgi.url_scheme', 'http')}://{host}")

    def pairs(self) -> list[tuple[str, str]]:
        """The parameters as sent: the query string of a GET or DELETE, the form body of a POST."""
        if self.method == "POST":
            content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
            if self.body and content_type not in ("", "application/x-www-form-urlencoded"):
                raise StripeError(400, f"Invalid request: unsupported Content-Type {content_type}. If error persists "
                                       "and you need assistance, please contact support@stripe.com.")
            text = self.body.decode("utf-8", "replace")
        else:
            text = self.query_string
        try:
            return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except ValueError:
            raise StripeError(400, "Invalid request: the parameters could not be decoded as a form.") from None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise StripeError(400, "The request body is not valid JSON.") from None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def wsgi(self, start_response: Callable) -> Iterable[bytes]:
        headers = {"Content-Length": str(len(self.body)), **self.headers}
        start_response(f"{self.status} {HTTPStatus(self.status).phrase}", list(headers.items()))
        return [self.body]

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Stripe pretty-prints its JSON; webhook bodies too, which is why a verifier must use the raw bytes.
    return Response(status, json.dumps(data, indent=2).encode(), {"Content-Type": "application/json", **(headers or {})})


class StripeError(Exception):
    """Raised by any layer: becomes Stripe's error object with the status it goes with."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",  # noqa: A002 - Stripe's name
                 code: str | None = None, param: str | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOC_URL + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}

    def response(self) -> Response:
        return json_response(self.body(), self.status, self.headers)


def no_such(kind: str, object_id: str, param: str | None = None) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param or "id")


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    schema: dict[str, Any]
    since: str | None = None  # the first API version with this endpoint


class Router:
    """`METHOD /v1/path/{name}` → handler and the schema of the parameters it accepts."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, schema: dict[str, Any], *, since: str | None = None) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self.routes.append(Route(method, re.compile(f"^{regex}$"), handler, schema, since))

    def resolve(self, method: str, path: str, version: str) -> tuple[Route, dict[str, str]]:
        for route in self.routes:
            match = route.pattern.match(path)
            if match and route.method == method and (route.since is None or version >= route.since):
                return route, match.groupdict()
        # Stripe answers an unknown path and a wrong method alike.
        raise StripeError(404, f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                               "or we can help at https://support.stripe.com/.")
