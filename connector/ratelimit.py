"""Request pacing per (connection, API path), shared by every worker.

Cleo allows about N requests per second per API path and answers 429 above it. Retrying a
429 works (the HTTP policy honours Retry-After), but every 429 is a wasted call and a stall,
so clients pace themselves *before* sending: `before_request` in connector.http calls
`acquire`, which blocks until the caller's turn.

The algorithm is GCRA, the token bucket written as one timestamp per key (the "theoretical
arrival time"): each acquire reserves the next free slot and tells the caller how long to
sleep until it. Reserving rather than testing means N waiting workers get N distinct slots
and wake one interval apart, instead of all polling and stampeding when a window resets.
A burst of 1 spaces requests evenly, which no reading of "N per second" (fixed window,
sliding log or token bucket on the server) can count as too many.

Why not the `limits` library (pinned for other uses): it has fixed-window, moving-window
and sliding-window-counter strategies but no token bucket; it can only refuse a hit (there
is no wait, so waiting means polling `get_window_stats`); its windows are whole seconds read
from each worker's own `time.time()` with no clock to inject in tests. A fixed window lets
2N through around a boundary, a moving window lets N through at once, and either earns 429s
from a stricter server. So the bucket is a dozen lines of Lua run atomically in Redis (one
round trip, Redis's own clock so workers' clocks need not agree) and the same arithmetic
under a lock in process when REDIS_URL is not set.
"""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from .failures import TransientFailure

KEY_PREFIX = "ml-connector:ratelimit:"
DEFAULT_MAX_WAIT = 60.0


@dataclass(frozen=True)
class Rate:
    """`per_second` requests per second; `burst` requests may go back to back."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


class RateLimitQueueTooLong(TransientFailure):
    """The wait for a slot exceeds max_wait: try the whole step again later."""


class RateLimiter(ABC):
    """Blocking acquire over a reservation primitive; subclasses keep the buckets."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, max_wait: float = DEFAULT_MAX_WAIT) -> None:
        self.sleep = sleep
        self.max_wait = max_wait

    @abstractmethod
    def reserve(self, key: str, rate: Rate, *, max_wait: float) -> float | None:
        """Take the next slot for `key`; return the seconds until it (0 = now).

        Returns None, taking nothing, when the slot is more than `max_wait` away."""

    def acquire(self, key: str, rate: Rate) -> float:
        """Block until `key` may send one request; return the seconds waited."""
        wait = self.reserve(key, rate, max_wait=self.max_wait)
        if wait is None:
            raise RateLimitQueueTooLong(
                f"more than {self.max_wait:.0f}s of requests already queued for {key}",
                retry_after=self.max_wait,
                system="ratelimit",
            )
        if wait > 0:
            self.sleep(wait)
        return wait

    @abstractmethod
    def reset(self, key: str) -> None:
        """Forget a bucket (tests and benches start from an idle bucket)."""

    @abstractmethod
    def hold(self, key: str, seconds: float) -> None:
        """Give out no slot of `key` for `seconds` from now: the server said 429 with that
        Retry-After, and every worker drawing from the bucket waits, not only the one told."""


def gcra_reserve(tat: float | None, now: float, rate: Rate, max_wait: float) -> tuple[float | None, float | None]:
    """The bucket arithmetic: (seconds to wait or None, new arrival time or None if refused)."""
    tat = now if tat is None or tat < now else tat
    wait = max(0.0, tat - (rate.burst - 1) * rate.interval - now)
    if wait > max_wait:
        return None, None
    return wait, tat + rate.interval


class LocalRateLimiter(RateLimiter):
    """Buckets in this process (one machine, no Redis): shared by its threads."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        super().__init__(sleep=sleep, max_wait=max_wait)
        self.clock = clock
        self._arrivals: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, rate: Rate, *, max_wait: float) -> float | None:
        with self._lock:
            now = self.clock()
            wait, tat = gcra_reserve(self._arrivals.get(key), now, rate, max_wait)
            if tat is not None:
                self._arrivals[key] = tat
                if len(self._arrivals) > 10_000:
                    self._forget_idle(now)
            return wait

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, tat in self._arrivals.items() if tat < now]:
            del self._arrivals[key]

    def reset(self, key: str) -> None:
        with self._lock:
            self._arrivals.pop(key, None)

    def hold(self, key: str, seconds: float) -> None:
        with self._lock:
            until = self.clock() + seconds
            self._arrivals[key] = max(self._arrivals.get(key, until), until)


# KEYS[1]: the bucket. ARGV: interval, burst, max_wait, now ("" = use Redis's clock).
# Returns {taken (1/0), wait seconds as a string}: Lua numbers would be truncated to integers.
GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local wait = tat - (burst - 1) * interval - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, string.format('%.6f', wait)} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, string.format('%.6f', wait)}
"""


# KEYS[1]: the bucket. ARGV: seconds to hold, now ("" = Redis's clock). The arrival time only moves later.
HOLD_LUA = """
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < until_ then
  redis.call('SET', KEYS[1], string.format('%.6f', until_), 'PX', math.ceil((until_ - now) * 1000) + 1000)
end
return 1
"""


class RedisRateLimiter(RateLimiter):
    """Buckets in Redis, so every worker on every machine draws from the same one.

    `clock=None` (production) reads Redis's clock inside the script; tests inject one."""

    def __init__(
        self,
        redis_client: Any,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = DEFAULT_MAX_WAIT,
        prefix: str = KEY_PREFIX,
    ) -> None:
        super().__init__(sleep=sleep, max_wait=max_wait)
        self.redis = redis_client
        self.clock = clock
        self.prefix = prefix
        self._script = redis_client.register_script(GCRA_LUA)
        self._hold = redis_client.register_script(HOLD_LUA)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRateLimiter:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), **kwargs)

    def reserve(self, key: str, rate: Rate, *, max_wait: float) -> float | None:
        now = "" if self.clock is None else f"{self.clock():.6f}"
        try:
            taken, wait = self._script(
                keys=[self.prefix + key], args=[f"{rate.interval:.9f}", rate.burst, f"{max_wait:.6f}", now]
            )
        except redis.RedisError as exc:
            # The URL may hold a password: name the failure, never the address.
            raise TransientFailure(f"rate-limit store unavailable ({type(exc).__name__})", system="redis") from exc
        return float(wait) if int(taken) else None

    def reset(self, key: str) -> None:
        self.redis.delete(self.prefix + key)

    def hold(self, key: str, seconds: float) -> None:
        now = "" if self.clock is None else f"{self.clock():.6f}"
        try:
            self._hold(keys=[self.prefix + key], args=[f"{seconds:.6f}", now])
        except redis.RedisError as exc:
            raise TransientFailure(f"rate-limit store unavailable ({type(exc).__name__})", system="redis") from exc


_shared: RateLimiter | None = None
_shared_lock = threading.Lock()


def shared_limiter() -> RateLimiter:
    """The process-wide limiter: Redis when REDIS_URL is set, else in-process buckets.

    One instance per process so every client of a connection draws from the same bucket."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from django.conf import settings

            url = getattr(settings, "REDIS_URL", "")
            _shared = RedisRateLimiter.from_url(url) if url else LocalRateLimiter()
        return _shared

