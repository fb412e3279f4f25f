"""A second Django handler for the URLs machines post to (the Stripe webhook), with a short
middleware list of its own.

Django applies MIDDLEWARE to every request; a webhook reads no session, user, message or
CSRF token, and its answer is never framed, so those layers are pure cost there (the issue's
500 deliveries a second on two cores). `lean_application` routes paths under
settings.WEBHOOK_PATH_PREFIX to a handler built with settings.WEBHOOK_MIDDLEWARE (security
only: the HTTPS redirect and HSTS stay) and everything else to the full one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class LeanWSGIHandler(WSGIHandler):
    """Django's WSGI handler with settings.WEBHOOK_MIDDLEWARE in place of MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; it is swapped only while this
        # handler is built, once, at process start (before any request thread runs).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = list(settings.WEBHOOK_MIDDLEWARE)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def lean_application(full: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """`full` for every path but those under settings.WEBHOOK_PATH_PREFIX."""
    lean = LeanWSGIHandler()
    prefix = settings.WEBHOOK_PATH_PREFIX

    def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        handler = lean if environ.get("PATH_INFO", "").startswith(prefix) else full
        return handler(environ, start_response)

    return application
