"""Cleo's per-path request limit, as the simulator enforces it.

Cleo publishes "about five requests per second per API path" and nothing about how it
counts. Two readings are offered so a client can be checked against both:

- `sliding_window` (default, the strict one): no more than N accepted requests in any
  one-second span. A client that bursts, or paces at exactly N with jitter, earns 429s.
- `token_bucket`: a bucket of N tokens refilled at N per second; bursts up to N pass.

Only accepted requests count; a refused one gets 429 with Retry-After in whole seconds
(HTTP's delay-seconds), at least 1.
"""
from __future__ import annotations

import math
from collections import deque

SLIDING_WINDOW = "sliding_window"
TOKEN_BUCKET = "token_bucket"
ALGORITHMS = (SLIDING_WINDOW, TOKEN_BUCKET)


class PathLimit:
    def __init__(self, per_second: float | None, algorithm: str = SLIDING_WINDOW) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown rate algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
        self.per_second = per_second
        self.algorithm = algorithm
        self._accepted: dict[str, deque[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str, now: float) -> float | None:
        """None when the request may proceed (and is counted); else seconds until it could."""
        if not self.per_second:
            return None
        if self.algorithm == TOKEN_BUCKET:
            return self._bucket(key, now)
        return self._window(key, now)

    def _window(self, key: str, now: float) -> float | None:
        accepted = self._accepted.setdefault(key, deque())
        while accepted and accepted[0] <= now - 1.0:
            accepted.popleft()
        if len(accepted) >= self.per_second:
            return accepted[0] + 1.0 - now
        accepted.append(now)
        return None

    def _bucket(self, key: str, now: float) -> float | None:
        capacity = float(self.per_second)
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * capacity)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / capacity
        self._buckets[key] = (tokens - 1.0, now)
        return None

    def reset(self) -> None:
        self._accepted.clear()
        self._buckets.clear()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
