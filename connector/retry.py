"""The retry schedule as data: a long tail (minutes growing to hours, about a day in all).

A Retry-After from the outside system is honoured, capped, when it asks for more than
the schedule would wait. Jitter spreads documents that failed together.
"""
from __future__ import annotations

import random
from datetime import timedelta

# Delays before retry 1, 2, ...: 1m, 5m, 15m, 30m, 1h, 2h, 4h, 8h, 8h ≈ 24 h in all.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=8),
)
RETRY_AFTER_CAP = timedelta(hours=1)
JITTER = 0.1
# A failure that proved a retry safe (`retry_in`: nothing was made, the outside system only
# stumbled) is retried within seconds this many times, then on the schedule's tail.
SOON_RETRIES = 3
SOON_CAP = timedelta(minutes=1)


def total_retry_window() -> timedelta:
    return sum(RETRY_SCHEDULE, timedelta())


def next_retry_delay(retry_count: int, *, retry_after: float | None = None, retry_in: float | None = None,
                     rng: random.Random | None = None) -> timedelta | None:
    """Delay before retry number `retry_count + 1`, or None when the schedule is exhausted.
    `retry_in` (seconds): the failure proved an early retry safe; the first SOON_RETRIES
    retries wait that long (at most SOON_CAP) instead of the schedule's delay."""
    if retry_count >= len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[retry_count]
    if retry_in is not None and retry_count < SOON_RETRIES:
        delay = min(timedelta(seconds=max(retry_in, 1)), SOON_CAP, delay)
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), RETRY_AFTER_CAP))
    spread = (rng or random).uniform(-JITTER, JITTER)
    return delay + delay * spread
