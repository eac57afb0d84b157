"""What real policies write: each class of correct answer the rules once zeroed is a property, the judge
sees only answers of the row's shape, format needs visible reasoning, and the rules carry a version."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from finr1_verl.reward import audit
from finr1_verl.reward.answer_free import DESIGN, FAMILIES, HELD_OUT, answer_free
from finr1_verl.reward.corpus import TARGETS
from finr1_verl.reward.format import STOP_TOKENS, check_format, render_response
from finr1_verl.reward.match import PLAUSIBLE_BAND, Verdict, rule_verdict
from finr1_verl.reward.numbers import parse_number
from finr1_verl.reward.score import ScoreSettings, assess_rules, read_sample
from finr1_verl.reward.shape import judge_shape

EQUAL, DIFFERENT, UNDECIDED = Verdict.EQUAL, Verdict.DIFFERENT, Verdict.UNDECIDED
FRACTIONS = st.integers(1, 99_999).map(lambda n: n / 100_000)
SIGNS = st.sampled_from([1, -1])
ALWAYS = ScoreSettings(
    mode="always", judge=ScoreSettings().judge.__class__(urls=("http://unused",), model="m")
)


def numeric(candidate: str, gold: str) -> Verdict:
    return rule_verdict(candidate, gold, "numeric")


@given(FRACTIONS, SIGNS, st.integers(1, 4), st.sampled_from(["", "%"]), st.booleans())
def test_x100_of_a_fraction_is_never_different(fraction, sign, places, percent, drop_sign):
    gold = f"{sign * fraction:.5f}"
    value = fraction * 100 * (1 if drop_sign else sign)
    assert numeric(f"{value:.{places}f}{percent}", gold) is not DIFFERENT
    assert numeric(gold, f"{value:.{places}f}{percent}") is not DIFFERENT  # and the reverse


@given(st.integers(1_000, 999_999).map(lambda n: n / 100_000), SIGNS, st.integers(2, 5))
def test_percent_points_that_spell_a_fraction_gold_out_are_equal(fraction, sign, places):
    """A bare answer in percent points with 4+ informative digits, no coarser than a fraction gold of 3+
    digits under 10 in magnitude, is EQUAL; a fraction for a gold in points never is."""
    gold = f"{sign * fraction:.5f}"
    points = f"{sign * fraction * 100:.{places}f}"
    gold_digits = len(gold.lstrip("-0.").rstrip("0"))
    points_digits = len(points.lstrip("-0.").replace(".", "").rstrip("0"))
    if places >= 3 and gold_digits >= 3 and points_digits >= 4:
        assert numeric(points, gold) is EQUAL, (points, gold)
    assert numeric(gold, points) is not EQUAL
    assert numeric(points, gold) is not DIFFERENT
    # a bare answer in points against a percent gold
    assert numeric(f"{float(points):.6g}", f"{float(points):.2f}%") is EQUAL


@given(st.integers(10_000, 10_000_000), st.sampled_from([1e3, 1e6]), st.booleans())
def test_one_scale_step_is_never_different(units, step, up):
    gold = units / 100
    candidate = gold * step if up else gold / step
    assert numeric(f"{candidate:.6f}", f"{gold:.2f}") is not DIFFERENT


@given(st.integers(1_000, 9_999_999), st.floats(-PLAUSIBLE_BAND * 0.99, PLAUSIBLE_BAND * 0.99))
def test_intermediate_rounding_within_the_band_is_never_different(units, relative):
    gold = units / 10_000
    assert numeric(f"{gold * (1 + relative):.6g}", f"{gold:.4f}") is not DIFFERENT


@given(st.integers(100_000, 99_999_999), st.integers(2, 4))
def test_integer_trailing_zeros_carry_no_precision(value, zeros):
    gold = value + 0.3
    rounded = round(value, -zeros)
    if rounded:
        assert numeric(f"{rounded:,}", f"{gold}") is not DIFFERENT
        assert parse_number(f"{rounded:,}").integer and not parse_number(f"{rounded:,}.00").integer
    assert numeric("711,000", "710526.3") is UNDECIDED
    assert numeric("700,000", "710526.3") is UNDECIDED and numeric("700,000.0", "710526.3") is DIFFERENT


@given(st.integers(1, 9999))
def test_one_value_in_two_notations_is_one_value(basis):
    fraction = basis / 10_000
    percent = f"{basis / 100:g}%"
    for answer in (f"{percent} ({fraction:g})", f"{fraction:g} or approximately {percent}"):
        assert numeric(answer, f"{fraction:g}") is EQUAL, answer
    out = assess_rules(
        render_response("r", f"\\boxed{{{percent}}} = \\boxed{{{fraction:g}}}"),
        read_sample("x", f"{fraction:g}", {"answer_type": "numeric"}),
        ScoreSettings(mode="never"),
    )
    assert out.guard is None and out.result.acc == 1.0


@given(st.integers(1, 999), st.sampled_from(["price-to-sales", "debt-to-equity", "year-over-year"]))
def test_a_hyphen_inside_words_is_not_a_minus(tenths, words):
    assert numeric(f"The {words} ratio is {tenths / 10:g}", f"{tenths / 10:g}") is EQUAL


@given(st.sampled_from(STOP_TOKENS), st.booleans())
def test_a_trailing_stop_token_is_decoder_residue(token, inside):
    answer = f"1.25{token}" if inside else "1.25"
    text = render_response("the ratio is 1.25", answer) + ("" if inside else token)
    out = assess_rules(
        text, read_sample("x", "1.25", {"answer_type": "numeric"}), ScoreSettings(mode="never")
    )
    assert out.guard is None and out.result.format == 1.0 and out.result.acc == 1.0


@given(st.integers(0, 99), st.integers(1, 15), st.integers(2, 16))
def test_mixed_numbers(whole, numerator, denominator):
    gold = f"{whole + numerator / denominator:.6f}"
    assert numeric(f"{whole}\\frac{{{numerator}}}{{{denominator}}}", gold) is EQUAL
    assert numeric(f"{whole} {numerator}/{denominator}", gold) is EQUAL


@given(st.integers(1_000, 999_999_999), st.integers(0, 9))
def test_spaced_thousands(value, tenth):
    spaced = f"{value:,}".replace(",", " ")
    assert numeric(f"{spaced}.{tenth}", f"{value}.{tenth}") is EQUAL


def test_zero_words_for_a_zero_gold():
    for word in ("zero", "nil", "零", "Zero"):
        assert numeric(word, "0") is EQUAL, word
        assert numeric(word, "5") is DIFFERENT, word


def test_a_short_coarse_answer_is_the_judges_unless_the_gold_holds_it():
    assert rule_verdict("14%", "0.14464", "numeric") is UNDECIDED
    assert rule_verdict("14%", ["14%", "0.14464"], "numeric") is EQUAL
    assert rule_verdict("14.5%", "0.14464", "numeric") is EQUAL
    assert rule_verdict("11", "11.2", "numeric") is UNDECIDED


_SCALE_NOTES = {
    "thousand": ["(in thousands)", "(thousands)"],
    "million": ["(millions)", "(RMB' Million)", "(€m)"],
}


@given(st.integers(100, 999_999), st.sampled_from(sorted(_SCALE_NOTES)), st.data())
def test_a_sentence_marking_one_value_is_that_value(value, scale, data):
    note = data.draw(st.sampled_from(_SCALE_NOTES[scale]))
    gold = f"{value:,} {scale}"
    sentence = f"The level 1 FVPL as at 31 December 2019 is **{value:,}** {note}."
    assert numeric(sentence, gold) is EQUAL
    assert numeric(sentence.replace(f"**{value:,}**", f"**{3 * value + 1:,}**"), gold) is DIFFERENT
    lost_opening = f"Numerical answer (from program execution): {value}** (document units: ${value} {scale})"
    assert numeric(lost_opening, f"{value}") is EQUAL
    assert numeric(f"Total segments below $100 million in 2018: **{value}", f"{value}") is EQUAL
    assert judge_shape(f"The balance in 2019 is **{value}** (in thousands).", "numeric", [f"{value / 7:.4f}"])


_DATES = [
    "December 31, {year}",
    "Dec. 31, {year}",
    "31 December {year}",
    "{year}-12-31",
    "12/31/{year}",
    "Q3 {year}",
    "fiscal {year}",
]


# A bare 1900-2099 in a sentence reads as a year, so the stated values stay outside that range.
@given(
    st.integers(100, 999_999).filter(lambda v: not 1900 <= v <= 2099),
    st.integers(1990, 2030),
    st.sampled_from(_DATES),
)
def test_a_sentence_states_one_quantity_besides_its_dates(value, year, date):
    when = date.format(year=year)
    gold = f"${value / 10:,.1f} million"
    assert numeric(f"The total liabilities as of {when} were ${value / 10:,.1f} million.", gold) is EQUAL
    assert numeric(f"In both {year - 1} and {when}, there were {value} categories.", str(value)) is EQUAL
    assert numeric(f"As of {when}, the balance was {value}.5 or {value}.", str(value)) is not EQUAL
    assert numeric(f"{year}年12月31日的余额为{value}亿元", f"{value}亿元") is EQUAL


_SUBJECTS = [
    "The FY{year} capital expenditure for 3M",
    "Net revenue of Form 10-K segment 2",
    "The quick ratio in Q4 {year}",
]
_COPULAS = ["was", "is", "totaled", "amounted to", ":"]


@given(
    st.integers(100, 999_999), st.integers(1990, 2030), st.sampled_from(_SUBJECTS), st.sampled_from(_COPULAS)
)
def test_a_sentence_states_the_quantity_after_its_one_copula(value, year, subject, copula):
    """The subject may hold names with digits (3M, 10-K); what the sentence states is the one number after
    its copula, and only when that is all it states."""
    head = subject.format(year=year)
    amount = f"${value / 100:,.2f} million"
    assert numeric(f"{head} {copula} {amount}.", amount) is EQUAL
    assert numeric(f"{head} {copula} ${3 * value / 100 + 7:,.2f} million.", amount) is DIFFERENT
    assert numeric(f"{head} {copula} {amount} and the cost was $1.5 million.", amount) is not EQUAL
    assert numeric(f"{head} {copula} not {amount}.", amount) is not EQUAL
    # a subject that names an amount of its own
    assert numeric(f"{head} at $2.5 million {copula} {amount}.", amount) is not EQUAL
    # for a year gold, a year after the copula
    assert numeric(f"The year with the highest revenue {copula} {year}.", str(year)) is EQUAL
    assert numeric(f"The year with the highest revenue {copula} {year}.", str(year + 1)) is DIFFERENT


@given(st.integers(1990, 2030), st.integers(1, 500))
def test_a_year_answer_opening_a_sentence(year, amount):
    sentence = f"{year}, with costs of ${amount} million versus ${amount + 3} million in {year - 1}."
    assert numeric(sentence, str(year)) is EQUAL
    assert numeric(sentence, str(year + 1)) is DIFFERENT
    assert numeric(str(year), str(year + 1)) is DIFFERENT  # two years: no rounding band between them
    # the marked figure of the year asked for is the judge's question, not a DIFFERENT
    assert numeric(f"Sales | {year}: 914 | Fiscal {year - 1}: **{amount}**", str(year - 1)) is UNDECIDED


# --- the judge sees only answers of the row's shape -----------------------------------------------
def _rows():
    rows = {kind: read_sample("x", gold, info) for kind, (gold, info) in TARGETS.items()}
    rows["text"] = read_sample("x", "The company expanded its retail network", {"answer_type": "text"})
    return rows


def _reached(families: tuple[str, ...]) -> dict[str, float]:
    shares = {}
    for kind, sample in _rows().items():
        reached = total = 0
        for _family, answer in answer_free(families):
            if audit._names_an_answer(answer, sample):
                continue
            total += 1
            reached += assess_rules(render_response("I computed it.", answer), sample, ALWAYS).needs_judge
        shares[kind] = reached / total
    return shares


def test_answer_free_strings_never_reach_the_judge_on_closed_or_numeric_rows():
    assert set(DESIGN) | set(HELD_OUT) == set(FAMILIES) and not set(DESIGN) & set(HELD_OUT)
    for families in (DESIGN, HELD_OUT):
        shares = _reached(families)
        print(families, shares)
        assert all(shares[kind] == 0 for kind in ("numeric", "choice", "label", "boolean")), shares
        assert shares["text"] <= 0.30, shares


def test_answers_of_the_right_shape_do_reach_the_judge():
    options = {"A": "存货", "B": "厂房", "C": "商誉"}
    assert judge_shape("C", "choice", ["B"], options) and judge_shape("商誉", "choice", ["B"], options)
    assert not judge_shape("A–C", "choice", ["B"], options) and not judge_shape(
        "以上都是", "choice", ["B"], options
    )
    assert judge_shape("neutral", "label", ["positive"]) and not judge_shape(
        "neutral to positive", "label", ["positive"]
    )
    assert judge_shape("approximately $1.5 million", "numeric", ["1.4 million"])
    assert judge_shape("150,000 square feet", "numeric", ["150,000"])
    assert judge_shape("约为3.2亿元", "numeric", ["3.2亿"])
    assert not judge_shape("Step 1 of 3:", "numeric", ["5"]) and not judge_shape(
        "As computed in step 3.", "numeric", ["5"]
    )


def test_always_mode_keeps_off_shape_answers_from_the_judge():
    sample = _rows()["label"]
    out = assess_rules(render_response("r", "mixed"), sample, ALWAYS)
    assert out.guard == "off_shape" and not out.needs_judge and out.result.hacked == 1.0
    assert assess_rules(render_response("r", "Neutral"), sample, ALWAYS).needs_judge


# --- format and version -----------------------------------------------------------------------------
INVISIBLE = st.text(
    st.sampled_from(" \n\t\u200b\u200d\u2060\ufeff\u3164\u115f\u1160\uffa0\u2800.。,…!?-*"), min_size=1
)


@settings(max_examples=200)
@given(INVISIBLE)
def test_reasoning_without_letters_or_digits_fails_the_format(reasoning):
    assert not check_format(f"<think>{reasoning}</think>\n<answer>5</answer>")
    assert check_format(f"<think>{reasoning}x{reasoning}</think>\n<answer>5</answer>")


def test_a_closed_row_exposed_to_the_judge_fails_the_audit(monkeypatch):
    monkeypatch.setattr("finr1_verl.reward.score.judge_shape", lambda *args: True)
    rows = list(_rows().values())
    check = audit.check_exposure(audit.judge_exposure(rows, random.Random(0)))
    assert check.failed > 0 and not check.passed
