"""Rule verdicts by answer type, on hand-written cases that pin down each rule."""

from __future__ import annotations

import numpy as np
import pytest

from finr1_verl.data.sources.fincuge import FINFE_LABELS
from finr1_verl.data.sources.tfns import TFNS_LABELS
from finr1_verl.reward.answer_type import classify_answer
from finr1_verl.reward.match import Verdict, rule_verdict
from finr1_verl.reward.numbers import parse_number

EQUAL, DIFFERENT, UNDECIDED = Verdict.EQUAL, Verdict.DIFFERENT, Verdict.UNDECIDED


@pytest.mark.parametrize(
    ("candidate", "gold", "expected"),
    [
        # notation
        ("1,234,567", "1234567", EQUAL),
        ("(1,234)", "-1234", EQUAL),
        ("\u22123.2", "-3.2", EQUAL),
        ("$12.50", "12.5", EQUAL),
        ("€ 12.5", "12.5", EQUAL),
        ("12.5元", "12.5", EQUAL),
        ("12.5 USD", "12.5", EQUAL),
        ("1.2e3", "1200", EQUAL),
        ("1.2 \\times 10^{3}", "1200", EQUAL),
        ("3/4", "0.75", EQUAL),
        ("\\frac{3}{4}", "0.75", EQUAL),
        ("\\dfrac{1}{3}", "0.33333", EQUAL),
        ("x = 14.5", "14.5", EQUAL),
        ("approximately 14.5 million shares", "14,500,000", EQUAL),
        # percent
        ("12.5\\%", "12.5%", EQUAL),
        ("12.5 percent", "0.125", EQUAL),
        (
            "14%",
            "0.14464",
            UNDECIDED,
        ),  # a two-digit answer against a gold with only a finer reading: the judge
        ("142.4%", "1.42403", EQUAL),
        ("0.14464", "14%", EQUAL),
        ("14", "14%", EQUAL),
        ("14.46%", "14.464", EQUAL),
        ("0.1446%", "0.14464", UNDECIDED),  # a bare gold under 1 is a fraction: x100 off, the judge's
        ("0.5%", "0.5", UNDECIDED),
        ("14.46429", "0.14464", EQUAL),  # percent points that spell a fraction gold out
        ("14.46", "0.14464", UNDECIDED),  # percent points coarser than the gold: the judge
        ("25", "0.25", UNDECIDED),  # too few digits for a second reading
        ("0.14464", "14.46429", UNDECIDED),  # a fraction for a gold in points: never EQUAL
        ("1446.429", "14.46429", UNDECIDED),  # a gold of 10 or more is not a fraction
        ("36.03356", "36%", EQUAL),  # a bare answer in points against a percent gold, as it rounds
        ("36.9", "36%", DIFFERENT),  # outside the gold's rounding
        ("500", "5", UNDECIDED),  # exactly x100: never EQUAL, not confidently DIFFERENT
        ("0.05", "5", UNDECIDED),
        ("0.06", "5", DIFFERENT),
        ("560", "5", DIFFERENT),
        ("25 bps", "0.25%", EQUAL),
        ("25 basis points", "0.0025", EQUAL),
        ("2.5‰", "0.0025", EQUAL),
        ("千分之2.5", "0.25%", EQUAL),
        ("百分之5", "5%", EQUAL),
        # scale words on either side
        ("$1.5 billion", "1,500 million", EQUAL),
        ("1.5 bn", "1500000000", EQUAL),
        ("1.5k", "1500", EQUAL),
        ("3.2亿元", "320000000", EQUAL),
        ("1.5万亿", "15000亿", EQUAL),
        ("$1.5 billion", "1.5", UNDECIDED),
        ("1.5", "1.5 million", UNDECIDED),
        ("1,500", "1.5 million", UNDECIDED),
        ("$1.5 billion", "2.5", DIFFERENT),
        ("12.5 €", "12.5 元", UNDECIDED),
        # rounding and truncation
        ("60.94", "60.9412", EQUAL),
        ("60.9412", "60.94", EQUAL),
        ("0.3076", "0.30769", EQUAL),
        # near misses (one unit off, within rounding but over the gap cap) are left to the judge
        ("60.95", "60.9412", UNDECIDED),
        ("4", "4.3", UNDECIDED),
        ("60", "60.94", UNDECIDED),
        ("4%", "0.03621", UNDECIDED),
        ("4", "5.2", DIFFERENT),
        ("60.97", "60.9412", UNDECIDED),  # within PLAUSIBLE_BAND: intermediate rounding
        ("62", "60.9412", DIFFERENT),
        # a zero is exact, whatever its exponent, scale word or percent sign
        ("0%", "0.26319", DIFFERENT),
        ("0%", "26.3%", DIFFERENT),
        ("0", "0.0", EQUAL),
        ("0%", "0", EQUAL),
        ("0 billion %", "12.5", UNDECIDED),
        ("0e5%", "123456789", DIFFERENT),
        ("18", "18.0", EQUAL),
        ("0.1", "0.1000001", EQUAL),
        # sign
        ("10%", "-0.09709", UNDECIDED),
        ("-5", "5", UNDECIDED),
        ("-5", "7", DIFFERENT),
        ("-9.71%", "-0.09709", EQUAL),
        ("-9.7%", "-0.09709", UNDECIDED),  # two digits, coarser than the only reading
        ("a decrease of 9.71%", "-0.09709", EQUAL),
        ("下降9.7%", "-9.7%", EQUAL),
        ("negative 5", "-5", EQUAL),
        ("负5", "-5", EQUAL),
        # not one number
        ("5 or 6", "5", UNDECIDED),
        ("not 5", "5", UNDECIDED),
        ("> 5", "5", UNDECIDED),
        ("more than 5", "5", UNDECIDED),
        ("at least 5", "5", UNDECIDED),
        ("不少于5", "5", UNDECIDED),
        ("5%以上", "5%", UNDECIDED),
        # digits and minus signs in other scripts; "rounded down" is not a decrease
        ("\uff15", "5", EQUAL),
        ("\u0665\u0660", "50", EQUAL),
        ("\u20105", "-5", EQUAL),
        ("14.5, rounded down", "14.5", EQUAL),
        # LaTeX inline math; a change measured "year over year" is not a bound
        ("\\(14.5\\%\\)", "0.145", EQUAL),
        ("\\[ 14.5\\% \\]", "0.145", EQUAL),
        ("Revenue increased by 14.5% year over year.", "14.5%", EQUAL),
        ("up 14.5% YoY", "14.5%", EQUAL),
        ("over 14.5%", "14.5%", UNDECIDED),
        ("between 4 and 6", "5", UNDECIDED),
        ("five", "5", DIFFERENT),
        (":", "5", DIFFERENT),
        ("Let's solve this problem step by step.", "5", DIFFERENT),
    ],
)
def test_numeric(candidate, gold, expected):
    assert rule_verdict(candidate, gold, "numeric") is expected


def test_numeric_parse_keeps_written_precision():
    number = parse_number("$(1,234.5) million")
    assert number is not None
    assert number.value == pytest.approx(-1_234_500_000)
    assert number.ulp == pytest.approx(100_000)
    assert (number.scale, number.currency, number.percent) == (1e6, "USD", False)
    percent = parse_number("14.5%")
    assert (
        percent is not None and percent.value == pytest.approx(0.145) and percent.ulp == pytest.approx(0.001)
    )


@pytest.mark.parametrize("text", ["0/0", "0 / 0", "-0/0", "1/0"])
def test_a_division_by_zero_is_no_number(text):
    """Not two notations of zero ("25% / 0.25" is one value, "0/0" none)."""
    assert parse_number(text) is None
    assert rule_verdict(text, "0", "numeric") is not EQUAL


@pytest.mark.parametrize(
    ("candidate", "gold", "expected"),
    [
        ("ABD", "ABD", EQUAL),
        ("A, B, D", "ABD", EQUAL),
        ("D, B, A", "ABD", EQUAL),
        ("(A)(B)(D)", "ABD", EQUAL),
        ("A、B和D", "ABD", EQUAL),
        ("AB", "ABD", DIFFERENT),
        ("ABCD", "ABD", DIFFERENT),
        ("D", "D", EQUAL),
        ("D.", "D", EQUAL),
        ("(D)", "D", EQUAL),
        ("选D", "D", EQUAL),
        ("答案：D", "D", EQUAL),
        ("The answer is D", "D", EQUAL),
        ("Option d", "D", EQUAL),
        ("D. 合伙型股权投资基金", "D", EQUAL),
        ("C", "D", DIFFERENT),
        ("I am not sure", "D", UNDECIDED),
    ],
)
def test_choice(candidate, gold, expected):
    assert rule_verdict(candidate, gold, "choice") is expected


def test_choice_by_option_text_and_unknown_letters():
    options = {"A": "五", "B": "两", "C": "三", "D": "一"}
    assert rule_verdict("两", "B", "choice", options) is EQUAL
    assert rule_verdict("三", "B", "choice", options) is DIFFERENT
    assert rule_verdict("E", "B", "choice", options) is DIFFERENT
    assert rule_verdict("四", "B", "choice", options) is UNDECIDED


@pytest.mark.parametrize(
    ("candidate", "gold", "choices", "expected"),
    [
        ("Bearish", "0", TFNS_LABELS, EQUAL),
        ("negative", "0", TFNS_LABELS, EQUAL),
        ("看跌", "0", TFNS_LABELS, EQUAL),
        ("0", "Bearish", TFNS_LABELS, EQUAL),
        ("Bullish", "0", TFNS_LABELS, DIFFERENT),
        ("2", "0", TFNS_LABELS, DIFFERENT),
        ("Neutral sentiment", "2", TFNS_LABELS, EQUAL),
        ("积极", "2", FINFE_LABELS, EQUAL),
        ("positive", "2", FINFE_LABELS, EQUAL),
        ("2", "积极", FINFE_LABELS, EQUAL),
        ("中性", "1", FINFE_LABELS, EQUAL),
        ("消极", "1", FINFE_LABELS, DIFFERENT),
        ("bearish", "negative", None, EQUAL),
        ("0", "Bearish", None, UNDECIDED),
        ("合规", "合规", None, EQUAL),
        ("不合规", "违规", None, EQUAL),
        ("合规", "违规", None, DIFFERENT),
        ("It is rather mixed", "Bullish", None, UNDECIDED),
    ],
)
def test_label(candidate, gold, choices, expected):
    assert rule_verdict(candidate, gold, "label", choices) is expected


@pytest.mark.parametrize(
    ("candidate", "gold", "expected"),
    [
        ("yes", "是", EQUAL),
        ("Yes.", "yes", EQUAL),
        ("True", "对", EQUAL),
        ("正确", "yes", EQUAL),
        ("否", "no", EQUAL),
        ("错误", "false", EQUAL),
        ("不是", "否", EQUAL),
        ("no", "yes", DIFFERENT),
        ("是", "否", DIFFERENT),
        ("maybe", "yes", UNDECIDED),
    ],
)
def test_boolean(candidate, gold, expected):
    assert rule_verdict(candidate, gold, "boolean") is expected


def test_text_is_exact_after_normalisation_or_undecided():
    assert rule_verdict("  Net Interest  Margin. ", "net interest margin", "text") is EQUAL
    assert rule_verdict("净息差", "净利差", "text") is UNDECIDED


@pytest.mark.parametrize(
    ("gold", "answer_type"),
    [
        ("14%", "numeric"),
        ("-1,234", "numeric"),
        ("$1.5 billion", "numeric"),
        ("ABD", "choice"),
        ("B", "choice"),
        ("yes", "boolean"),
        ("否", "boolean"),
        ("Bearish", "label"),
        ("违规", "label"),
        ("in 2015 , 2014 , and 2013 , shares were issued", "text"),
    ],
)
def test_answer_type_of_a_gold(gold, answer_type):
    assert classify_answer(gold) == answer_type


def test_several_readings_and_numpy_arrays():
    readings = ["14%", "0.14464"]
    assert rule_verdict("14.46%", readings) is EQUAL
    assert rule_verdict("14%", np.array(readings)) is EQUAL
    assert rule_verdict("20%", readings) is DIFFERENT
    assert rule_verdict("\\boxed{0.1446}", ("14%", "0.14464")) is EQUAL
    assert rule_verdict("-9.71%", ["10%", "-0.09709"]) is EQUAL, "executed reading keeps the sign"
    assert rule_verdict("10%", ["10%", "-0.09709"]) is EQUAL, "human reading gives the magnitude"
    assert rule_verdict("1.5", ["1.5 million", "7"]) is UNDECIDED
    assert rule_verdict("0.14464", 0.14464) is EQUAL, "a scalar ground truth is one reading"


def test_missing_candidate_or_gold():
    assert rule_verdict(None, "5") is DIFFERENT
    assert rule_verdict("   ", "5") is DIFFERENT
    assert rule_verdict("5", "") is UNDECIDED
    assert rule_verdict("5", []) is UNDECIDED
    assert rule_verdict("5", ["", None]) is UNDECIDED  # type: ignore[list-item]


def test_an_option_letter_with_another_options_text_is_not_equal():
    options = {"A": "存货", "B": "厂房", "C": "商誉"}
    assert rule_verdict("A. 厂房", "B", "choice", options) is UNDECIDED
    assert rule_verdict("B. 厂房", "B", "choice", options) is EQUAL
    assert rule_verdict("A. 厂房", "A", "choice", options) is not EQUAL
