"""One async OpenAI-compatible chat client for every model call in the project.

The reward judge, the distillation teacher, the filter judge and evaluation generation all go
through :class:`LLMClient`: OpenAI's chat-completions wire format over aiohttp, read as plain JSON
into :class:`ChatResult` (no SDK request pipeline or pydantic models on the hot path; see
:mod:`finr1_verl.llm.http` for the measurements behind that).

Construction::

    client = LLMClient(
        ["http://10.0.0.1:8000/v1", "10.0.0.2:8000"],  # one or several endpoints, or "a,b" string;
        "Qwen/Qwen2.5-72B-Instruct",                    # "ip:port" becomes http://ip:port/v1 (endpoints.py)
        api_key=None,           # else $FINR1_JUDGE_API_KEY, $OPENAI_API_KEY (api_key_env=...), else "EMPTY"
        max_concurrency=64,     # requests in flight per endpoint (per event loop)
        timeout_s=60.0,         # whole-request deadline per attempt (a trickling body counts too)
        max_retries=3,          # retries after the first attempt, for retryable errors only
        backoff_base_s=0.5, backoff_max_s=8.0, max_retry_after_s=30.0,
        breaker_threshold=5, breaker_cooldown_s=10.0,  # consecutive failures that open an endpoint
        cache_size=4096,        # LRU entries for reproducible requests (0 disables)
        max_tokens=1024, temperature=0.0, seed=0,       # defaults sent explicitly with every request
    )

Calling (inside any event loop; several loops per process are fine)::

    result = await client.chat(messages, max_tokens=..., temperature=..., seed=..., top_p=...,
                               stop=..., extra_body={"structured_outputs": {"choice": ["0", "1"]}},
                               sample_index=None, use_cache=True, timeout_s=None, deadline_s=None)
    result.content, result.reasoning_content, result.finish_reason, result.usage.prompt_tokens,
    result.usage.completion_tokens, result.endpoint, result.cached, result.attempts

From synchronous code: ``run_sync(client.chat(...))`` runs it on one long-lived background loop.

Reproducible requests — temperature 0, or any temperature with a ``sample_index`` — are sent with
``seed + sample_index``, de-duplicated while in flight and cached (LRU).  A request at temperature > 0
without ``sample_index`` is an independent draw: no seed unless given, never shared or cached.  So
k samples of one prompt must pass ``sample_index=0..k-1`` (reproducible, distinct) or nothing
(independent); ``use_cache=False`` bypasses cache and de-duplication for any request.

Failures raise :class:`LLMError` with ``.kind`` in :data:`ERROR_KINDS`: ``connect``, ``timeout``,
``rate_limit`` (429; Retry-After honoured), ``server`` (5xx), ``malformed`` (bad JSON, no choices, no
content) are retried with exponential backoff and jitter up to ``max_retries`` times, preferring
another endpoint; ``client`` (other 4xx) fails at once; ``circuit_open`` fails fast when every
endpoint's breaker is open; ``deadline`` when ``deadline_s`` (the whole call, retries and backoff
included) runs out: each attempt's timeout is cut to the time left and no retry starts too late.
``client.stats.snapshot()`` gives the counters (requests, api_calls,
retries, succeeded, failed, cache_hits, dedup_hits, prompt/completion tokens, ``errors/<kind>`` per
attempt, ``failures/<kind>`` per call, ``endpoint/<url>``).  The API key is never logged or shown.

Each event loop gets its own HTTP clients, semaphores and in-flight table (verl's reward workers
capture a loop at construction); the cache, counters and breakers are shared by all loops.
Call ``await client.aclose()`` in a loop that is about to end to close its connections; at exit
every client's sessions on a still-open loop (the background loop of ``run_sync`` included) are
closed for you (``close_everywhere``), so none is reported unclosed.
HTTP(S)_PROXY / NO_PROXY are honoured (read once per loop and endpoint).
:class:`~finr1_verl.llm.slicer.LoopSlicer` runs short CPU work on a loop in time slices, so that a
whole batch gathered at once never stalls the loop.
"""

from finr1_verl.llm.client import LLMClient
from finr1_verl.llm.endpoints import (
    ROLES,
    endpoints_from_env,
    models_url,
    normalize_base_url,
    parse_endpoints,
    resolve_api_key,
    role_env,
)
from finr1_verl.llm.sync import run_sync
from finr1_verl.llm.types import (
    DEADLINE,
    ERROR_KINDS,
    RETRYABLE_KINDS,
    ChatResult,
    LLMError,
    Usage,
)

__all__ = [
    "DEADLINE",
    "ERROR_KINDS",
    "RETRYABLE_KINDS",
    "ChatResult",
    "LLMClient",
    "LLMError",
    "ROLES",
    "Usage",
    "endpoints_from_env",
    "models_url",
    "normalize_base_url",
    "parse_endpoints",
    "resolve_api_key",
    "role_env",
    "run_sync",
]
