"""Bad and adversarial input: no exception, a verdict, and bounded time."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from finr1_verl.reward.answer import answer_span, count_final_answers, extract_answer
from finr1_verl.reward.answer_type import classify_answer
from finr1_verl.reward.format import check_format
from finr1_verl.reward.match import Verdict, rule_verdict
from finr1_verl.reward.numbers import parse_number

REPO_ROOT = Path(__file__).resolve().parents[1]
MEGABYTE = 1_000_000


def bad_inputs() -> dict[str, str | None]:
    """Named inputs that have broken answer scorers: empty, huge, unbalanced, nested, junk, adversarial."""
    junk = random.Random(0)
    return {
        "none": None,
        "empty": "",
        "whitespace": " \n\t ",
        "megabyte_digits": "9" * MEGABYTE,
        "megabyte_text": "the answer is " * (MEGABYTE // 14),
        "megabyte_in_tags": "<think>"
        + "x" * MEGABYTE
        + "</think><answer>"
        + "1," * (MEGABYTE // 2)
        + "</answer>",
        "unbalanced_braces": "<think>r</think><answer>\\boxed{" * 5000 + "{" * 10000,
        "closing_braces": "<think>r</think><answer>" + "}" * 50_000 + "\\boxed{1}</answer>",
        "nested_tags": "<answer><answer><think><answer>5</answer></think></answer>" * 2000,
        "nested_boxes": "<answer>" + "\\boxed{" * 3000 + "7" + "}" * 3000 + "</answer>",
        "power_tower": "<think>r</think><answer>\\boxed{10^{10^{10^{10^{10}}}}}</answer>",
        "huge_exponent": "9" * 200 + "e999",
        "huge_fraction": "\\frac{" + "9" * 120 + "}{0." + "0" * 120 + "1}",
        "zero_denominator": "5/0",
        "thousands_backtracking": "1" + ",111" * 60 + ",11x",
        "many_numbers": " ".join(str(i) for i in range(50_000)),
        "letters_backtracking": "A, " * 20_000 + "?",
        "binary_junk": junk.randbytes(200_000).decode("latin-1"),
        "unicode_junk": "".join(chr(junk.randrange(0x20, 0x3000)) for _ in range(20_000)),
        "nul_bytes": "\x00<answer>\x00\\boxed{\x00}\x00</answer>\x00",
    }


ANSWER_TYPES = (None, "numeric", "choice", "label", "boolean", "text")
GOLDS = ("14%", "0.14464", "ABD", "Bearish", "是", "net interest margin")


def run_battery() -> int:
    """Every public function on every bad input; returns the number of calls made."""
    calls = 0
    for text in bad_inputs().values():
        check_format(text)  # type: ignore[arg-type]
        answer_span(text)  # type: ignore[arg-type]
        count_final_answers(text)  # type: ignore[arg-type]
        extract_answer(text, lenient=True)  # type: ignore[arg-type]
        extracted = extract_answer(text)  # type: ignore[arg-type]
        parse_number(text)  # type: ignore[arg-type]
        if text:
            classify_answer(text[:4096])
        for gold in GOLDS:
            for answer_type in ANSWER_TYPES:
                for candidate in (text, extracted):
                    verdict = rule_verdict(candidate, gold, answer_type)
                    assert verdict in (Verdict.DIFFERENT, Verdict.UNDECIDED), (candidate, gold, verdict)
                    calls += 1
                verdict = rule_verdict("14%", [text] if text else [], answer_type)
                assert isinstance(verdict, Verdict)
    return calls


def test_bad_inputs_give_a_verdict_without_exception():
    assert run_battery() > 0


@pytest.mark.slow
def test_bad_inputs_finish_in_bounded_time_in_a_separate_process():
    """Catastrophic backtracking would take minutes to hours; a generous wall-clock limit catches it."""
    script = "from tests.test_match_bad_input import run_battery; print(run_battery())"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) > 0


@pytest.mark.parametrize("name", ["power_tower", "huge_exponent", "huge_fraction", "zero_denominator"])
def test_number_edge_cases_are_not_numbers_or_finite(name):
    text = bad_inputs()[name]
    assert text is not None
    number = parse_number(extract_answer(text) or text)
    assert number is None or abs(number.value) < float("inf")
