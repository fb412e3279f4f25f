"""The smallest request/response layer a WSGI simulator needs.

No framework on purpose: the sandbox must not share code with the clients it checks, and a
few dozen lines keep every byte on the wire visible.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base_url: str
    environ: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = {key: values[-1] for key, values in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        base_url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('SCRIPT_NAME', '')}"
        return cls(environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO") or "/", query, headers, body,
                   base_url, environ)

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]

    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode("utf-8", "replace"),
                                                            keep_blank_values=True).items()}

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise HttpError(400, "The request body is not valid JSON.") from None

    def bearer_token(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def wsgi(self, start_response: Callable) -> Iterable[bytes]:
        reason = HTTPStatus(self.status).phrase
        headers = {"Content-Length": str(len(self.body)), **self.headers}
        start_response(f"{self.status} {reason}", list(headers.items()))
        return [self.body]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


class HttpError(Exception):
    """Raised by a handler: becomes `{"message": ...}` with the status, Cleo's error shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response({"message": self.message}, self.status, self.headers)


Handler = Callable[..., Response]


class Router:
    """Routes `METHOD /path/{name}` patterns to handlers called with the named parts."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}$"), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for route_method, regex, handler in self._routes:
            match = regex.match(path)
            if match:
                if route_method == method:
                    return handler, match.groupdict()
                allowed = True
        if allowed:
            raise HttpError(405, f"{method} is not allowed on {path}.")
        raise HttpError(404, f"No resource at {path}.")
