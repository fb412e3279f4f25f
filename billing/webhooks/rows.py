"""Single-statement writes the ORM cannot express: insert-or-nothing with the new id returned.

The webhook view writes a handful of rows per delivery and must do it in as few round trips
as it can (issue 12's 500 events a second on two cores). `Model.objects.create()` after a
lookup is two statements and a savepoint; `INSERT … ON CONFLICT DO NOTHING RETURNING id` is
one, and under concurrency it is exactly the arbiter we want: the unique index decides, the
loser gets no row back. The row is an unsaved model instance: its defaults and auto_now
values come from the fields' own `pre_save` and are adapted by their `get_db_prep_save`, as
the ORM's insert does, so the SQL follows the model and works on PostgreSQL and SQLite
(3.35+) alike.

On PostgreSQL the statements go through a psycopg cursor with server-side binding: the
parameters travel beside the SQL instead of being quoted into it, which for a 3 KB body
halves the CPU on both ends (Django's own cursors quote on the client). No statement is
prepared here; the webhook's own statement is (receive.py), unless DISABLE_SERVER_SIDE_CURSORS says
a transaction-pooling proxy is in front of PostgreSQL.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Field


@contextmanager
def row_cursor() -> Iterator[Any]:
    """A cursor for these statements: server-side binding on PostgreSQL (errors still Django's),
    Django's own cursor elsewhere."""
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: `connection` is a proxy, a lookup per attribute
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    import psycopg

    db.ensure_connection()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        yield cursor


# Fields whose Python value is already what the driver takes: their value is read as is
# instead of through pre_save and get_db_prep_save (exact types: a subclass such as
# EncryptedTextField transforms its value and takes the full path).
_AS_IS = (models.CharField, models.TextField, models.BooleanField, models.IntegerField, models.BigIntegerField,
          models.PositiveIntegerField, models.PositiveBigIntegerField, models.PositiveSmallIntegerField,
          models.SmallIntegerField, models.ForeignKey)


# On PostgreSQL (psycopg 3) these too: an aware datetime, bytes and an address string are
# what the ORM would hand the driver in the end; the CAST of row_values types the address.
_AS_IS_POSTGRESQL = (models.DateTimeField, models.BinaryField, models.GenericIPAddressField)


def _value_reader(field: Field, vendor: str = ""):
    attname = field.attname
    if type(field) in _AS_IS:
        return lambda obj, add: getattr(obj, attname)
    if (vendor == "postgresql" and type(field) in _AS_IS_POSTGRESQL
            and not getattr(field, "auto_now", False) and not getattr(field, "auto_now_add", False)):
        if type(field) is models.DateTimeField:
            def aware(obj, add):
                value = getattr(obj, attname)
                if value is not None and value.tzinfo is None:  # the ORM's path warns and converts
                    return field.get_db_prep_save(value, connection=connection)
                return value
            return aware
        return lambda obj, add: getattr(obj, attname)
    if vendor == "postgresql" and type(field) is models.JSONField and field.encoder is None:
        from psycopg.types.json import Jsonb

        return lambda obj, add: None if getattr(obj, attname) is None else Jsonb(getattr(obj, attname))
    return lambda obj, add: field.get_db_prep_save(field.pre_save(obj, add=add), connection=connection)


@contextmanager
def _given_or_new(cursor: Any) -> Iterator[Any]:
    if cursor is not None:
        yield cursor
    else:
        with row_cursor() as cursor:
            yield cursor


@lru_cache(maxsize=32)
def _insert_sql(model: type[models.Model], vendor: str, unless_conflict: bool) -> tuple[tuple[Any, ...], str]:
    """The statement and the value readers for a model, built once per process (the vendor
    keys it: quoting and adaptation may differ)."""
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    return tuple(_value_reader(f) for f in fields), (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}){' ON CONFLICT DO NOTHING' if unless_conflict else ''} "
        f"RETURNING {connection.ops.quote_name(model._meta.pk.column)}")


def row_insert(obj: models.Model, *, unless_conflict: bool = False, cursor: Any = None) -> int | None:
    """Insert an unsaved instance in one statement and set its pk; with `unless_conflict`,
    return None (and write nothing, raise nothing) when a unique constraint already holds
    such a row. Defaults and auto_now values are the ORM's own (`pre_save`). `cursor`: one
    of row_cursor's, to share between statements."""
    readers, sql = _insert_sql(type(obj), connection.vendor, unless_conflict)
    params = [read(obj, True) for read in readers]
    with _given_or_new(cursor) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    obj.pk = row[0]
    obj._state.adding = False
    return obj.pk


@lru_cache(maxsize=32)
def _update_sql(model: type[models.Model], vendor: str, names: tuple[str, ...]) -> tuple[tuple[Any, ...], str]:
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    return tuple(_value_reader(f) for f in fields), (
        f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} "
        f"WHERE {connection.ops.quote_name(model._meta.pk.column)} = %s")


def row_update(obj: models.Model, *fields: str, cursor: Any = None) -> None:
    """`obj.save(update_fields=fields)` in one UPDATE, without the ORM's signals and checks."""
    readers, sql = _update_sql(type(obj), connection.vendor, fields)
    with _given_or_new(cursor) as cursor:
        cursor.execute(sql, [*(read(obj, False) for read in readers), obj.pk])


@lru_cache(maxsize=32)
def _typed_values(model: type[models.Model], vendor: str) -> tuple[tuple[str, str, Any], ...]:
    """(column, placeholder, value reader) of each field: a SELECT list gives the server no
    column to infer a parameter's type from, so on PostgreSQL each placeholder says its own."""
    return tuple((f.column, f"CAST(%s AS {f.db_type(connection)})" if vendor == "postgresql" else "%s",
                  _value_reader(f, vendor))
                 for f in model._meta.concrete_fields if not f.primary_key)


def row_values(obj: models.Model) -> dict[str, tuple[str, Any]]:
    """An unsaved instance as {column: (placeholder, parameter)} for a hand-written
    `INSERT … SELECT` (the values the ORM's insert would write, placeholders typed on
    PostgreSQL); the caller may replace a column's placeholder by an SQL expression."""
    return {column: (placeholder, read(obj, True)) for column, placeholder, read in _typed_values(type(obj), connection.vendor)}
