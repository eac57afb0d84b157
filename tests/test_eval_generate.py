"""Generation backends: the endpoint backend over real HTTP, and the vLLM offline adapter.

vLLM itself does not run on this CPU machine (it is not installed here), so the adapter is checked
twice: without vllm it must fail with a message that says what to do, and against a stand-in module
with vllm's ``LLM`` / engine / ``SamplingParams`` surface it must pass the paper's sampling settings
(the same explicit fields the endpoint request carries), stream every prompt through one engine
and map ``RequestOutput`` fields into the run's records.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field

import pytest

from finr1_verl.eval.cli import main
from finr1_verl.eval.generate import (
    EndpointBackend,
    Sampling,
    VLLMBackend,
    hf_generate_kwargs,
    sampling_params_kwargs,
    with_reasoning,
)
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
    model = tmp_path / "model"  # an HF folder's shape: the check passes, loading needs vLLM
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    argv = [
        "run",
        "--bench",
        f"tfns={shared_path('tfns', 'sent_valid.csv')}",
        "--model",
        str(model),
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 2
    assert "offline generation needs vLLM" in capsys.readouterr().err


@dataclass
class StandInVLLM:
    """vllm's offline surface: ``LLM(model=..., seed=..., ...)``, its ``get_tokenizer()`` and the
    engine loop ``LLM.generate`` runs (``llm_engine.add_request`` / ``step`` /
    ``has_unfinished_requests``).  Request ``i`` finishes in step ``i % 3 + 1``, so answers arrive out
    of order and across steps, as continuous batching returns them."""

    added: list[tuple[str, list, object]] = field(default_factory=list)
    llm_kwargs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    steps: int = 0
    aborted: list = field(default_factory=list)

    def module(self) -> types.ModuleType:
        stand_in = self
        text = "<think>\nThe tweet is upbeat.\n</think>\n<answer>\n\\boxed{Bullish}\n</answer>"

        class SamplingParams:
            def __init__(self, **kwargs):
                stand_in.params = kwargs

        class Tokenizer:
            def apply_chat_template(self, messages, add_generation_prompt, tokenize):
                assert add_generation_prompt and tokenize and messages[0]["role"] == "system"
                return [len(m["content"]) for m in messages]

        class Engine:
            def __init__(self):
                self.pending: dict[str, int] = {}

            def add_request(self, request_id, prompt, params):
                assert isinstance(params, SamplingParams) and prompt["prompt_token_ids"]
                self.pending[request_id] = len(stand_in.added) % 3 + 1
                stand_in.added.append((request_id, prompt["prompt_token_ids"], params))

            def has_unfinished_requests(self):
                return bool(self.pending)

            def step(self):
                stand_in.steps += 1
                done = [key for key, step in self.pending.items() if step == stand_in.steps]
                for key in done:
                    del self.pending[key]
                completion = types.SimpleNamespace(text=text, finish_reason="stop", token_ids=[1, 2, 3])
                return [
                    types.SimpleNamespace(request_id=k, finished=True, outputs=[completion]) for k in done
                ]

            def abort_request(self, ids):
                stand_in.aborted.extend(ids)

        class LLM:
            def __init__(self, **kwargs):
                stand_in.llm_kwargs = kwargs
                self.llm_engine = Engine()

            def get_tokenizer(self):
                return Tokenizer()

        return types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams, __version__="stand-in")


PARITY = {
    "temperature": 0.6,
    "top_p": 0.95,
    "max_tokens": 4096,
    "seed": 0,
    "top_k": -1,
    "repetition_penalty": 1.0,
}


async def test_vllm_backend_streams_prompts_and_runs_the_benchmark(monkeypatch, tmp_path):
    stand_in = StandInVLLM()
    monkeypatch.setitem(sys.modules, "vllm", stand_in.module())
    backend = VLLMBackend("/ckpt/fin-r1", Sampling(), tensor_parallel_size=2)
    assert stand_in.params == PARITY
    assert stand_in.llm_kwargs == {
        "model": "/ckpt/fin-r1",
        "seed": 0,
        "tensor_parallel_size": 2,
        "max_model_len": None,
    }
    arrivals = []
    async for key, generation in backend.generate([(f"k{i}", conversation(f"q{i}")) for i in range(7)]):
        arrivals.append((key, stand_in.steps))
        assert generation.completion_tokens == 3
    # all seven queued at once, each answer yielded in the step it finished: no chunk waits for another
    assert len(stand_in.added) == 7 and stand_in.steps == 3
    assert arrivals == [("k0", 1), ("k3", 1), ("k6", 1), ("k1", 2), ("k4", 2), ("k2", 3), ("k5", 3)]
    assert stand_in.aborted == []

    stand_in.added.clear()
    stand_in.steps = 0
    config = EvalConfig(
        data={"tfns": shared_path("tfns", "sent_valid.csv")}, out=tmp_path, limit=10, progress=False
    )
    summary = await run_eval(config, backend, None)
    assert len(stand_in.added) == 10
    labels = [
        json.loads(line)["references"][0]
        for line in (tmp_path / "items" / "tfns.jsonl").read_text().splitlines()
    ]
    scores = summary["benchmarks"]["tfns"]
    assert scores["rule_score"] == 100.0 * labels.count("1") / 10 and scores["format_ok"] == 10
    assert summary["protocol"]["backend"] == "vllm" and summary["calls"]["model"]["completion_tokens"] == 51


async def test_an_interrupted_offline_run_aborts_its_requests(monkeypatch):
    stand_in = StandInVLLM()
    monkeypatch.setitem(sys.modules, "vllm", stand_in.module())
    backend = VLLMBackend("/ckpt/fin-r1", Sampling())
    stream = backend.generate([(f"k{i}", conversation(f"q{i}")) for i in range(4)])
    assert (await anext(stream))[0] == "k0"
    await stream.aclose()
    assert stand_in.aborted == ["k0", "k1", "k2", "k3"]


def test_every_backend_sends_the_same_explicit_sampling():
    sampling = Sampling(temperature=0.6, top_p=0.95, max_tokens=4096, seed=5)
    assert sampling.request_fields() == PARITY | {"seed": 5}
    assert sampling_params_kwargs(sampling) == sampling.request_fields()
    assert hf_generate_kwargs(sampling) == {
        "max_new_tokens": 4096,
        "repetition_penalty": 1.0,
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 0,  # transformers' "disabled"
    }
    greedy = hf_generate_kwargs(Sampling(temperature=0.0, top_k=20, repetition_penalty=1.05))
    assert (greedy["do_sample"], greedy["repetition_penalty"]) == (False, 1.05)


async def test_endpoint_request_carries_top_k_and_repetition_penalty(fake_openai):
    """The body a loopback server receives: nothing left for the server's generation_config to fill."""
    fake_openai.responder = lambda body: Reply(content="<answer>1</answer>")
    await collect(EndpointBackend(fake_openai.base_url, "m", Sampling(seed=3)), [("k", conversation("q"))])
    (body,) = fake_openai.requests
    assert {key: body[key] for key in PARITY} == PARITY | {"seed": 3}
    set_by_protocol = Sampling(top_k=20, repetition_penalty=1.05)
    fake_openai.reset()
    await collect(EndpointBackend(fake_openai.base_url, "m", set_by_protocol), [("k", conversation("q"))])
    assert (fake_openai.requests[0]["top_k"], fake_openai.requests[0]["repetition_penalty"]) == (20, 1.05)
