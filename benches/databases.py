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


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def server_connect(url: str):
    """An autocommit connection to the `postgres` database of `url`'s server (to create, drop
    or look at the bench's own database)."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres", query="")).replace("postgres://", "postgresql://", 1)
    return psycopg.connect(admin, autocommit=True)


def database_drop(url: str) -> None:
    """Drop `url`'s database, closing whatever connections it still has."""
    with server_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def database_recreate(url: str) -> None:
    """`url`'s database, new and empty."""
    database_drop(url)
    with server_connect(url) as conn:
        conn.execute(f'CREATE DATABASE "{database_name(url)}"')
