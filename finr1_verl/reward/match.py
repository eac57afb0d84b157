"""Rule-based answer equivalence: EQUAL, DIFFERENT or UNDECIDED, by answer type.

:func:`rule_verdict` compares a candidate answer with the ground truth - one string or several
acceptable readings (FinQA/ConvFinQA rows carry the human answer and the executed value): EQUAL
when any reading is EQUAL, DIFFERENT only when every reading is DIFFERENT, UNDECIDED otherwise.
A missing or empty candidate is DIFFERENT; an empty ground truth is UNDECIDED.

Numbers (``numeric``) are compared after reading percent signs, scale words and currency
(:mod:`finr1_verl.reward.numbers`) under one tolerance policy (:func:`compare_values`), built so
that no fixed answer can match unrelated golds:

* a zero is exact: "0", "0%", "0e9" or "0 billion" equal only zero;
* otherwise EQUAL within :data:`RELATIVE_TOLERANCE` of the smaller magnitude (float noise in executed
  values), or within half a unit of the last digit of the less precisely written side ("60.94" vs
  "60.9412", "14%" vs "0.14464"), or as its truncation when that side has at least
  :data:`MIN_SECOND_WINDOW_DIGITS` significant digits (ConvFinQA writes "0.3076" for 0.30769);
* a rounding gap is never wider than a fraction of the coarse side's own value:
  :data:`MAX_ROUNDING_GAP`, or :data:`MAX_PERCENT_ROUNDING_GAP` for a percentage (whole percents are
  the customary way to state a rate, so a gold "4%" is 0.03621); a candidate written more coarsely
  than the gold keeps a rounding tolerance only with :data:`MIN_COARSE_CANDIDATE_DIGITS` significant
  digits, trailing zeros not counted ("10" or "1.0" are one digit);
* a candidate written more coarsely than the gold is EQUAL by rounding only with
  :data:`MIN_COARSE_CANDIDATE_DIGITS` (3) informative digits: a two-digit answer ("11", "11%") keeps a
  window wide enough to hit unrelated golds, so against a gold that has only a finer reading it is a
  judge question (a gold that itself holds the coarse reading, FinQA's human "14%", still matches);
  a second window - a truncation on either side ("6.88" and 6.88702), a coarse candidate's rounding
  in the percent-number reading ("1.11%" for 1.11111) - needs :data:`MIN_SECOND_WINDOW_DIGITS` (4),
  so that one three-digit answer ("108%") cannot cover golds on both sides of its value in two
  readings (these pairs go to the judge);
* near misses are UNDECIDED, never EQUAL, so the judge decides them: a gap within one unit of the
  coarse side's last digit that the rules above do not accept, and the same magnitude with the
  opposite sign (ConvFinQA sometimes answers "decrease" questions with the magnitude);
* DIFFERENT means confidently different (:func:`_plausible`): a value that is the gold (or its
  magnitude) within rounding after an exact x100 (a percent written as a fraction or the reverse, with
  or without the sign), after one scale step (x10^3, x10^4, x10^6, x10^8, x10^9, x10^12: an answer in
  thousands for a question asked in thousands), within :data:`PLAUSIBLE_BAND` relative (intermediate
  rounding a little wider than the written precision: "0.769" for 0.77008), or within half of the last
  non-zero digit of an integer whose trailing zeros carry no precision ("711,000" for 710526.3) is
  UNDECIDED, never DIFFERENT.

A percent sign justifies exactly one rescale: "14%" reads as 0.14 and, against a side written
without a percent sign, also as the percent number 14 (under the same caps; near misses count in
the written reading only) - except against a bare gold under 1, which reads as a fraction ("0.1446%"
for 0.14464 is a factor of 100 off, the judge's).  A bare number reads as percent points in two cases only: against a
percent gold ("36.03356" for "36%"), and against a fraction gold that it spells out
(:func:`_percent_points`: "14.46429" for 0.14464 - at least :data:`MIN_SECOND_WINDOW_DIGITS`
informative digits, no coarser than the gold, a gold under :data:`MAX_POINTS_FRACTION` with three
digits or more); a fraction answer for a gold in points ("0.33333" for 33.33333) is never EQUAL.  A number that matches only after
dropping a scale word on one side ("1.5" vs "$1.5 billion"), or that matches in different
currencies, is UNDECIDED: the units cannot be reconciled by rules.  Bounds ("more than 5", "5%以上")
are not numbers.

Choices compare as sets of option letters; labels and yes/no answers by their canonical class
(:mod:`finr1_verl.reward.labels`); text answers are EQUAL on a normalised exact match and otherwise
UNDECIDED.  Everything here is pure, deterministic and bounded in time.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence

from finr1_verl.reward.answer import MEMO_CHARS, last_boxed
from finr1_verl.reward.answer_type import MAX_GOLD_CHARS, classify_answer
from finr1_verl.reward.labels import canonical_label, choice_letters, normalize_text
from finr1_verl.reward.numbers import Number, copula_value, parse_number, stated_span, without_dates

# The version of the reward's rules (format, extraction, guard, judge shapes, verdicts); recorded in the
# reward's settings, the audit's report and every evaluation protocol, so scores from different rule sets
# are told apart.  Bump it with any change that moves a verdict.
RULES_VERSION = "finr1-rules-v4"
RELATIVE_TOLERANCE = 1e-4
MAX_ROUNDING_GAP = 0.05
# Whole percents are the customary way to state a rate: a percent may round over a wider gap (4% covers 0.035).
MAX_PERCENT_ROUNDING_GAP = 0.125
# A candidate rounded more coarsely than the gold must keep this many significant digits, trailing zeros not
# counted ("7" or "10" for 7.2 or 9.6 is a near miss).
MIN_COARSE_CANDIDATE_DIGITS = 3
# Beyond the written precision, a relative gap this small is still a plausible intermediate rounding:
# UNDECIDED (the judge), never DIFFERENT.  On the tuning part of the real-output corpus the correct
# answers the rules called DIFFERENT for rounding were 0.04%-0.6% away from the gold; wrong answers
# within 1% cost a judge call, never a reward.
PLAUSIBLE_BAND = 0.01
# A second window - a truncation of either side, a coarse candidate's rounding in a second reading (the
# percent number of "14%", the percent points of a bare answer) - needs this many digits: with three, one
# fixed answer ("108%") covers golds on both sides of its value in two readings (8 of the 1,104 distinct
# numeric golds of the real data sets in the audit's short-answer sweep, where the limit is 0.5%).
MIN_SECOND_WINDOW_DIGITS = 4
# A bare answer reads as the percent points of a fraction gold only under this magnitude (a rate under 1000%).
MAX_POINTS_FRACTION = 10.0
# Longer answers are not a final answer; rules leave them to the judge and the reward's guards.
MAX_ANSWER_CHARS = MAX_GOLD_CHARS
_SCALE_STEPS = (1e3, 1e4, 1e6, 1e8, 1e9, 1e12)
_HAS_NUMERAL = re.compile(r"[0-9０-９零一二三四五六七八九十百千万亿]")


class Verdict(enum.Enum):
    """What the rules can say about a candidate answer."""

    EQUAL = "equal"
    DIFFERENT = "different"
    UNDECIDED = "undecided"


def rule_verdict(
    candidate: str | None,
    ground_truth: str | Sequence[str],
    answer_type: str | None = None,
    choices: Mapping[str, str] | None = None,
) -> Verdict:
    """EQUAL / DIFFERENT / UNDECIDED for ``candidate`` against the ground truth (see the module docstring)."""
    readings = _readings(ground_truth)
    if not readings:
        return Verdict.UNDECIDED
    if not isinstance(candidate, str) or not candidate.strip():
        return Verdict.DIFFERENT
    if len(candidate) > MAX_ANSWER_CHARS:
        return Verdict.UNDECIDED
    options = _options_key(choices)
    if len(candidate) > MEMO_CHARS or options is _UNHASHABLE:
        return _readings_verdict(candidate, tuple(readings), answer_type, choices)
    return _memo_verdict(candidate, tuple(readings), answer_type, options)


_UNHASHABLE = object()


def _options_key(choices: Mapping[str, str] | None) -> tuple | None | object:
    """``choices`` as a hashable memo key: its items, None when empty, _UNHASHABLE when it has no key."""
    if not choices:
        return None
    if not isinstance(choices, Mapping):
        return _UNHASHABLE
    options = tuple(choices.items())
    try:
        hash(options)
    except TypeError:
        return _UNHASHABLE
    return options


def _readings_verdict(
    candidate: str, readings: tuple[str, ...], answer_type: str | None, choices: Mapping[str, str] | None
) -> Verdict:
    """:func:`rule_verdict` for a non-empty candidate and non-empty readings."""
    boxed = last_boxed(candidate)
    if boxed is not None:
        candidate = boxed
    verdicts = [
        _verdict(candidate, gold, answer_type or classify_answer(gold), choices)
        if len(gold) <= MAX_ANSWER_CHARS
        else Verdict.UNDECIDED
        for gold in readings
    ]
    if Verdict.EQUAL in verdicts:
        return Verdict.EQUAL
    if all(verdict is Verdict.DIFFERENT for verdict in verdicts):
        return Verdict.DIFFERENT
    return Verdict.UNDECIDED


@functools.lru_cache(maxsize=16_384)
def _memo_verdict(
    candidate: str, readings: tuple[str, ...], answer_type: str | None, options: tuple | None
) -> Verdict:
    """:func:`_readings_verdict`, memoised: a GRPO group scores many responses with the same final
    answer against one ground truth."""
    return _readings_verdict(candidate, readings, answer_type, dict(options) if options else None)


def clear_verdict_cache() -> None:
    """Forget memoised verdicts (to measure cold costs)."""
    _memo_verdict.cache_clear()


def _readings(ground_truth: str | Iterable[str] | None) -> list[str]:
    """Non-empty ground-truth readings from a string, a list/tuple or a numpy array of strings."""
    if ground_truth is None:
        return []
    scalar = isinstance(ground_truth, (str, bytes, int, float)) or not hasattr(ground_truth, "__iter__")
    items = [ground_truth] if scalar else list(ground_truth)
    readings = []
    for item in items:
        if item is None:
            continue
        text = (item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)).strip()
        if text:
            readings.append(text)
    return readings


def _verdict(candidate: str, gold: str, answer_type: str, choices: Mapping[str, str] | None) -> Verdict:
    if answer_type == "numeric":
        return _numeric_verdict(candidate, gold)
    if answer_type == "choice":
        return _choice_verdict(candidate, gold, choices)
    if answer_type in ("label", "boolean"):
        return _label_verdict(candidate, gold, choices)
    return _text_verdict(candidate, gold)


def _text_verdict(candidate: str, gold: str) -> Verdict:
    return Verdict.EQUAL if normalize_text(candidate) == normalize_text(gold) else Verdict.UNDECIDED


def _label_verdict(candidate: str, gold: str, choices: Mapping[str, str] | None) -> Verdict:
    gold_label = canonical_label(gold, choices)
    if gold_label is None:
        return _text_verdict(candidate, gold)
    candidate_label = canonical_label(candidate, choices)
    if candidate_label is None:
        return Verdict.UNDECIDED
    return Verdict.EQUAL if candidate_label == gold_label else Verdict.DIFFERENT


def _choice_verdict(candidate: str, gold: str, choices: Mapping[str, str] | None) -> Verdict:
    gold_letters = choice_letters(gold)
    if gold_letters is None:
        return _text_verdict(candidate, gold)
    candidate_letters = choice_letters(candidate, choices)
    if candidate_letters is None:
        return Verdict.UNDECIDED
    if choices and not candidate_letters <= {str(key).upper() for key in choices}:
        return Verdict.DIFFERENT
    return Verdict.EQUAL if candidate_letters == gold_letters else Verdict.DIFFERENT


def _numeric_verdict(candidate: str, gold: str) -> Verdict:
    gold_number = parse_number(gold)
    if gold_number is None:
        return _text_verdict(candidate, gold)
    candidate_number = parse_number(candidate)
    if candidate_number is not None:
        return compare_numbers(candidate_number, gold_number)
    year_gold = _is_year(gold_number)
    # A sentence's dates are not its answer, unless the gold is a year.
    sentence = candidate if year_gold else without_dates(candidate)
    if year_gold:
        # "2019, with costs of $27 million versus $14 million in 2018.": the year the sentence opens with.
        lead = _LEADING_YEAR.match(candidate)
        candidate_number = parse_number(lead.group(1)) if lead else None
    else:
        # A sentence that states one quantity besides its dates ("The total sales in 2019 is $1,496.5 million.",
        # "… at December 31, 2019 was $1.2 billion.")
        candidate_number = parse_number(sentence)
    if candidate_number is not None:
        return compare_numbers(candidate_number, gold_number)
    # A table row or sentence that marks one value ("The level 1 FVPL is **14,766** (RMB' Million)."),
    # or that states one number after its one copula ("The FY2018 capex for 3M was $1,577 million."):
    # that value is its answer. For a year gold the marked value is the figure of the year asked
    # for ("Fiscal 2018: **918** | Fiscal 2017: 814"): a question for the judge.
    stated = stated_span(candidate)
    stated_number = parse_number(stated) if stated is not None else None
    if stated_number is not None:
        verdict = compare_numbers(stated_number, gold_number)
        return Verdict.UNDECIDED if year_gold and verdict is Verdict.DIFFERENT else verdict
    # For a year gold only a year after the copula answers ("The year with the highest revenue was 2019.").
    copula = copula_value(sentence)
    copula_number = parse_number(copula) if copula is not None else None
    if copula_number is not None and (_is_year(copula_number) or not year_gold):
        return compare_numbers(copula_number, gold_number)
    return Verdict.UNDECIDED if _HAS_NUMERAL.search(candidate) else Verdict.DIFFERENT


_LEADING_YEAR = re.compile(r"\s*(?:in\s+)?((?:19|20)\d\d)\s*(?:,|\.|;|$)", re.IGNORECASE)


def _is_year(number: Number) -> bool:
    return number.integer and 1900 <= number.value <= 2099


def _is_plain_year(number: Number) -> bool:
    return _is_year(number) and number.scale == 1 and not number.percent and number.currency is None


def compare_numbers(candidate: Number, gold: Number) -> Verdict:
    """The numeric verdict for two parsed numbers (see the module docstring)."""
    if _is_plain_year(candidate) and _is_plain_year(gold):
        # Two years are never a rounding of each other, though they are within PLAUSIBLE_BAND.
        return Verdict.EQUAL if candidate.value == gold.value else Verdict.DIFFERENT
    written = compare_values(
        candidate.value,
        candidate.ulp,
        gold.value,
        gold.ulp,
        _rounding_cap(candidate, MIN_COARSE_CANDIDATE_DIGITS),
        _rounding_cap(gold, 0),
    )
    verdict = written
    if written is not Verdict.EQUAL:
        points = _percent_points(candidate, gold)
        # A bare gold under 1 reads as a fraction: "0.1446%" for 0.14464 is a factor of 100 off, the judge's.
        bare_fraction = not gold.percent and abs(gold.value) < 1
        cross = candidate.percent != gold.percent and not (candidate.percent and bare_fraction)
        if cross or points:
            # The percent-number reading ("14%" as 14, a bare answer as percent points) is a second
            # reading: there either side rounds only with MIN_SECOND_WINDOW_DIGITS digits ("2.05%" is not
            # EQUAL to a bare gold "2" or "2.1", "108.5%" not to "108"), unless the bare candidate spells
            # the gold out in percent points (_percent_points): then the gold rounds as it is written.
            caps = (
                _rounding_cap(candidate, MIN_SECOND_WINDOW_DIGITS),
                _rounding_cap(gold, 0 if points else MIN_SECOND_WINDOW_DIGITS),
            )
            if candidate.percent:
                verdict = compare_values(
                    candidate.value * 100, candidate.ulp * 100, gold.value, gold.ulp, *caps
                )
            else:
                verdict = compare_values(
                    candidate.value, candidate.ulp, gold.value * 100, gold.ulp * 100, *caps
                )
    if verdict is Verdict.EQUAL:
        if candidate.currency and gold.currency and candidate.currency != gold.currency:
            return Verdict.UNDECIDED
        return Verdict.EQUAL
    if written is Verdict.UNDECIDED:  # near misses count in the written reading only
        return Verdict.UNDECIDED
    return Verdict.UNDECIDED if _plausible(candidate, gold) else Verdict.DIFFERENT


_RESCALES = (100.0, *_SCALE_STEPS)


def _percent_points(candidate: Number, gold: Number) -> bool:
    """A bare candidate that spells a percent or fraction gold out in percent points ("14.46429" for 0.14464
    or for "14.5%"): no scale or currency on either side; a gold under :data:`MAX_POINTS_FRACTION` in
    magnitude, with a percent sign or :data:`MIN_COARSE_CANDIDATE_DIGITS` informative digits ("1" or "0.25"
    are not read as fractions); a candidate with at least :data:`MIN_SECOND_WINDOW_DIGITS` informative
    digits written no coarser than the gold in points (so no short answer gains a second window)."""
    return (
        not candidate.percent
        and candidate.scale == gold.scale == 1
        and candidate.currency is None
        and gold.currency is None
        and 0 < abs(gold.value) < MAX_POINTS_FRACTION
        and (gold.percent or _informative_digits(gold.value, gold.ulp) >= MIN_COARSE_CANDIDATE_DIGITS)
        and candidate.ulp <= gold.ulp * 100 * (1 + 1e-9)
        and _informative_digits(candidate.value, candidate.ulp) >= MIN_SECOND_WINDOW_DIGITS
    )


def _plausible(candidate: Number, gold: Number) -> bool:
    """A reading a careful grader could accept: x100 or one scale step, a small band, integer zeros."""
    c, g = abs(candidate.value), abs(gold.value)
    if c == 0 or g == 0:
        return False
    if abs(c - g) <= PLAUSIBLE_BAND * max(c, g):
        return True
    c_ulp, g_ulp = _integer_ulp(candidate), _integer_ulp(gold)
    if abs(c - g) <= max(c_ulp, g_ulp) / 2 * (1 + 1e-9):
        return True
    # Per step: within PLAUSIBLE_BAND, or within half a unit of the coarser side's last digit after the
    # rescale (the checks above, with one side multiplied by the step); the hot loop of a DIFFERENT verdict.
    band_c, band_g, half = PLAUSIBLE_BAND * c, PLAUSIBLE_BAND * g, (1 + 1e-9) / 2
    for step in _RESCALES:
        up = c_ulp * step
        if abs(c * step - g) <= (band_g if band_g > (t := (up if up > g_ulp else g_ulp) * half) else t):
            return True
        down = g_ulp * step
        if abs(c - g * step) <= (band_c if band_c > (t := (down if down > c_ulp else c_ulp) * half) else t):
            return True
    return False


def _integer_ulp(number: Number) -> float:
    """One unit of the last non-zero digit of an integer ("711,000": 1,000); the written ulp otherwise."""
    if not number.integer or number.ulp <= 0 or number.value == 0:
        return number.ulp
    units = round(abs(number.value) / number.ulp)
    ulp = number.ulp
    while units and units % 10 == 0:
        units //= 10
        ulp *= 10
    return ulp


def compare_values(
    a: float,
    a_ulp: float,
    b: float,
    b_ulp: float,
    a_cap: float = MAX_ROUNDING_GAP,
    b_cap: float = MAX_ROUNDING_GAP,
) -> Verdict:
    """EQUAL / UNDECIDED (a near miss) / DIFFERENT for two written values and their last-digit units.

    The tolerance policy of the module docstring: a zero is exact; a rounding or truncation gap is
    accepted only up to :data:`MAX_ROUNDING_GAP` of the coarser side's own value, a truncation only from
    :data:`MIN_SECOND_WINDOW_DIGITS` significant digits; a gap within one unit
    of the coarser side's last digit that is not accepted, or the same magnitude with the opposite
    sign, is a near miss left to the judge.
    """
    if a == b:
        return Verdict.EQUAL
    if a * b < 0:
        magnitudes = compare_values(abs(a), a_ulp, abs(b), b_ulp, a_cap, b_cap)
        return Verdict.DIFFERENT if magnitudes is Verdict.DIFFERENT else Verdict.UNDECIDED
    gap = abs(a - b)
    if gap <= RELATIVE_TOLERANCE * min(abs(a), abs(b)):
        return Verdict.EQUAL
    if a_ulp >= b_ulp:
        coarse, ulp, fine, cap = a, a_ulp, b, a_cap
    else:
        coarse, ulp, fine, cap = b, b_ulp, a, b_cap
    fine_ulp = min(a_ulp, b_ulp)
    if gap <= cap * abs(coarse):
        if gap <= ulp / 2 * (1 + 1e-9):
            return Verdict.EQUAL
        truncated = fine_ulp < ulp and 0 <= abs(fine) - abs(coarse) < ulp
        if truncated and _significant_digits(coarse, ulp) >= MIN_SECOND_WINDOW_DIGITS:
            return Verdict.EQUAL
    return Verdict.UNDECIDED if gap <= ulp * (1 + 1e-9) else Verdict.DIFFERENT


def _rounding_cap(number: Number, min_digits: int) -> float:
    """The largest gap, as a fraction of its own value, that ``number``'s rounding may cover."""
    if min_digits and _informative_digits(number.value, number.ulp) < min_digits:
        return 0.0
    return MAX_PERCENT_ROUNDING_GAP if number.percent else MAX_ROUNDING_GAP


def _informative_digits(value: float, ulp: float) -> int:
    """Significant digits without trailing zeros ("10", "1.0" and "1e3" have one)."""
    if ulp <= 0 or not math.isfinite(value / ulp):
        return 99
    units = round(abs(value) / ulp)
    if units == 0:
        return 0
    while units % 10 == 0:
        units //= 10
    return len(str(units))


def _significant_digits(value: float, ulp: float) -> int:
    if value == 0 or ulp <= 0:
        return 0 if value == 0 else 99
    return int(math.floor(math.log10(abs(value) / ulp) + 1e-9)) + 1
