"""A lock per key (one per tenant and flow, one per document) so two holders never overlap.

Redis (redis-py's Lock: SET NX with an expiry) when REDIS_URL is set; otherwise a row in
RunLock, taken by insert and taken over only once expired. Either way the lock lives
LOCK_TTL_SECONDS (about 30 s) and a heartbeat thread renews it every third of that while the
holder works, so a holder that dies (SIGKILL, lost machine) frees its lock within one
lifetime, and a holder that works for an hour keeps it.

A holder whose renewal failed (the lock expired and someone else may have it) is told
through its Lease: `lease.lost` is set and `lease.check()` raises LockLost, so the work can
stop between units and say so in its run.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from .models import RunLock

log = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "ml-connector:lock:"


class LockLost(Exception):
    """The holder's lock expired or was taken while it worked; another holder may be live."""


@dataclass
class Lease:
    """What `exclusive()` yields: true when acquired, and told when the lock is lost later."""

    key: str
    acquired: bool
    ttl: float
    lost: threading.Event = field(default_factory=threading.Event)
    lost_reason: str = ""
    renewals: int = 0

    def __bool__(self) -> bool:
        return self.acquired

    def check(self) -> None:
        """Raise LockLost if the heartbeat could not keep the lock; call it between units of work."""
        if self.lost.is_set():
            raise LockLost(f"lost the lock {self.key}: {self.lost_reason}")

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        self.lost.set()
        log.warning("lock %s lost: %s", self.key, reason)


class _NotOwned(Exception):
    """A renewal found the lock held by someone else, or gone."""


def lock_ttl() -> float:
    """Seconds a lock lives without renewal (the LOCK_TTL_SECONDS setting)."""
    return float(settings.LOCK_TTL_SECONDS)


def _heartbeat(lease: Lease, renew: Callable[[], None], stop: threading.Event, *, closes_db: bool) -> None:
    """Renew every third of the lifetime until stopped. An error is retried at the next beat
    while the lock can still be alive; "not owned", or errors until the lifetime has passed,
    lose it."""
    interval = lease.ttl / 3
    renewed_at = time.monotonic()
    try:
        while not stop.wait(interval):
            try:
                renew()
            except _NotOwned as exc:
                lease._lose(str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - a failed renewal is retried, then the lock is lost
                if time.monotonic() - renewed_at >= lease.ttl:
                    lease._lose(f"could not renew it for {lease.ttl:g} s: {type(exc).__name__}: {exc}")
                    return
                log.warning("lock %s: renewal failed, retrying at the next beat: %s", lease.key, exc)
                continue
            renewed_at = time.monotonic()
            lease.renewals += 1
    finally:
        if closes_db:
            connections.close_all()  # this thread's own connections only


@contextlib.contextmanager
def _held(lease: Lease, renew: Callable[[], None] | None, release: Callable[[], None], *,
          closes_db: bool = False) -> Iterator[Lease]:
    """Yield the lease with a heartbeat running while it is held; stop it, then release."""
    if not lease.acquired:
        yield lease
        return
    stop = threading.Event()
    beat = None
    if renew is not None and lease.ttl > 0:
        beat = threading.Thread(target=_heartbeat, args=(lease, renew, stop), kwargs={"closes_db": closes_db},
                                name=f"lock heartbeat {lease.key}", daemon=True)
        beat.start()
    try:
        yield lease
    finally:
        stop.set()
        if beat is not None:
            beat.join(timeout=lease.ttl)
        release()


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _seconds(ttl: timedelta | None) -> float:
    return lock_ttl() if ttl is None else ttl.total_seconds()


@contextlib.contextmanager
def database_lock(key: str, *, ttl: timedelta | None = None) -> Iterator[Lease]:
    """The RunLock row: inserted, or taken over once expired; renewed by its holder only.

    Taken inside a transaction (a test, a caller's atomic block) the row is invisible to other
    connections until commit and deleted before it, so there is nothing to renew: no heartbeat.
    """
    seconds = _seconds(ttl)
    holder = _holder()
    now = timezone.now()
    try:
        with transaction.atomic():
            RunLock.objects.create(key=key, holder=holder, expires_at=now + timedelta(seconds=seconds))
        acquired = True
    except IntegrityError:
        acquired = RunLock.objects.filter(key=key, expires_at__lt=now).update(
            holder=holder, expires_at=now + timedelta(seconds=seconds)) == 1

    def renew() -> None:
        expires_at = timezone.now() + timedelta(seconds=seconds)
        if not RunLock.objects.filter(key=key, holder=holder).update(expires_at=expires_at):
            raise _NotOwned("another holder took it over after it expired")

    def release() -> None:
        RunLock.objects.filter(key=key, holder=holder).delete()

    in_transaction = transaction.get_connection().in_atomic_block
    with _held(Lease(key=key, acquired=acquired, ttl=seconds), None if in_transaction else renew, release,
               closes_db=True) as lease:
        yield lease


_redis_client = None


def redis_client():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL)
    return _redis_client


@contextlib.contextmanager
def redis_lock(key: str, *, ttl: timedelta | None = None) -> Iterator[Lease]:
    """redis-py's Lock, renewed with reacquire(). Its token is not thread-local, so the
    heartbeat thread renews the lock the working thread holds."""
    from redis.exceptions import LockError, LockNotOwnedError

    seconds = _seconds(ttl)
    lock = redis_client().lock(f"{REDIS_KEY_PREFIX}{key}", timeout=seconds, blocking=False, thread_local=False)
    acquired = bool(lock.acquire(blocking=False))

    def renew() -> None:
        try:
            lock.reacquire()
        except LockNotOwnedError:
            raise _NotOwned("it expired before it was renewed (another holder may have it)") from None

    def release() -> None:
        with contextlib.suppress(LockError):
            lock.release()

    with _held(Lease(key=key, acquired=acquired, ttl=seconds), renew, release) as lease:
        yield lease


def exclusive(key: str, *, ttl: timedelta | None = None) -> contextlib.AbstractContextManager[Lease]:
    """`with exclusive("sync:3:ar-810") as acquired:` — skip the work when not acquired.

    `acquired` is a Lease: true when held; `acquired.check()` raises LockLost once the
    heartbeat could not keep it. `ttl` defaults to the LOCK_TTL_SECONDS setting.
    """
    if settings.REDIS_URL:
        return redis_lock(key, ttl=ttl)
    return database_lock(key, ttl=ttl)
