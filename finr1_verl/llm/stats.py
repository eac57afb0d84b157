"""Thread-safe counters: the client's requests, retries, cache use, tokens and errors by kind."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from finr1_verl.llm.types import ERROR_KINDS


class Counters:
    """Named integer counters shared by threads and event loops; ``names`` always appear in snapshots."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names = tuple(names)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict.fromkeys(self._names, 0)
            out.update(self._counts)
        return out


class ClientStats(Counters):
    """Counter names of :class:`~finr1_verl.llm.LLMClient` (all ints, see :meth:`snapshot`):

    ``requests``      chat() calls
    ``api_calls``     HTTP requests sent (first attempts + retries)
    ``retries``       attempts after the first
    ``succeeded``     chat() calls that returned a result (cache hits included)
    ``failed``        chat() calls that raised :class:`LLMError`
    ``cache_hits``    answered from the LRU cache
    ``dedup_hits``    answered by joining an identical request in flight
    ``prompt_tokens`` / ``completion_tokens``  usage of the requests that went over the network
    ``errors/<kind>`` failed attempts by kind (each retry counts)
    ``failures/<kind>`` failed chat() calls by the kind of their final error
    ``endpoint/<url>`` HTTP requests sent to each endpoint
    """

    NAMES = (
        ("requests", "api_calls", "retries", "succeeded", "failed", "cache_hits", "dedup_hits")
        + ("prompt_tokens", "completion_tokens")
        + tuple(f"errors/{k}" for k in ERROR_KINDS)
        + tuple(f"failures/{k}" for k in ERROR_KINDS)
    )

    def __init__(self) -> None:
        super().__init__(self.NAMES)
