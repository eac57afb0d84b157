"""The reward's memoised rule checks: shared results never leak mutations, long inputs bypass the memo."""

from __future__ import annotations

import json

from finr1_verl.reward import rule_verdict
from finr1_verl.reward.answer import MEMO_CHARS, answer_span, boxed_values
from finr1_verl.reward.guard import hack_reason
from finr1_verl.reward.match import Verdict
from finr1_verl.reward.score import read_sample


def wrap(answer: str) -> str:
    return f"<think>\nr\n</think>\n<answer>\n{answer}\n</answer>"


def test_boxed_values_returns_a_fresh_list_each_call():
    text = "\\boxed{5} and \\boxed{6}"
    first = boxed_values(text)
    first.append("junk")
    assert boxed_values(text) == ["5", "6"]


def test_read_sample_gives_each_row_its_own_choices():
    extra = {"id": "q1", "answer_type": "choice", "choices": json.dumps({"A": "存货", "B": "厂房"})}
    first = read_sample("finr1/x", ["B"], extra)
    first.choices["C"] = "added"
    assert dict(read_sample("finr1/x", ["B"], extra).choices) == {"A": "存货", "B": "厂房"}


def test_memoised_verdicts_follow_the_choices():
    assert rule_verdict("存货", "A", "choice", {"A": "存货", "B": "厂房"}) is Verdict.EQUAL
    assert rule_verdict("存货", "A", "choice", {"A": "厂房", "B": "存货"}) is Verdict.DIFFERENT
    assert rule_verdict("存货", "A", "choice", {"A": ["unhashable"], "B": "存货"}) is Verdict.DIFFERENT


def test_guard_reasons_agree_with_and_without_the_memo():
    short = wrap("\\boxed{12%} or \\boxed{14%}")
    long = wrap("\\boxed{12%} or \\boxed{14%}" + " " * (MEMO_CHARS + 1))
    for response in (short, long, short):
        span = answer_span(response)
        assert hack_reason(response, span, "14%", answer_type="numeric") == "hedge"
    repeated = wrap("\\boxed{14%}") + "<answer>"
    assert hack_reason(repeated, answer_span(repeated), "14%", answer_type="numeric") == "fake_tags"
