"""Per-endpoint circuit breaker: stop sending to an endpoint that keeps failing, probe it later.

Shared by every event loop of the process, so it holds plain state under a thread lock and no
asyncio objects.  After ``threshold`` consecutive failures the endpoint is *open* for ``cooldown``
seconds (requests fail fast with ``circuit_open`` instead of each waiting for its own timeout); then
one probe request per cooldown period is let through, and a success closes the breaker again.
"""

from __future__ import annotations

import threading
import time


class CircuitBreaker:
    def __init__(self, threshold: int = 5, cooldown_s: float = 10.0, clock=time.monotonic):
        if threshold < 1:
            raise ValueError("breaker threshold must be >= 1")
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, float] = {}
        self.trips = 0

    def allow(self, endpoint: str) -> bool:
        """True if a request may go to ``endpoint`` now (closed, or this is the next probe)."""
        with self._lock:
            until = self._open_until.get(endpoint)
            if until is None:
                return True
            now = self._clock()
            if now < until:
                return False
            self._open_until[endpoint] = now + self.cooldown_s  # one probe per cooldown period
            return True

    def is_open(self, endpoint: str) -> bool:
        with self._lock:
            until = self._open_until.get(endpoint)
            return until is not None and self._clock() < until

    def record_success(self, endpoint: str) -> None:
        with self._lock:
            self._failures[endpoint] = 0
            self._open_until.pop(endpoint, None)

    def record_failure(self, endpoint: str) -> None:
        with self._lock:
            count = self._failures.get(endpoint, 0) + 1
            self._failures[endpoint] = count
            if count >= self.threshold:
                if endpoint not in self._open_until:
                    self.trips += 1
                self._open_until[endpoint] = self._clock() + self.cooldown_s
