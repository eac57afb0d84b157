"""Generation backends: the endpoint backend over real HTTP, and the vLLM offline adapter.

vLLM itself does not run on this CPU machine (it is not installed here), so the adapter is checked
twice: without vllm it must fail with a message that says what to do, and against a stand-in module
with vllm's ``LLM`` / ``SamplingParams`` surface it must pass the paper's sampling settings, chunk
the prompts and map ``RequestOutput`` fields into the run's records.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field

import pytest

from finr1_verl.eval.cli import main
from finr1_verl.eval.generate import EndpointBackend, Sampling, VLLMBackend, with_reasoning
from finr1_verl.eval.runner import EvalConfig, run_eval
from finr1_verl.reward.format import check_format
from finr1_verl.smoke.fake_openai import Reply
from tests.support.shared_data import shared_path


async def collect(backend, requests) -> dict:
    return {key: generation async for key, generation in backend.generate(requests)}


def conversation(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "sys"}, {"role": "user", "content": text}]


async def test_endpoint_backend_limits_concurrency_and_keeps_reasoning(fake_openai):
    fake_openai.responder = lambda body: Reply(
        content="<answer>\n\\boxed{7}\n</answer>", reasoning_content="Add 3 and 4.", delay=0.1
    )
    backend = EndpointBackend(fake_openai.base_url, "m", Sampling(seed=11), concurrency=3)
    results = await collect(backend, [(f"k{i}", conversation(f"q{i}")) for i in range(12)])
    assert sorted(results) == sorted(f"k{i}" for i in range(12))
    assert fake_openai.max_in_flight == 3
    response = results["k0"].response
    assert response == "<think>\nAdd 3 and 4.\n</think>\n<answer>\n\\boxed{7}\n</answer>" and check_format(
        response
    )
    assert {body["seed"] for body in fake_openai.requests} == {11}
    assert backend.stats()["succeeded"] == 12


async def test_endpoint_failure_becomes_a_failed_generation(fake_openai):
    fake_openai.responder = lambda body: Reply(status=503)
    backend = EndpointBackend(fake_openai.base_url, "m", Sampling(), max_retries=1)
    backend.client.backoff_base_s = 0.01
    result = (await collect(backend, [("k", conversation("q"))]))["k"]
    assert (result.response, result.error) == (None, "server")
    assert len(fake_openai.requests) == 2  # the first try and one retry


def test_with_reasoning_does_not_duplicate_thinking():
    assert (
        with_reasoning("<think>\nx\n</think>\n<answer>1</answer>", "x")
        == "<think>\nx\n</think>\n<answer>1</answer>"
    )
    assert with_reasoning("plain", None) == "plain"


def test_without_vllm_the_offline_backend_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("FINR1_JUDGE_URLS", raising=False)
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(RuntimeError, match=r"needs vLLM.*pip install 'finr1-verl\[gpu\]'.*--model-urls"):
        VLLMBackend("/ckpt", Sampling())
    argv = [
        "run",
        "--bench",
        f"tfns={shared_path('tfns', 'sent_valid.csv')}",
        "--model",
        "/ckpt",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 2
    assert "offline generation needs vLLM" in capsys.readouterr().err


@dataclass
class StandInVLLM:
    """vllm's offline surface: LLM(model=..., seed=..., ...).chat(conversations, sampling_params=...)."""

    chats: list[list] = field(default_factory=list)
    llm_kwargs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def module(self) -> types.ModuleType:
        stand_in = self

        class SamplingParams:
            def __init__(self, **kwargs):
                stand_in.params = kwargs

        class LLM:
            def __init__(self, **kwargs):
                stand_in.llm_kwargs = kwargs

            def chat(self, conversations, sampling_params=None, use_tqdm=True):
                assert isinstance(sampling_params, SamplingParams)
                stand_in.chats.append(conversations)
                text = "<think>\nThe tweet is upbeat.\n</think>\n<answer>\n\\boxed{Bullish}\n</answer>"
                completion = types.SimpleNamespace(text=text, finish_reason="stop", token_ids=[1, 2, 3])
                return [types.SimpleNamespace(outputs=[completion]) for _ in conversations]

        return types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams, __version__="stand-in")


async def test_vllm_backend_chunks_prompts_and_runs_the_benchmark(monkeypatch, tmp_path):
    stand_in = StandInVLLM()
    monkeypatch.setitem(sys.modules, "vllm", stand_in.module())
    backend = VLLMBackend("/ckpt/fin-r1", Sampling(), tensor_parallel_size=2, chunk_size=4)
    assert stand_in.params == {"temperature": 0.6, "top_p": 0.95, "max_tokens": 4096, "seed": 0}
    assert stand_in.llm_kwargs == {
        "model": "/ckpt/fin-r1",
        "seed": 0,
        "tensor_parallel_size": 2,
        "max_model_len": None,
    }
    config = EvalConfig(
        data={"tfns": shared_path("tfns", "sent_valid.csv")}, out=tmp_path, limit=10, progress=False
    )
    summary = await run_eval(config, backend, None)
    assert [len(chunk) for chunk in stand_in.chats] == [4, 4, 2]
    assert stand_in.chats[0][0][0]["role"] == "system" and "tweet" in stand_in.chats[0][0][1]["content"]
    labels = [
        json.loads(line)["references"][0]
        for line in (tmp_path / "items" / "tfns.jsonl").read_text().splitlines()
    ]
    scores = summary["benchmarks"]["tfns"]
    assert scores["rule_score"] == 100.0 * labels.count("1") / 10 and scores["format_ok"] == 10
    assert summary["protocol"]["backend"] == "vllm" and summary["calls"]["model"]["completion_tokens"] == 30
