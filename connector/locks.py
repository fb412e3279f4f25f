"""A lock per key (e.g. one per tenant and flow) so an overlapping run skips.

Redis (SET NX with an expiry, through redis-py's Lock) when REDIS_URL is set; otherwise a
row in RunLock, taken by insert and taken over only once expired. Both expire, so a worker
killed while holding a lock blocks the next run for at most the TTL.
"""
from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import RunLock

DEFAULT_TTL = timedelta(minutes=30)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def database_lock(key: str, *, ttl: timedelta = DEFAULT_TTL) -> Iterator[bool]:
    holder = _holder()
    now = timezone.now()
    acquired = False
    try:
        with transaction.atomic():
            RunLock.objects.create(key=key, holder=holder, expires_at=now + ttl)
        acquired = True
    except IntegrityError:
        acquired = RunLock.objects.filter(key=key, expires_at__lt=now).update(holder=holder, expires_at=now + ttl) == 1
    try:
        yield acquired
    finally:
        if acquired:
            RunLock.objects.filter(key=key, holder=holder).delete()


_redis_client = None


def redis_client():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL)
    return _redis_client


@contextlib.contextmanager
def redis_lock(key: str, *, ttl: timedelta = DEFAULT_TTL) -> Iterator[bool]:
    from redis.exceptions import LockError

    lock = redis_client().lock(f"ml-connector:lock:{key}", timeout=ttl.total_seconds(), blocking=False)
    acquired = bool(lock.acquire(blocking=False))
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(LockError):
                lock.release()


def exclusive(key: str, *, ttl: timedelta = DEFAULT_TTL) -> contextlib.AbstractContextManager[bool]:
    """`with exclusive("sync:3:ar-810") as acquired:` — skip the work when not acquired."""
    if settings.REDIS_URL:
        return redis_lock(key, ttl=ttl)
    return database_lock(key, ttl=ttl)
