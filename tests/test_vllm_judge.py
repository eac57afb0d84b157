"""The judge client against a real vLLM server (opt-in: scripts/check_vllm_judge.sh runs it).

A random tiny model cannot judge anything; what this proves is that real vLLM accepts every request
parameter the client sends (model, max_tokens, temperature 0, seed, structured outputs) and that
its replies come back in the shape the client and the strict verdict parser expect.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from finr1_verl.llm import LLMClient
from finr1_verl.reward import SCORE_KEYS, compute_score
from finr1_verl.reward.judge import AnswerJudge, parse_verdict
from finr1_verl.reward.score import close_judges

pytestmark = [
    pytest.mark.vllm_server,
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("FINR1_TEST_VLLM") != "1" or not os.environ.get("FINR1_VLLM_URL"),
        reason="needs a vLLM server: run scripts/check_vllm_judge.sh (sets FINR1_TEST_VLLM=1, FINR1_VLLM_URL)",
    ),
]
URL = os.environ.get("FINR1_VLLM_URL", "")
MODEL = os.environ.get("FINR1_VLLM_MODEL", "tiny-judge")


async def test_plain_request_parameters_are_accepted():
    client = LLMClient(URL, MODEL, max_tokens=8, seed=7, timeout_s=120, max_retries=0)
    messages = [{"role": "user", "content": "What is 0.2 as a percentage?"}]
    first = await client.chat(messages)
    second = await client.chat(messages, use_cache=False)
    assert first.finish_reason in ("stop", "length")
    assert first.usage.prompt_tokens > 0 and 0 < first.usage.completion_tokens <= 8
    assert first.content == second.content  # temperature 0 + seed: deterministic
    await client.aclose()


async def test_structured_verdict_parses():
    client = LLMClient(URL, MODEL, timeout_s=120, max_retries=0)
    judge = AnswerJudge(client, structured_output=True, max_tokens=16)
    results = await asyncio.gather(
        judge.judge("20%", "0.2"), judge.judge("B. 存货", "B", choices={"B": "存货"})
    )
    assert all(parse_verdict(r.raw) is r.equal for r in results)
    await client.aclose()


async def test_compute_score_through_vllm():
    kwargs = {
        "judge_urls": URL,
        "judge_model": MODEL,
        "mode": "always",
        "structured_output": True,
        "timeout": 120,
    }
    response = "<think>\nratio\n</think>\n<answer>\n\\boxed{1.5}\n</answer>"
    out = await compute_score("finr1/finqa", response, "$1.5 billion", {"answer_type": "numeric"}, **kwargs)
    assert tuple(out) == SCORE_KEYS and out["judged"] == 1.0 and out["judge_error"] == 0.0
    await close_judges()
