"""Run short CPU-bound calls on the event loop in time slices, so a burst cannot stall the loop.

verl's reward workers gather a whole batch at once: 1024 samples x 0.2 ms of parsing and rule
checks would run back to back in one loop iteration (200 ms in which no timer, socket or judge
reply is served).  A thread pool does not help under the GIL (the loop thread then waits for the
GIL behind busy workers).  :class:`LoopSlicer` queues the calls per loop and runs them in slices
of at most ``slice_s`` per iteration, so other callbacks run between slices.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class LoopSlicer:
    def __init__(self, slice_s: float = 0.005):
        self.slice_s = slice_s
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, deque] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` executed on this loop in a later slice; its result or exception."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = deque()
        future = loop.create_future()
        queue.append((fn, args, future))
        if len(queue) == 1:  # no drain pending for this loop
            loop.call_soon(self._drain, loop, queue)
        return await future

    def _drain(self, loop: asyncio.AbstractEventLoop, queue: deque) -> None:
        deadline = time.perf_counter() + self.slice_s
        while queue and time.perf_counter() < deadline:
            fn, args, future = queue.popleft()
            if future.cancelled():
                continue
            try:
                future.set_result(fn(*args))
            except Exception as exc:  # handed to the awaiting caller
                future.set_exception(exc)
        if queue:
            loop.call_soon(self._drain, loop, queue)
