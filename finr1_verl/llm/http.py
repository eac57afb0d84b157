"""The HTTP layer under the client: transport choice, error classification, reply parsing."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import ssl
from typing import Any

import httpx
import openai

from finr1_verl.llm.types import CLIENT, MALFORMED, RATE_LIMIT, SERVER, ChatResult, LLMError, Usage

_AIOHTTP_TRANSPORT = importlib.util.find_spec("httpx_aiohttp") is not None
if _AIOHTTP_TRANSPORT:
    import httpx_aiohttp.transport  # noqa: F401 - load at import time, not on the first request in a loop


def http_client(limits: httpx.Limits, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """aiohttp under the httpx interface when installed (``openai[aiohttp]``), else plain httpx.

    httpcore's connection pool spends O(requests x connections) per request; with 64 requests in
    flight that, not the server, set the pace (measured in bench/bench_reward.py).  The TLS context
    (tens of ms to load the CA store) is built once per process, not once per loop and endpoint.
    """
    if _AIOHTTP_TRANSPORT:
        return openai.DefaultAioHttpClient(limits=limits, timeout=timeout, verify=_tls_context())
    return httpx.AsyncClient(limits=limits, timeout=timeout, verify=_tls_context())


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def is_connection_failure(exc: BaseException) -> bool:
    """True when the chain holds a refused/reset connection rather than a timeout.

    The aiohttp transport reports both as ``httpx.ConnectTimeout``; the cause underneath tells.
    """
    seen = exc
    while seen is not None:
        if isinstance(seen, (asyncio.TimeoutError, httpx.ReadTimeout, httpx.PoolTimeout, httpx.WriteTimeout)):
            return False
        if isinstance(seen, (ConnectionError, OSError)) or type(seen).__name__ in _CONNECTION_ERRORS:
            return True
        seen = seen.__cause__ or seen.__context__
    return not isinstance(exc, openai.APITimeoutError)


# aiohttp's refused / reset / disconnected errors (matched by name: aiohttp is optional here).
_CONNECTION_ERRORS = frozenset(
    {"ClientConnectorError", "ClientOSError", "ServerDisconnectedError", "ClientConnectionResetError"}
)


def status_error(exc: openai.APIStatusError, endpoint: str) -> LLMError:
    status = exc.status_code
    kind = RATE_LIMIT if status == 429 else SERVER if status >= 500 else CLIENT
    err = LLMError(kind, f"HTTP {status}: {exc.message}", endpoint=endpoint, status=status)
    if kind == RATE_LIMIT:
        err.retry_after = _retry_after(exc.response.headers.get("retry-after"))
    return err


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date form: fall back to our own backoff


def to_result(response: Any, endpoint: str, latency: float) -> ChatResult:
    choices = getattr(response, "choices", None)
    if not choices:
        raise LLMError(MALFORMED, "reply has no choices", endpoint=endpoint)
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    # vLLM's reasoning parser: ``reasoning_content`` (older) or ``reasoning`` (newer servers).
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    if content is None and reasoning is None:
        raise LLMError(MALFORMED, "reply message has no content", endpoint=endpoint)
    usage = getattr(response, "usage", None)
    return ChatResult(
        content=content or "",
        reasoning_content=reasoning,
        finish_reason=getattr(choice, "finish_reason", None),
        usage=Usage(
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        ),
        endpoint=endpoint,
        model=str(getattr(response, "model", "") or ""),
        latency_s=latency,
    )
