"""The project's one async OpenAI-compatible chat client (see the package docstring for the API)."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from finr1_verl.llm.breaker import CircuitBreaker
from finr1_verl.llm.cache import LRUCache
from finr1_verl.llm.endpoints import API_KEY_ENV, parse_endpoints, resolve_api_key
from finr1_verl.llm.http import open_session, post_json, to_result
from finr1_verl.llm.stats import ClientStats
from finr1_verl.llm.types import (
    BREAKER_KINDS,
    CIRCUIT_OPEN,
    DEADLINE,
    REJECTED,
    RETRYABLE_KINDS,
    ChatResult,
    LLMError,
)

logger = logging.getLogger(__name__)
# Every client alive in the process: their sessions are closed at exit (:func:`_close_all_at_exit`).
_CLIENTS: weakref.WeakSet[LLMClient] = weakref.WeakSet()
# How long the exit waits for one loop to close its sessions.
EXIT_CLOSE_TIMEOUT_S = 5.0


@dataclass
class _LoopState:
    """Everything bound to one event loop: HTTP sessions, semaphores and in-flight requests."""

    sessions: dict[str, aiohttp.ClientSession] = field(default_factory=dict)
    semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    inflight: dict[str, asyncio.Task] = field(default_factory=dict)


class LLMClient:
    """Async chat client over one or several OpenAI-compatible endpoints serving the same model."""

    def __init__(
        self,
        base_urls: str | Sequence[str],
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: Sequence[str] = API_KEY_ENV,
        max_concurrency: int = 64,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        max_retry_after_s: float = 30.0,
        breaker_threshold: int = 5,
        breaker_cooldown_s: float = 10.0,
        cache_size: int = 4096,
        max_tokens: int = 1024,
        temperature: float = 0.0,
        seed: int | None = 0,
    ):
        self.endpoints = parse_endpoints(base_urls)
        if not self.endpoints:
            raise ValueError("LLMClient needs at least one endpoint URL")
        if max_concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("max_concurrency >= 1, max_retries >= 0 and timeout_s > 0 are required")
        self.model = model
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.breaker = CircuitBreaker(breaker_threshold, breaker_cooldown_s)
        self.stats = ClientStats()
        self._api_key = resolve_api_key(api_key, api_key_env)
        self._cache: LRUCache[ChatResult] = LRUCache(cache_size)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._loops_lock = threading.Lock()
        self._rr = 0
        self._rng = random.Random()
        _CLIENTS.add(self)

    def __repr__(self) -> str:  # the API key stays out of logs and tracebacks
        return f"LLMClient(model={self.model!r}, endpoints={self.endpoints!r})"

    # --- public API -----------------------------------------------------------------------
    async def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        top_p: float | None = None,
        stop: Sequence[str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        sample_index: int | None = None,
        use_cache: bool = True,
        timeout_s: float | None = None,
        accept: Callable[[str], bool] | None = None,
        deadline_s: float | None = None,
    ) -> ChatResult:
        """Send one chat completion request; raise :class:`LLMError` when it fails for good.

        ``accept(content)`` returning False makes a reply count as a ``rejected`` error: retried like
        a malformed reply and never cached (e.g. a judge verdict that does not parse).
        ``deadline_s`` bounds the whole request, retries and backoff included: each attempt's timeout
        is cut to the time left, and a retry that cannot start before the deadline is not made (a
        ``deadline`` error).  A request shared by identical concurrent calls keeps the first one's deadline.
        """
        deadline = None if deadline_s is None else time.monotonic() + deadline_s
        temperature = self.temperature if temperature is None else temperature
        reproducible = temperature == 0 or sample_index is not None
        if seed is None and reproducible and self.seed is not None:
            seed = self.seed + (sample_index or 0)
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            payload["seed"] = seed
        if top_p is not None:
            payload["top_p"] = top_p
        if stop:
            payload["stop"] = list(stop)
        extra = dict(extra_body or {})
        self.stats.add("requests")
        if not (reproducible and use_cache):
            return await self._finish(
                self._send(payload, extra, timeout_s or self.timeout_s, accept, deadline=deadline)
            )

        key_parts = [payload, extra, getattr(accept, "__qualname__", None)]
        key = hashlib.sha256(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()
        hit = self._cache.get(key)
        if hit is not None:
            self.stats.add("cache_hits")
            self.stats.add("succeeded")
            return dataclasses.replace(hit, cached=True)
        state = self._state()
        task = state.inflight.get(key)
        if task is not None:
            self.stats.add("dedup_hits")
            return dataclasses.replace(await self._finish(asyncio.shield(task)), cached=True)
        task = asyncio.ensure_future(
            self._send(payload, extra, timeout_s or self.timeout_s, accept, key, deadline=deadline)
        )
        state.inflight[key] = task
        task.add_done_callback(lambda t: _forget(state.inflight, key, t))
        return await self._finish(asyncio.shield(task))

    async def aclose(self) -> None:
        """Close the HTTP sessions bound to the running event loop."""
        loop = asyncio.get_running_loop()
        with self._loops_lock:
            state = self._loops.pop(loop, None)
        if state is not None:
            await _close_sessions(state)

    def close_everywhere(self, timeout_s: float = EXIT_CLOSE_TIMEOUT_S) -> None:
        """Close this client's sessions on every event loop that holds some, from outside those loops.

        A loop running in another thread (the background loop of :func:`~finr1_verl.llm.sync.run_sync`)
        closes them itself; an open idle loop is run until they are closed.  A closed loop cannot run
        the close any more: code that ends its own loop awaits :meth:`aclose` first.
        """
        with self._loops_lock:
            states = list(self._loops.items())
            self._loops.clear()
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, state in states:
            if loop.is_closed() or loop is current or not state.sessions:
                continue
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(_close_sessions(state), loop).result(timeout_s)
            else:
                loop.run_until_complete(_close_sessions(state))

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- internals ------------------------------------------------------------------------
    async def _finish(self, awaitable) -> ChatResult:
        try:
            result = await awaitable
        except LLMError as err:
            self.stats.add("failed")
            self.stats.add(f"failures/{err.kind}")
            raise
        self.stats.add("succeeded")
        return result

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._loops_lock:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _LoopState()
            return state

    def _session(self, state: _LoopState, endpoint: str) -> aiohttp.ClientSession:
        session = state.sessions.get(endpoint)
        if session is None:
            session = state.sessions[endpoint] = open_session(endpoint, self._api_key, self.max_concurrency)
            state.semaphores[endpoint] = asyncio.Semaphore(self.max_concurrency)
            state.pending[endpoint] = 0
        return session

    def _pick_endpoint(self, state: _LoopState, avoid: str | None) -> str | None:
        """The least-loaded endpoint whose breaker allows a request; ties go round-robin."""
        n = len(self.endpoints)
        self._rr = (self._rr + 1) % n
        order = [self.endpoints[(self._rr + i) % n] for i in range(n)]
        order.sort(key=lambda e: (e == avoid and n > 1, state.pending.get(e, 0)))
        for endpoint in order:
            if self.breaker.allow(endpoint):
                return endpoint
        return None

    async def _send(
        self,
        payload: dict[str, Any],
        extra: dict[str, Any],
        timeout_s: float,
        accept: Callable[[str], bool] | None = None,
        cache_key: str | None = None,
        deadline: float | None = None,
    ) -> ChatResult:
        state = self._state()
        last: LLMError | None = None
        attempts = 0
        for attempt in range(self.max_retries + 1):
            endpoint = self._pick_endpoint(state, last.endpoint if last else None)
            if endpoint is None:
                self.stats.add(f"errors/{CIRCUIT_OPEN}")
                msg = "every endpoint's circuit breaker is open"
                if last is not None:
                    msg += f"; last error: {last}"
                raise LLMError(CIRCUIT_OPEN, msg, attempts=attempts)
            if attempt:
                self.stats.add("retries")
            attempts += 1
            left = timeout_s if deadline is None else min(timeout_s, deadline - time.monotonic())
            if left <= 0:  # a backoff sleep overshot the deadline
                raise LLMError(
                    DEADLINE, f"deadline reached after {attempts - 1} attempts; last error: {last}"
                )
            try:
                result = await self._attempt(state, endpoint, payload, extra, left, attempts)
                if accept is not None and not accept(result.content):
                    reply = json.dumps(result.content[:80], ensure_ascii=False)
                    raise LLMError(
                        REJECTED, f"reply refused by the caller's check: {reply}", endpoint=endpoint
                    )
            except LLMError as err:
                err.attempts = attempts
                self.stats.add(f"errors/{err.kind}")
                if err.kind in BREAKER_KINDS:
                    self.breaker.record_failure(endpoint)
                if err.kind not in RETRYABLE_KINDS or attempt == self.max_retries:
                    raise
                last = err
                delay = self._backoff(attempt, err)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    self.stats.add(f"errors/{DEADLINE}")
                    raise LLMError(
                        DEADLINE,
                        f"deadline reached after {attempts} attempts; last error: {err}",
                        endpoint=err.endpoint,
                        attempts=attempts,
                    ) from err
                logger.debug("retrying after %.2fs: %s", delay, err)
                await asyncio.sleep(delay)
                continue
            self.breaker.record_success(endpoint)
            if cache_key is not None:
                self._cache.put(cache_key, result)
            return result
        raise AssertionError("unreachable")  # the loop either returns or raises

    def _backoff(self, attempt: int, err: LLMError) -> float:
        """Exponential backoff with jitter; a 429's Retry-After wins when it asks for longer."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2**attempt)
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        if err.retry_after is not None:
            delay = max(delay, min(err.retry_after, self.max_retry_after_s))
        return delay

    async def _attempt(
        self,
        state: _LoopState,
        endpoint: str,
        payload: dict[str, Any],
        extra: dict[str, Any],
        timeout_s: float,
        attempts: int,
    ) -> ChatResult:
        session = self._session(state, endpoint)
        state.pending[endpoint] += 1
        try:
            async with state.semaphores[endpoint]:
                self.stats.add("api_calls")
                self.stats.add(f"endpoint/{endpoint}")
                started = time.perf_counter()
                data = await post_json(session, endpoint, {**payload, **extra}, timeout_s)
                latency = time.perf_counter() - started
        finally:
            state.pending[endpoint] -= 1
        result = to_result(data, endpoint, latency, attempts)
        self.stats.add("prompt_tokens", result.usage.prompt_tokens)
        self.stats.add("completion_tokens", result.usage.completion_tokens)
        return result


async def _close_sessions(state: _LoopState) -> None:
    for session in state.sessions.values():
        await session.close()


@atexit.register
def _close_all_at_exit() -> None:
    """Close every client's HTTP sessions as the process ends, so none is reported unclosed."""
    for client in list(_CLIENTS):
        try:
            client.close_everywhere()
        except (concurrent.futures.TimeoutError, RuntimeError) as exc:  # a stuck or stopping loop
            logger.debug("closing %r at exit failed: %s", client, exc)


def _forget(inflight: dict[str, asyncio.Task], key: str, task: asyncio.Task) -> None:
    """Drop a finished shared request; retrieve its error so that an unawaited one is not reported."""
    inflight.pop(key, None)
    if not task.cancelled():
        task.exception()
