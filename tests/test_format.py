"""Fin-R1's strict format check: think block, then answer block, nothing else."""

from __future__ import annotations

import pytest

from finr1_verl.reward.format import check_format

GOOD = "<think>\nrevenue grew from 93 to 103\n</think>\n<answer>\n\\boxed{10.75\\%}\n</answer>"


@pytest.mark.parametrize(
    "response",
    [
        GOOD,
        "<think>r</think><answer>a</answer>",
        "  \n<think>\nr\n</think>\n\n<answer>\na\n</answer>\n  ",
        "<think>line 1\nline 2</think>\t<answer>是</answer>",
    ],
)
def test_well_formed_responses_pass(response):
    assert check_format(response) is True


@pytest.mark.parametrize(
    ("response", "why"),
    [
        ("<answer>a</answer>", "no think block"),
        ("<think>r</think>", "no answer block"),
        ("<think>r</think> so <answer>a</answer>", "text between the blocks"),
        ("Sure! <think>r</think><answer>a</answer>", "text before the think block"),
        ("<think>r</think><answer>a</answer> hope that helps", "text after the answer block"),
        ("<answer>a</answer><think>r</think>", "blocks in the wrong order"),
        ("<think>r</think><answer>a</answer><answer>b</answer>", "two answer blocks"),
        ("<think>r<think>s</think><answer>a</answer>", "nested think tag"),
        ("<think>r</think><answer><answer>a</answer>", "nested answer tag"),
        ("<think>r</think><answer>a", "truncated answer"),
        ("<think>  </think><answer>a</answer>", "empty reasoning"),
        ("<think>r</think><answer>\n </answer>", "empty answer"),
        ("<THINK>r</THINK><ANSWER>a</ANSWER>", "tags are case-sensitive"),
        ("", "empty response"),
    ],
)
def test_malformed_responses_fail(response, why):
    assert check_format(response) is False, why


def test_think_in_prompt_response_starts_inside_the_reasoning():
    assert check_format("revenue grew\n</think>\n<answer>\n5\n</answer>", think_in_prompt=True) is True
    assert check_format(GOOD, think_in_prompt=True) is False, "the prompt already opened <think>"
    assert check_format("</think><answer>5</answer>", think_in_prompt=True) is False, "empty reasoning"
    assert check_format("r</think> x <answer>5</answer>", think_in_prompt=True) is False


def test_non_string_and_huge_input_are_rejected_quickly():
    assert check_format(None) is False  # type: ignore[arg-type]
    assert check_format(b"<think>r</think><answer>a</answer>") is False  # type: ignore[arg-type]
    huge = "<think>" + "x" * 1_000_000 + "</think><answer>5</answer>"
    assert check_format(huge) is True
    assert check_format(huge + "<think>") is False


def test_a_byte_order_mark_before_think_is_not_content():
    assert check_format("\ufeff" + GOOD) is True
    assert check_format("\ufeff x " + GOOD) is False
