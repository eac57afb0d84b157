"""The HTTP layer under the client: aiohttp sessions, one POST per attempt, errors by kind, reply parsing.

Requests go through aiohttp directly and the reply is read as the OpenAI chat-completion JSON dict.
The openai SDK was measured on this path (bench/bench_distill.py, 256 requests in flight): its
request pipeline — typed options, httpx request/response objects over the aiohttp transport, a
pydantic ``ChatCompletion`` per reply — cost 2.2-3.2 ms of event-loop CPU per request against
0.8 ms for a plain aiohttp POST, and at a judge batch's burst of replies that CPU is loop lag.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from finr1_verl.llm.types import (
    CLIENT,
    CONNECT,
    MALFORMED,
    RATE_LIMIT,
    SERVER,
    TIMEOUT,
    ChatResult,
    LLMError,
    Usage,
)

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def open_session(endpoint: str, api_key: str, max_connections: int) -> aiohttp.ClientSession:
    """A session bound to the running loop, with at most ``max_connections`` sockets to ``endpoint``.

    HTTP(S)_PROXY / NO_PROXY are honoured as the openai SDK does, but looked up once here: aiohttp's
    ``trust_env`` reads the environment and ~/.netrc in a worker thread on every request.
    """
    try:
        proxy, proxy_auth = get_env_proxy_for_url(URL(endpoint))
    except LookupError:  # no proxy configured, or NO_PROXY covers this host
        proxy, proxy_auth = None, None
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections),
        headers={"Authorization": f"Bearer {api_key}", "User-Agent": "finr1-verl"},
        proxy=proxy,
        proxy_auth=proxy_auth,
    )


@functools.lru_cache(maxsize=64)
def request_timeout(total_s: float) -> aiohttp.ClientTimeout:
    """The whole-request deadline (connect, send, headers and a trickling body alike)."""
    return aiohttp.ClientTimeout(total=total_s, sock_connect=min(total_s, 10.0))


async def post_json(
    session: aiohttp.ClientSession, endpoint: str, body: dict[str, Any], timeout_s: float
) -> dict[str, Any]:
    """POST ``body`` to ``{endpoint}/chat/completions``; the reply's JSON object or :class:`LLMError`."""
    try:
        async with session.post(
            endpoint + "/chat/completions",
            data=json.dumps(body).encode(),
            headers=_JSON_HEADERS,
            timeout=request_timeout(timeout_s),
        ) as response:
            raw = await response.read()
            status = response.status
            retry_after = response.headers.get("Retry-After")
    except asyncio.TimeoutError as exc:  # aiohttp's connect and read timeouts included
        raise LLMError(TIMEOUT, f"no reply within {timeout_s:g}s", endpoint=endpoint) from exc
    except aiohttp.ClientError as exc:  # refused, reset, disconnected, truncated body
        raise LLMError(CONNECT, f"connection failed: {exc!r}", endpoint=endpoint) from exc
    if status >= 400:
        raise status_error(status, raw, retry_after, endpoint)
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and undecodable bytes
        raise LLMError(MALFORMED, f"unparseable reply: {exc}", endpoint=endpoint) from exc
    if not isinstance(data, dict):
        raise LLMError(MALFORMED, "reply is not a JSON object", endpoint=endpoint)
    return data


def status_error(status: int, raw: bytes, retry_after: str | None, endpoint: str) -> LLMError:
    kind = RATE_LIMIT if status == 429 else SERVER if status >= 500 else CLIENT
    err = LLMError(kind, f"HTTP {status}: {_error_message(raw)}", endpoint=endpoint, status=status)
    if kind == RATE_LIMIT:
        err.retry_after = _retry_after(retry_after)
    return err


def _error_message(raw: bytes) -> str:
    """The server's ``{"error": {"message": ...}}`` when it sent one, else the start of the body."""
    try:
        error = json.loads(raw).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:500]
    except (ValueError, AttributeError):
        pass
    return raw[:200].decode("utf-8", "replace")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date form: fall back to our own backoff


def to_result(data: dict[str, Any], endpoint: str, latency: float, attempts: int) -> ChatResult:
    """The first choice of an OpenAI chat-completion object, checked field by field."""
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict):
        raise LLMError(MALFORMED, "reply has no choices", endpoint=endpoint)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise LLMError(MALFORMED, "reply choice has no message", endpoint=endpoint)
    content = message.get("content")
    # vLLM's reasoning parser: ``reasoning_content`` (older) or ``reasoning`` (newer servers).
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if content is None and reasoning is None:
        raise LLMError(MALFORMED, "reply message has no content", endpoint=endpoint)
    if not isinstance(content, (str, type(None))) or not isinstance(reasoning, (str, type(None))):
        raise LLMError(MALFORMED, "reply message content is not text", endpoint=endpoint)
    usage = data.get("usage")
    if not isinstance(usage, dict):
        usage = {}
    finish_reason = choice.get("finish_reason")
    return ChatResult(
        content=content or "",
        reasoning_content=reasoning,
        finish_reason=str(finish_reason) if finish_reason is not None else None,
        usage=Usage(
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
        ),
        endpoint=endpoint,
        model=str(data.get("model") or ""),
        attempts=attempts,
        latency_s=latency,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0
