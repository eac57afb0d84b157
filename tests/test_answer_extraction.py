"""Answer extraction: the answer block, boxes within it, and the lenient fallbacks."""

from __future__ import annotations

import pytest

from finr1_verl.reward.answer import (
    MAX_SCAN_CHARS,
    answer_span,
    boxed_values,
    count_final_answers,
    extract_answer,
)


def wrap(answer: str, reasoning: str = "compute the change") -> str:
    return f"<think>\n{reasoning}\n</think>\n<answer>\n{answer}\n</answer>"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("14.5%", "14.5%"),
        ("The change is \\boxed{-4.4\\%}.", "-4.4\\%"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\text{Bearish}}", "Bearish"),
        ("\\boxed{\\textbf{B}}", "B"),
        ("\\fbox{ABD}", "ABD"),
        ("\\boxed {12}", "12"),
        ("\\boxed{\\boxed{5}}", "5"),
        ("\\boxed{{1,234}}", "{1,234}"),
        ("答案是 \\boxed{是}", "是"),
    ],
)
def test_answer_block_and_last_box(answer, expected):
    assert extract_answer(wrap(answer)) == expected


def test_unbalanced_box_falls_back_to_the_span():
    assert extract_answer(wrap("\\boxed{12")) == "\\boxed{12"
    assert extract_answer(wrap("\\boxed{7} and \\boxed{8")) == "7"


def test_answer_inside_reasoning_does_not_count():
    drafted = "<think>maybe <answer>3</answer> no</think>\n<answer>4</answer>"
    assert extract_answer(drafted) == "4"
    assert extract_answer("<think>maybe <answer>3</answer> still thinking") is None, "reasoning never closed"


def test_strict_mode_needs_a_closed_answer_block():
    assert extract_answer("<think>r</think>\nThe answer is 5.") is None
    assert extract_answer(wrap("")) is None
    assert extract_answer(wrap("\\boxed{}")) is None
    assert extract_answer("<think>r</think><answer>5") is None


def test_think_in_prompt():
    assert extract_answer("reasoning</think><answer>\\boxed{7}</answer>", think_in_prompt=True) == "7"
    assert extract_answer("reasoning without an end <answer>7</answer>", think_in_prompt=True) is None


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Profit rose, so the result is \\boxed{12.5}. Done.", "12.5"),
        ("Computing...\nThe answer is 42.", "42"),
        ("Step 1...\nTherefore, the final answer is: $1.5 billion", "$1.5 billion"),
        ("计算过程……\n答案是B。", "B"),
        ("计算过程……\n答案为：0.25", "0.25"),
        ("Some reasoning.\n\n**-3.2%**", "-3.2%"),
        ("<think>draft \\boxed{1}</think>the answer is 2", "2"),
        # a cue whose line ends with a colon introduces a later line
        ('The answer is directly stated in Document 1:\n\n"A quote."\n\n**308,000**', "308,000"),
        ("So the answer is:\n$13,812", "$13,812"),
    ],
)
def test_lenient_mode(response, expected):
    assert extract_answer(response, lenient=True) == expected
    assert extract_answer(response) is None


def test_answer_span_and_hedge_helpers():
    response = wrap("\\boxed{5} or maybe \\boxed{6}")
    assert answer_span(response) == "\n\\boxed{5} or maybe \\boxed{6}\n"
    assert boxed_values(answer_span(response)) == ["5", "6"]
    assert count_final_answers(response) == 2
    assert count_final_answers(wrap("\\boxed{5}, i.e. \\boxed{ 5 }")) == 1
    assert count_final_answers(wrap("5")) == 1
    assert count_final_answers("no answer at all") == 0


def test_only_the_tail_of_an_enormous_response_is_scanned():
    response = wrap("\\boxed{9}", reasoning="x" * 2_000_000)
    assert extract_answer(response) == "9"
    early_answer = "<think>r</think><answer>1</answer>" + "y" * (MAX_SCAN_CHARS + 10)
    assert extract_answer(early_answer) is None


def test_nested_boxes_are_read_to_a_bounded_depth():
    assert extract_answer(wrap("\\boxed{\\boxed{\\boxed{5}}}")) == "5"
    deep = "\\boxed{" * 300 + "5" + "}" * 300
    assert extract_answer(wrap(deep)).startswith("\\boxed{"), "too deep to read: not an answer"
