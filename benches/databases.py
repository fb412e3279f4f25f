"""The PostgreSQL database a bench runs in: its own, next to the one DATABASE_URL names."""
from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/ml_connector"


def bench_database_url(*, override: str, suffix: str) -> str:
    """`override` (an environment variable) when set, else DATABASE_URL's server and name plus
    `suffix` (this machine's PostgreSQL when DATABASE_URL is not a PostgreSQL one)."""
    explicit = os.environ.get(override)
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://", "pgsql://")):
        base = DEFAULT_SERVER
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))
