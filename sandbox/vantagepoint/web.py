"""A tiny request/response layer over raw WSGI.

The simulator may not lean on Django or on anything our client uses: it must be an
independent reading of the contract, so it parses the WSGI environ itself.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl


class HttpError(Exception):
    """Raised by a handler to answer with an error status and a JSON body."""

    def __init__(self, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(f"{status}: {payload}")
        self.status = status
        self.payload = payload
        self.headers = headers or []


def refuse(status: int, message: str) -> HttpError:
    """The error shape of Vantagepoint's (ASP.NET Web API) endpoints: `{"Message": ...}` (assumed)."""
    return HttpError(status, {"Message": message})


@dataclass
class Request:
    method: str
    path: str  # below the API root, e.g. "/firm"
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @classmethod
    def from_environ(cls, environ: dict[str, Any], *, path: str) -> Request:
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return cls(method=environ["REQUEST_METHOD"].upper(), path=path, query=query, headers=headers, body=body)

    def arg(self, name: str) -> str | None:
        """First value of a query parameter; names are case-insensitive like IIS's."""
        for key, value in self.query:
            if key.lower() == name.lower():
                return value
        return None

    def form(self) -> list[tuple[str, str]]:
        content_type = self.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in content_type:
            raise HttpError(400, {"error": "invalid_request",
                                  "error_description": "The token request must be form-encoded."})
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null", parse_float=Decimal)
        except ValueError:
            raise refuse(400, "The request body is not valid JSON.") from None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"


def render_datetime(value: datetime | date) -> str:
    """Vantagepoint's zone-less format, milliseconds included: 2017-12-31T00:00:00.000."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return render_datetime(value)
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def to_json(value: Any) -> bytes:
    return json.dumps(value, default=_json_default).encode("utf-8")


def json_response(value: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, to_json(value), [("Content-Type", "application/json; charset=utf-8"), *(headers or [])])
