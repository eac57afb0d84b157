"""The loopback OpenAI-compatible server itself: every scripted reply and fault is served as scripted.

Checked with plain httpx (not the project's client), so a fault the client must handle is proven to
reach the wire as intended.
"""

from __future__ import annotations

import time

import httpx
import pytest

from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply

BODY = {
    "model": "judge",
    "messages": [{"role": "user", "content": "hello there"}],
    "max_tokens": 4,
    "seed": 3,
}


def post(server: FakeOpenAIServer, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(f"{server.base_url}/chat/completions", json=BODY, timeout=timeout)


def test_completion_shape_and_recorded_request(fake_openai):
    fake_openai.script(Reply(content="\\boxed{1}", reasoning_content="thinking", finish_reason="length"))
    data = post(fake_openai).json()
    message = data["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "\\boxed{1}", "reasoning_content": "thinking"}
    assert data["choices"][0]["finish_reason"] == "length" and data["model"] == "judge"
    assert data["usage"]["completion_tokens"] == 2
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + 2
    assert fake_openai.requests == [BODY]
    assert fake_openai.headers[0]["Content-Type"] == "application/json"


def test_models_endpoint(fake_openai):
    data = httpx.get(f"{fake_openai.base_url}/models").json()
    assert data["data"][0]["id"] == "fake-model"


def test_script_queue_then_responder(fake_openai):
    fake_openai.script(Reply(content="first"), Reply(content="second"))
    fake_openai.responder = lambda body: Reply(content=f"echo {body['seed']}")
    contents = [post(fake_openai).json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert contents == ["first", "second", "echo 3"]
    assert len(fake_openai.requests) == 3


@pytest.mark.parametrize("status", [429, 500, 503])
def test_status_errors_with_headers(fake_openai, status):
    fake_openai.script(Reply(status=status, headers={"Retry-After": "2"}))
    resp = post(fake_openai)
    assert resp.status_code == status
    assert resp.headers["Retry-After"] == "2"
    assert "error" in resp.json()


def test_reset_aborts_the_connection(fake_openai):
    fake_openai.script(Reply(fault="reset"))
    with pytest.raises(httpx.TransportError):
        post(fake_openai)


def test_malformed_json_and_empty_choices(fake_openai):
    fake_openai.script(Reply(fault="malformed_json"), Reply(fault="empty_choices"))
    first = post(fake_openai)
    assert first.status_code == 200
    with pytest.raises(ValueError):
        first.json()
    assert post(fake_openai).json()["choices"] == []


def test_delay_slow_body_and_hang(fake_openai):
    fake_openai.script(Reply(content="late", delay=0.3), Reply(content="slow", fault="slow_body", delay=0.4))
    started = time.perf_counter()
    assert post(fake_openai).json()["choices"][0]["message"]["content"] == "late"
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert post(fake_openai).json()["choices"][0]["message"]["content"] == "slow"
    assert time.perf_counter() - started >= 0.3
    fake_openai.script(Reply(fault="hang", delay=1.0))
    with pytest.raises(httpx.ReadTimeout):
        post(fake_openai, timeout=0.3)


def test_in_flight_high_water_mark(fake_openai):
    import concurrent.futures

    fake_openai.responder = lambda body: Reply(content="x", delay=0.3)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: post(fake_openai), range(4)))
    assert fake_openai.max_in_flight == 4
    fake_openai.reset()
    assert fake_openai.requests == [] and fake_openai.max_in_flight == 0


def test_slots_queue_requests_beyond_the_limit():
    """6 requests at once, 2 slots, 0.2 s each: more than 2 are received, answered 2 at a time."""
    import concurrent.futures

    with FakeOpenAIServer(slots=2, responder=lambda body: Reply(content="x", delay=0.2)) as server:
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            replies = list(pool.map(lambda _: post(server), range(6)))
        elapsed = time.perf_counter() - started
        assert [r.status_code for r in replies] == [200] * 6
        assert server.max_in_flight > 2 and server.in_flight == 0  # received while the slots were busy
        assert elapsed >= 0.6  # 6 x 0.2 s over 2 slots: never more than 2 answers at a time
    with pytest.raises(ValueError, match="slots"):
        FakeOpenAIServer(slots=0)


def test_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="unknown fault"):
        Reply(fault="explode")


def test_bad_request_body_is_rejected(fake_openai):
    resp = httpx.post(f"{fake_openai.base_url}/chat/completions", content=b"{not json", timeout=5)
    assert resp.status_code == 400
    assert fake_openai.requests == []
