"""compute_score: modes, weights, fixed keys, settings, and every judge fault over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import socket

import numpy as np
import pytest

from finr1_verl.reward import SCORE_KEYS, compute_score, compute_score_sync
from finr1_verl.reward.llm_judge import JudgeError
from finr1_verl.reward.score import ScoreSettings, close_judges, judge_for, judge_stats
from finr1_verl.smoke.fake_openai import Reply

FINQA_INFO = {"id": "finqa-1", "answer_type": "numeric", "choices": "{}", "question": "What is the growth?"}
CHOICE_INFO = {"id": "fiq-7", "answer_type": "choice", "choices": '{"A": "存货", "B": "厂房"}'}


@pytest.fixture(autouse=True)
async def fresh_judges():
    """A test's server may reuse a port of an earlier test: start from no cached judge."""
    await close_judges()
    yield
    await close_judges()


def response(answer: str) -> str:
    return f"<think>\nThe table gives the values; compute the ratio.\n</think>\n<answer>\n{answer}\n</answer>"


def judge_kwargs(server, **kw) -> dict:
    kw.setdefault("judge_urls", server.base_url)
    kw.setdefault("judge_model", "qwen-judge")
    kw.setdefault("timeout", 0.5)
    kw.setdefault("max_retries", 2)
    return kw


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


async def test_rules_decide_without_judge(fake_openai):
    out = await compute_score(
        "finr1/finqa",
        response("\\boxed{14.46%}"),
        ["14%", "0.14464"],
        FINQA_INFO,
        **judge_kwargs(fake_openai),
    )
    assert tuple(out) == SCORE_KEYS
    assert out["score"] == 2.0 and out["acc"] == 1.0 and out["format"] == 1.0 and out["rule_verdict"] == 1.0
    wrong = await compute_score(
        "finr1/finqa", response("\\boxed{0.25}"), ["14%", "0.14464"], FINQA_INFO, **judge_kwargs(fake_openai)
    )
    assert wrong["acc"] == 0.0 and wrong["rule_verdict"] == 0.0 and wrong["score"] == 1.0
    assert fake_openai.requests == []


async def test_undecided_goes_to_judge_in_rule_first(fake_openai):
    fake_openai.script(Reply(content="\\boxed{1}"))
    out = await compute_score(
        "finr1/finqa",
        response("\\boxed{1.5}"),
        "$1.5 billion",
        {"answer_type": "numeric"},
        **judge_kwargs(fake_openai),
    )
    assert out["rule_verdict"] == -1.0 and out["judged"] == 1.0 and out["judge_equal"] == 1.0
    assert out["acc"] == 1.0 and out["score"] == 2.0
    sent = fake_openai.requests[0]["messages"][1]["content"]
    assert "<candidate_answer>\n1.5\n</candidate_answer>" in sent
    assert "compute the ratio" not in sent  # never the reasoning


async def test_always_mode_judges_decided_answers_and_flags_disagreement(fake_openai):
    fake_openai.script(Reply(content="\\boxed{1}"))
    out = await compute_score(
        "finr1/finqa",
        response("\\boxed{0.25}"),
        "14%",
        FINQA_INFO,
        **judge_kwargs(fake_openai, mode="always"),
    )
    assert out["judged"] == 1.0 and out["acc"] == 1.0 and out["judge_disagree"] == 1.0
    assert out["rule_verdict"] == 0.0


async def test_always_mode_short_circuits_missing_answers(fake_openai):
    out = await compute_score(
        "finr1/finqa",
        "<think>\nno answer block",
        "14%",
        FINQA_INFO,
        **judge_kwargs(fake_openai, mode="always"),
    )
    assert out["answer_found"] == 0.0 and out["acc"] == 0.0 and out["format"] == 0.0 and out["score"] == 0.0
    assert fake_openai.requests == []


async def test_never_mode_needs_no_judge():
    out = await compute_score(
        "finr1/tfns",
        response("\\boxed{Bullish}"),
        "1",
        {"answer_type": "label", "choices": '{"0": "Bearish", "1": "Bullish", "2": "Neutral"}'},
        mode="never",
    )
    assert out["acc"] == 1.0 and out["judged"] == 0.0


async def test_weights_and_format_only():
    unformatted = "The answer is \\boxed{B}"
    out = await compute_score(
        "finr1/financeiq",
        response("\\boxed{B}"),
        "B",
        CHOICE_INFO,
        mode="never",
        format_weight=0.5,
        accuracy_weight=2.0,
    )
    assert out["score"] == 2.5
    out = await compute_score("finr1/financeiq", unformatted, "B", CHOICE_INFO, mode="never")
    assert out["format"] == 0.0 and out["answer_found"] == 0.0 and out["score"] == 0.0


async def test_ground_truth_as_numpy_array_and_inferred_type():
    out = await compute_score(
        "finr1/convfinqa",
        response("\\boxed{-58.6%}"),
        np.array(["58.6%", "-0.58621"]),
        {"choices": "{}"},
        mode="never",
    )
    assert out["acc"] == 1.0


def test_bad_rows_name_the_record_and_field():
    with pytest.raises(ValueError, match=r"id='x9'.*ground_truth"):
        compute_score_sync("finr1/finqa", response("5"), [], {"id": "x9"}, mode="never", strict=True)
    with pytest.raises(ValueError, match=r"id='x9'.*extra_info.choices"):
        compute_score_sync(
            "finr1/finqa", response("5"), "5", {"id": "x9", "choices": "{A:"}, mode="never", strict=True
        )


def test_settings_validation(monkeypatch):
    monkeypatch.delenv("FINR1_JUDGE_URLS", raising=False)
    monkeypatch.delenv("FINR1_JUDGE_MODEL", raising=False)
    with pytest.raises(ValueError, match="mode"):
        ScoreSettings.from_kwargs({"mode": "sometimes"})
    with pytest.raises(ValueError, match="needs a judge"):
        ScoreSettings.from_kwargs({})
    monkeypatch.setenv("FINR1_JUDGE_URLS", "10.0.0.1:8000, 10.0.0.2:8000")
    monkeypatch.setenv("FINR1_JUDGE_MODEL", "Qwen2.5-72B-Instruct")
    settings = ScoreSettings.from_kwargs({})
    assert settings.judge.urls == ("http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1")
    routed = ScoreSettings.from_kwargs(
        {"reward_router_address": "10.1.1.1:9000", "reward_model_tokenizer": None}
    )
    assert routed.judge.urls == ("http://10.1.1.1:9000/v1",)
    explicit = ScoreSettings.from_kwargs({"judge_urls": ["a:1", "b:2"], "reward_router_address": "c:3"})
    assert explicit.judge.urls == ("http://a:1/v1", "http://b:2/v1")
    assert "api_key" not in repr(ScoreSettings.from_kwargs({"api_key": "sk-x"}))


async def test_verl_hosted_judge_via_router_address(fake_openai):
    fake_openai.script(Reply(content="\\boxed{0}"))
    out = await compute_score(
        "finr1/finqa",
        response("\\boxed{1.5}"),
        "$1.5 billion",
        FINQA_INFO,
        reward_router_address=fake_openai.address,
        reward_model_tokenizer=object(),
        judge_model="/models/qwen-judge",
        timeout=0.5,
    )
    assert out["judged"] == 1.0 and out["acc"] == 0.0
    assert fake_openai.requests[0]["model"] == "/models/qwen-judge"


async def test_judges_are_reused_across_calls(fake_openai):
    fake_openai.responder = lambda body: Reply(content="\\boxed{1}")
    kwargs = judge_kwargs(fake_openai)
    for answer in ("1.5", "1.50", "1.500"):
        await compute_score(
            "finr1/finqa", response(f"\\boxed{{{answer}}}"), "$1.5 billion", FINQA_INFO, **kwargs
        )
    judge = judge_for(ScoreSettings.from_kwargs(kwargs).judge)
    assert judge is judge_for(ScoreSettings.from_kwargs(dict(kwargs)).judge)
    stats = judge_stats()[f"qwen-judge@{fake_openai.base_url}"]
    assert stats["requests"] == 3 and stats["equal"] == 3


FAULTS = {
    "500": Reply(status=500),
    "503": Reply(status=503),
    "429": Reply(status=429, headers={"Retry-After": "0.1"}),
    "read_timeout": Reply(fault="hang", delay=1.0),
    "reset": Reply(fault="reset"),
    "malformed_json": Reply(fault="malformed_json"),
    "empty_choices": Reply(fault="empty_choices"),
    "unparseable": Reply(content="They look the same to me."),
}
KINDS = {
    "500": "server",
    "503": "server",
    "429": "rate_limit",
    "read_timeout": "timeout",
    "reset": "connect",
    "malformed_json": "malformed",
    "empty_choices": "malformed",
    "unparseable": "rejected",
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_persistent_judge_fault_falls_back_with_same_keys(fake_openai, fault):
    """Every call fails: each sample still gets the fixed keys, the rule fallback, bounded retries."""
    fake_openai.responder = lambda body: FAULTS[fault]
    # Only the read timeout needs the short client timeout; the other faults reply at once, and a 0.5 s
    # timeout on a busy machine can abandon an attempt before the server has read it.
    kwargs = judge_kwargs(fake_openai, max_retries=1, timeout=0.5 if fault == "read_timeout" else 10.0)
    answers = ["\\boxed{1.5}", "\\boxed{1.6}", "\\boxed{7}", "\\boxed{1.5 billion}"]
    outs = await asyncio.gather(
        *(compute_score("finr1/finqa", response(a), "$1.5 billion", FINQA_INFO, **kwargs) for a in answers)
    )
    assert all(tuple(o) == SCORE_KEYS for o in outs)
    undecided = [o for o in outs if o["rule_verdict"] == -1.0]
    assert undecided and all(
        o["judge_error"] == 1.0 and o["acc"] == 0.0 and o["judged"] == 0.0 for o in undecided
    )
    assert all(o["score"] == o["format"] + o["acc"] for o in outs)
    stats = judge_stats()[f"qwen-judge@{fake_openai.base_url}"]
    assert stats["failed"] == len(undecided)
    assert stats[f"failures/{KINDS[fault]}"] == len(undecided)
    assert stats["api_calls"] <= 2 * len(undecided)  # first attempt + max_retries=1, never more
    assert len(fake_openai.requests) == stats["api_calls"]


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_transient_judge_fault_is_retried_to_a_verdict(fake_openai, fault):
    fake_openai.script(FAULTS[fault], Reply(content="\\boxed{1}"))
    out = await compute_score(
        "finr1/finqa", response("\\boxed{1.5}"), "$1.5 billion", FINQA_INFO, **judge_kwargs(fake_openai)
    )
    assert out["judged"] == 1.0 and out["judge_error"] == 0.0 and out["acc"] == 1.0
    assert len(fake_openai.requests) == 2


async def test_server_down_for_the_whole_batch(caplog):
    """A dead judge: the batch still scores, the breaker stops the retries, one warning is logged."""
    url = dead_url()
    kwargs = {"judge_urls": url, "judge_model": "qwen-judge", "timeout": 0.5, "max_retries": 2}
    info = {"id": "fi-1", "answer_type": "text", "choices": "{}"}
    gold = "Lower funding costs widened the net interest margin."
    with caplog.at_level(logging.WARNING, logger="finr1_verl.reward.score"):
        outs = await asyncio.gather(
            *(
                compute_score("finr1/fi", response(f"Margins widened in quarter {i}."), gold, info, **kwargs)
                for i in range(32)
            )
        )
    assert all(tuple(o) == SCORE_KEYS and o["judge_error"] == 1.0 and o["score"] == 1.0 for o in outs)
    stats = judge_stats()[f"qwen-judge@{url}"]
    assert stats["failed"] == 32
    assert stats["api_calls"] <= 32 * 3
    assert stats["errors/circuit_open"] > 0  # the breaker opened and later attempts failed fast
    assert len([r for r in caplog.records if "judge failed" in r.getMessage()]) <= 1


async def test_strict_mode_raises(fake_openai):
    fake_openai.responder = lambda body: Reply(status=500)
    with pytest.raises(JudgeError):
        await compute_score(
            "finr1/finqa",
            response("\\boxed{1.5}"),
            "$1.5 billion",
            FINQA_INFO,
            **judge_kwargs(fake_openai, strict=True, max_retries=0),
        )


def test_sync_wrapper(fake_openai):
    fake_openai.script(Reply(content="\\boxed{1}"))
    out = compute_score_sync(
        "finr1/finqa", response("\\boxed{1.5}"), "$1.5 billion", FINQA_INFO, **judge_kwargs(fake_openai)
    )
    assert out["acc"] == 1.0 and tuple(out) == SCORE_KEYS
