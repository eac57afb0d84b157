"""The shared LLM client against the real loopback OpenAI-compatible server: faults, limits, loops."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from finr1_verl.llm import LLMClient, LLMError, normalize_base_url, parse_endpoints, run_sync
from finr1_verl.llm.http import to_result
from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply

MSGS = [{"role": "user", "content": "Is 0.2 equal to 20%?"}]


def make_client(urls, **kw) -> LLMClient:
    kw.setdefault("backoff_base_s", 0.01)
    kw.setdefault("backoff_max_s", 0.05)
    kw.setdefault("timeout_s", 2.0)
    return LLMClient(urls, "judge-model", **kw)


def dead_url() -> str:
    """A loopback port with nothing listening: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_endpoint_parsing():
    assert normalize_base_url("10.0.0.1:8000") == "http://10.0.0.1:8000/v1"
    assert normalize_base_url("https://api.example.com/compatible-mode/v1/") == (
        "https://api.example.com/compatible-mode/v1"
    )
    assert parse_endpoints(" a:1 , http://a:1/v1,b:2") == ["http://a:1/v1", "http://b:2/v1"]
    assert parse_endpoints(None) == []
    with pytest.raises(ValueError):
        LLMClient([], "m")


async def test_request_parameters_and_typed_result(fake_openai):
    fake_openai.script(Reply(content="\\boxed{1}", reasoning_content="same value", finish_reason="stop"))
    client = make_client(fake_openai.base_url, max_tokens=8, seed=7)
    result = await client.chat(
        MSGS, extra_body={"structured_outputs": {"choice": ["\\boxed{0}", "\\boxed{1}"]}}
    )
    body = fake_openai.requests[0]
    assert body["model"] == "judge-model"
    assert body["max_tokens"] == 8 and body["temperature"] == 0 and body["seed"] == 7
    assert body["structured_outputs"] == {"choice": ["\\boxed{0}", "\\boxed{1}"]}
    assert body["messages"] == MSGS
    assert result.content == "\\boxed{1}" and result.reasoning_content == "same value"
    assert result.finish_reason == "stop" and result.endpoint == fake_openai.base_url
    assert result.cached is False and result.attempts == 1
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens == 3
    stats = client.stats.snapshot()
    assert stats["prompt_tokens"] == result.usage.prompt_tokens
    assert stats["completion_tokens"] == 3 and stats["api_calls"] == 1 and stats["succeeded"] == 1
    await client.aclose()


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Reply(status=500), "server"),
        (Reply(status=503, headers={"Retry-After": "0"}), "server"),
        (Reply(fault="reset"), "connect"),
        (Reply(fault="malformed_json"), "malformed"),
        (Reply(fault="empty_choices"), "malformed"),
        (Reply(content=None), "malformed"),
        (Reply(fault="hang", delay=1.0), "timeout"),
        (Reply(fault="slow_body", delay=1.5), "timeout"),
    ],
)
async def test_each_retryable_fault_is_retried_then_succeeds(fake_openai, fault, kind):
    fake_openai.script(fault, Reply(content="fine"))
    client = make_client(fake_openai.base_url, timeout_s=0.5)
    result = await client.chat(MSGS)
    assert result.content == "fine" and result.attempts == 2
    stats = client.stats.snapshot()
    assert stats[f"errors/{kind}"] == 1 and stats["retries"] == 1 and stats["api_calls"] == 2
    assert stats["failed"] == 0
    await client.aclose()


async def test_rate_limit_honours_retry_after(fake_openai):
    fake_openai.script(Reply(status=429, headers={"Retry-After": "0.6"}), Reply(content="after wait"))
    client = make_client(fake_openai.base_url)
    started = time.perf_counter()
    result = await client.chat(MSGS)
    assert time.perf_counter() - started >= 0.6
    assert result.content == "after wait"
    assert client.stats.snapshot()["errors/rate_limit"] == 1
    await client.aclose()


async def test_retries_are_bounded_and_error_is_typed(fake_openai):
    fake_openai.responder = lambda body: Reply(status=500)
    client = make_client(fake_openai.base_url, max_retries=2, breaker_threshold=100)
    with pytest.raises(LLMError) as info:
        await client.chat(MSGS)
    assert info.value.kind == "server" and info.value.status == 500 and info.value.attempts == 3
    assert info.value.retryable
    assert len(fake_openai.requests) == 3
    stats = client.stats.snapshot()
    assert stats["errors/server"] == 3 and stats["failures/server"] == 1 and stats["failed"] == 1
    await client.aclose()


async def test_client_errors_are_not_retried(fake_openai):
    fake_openai.script(Reply(status=400))
    client = make_client(fake_openai.base_url)
    with pytest.raises(LLMError) as info:
        await client.chat(MSGS)
    assert info.value.kind == "client" and not info.value.retryable
    assert len(fake_openai.requests) == 1
    await client.aclose()


async def test_circuit_breaker_fails_fast_then_probes(fake_openai):
    url = dead_url()
    client = make_client(url, max_retries=1, breaker_threshold=2, breaker_cooldown_s=0.3)
    with pytest.raises(LLMError) as first:
        await client.chat(MSGS, use_cache=False)
    assert first.value.kind == "connect" and first.value.attempts == 2
    started = time.perf_counter()
    with pytest.raises(LLMError) as second:
        await client.chat(MSGS, use_cache=False)
    assert second.value.kind == "circuit_open" and second.value.attempts == 0
    assert time.perf_counter() - started < 0.1
    assert client.stats.snapshot()[f"endpoint/{url}"] == 2  # nothing sent while open
    await asyncio.sleep(0.35)
    with pytest.raises(LLMError):
        await client.chat(MSGS, use_cache=False)
    assert client.stats.snapshot()[f"endpoint/{url}"] == 3  # one probe after the cooldown
    assert client.breaker.trips == 1
    await client.aclose()


async def test_load_spreads_and_fails_over(fake_openai):
    with FakeOpenAIServer() as other:
        client = make_client([fake_openai.base_url, other.base_url, dead_url()], breaker_threshold=1)
        fake_openai.responder = other.responder = lambda body: Reply(content="x", delay=0.05)
        results = await asyncio.gather(*(client.chat(MSGS, use_cache=False) for _ in range(40)))
        assert all(r.content == "x" for r in results)
        assert abs(len(fake_openai.requests) - len(other.requests)) <= 8
        assert len(fake_openai.requests) + len(other.requests) == 40
        assert client.stats.snapshot()["failed"] == 0
        await client.aclose()


async def test_concurrency_limit_per_endpoint(fake_openai):
    fake_openai.responder = lambda body: Reply(content="x", delay=0.1)
    client = make_client(fake_openai.base_url, max_concurrency=4)
    await asyncio.gather(*(client.chat(MSGS, use_cache=False) for _ in range(16)))
    assert fake_openai.max_in_flight == 4
    await client.aclose()


async def test_identical_requests_are_deduplicated_and_cached(fake_openai):
    fake_openai.responder = lambda body: Reply(content="shared", delay=0.1)
    client = make_client(fake_openai.base_url)
    results = await asyncio.gather(*(client.chat(MSGS) for _ in range(10)))
    assert len(fake_openai.requests) == 1
    assert sum(not r.cached for r in results) == 1
    again = await client.chat(MSGS)
    assert again.cached and again.content == "shared" and len(fake_openai.requests) == 1
    stats = client.stats.snapshot()
    assert stats["dedup_hits"] == 9 and stats["cache_hits"] == 1 and stats["succeeded"] == 11
    await client.chat(MSGS, use_cache=False)
    assert len(fake_openai.requests) == 2
    await client.aclose()


async def test_samples_are_never_shared(fake_openai):
    client = make_client(fake_openai.base_url, seed=100)
    await asyncio.gather(*(client.chat(MSGS, temperature=0.6) for _ in range(4)))
    assert len(fake_openai.requests) == 4
    assert all("seed" not in body for body in fake_openai.requests)  # independent draws
    fake_openai.reset()
    await asyncio.gather(*(client.chat(MSGS, temperature=0.6, sample_index=i) for i in range(4)))
    await client.chat(MSGS, temperature=0.6, sample_index=2)  # the same draw again: cached
    assert sorted(body["seed"] for body in fake_openai.requests) == [100, 101, 102, 103]
    await client.aclose()


async def test_failed_shared_request_fails_every_waiter(fake_openai):
    fake_openai.responder = lambda body: Reply(status=500, delay=0.05)
    client = make_client(fake_openai.base_url, max_retries=1)
    outcomes = await asyncio.gather(*(client.chat(MSGS) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, LLMError) and o.kind == "server" for o in outcomes)
    assert len(fake_openai.requests) == 2
    assert client.stats.snapshot()["failed"] == 5
    await client.aclose()


def test_one_client_many_event_loops(fake_openai):
    """verl's reward workers each run their own loop: one client must serve them all."""
    fake_openai.responder = lambda body: Reply(content="loop", delay=0.02)
    client = make_client(fake_openai.base_url, max_concurrency=2)
    errors: list[BaseException] = []

    async def batch(tag: int) -> None:
        outs = await asyncio.gather(*(client.chat(MSGS, use_cache=False) for _ in range(6)))
        assert all(o.content == "loop" for o in outs)
        shared = await asyncio.gather(
            *(client.chat([{"role": "user", "content": f"t{tag}"}]) for _ in range(3))
        )
        assert {o.content for o in shared} == {"loop"}
        await client.aclose()

    def worker(tag: int) -> None:
        try:
            asyncio.run(batch(tag))
        except BaseException as exc:  # collected for the main thread's assert
            errors.append(exc)

    asyncio.run(batch(0))
    asyncio.run(batch(1))  # a new loop after the first closed
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert client.stats.snapshot()["failed"] == 0


def test_run_sync_from_plain_code(fake_openai):
    fake_openai.script(Reply(content="sync"))
    client = make_client(fake_openai.base_url)
    assert run_sync(client.chat(MSGS)).content == "sync"
    assert run_sync(client.chat(MSGS)).cached
    run_sync(client.aclose())


async def test_api_key_from_env_is_sent_never_shown(fake_openai, monkeypatch):
    monkeypatch.setenv("FINR1_JUDGE_API_KEY", "sk-secret-123")
    fake_openai.script(Reply(status=401))
    client = make_client(fake_openai.base_url)
    with pytest.raises(LLMError) as info:
        await client.chat(MSGS)
    assert fake_openai.headers[0]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in str(info.value) and "sk-secret" not in repr(client)
    await client.aclose()


async def test_default_api_key_is_empty(fake_openai, monkeypatch):
    monkeypatch.delenv("FINR1_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = make_client(fake_openai.base_url)
    await client.chat(MSGS)
    assert fake_openai.headers[0]["Authorization"] == "Bearer EMPTY"
    await client.aclose()


async def test_rejected_replies_are_retried_and_never_cached(fake_openai):
    fake_openai.script(Reply(content="maybe"), Reply(content="maybe"), Reply(content="yes"))
    client = make_client(fake_openai.base_url, max_retries=1)
    with pytest.raises(LLMError) as info:
        await client.chat(MSGS, accept=lambda text: text == "yes")
    assert info.value.kind == "rejected" and info.value.attempts == 2
    result = await client.chat(MSGS, accept=lambda text: text == "yes")
    assert result.content == "yes" and not result.cached
    assert client.stats.snapshot()["errors/rejected"] == 2
    await client.aclose()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # newer vLLM reasoning parsers name the field ``reasoning``; usage may be missing
        (
            {"model": "m", "choices": [{"message": {"content": None, "reasoning": "r"}}]},
            ("", "r", None, 0),
        ),
        (
            {
                "choices": [{"message": {"content": "a"}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7},
            },
            ("a", None, "length", 7),
        ),
    ],
)
def test_reply_fields_are_read_from_the_json(reply, expected):
    result = to_result(reply, "http://h/v1", 0.1, attempts=2)
    got = (result.content, result.reasoning_content, result.finish_reason, result.usage.completion_tokens)
    assert got == expected and result.attempts == 2 and result.endpoint == "http://h/v1"


@pytest.mark.parametrize(
    "reply",
    [
        {"choices": "none"},
        {"choices": [None]},
        {"choices": [{"message": "text"}]},
        {"choices": [{"message": {"content": ["not", "text"]}}]},
    ],
)
def test_odd_reply_shapes_are_malformed(reply):
    with pytest.raises(LLMError) as info:
        to_result(reply, "http://h/v1", 0.1, attempts=1)
    assert info.value.kind == "malformed"


async def test_error_body_message_is_reported(fake_openai):
    fake_openai.script(Reply(status=404))
    client = make_client(fake_openai.base_url, max_retries=0)
    with pytest.raises(LLMError) as info:
        await client.chat(MSGS)
    assert info.value.status == 404 and "scripted HTTP 404" in str(info.value)
    await client.aclose()


async def test_proxy_environment_is_honoured(fake_openai, monkeypatch):
    """HTTP_PROXY routes requests through the proxy (a dead one here); NO_PROXY exempts the host."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", dead_url().removesuffix("/v1"))
    client = make_client(fake_openai.base_url, max_retries=0)
    with pytest.raises(LLMError) as info:
        await client.chat(MSGS)
    assert info.value.kind == "connect" and fake_openai.requests == []
    await client.aclose()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = make_client(fake_openai.base_url, max_retries=0)
    assert (await client.chat(MSGS)).content == "ok"
    await client.aclose()
