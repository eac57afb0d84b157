"""Typed results and the one error type of the LLM client layer."""

from __future__ import annotations

from dataclasses import dataclass

# Error kinds.  Retryable kinds are transient: the same request may succeed on a later attempt.
CONNECT = "connect"  # connection refused / reset before a reply
TIMEOUT = "timeout"  # no complete reply within the request timeout
RATE_LIMIT = "rate_limit"  # HTTP 429 (Retry-After honoured)
SERVER = "server"  # HTTP 5xx
MALFORMED = "malformed"  # unparseable body, no choices, no message content
REJECTED = "rejected"  # a well-formed reply that the caller's ``accept`` check refused
CLIENT = "client"  # other HTTP 4xx (bad request, auth): retrying cannot help
CIRCUIT_OPEN = "circuit_open"  # every endpoint's breaker is open: failed fast, nothing sent
DEADLINE = "deadline"  # the caller's deadline for the whole request (attempts and backoff) ran out

ERROR_KINDS = (CONNECT, TIMEOUT, RATE_LIMIT, SERVER, MALFORMED, REJECTED, CLIENT, CIRCUIT_OPEN, DEADLINE)
RETRYABLE_KINDS = frozenset({CONNECT, TIMEOUT, RATE_LIMIT, SERVER, MALFORMED, REJECTED})
# Kinds that say the endpoint itself is unhealthy (a 429 means it is alive but busy).
BREAKER_KINDS = frozenset({CONNECT, TIMEOUT, SERVER, MALFORMED})


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the server for one completion."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    """One chat completion.

    ``reasoning_content`` is the separate reasoning text that vLLM's reasoning parser returns
    (``None`` when the server sends none).  ``cached`` is True when this call was answered from the
    response cache or by joining an identical request already in flight; its tokens were counted once,
    by the request that went over the network.
    """

    content: str
    reasoning_content: str | None
    finish_reason: str | None
    usage: Usage
    endpoint: str
    model: str
    cached: bool = False
    attempts: int = 1
    latency_s: float = 0.0


class LLMError(Exception):
    """A chat request that failed for good (after the allowed retries, or at once if not retryable).

    ``kind`` is one of :data:`ERROR_KINDS`; ``status`` the last HTTP status if any; ``endpoint`` the
    last endpoint tried; ``attempts`` how many requests were sent.  The message never contains the
    API key.
    """

    def __init__(
        self, kind: str, message: str, *, endpoint: str = "", status: int | None = None, attempts: int = 0
    ):
        super().__init__(f"[{kind}] {message}" + (f" ({endpoint})" if endpoint else ""))
        self.kind = kind
        self.endpoint = endpoint
        self.status = status
        self.attempts = attempts
        self.retry_after: float | None = None  # seconds, from a 429's Retry-After header

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS
