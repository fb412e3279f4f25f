"""Structured logs: one JSON object per line (plain readable lines with DEBUG on), every
line inside a block of work carrying the ids that say what it was about.

    from connector.logs import bound, get_logger

    log = get_logger(__name__)
    with bound(tenant_id=tenant.pk, flow="ar-810", run_id=run.pk):
        log.info("cycle started")          # {"event": "cycle started", "tenant_id": 3, "flow": "ar-810", ...}
        logging.getLogger("x").warning(…)  # stdlib lines get the same ids

The ids live in contextvars (structlog.contextvars), so they follow the code into
functions it calls without being passed along, and leave with the block. Standard library
logging (Django, Celery, httpx) goes through the same renderer.

Never a secret, never a payload: `redact` runs on every line. It masks values under keys
that name a secret (password, token, authorization, …) and values shaped like one (a Stripe
key, a webhook signing secret, a bearer token, a password in a URL), drops keys that carry
documents (raw, body, payload, artifact, …), and refuses long values (a log line is no place
for an 810 file). Logging must never be what leaks a credential.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars

# Keys whose value is never written: they name a secret.
SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|authori[sz]ation|cookie|credential|signature|"
    r"session[_-]?id|csrf|^key$|fernet",
    re.IGNORECASE,
)
# Keys whose value is a document, a body or a file: dropped, whatever their size.
PAYLOAD_KEYS = frozenset({"raw", "body", "payload", "artifact", "mapped", "content", "request_body", "response_body",
                          "data", "file", "files", "bytes", "text", "calls", "headers"})
MASK = "[redacted]"
# Values shaped like a secret wherever they appear, the message itself included: (pattern,
# replacement); a replacement keeps the name of what was hidden.
SECRET_VALUE_PATTERNS = (
    (re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{6,}"), MASK),                 # Stripe keys
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{6,}"), MASK),                               # webhook signing secrets
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),    # Authorization values
    (re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"), MASK),                          # user:password@ in a URL
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api_?key|"
                r"signature|sig)(\s*[=:]\s*)(?!\[redacted\])[^\s&,;]{3,}"), rf"\1\2{MASK}"),  # name=value, name: value
)
MAX_VALUE_CHARS = 500           # any one value
MAX_MESSAGE_CHARS = 2000        # the message
MAX_EXCEPTION_CHARS = 8000      # a formatted traceback
# Keys structlog and logging add themselves: never masked as if they named a secret.
_OWN_KEYS = frozenset({"event", "level", "logger", "timestamp", "exception", "stack", "task_id", "task"})


def _scrub_text(value: str) -> str:
    for pattern, replacement in SECRET_VALUE_PATTERNS:
        value = pattern.sub(replacement, value)
    return value


def _limit(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value) - limit} more characters not logged)"


def _clean(value: Any, *, depth: int = 0) -> Any:
    """A value made safe to write: secrets masked, long or nested values refused."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes not logged>"
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            return f"<{len(value)} characters not logged>"
        return _scrub_text(value)
    if depth >= 2:
        return f"<{type(value).__name__} not logged>"
    if isinstance(value, Mapping):
        if len(value) > 50:
            return f"<{type(value).__name__} of {len(value)} items not logged>"
        return {str(k): _clean_item(str(k), v, depth=depth + 1) for k, v in value.items()
                if str(k).lower() not in PAYLOAD_KEYS}
    if isinstance(value, list | tuple | set | frozenset):
        if len(value) > 50:
            return f"<{type(value).__name__} of {len(value)} items not logged>"
        return [_clean(v, depth=depth + 1) for v in value]
    return _clean(str(value), depth=depth)


def _clean_item(key: str, value: Any, *, depth: int = 0) -> Any:
    if key not in _OWN_KEYS and SECRET_KEY_PATTERN.search(key):
        return MASK
    return _clean(value, depth=depth)


def redact(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The structlog processor that keeps secrets and payloads out of every line."""
    cleaned: dict[str, Any] = {}
    for key, value in event_dict.items():
        if key.startswith("_"):  # structlog's own plumbing (_record, _from_structlog)
            cleaned[key] = value
        elif key.lower() in PAYLOAD_KEYS:
            cleaned[key] = "<not logged>"
        elif key == "event":
            cleaned[key] = _limit(_scrub_text(str(value)), MAX_MESSAGE_CHARS)
        elif key in ("exception", "stack") and isinstance(value, str):
            cleaned[key] = _limit(_scrub_text(value), MAX_EXCEPTION_CHARS)
        else:
            cleaned[key] = _clean_item(key, value)
    return cleaned


@contextlib.contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Every log line written inside the block carries `ids` (None values are left out).

    Use the engine's names: tenant_id, flow, document_id, run_id (and step, trigger)."""
    with bound_contextvars(**{k: v for k, v in ids.items() if v is not None}):
        yield


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


# Added to lines that come from the standard library (Django, Celery, httpx) before they
# meet the same processors as structlog's own.
_SHARED = (
    merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
)


def _renderer(*, json: bool) -> Any:
    return structlog.processors.JSONRenderer(default=str) if json else structlog.dev.ConsoleRenderer(colors=False)


def formatter_options(*, json: bool) -> dict[str, Any]:
    """The `()` formatter entry of Django's LOGGING for structlog's ProcessorFormatter."""
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": list(_SHARED),
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            _renderer(json=json),
        ],
    }


def logging_config(*, json: bool, level: str = "INFO") -> dict[str, Any]:
    """Django's LOGGING: one handler on the root logger, rendered by structlog, and
    structlog configured to hand its lines to that handler."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter_options(json=json)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        # httpx and stripe-python log every full URL at INFO; the engine records method, path and status itself.
        "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
    }


_task_tokens: dict[str, Mapping[str, Any]] = {}


def celery_task_ids_bind(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Celery's task_prerun: lines written while a task runs name it and its id."""
    if task_id:
        _task_tokens[task_id] = structlog.contextvars.bind_contextvars(task=getattr(task, "name", ""), task_id=task_id)


def celery_task_ids_clear(task_id: str | None = None, **_: Any) -> None:
    """Celery's task_postrun: put back what was bound before (an eager task runs inside its caller)."""
    tokens = _task_tokens.pop(task_id, None) if task_id else None
    if tokens:
        structlog.contextvars.reset_contextvars(**tokens)


def celery_logging_connect() -> None:
    """Bind each task's name and id for its lines; called once per process (idempotent)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(celery_task_ids_bind, weak=False, dispatch_uid="connector.logs.task_prerun")
    task_postrun.connect(celery_task_ids_clear, weak=False, dispatch_uid="connector.logs.task_postrun")

