"""Inputs verl or users pass to the reward: coerced to strings, or a clear error (strict) / a counted 0."""

from __future__ import annotations

import numpy as np
import pytest

from finr1_verl.reward import INPUT_ERRORS, SCORE_KEYS, InputError, compute_score_sync
from finr1_verl.reward.inputs import readings
from finr1_verl.reward.score import read_sample


def response(answer: str) -> str:
    return f"<think>\nr\n</think>\n<answer>\n{answer}\n</answer>"


@pytest.mark.parametrize(
    ("ground_truth", "expected"),
    [
        ("14%", ("14%",)),
        (b"14%", ("14%",)),
        (14, ("14",)),
        (0.14464, ("0.14464",)),
        (np.float64(0.14464), ("0.14464",)),
        (np.int64(7), ("7",)),
        (np.array("14%"), ("14%",)),
        (np.array(0.5), ("0.5",)),
        (np.array(["14%", "0.14464"]), ("14%", "0.14464")),
        (["14%", 0.14464, None, b"0.1446", ""], ("14%", "0.14464", "0.1446")),
        ([["14%"], ("0.14464",)], ("14%", "0.14464")),
        (np.array([b"B"], dtype=object), ("B",)),
        (True, ("yes",)),
        (None, ()),
    ],
)
def test_ground_truth_shapes_become_string_readings(ground_truth, expected):
    assert readings(ground_truth) == expected


@pytest.mark.parametrize("ground_truth", [float("nan"), {"a": 1}, b"\xff\xfe", object(), [[[["deep"]]]]])
def test_unusable_ground_truths_raise_input_errors(ground_truth):
    with pytest.raises(InputError) as info:
        readings(ground_truth)
    assert info.value.field == "ground_truth"


@pytest.mark.parametrize(
    ("ground_truth", "answer"),
    [
        (b"14%", "14%"),
        (np.float64(0.14464), "14.46%"),
        (np.array("14%"), "0.14"),
        (14, "14"),
        (["B", 3], "3"),
    ],
)
def test_scalar_and_bytes_ground_truths_score(ground_truth, answer):
    out = compute_score_sync("finr1/x", response(f"\\boxed{{{answer}}}"), ground_truth, {}, mode="never")
    assert out["score"] == 2.0, (ground_truth, answer)


def test_bytes_ground_truth_is_not_read_byte_by_byte():
    sample = read_sample("finr1/x", b"14%", None)
    assert sample.readings == ("14%",) and sample.answer_type == "numeric"


@pytest.mark.parametrize("name", ["NUMERIC", "Numeric", " numeric ", np.str_("numeric")])
def test_answer_type_is_case_insensitive(name):
    assert read_sample("finr1/x", "14%", {"answer_type": name}).answer_type == "numeric"


def test_unknown_answer_type_is_a_clear_error():
    with pytest.raises(InputError, match=r"id='r1'.*answer_type must be one of"):
        read_sample("finr1/x", "14%", {"id": "r1", "answer_type": "number"})


def test_fields_are_coerced_before_the_judge():
    sample = read_sample(
        "finr1/x",
        "B",
        {"answer_type": "choice", "choices": {"A": 1.5, b"B": b"\xe5\x8e\x82"}, "question": 42},
    )
    assert sample.choices == {"A": "1.5", "B": "厂"} and sample.question == "42"


@pytest.mark.parametrize(
    ("ground_truth", "extra_info", "field"),
    [
        ([], {}, "ground_truth"),
        ({"x": 1}, {}, "ground_truth"),
        ("14%", {"answer_type": "percentage"}, "answer_type"),
        ("B", {"choices": ["A", "B"]}, "choices"),
        ("B", {"choices": "{A:"}, "choices"),
        ("14%", {"question": ["a", "list"]}, "question"),
        ("14%", "not a mapping", "extra_info"),
    ],
)
def test_unusable_rows_raise_when_strict_and_score_a_counted_zero_otherwise(ground_truth, extra_info, field):
    with pytest.raises(ValueError, match=field.replace("_", ".?")):
        compute_score_sync("finr1/x", response("14%"), ground_truth, extra_info, mode="never", strict=True)
    before = INPUT_ERRORS.snapshot()[field]
    out = compute_score_sync(
        "finr1/x", response("14%"), ground_truth, extra_info, mode="never", include_question=True
    )
    assert tuple(out) == SCORE_KEYS
    assert out["score"] == 0.0 and out["input_error"] == 1.0
    assert INPUT_ERRORS.snapshot()[field] == before + 1


def test_non_string_responses():
    out = compute_score_sync("finr1/x", response("14%").encode(), "14%", {}, mode="never")
    assert out["score"] == 2.0
    out = compute_score_sync("finr1/x", 12345, "14%", {}, mode="never")
    assert out["score"] == 0.0 and out["input_error"] == 0.0
    with pytest.raises(InputError, match="response"):
        compute_score_sync("finr1/x", ["a"], "14%", {}, mode="never", strict=True)
