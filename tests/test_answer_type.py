"""The one answer-type classifier: numeric exactly when the reward's number parser reads the gold."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finr1_verl.data.records import Example
from finr1_verl.data.render import render_question
from finr1_verl.prompts import BOXED_INSTRUCTION_EN
from finr1_verl.reward.answer_type import classify_answer
from finr1_verl.reward.labels import canonical_label
from finr1_verl.reward.numbers import is_plain_number, parse_number
from tests.support.shared_data import shared_path

NUMERIC_FORMS = ["17.7 percent", "1.2 bn", "(1,234)", "−5.3", "12 bps", "¥300", "USD 5 million", "3/4"]


@pytest.mark.parametrize("gold", NUMERIC_FORMS)
def test_financial_number_forms_are_numeric_and_get_the_boxed_instruction(gold):
    assert parse_number(gold) is not None
    assert classify_answer(gold, {}) == "numeric"
    example = Example("finqa", "q", "What was it?", gold, classify_answer(gold, {}))
    assert render_question(example).endswith(BOXED_INSTRUCTION_EN)


@pytest.mark.parametrize(
    ("gold", "choices", "expected"),
    [("yes", {}, "boolean"), ("否", {}, "boolean"), ("ABD", None, "choice"), ("A, C", {"A": "x", "C": "y"}, "choice"),
     ("E", {"A": "x", "B": "y"}, "text"), ("BCD", {}, "text"), ("BCD", None, "choice"), ("Bearish", {}, "label"),
     ("无相应参数", {}, "text"), ("5.30 港元至 5.83 港元", {}, "text"), ("x" * 5000, {}, "text")],
)  # fmt: skip
def test_other_types(gold, choices, expected):
    assert classify_answer(gold, choices) == expected


def shared_golds() -> list[str]:
    finqa = json.loads(shared_path("finqa", "finqa_test_first100.json").read_text(encoding="utf-8"))["data"]
    official = json.loads(
        shared_path("upstream_samples", "finqa_official", "test_subset.json").read_text(encoding="utf-8")
    )
    conv = json.loads(shared_path("convfinqa", "convfinqa_dev_part1.json").read_text(encoding="utf-8"))["dev"]
    event_qa = json.loads(shared_path("fincuge", "finqa", "eval_list.json").read_text(encoding="utf-8"))
    golds = [r["answer"] for r in finqa] + [r["qa"]["answer"] for r in official] + [g for _, g in event_qa]
    golds += [str(a) for c in conv for a in c["dialogue"]["conv_answers"] + c["dialogue"]["executed_answers"]]
    return [g.strip() for g in golds if g.strip()]


def test_numeric_exactly_when_the_reward_reads_a_number_on_real_golds():
    golds = shared_golds()
    assert len(golds) > 3000
    for gold in golds:
        kind = classify_answer(gold, {})
        if kind in ("boolean", "label"):
            assert canonical_label(gold) is not None
            continue
        assert (kind == "numeric") is (parse_number(gold) is not None), gold


@given(st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{1,8})?%?", fullmatch=True))
def test_a_plain_number_is_numeric_without_the_label_fold(gold):
    """classify_answer decides plain numbers first: sound because none is a label or a letter."""
    assert is_plain_number(gold) and canonical_label(gold) is None
    assert classify_answer(gold) == classify_answer(gold, {"A": "x", "B": "y"}) == "numeric"
    assert parse_number(gold) is not None
