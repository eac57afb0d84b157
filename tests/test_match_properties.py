"""Property-based tests of the numeric rules (Hypothesis): symmetry, notation invariance, written
precision, and no universal keys."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from finr1_verl.reward.match import MIN_SECOND_WINDOW_DIGITS, RELATIVE_TOLERANCE, Verdict, rule_verdict

EQUAL = Verdict.EQUAL
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def decimals(draw, min_digits: int = 1, max_digits: int = 7) -> Decimal:
    """A non-zero decimal as written: 1-7 significant digits, exponent -6..6, either sign."""
    digits = draw(st.integers(min_value=10 ** (min_digits - 1), max_value=10**max_digits - 1))
    exponent = draw(st.integers(min_value=-6, max_value=4))
    sign = draw(st.sampled_from([1, -1]))
    return Decimal(sign * digits).scaleb(exponent)


def plain(value: Decimal) -> str:
    return format(value, "f")


def ulp(value: Decimal) -> Decimal:
    return Decimal(1).scaleb(value.as_tuple().exponent)


def significant_digits(value: Decimal) -> int:
    return len(value.normalize().as_tuple().digits)


@PROPERTY_SETTINGS
@given(decimals(min_digits=MIN_SECOND_WINDOW_DIGITS), decimals(min_digits=MIN_SECOND_WINDOW_DIGITS))
def test_equal_is_symmetric_between_values_with_enough_digits(a, b):
    """Two exceptions are by design: below MIN_SECOND_WINDOW_DIGITS informative digits a coarse candidate
    keeps fewer windows than a coarse gold ("10" for 9.50 and "6.88" for 6.88702 are the judge's, the
    reverse is EQUAL), and a bare answer may spell a fraction gold out in percent points ("14.46429" for
    0.14464), never the reverse."""
    assume(min(significant_digits(a), significant_digits(b)) >= MIN_SECOND_WINDOW_DIGITS)
    ratio = abs(a / b)
    assume(not (50 < ratio < 200 or Decimal("0.005") < ratio < Decimal("0.02")))
    assert (rule_verdict(plain(a), plain(b)) is EQUAL) == (rule_verdict(plain(b), plain(a)) is EQUAL), (a, b)


@PROPERTY_SETTINGS
@given(decimals(max_digits=6))
def test_notation_changes_of_the_same_value_are_equal(value):
    gold = plain(value)
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    notations = [
        f"{sign}{magnitude:,f}",  # thousands separators
        f"{value:e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e"),
        f"{sign}${magnitude:,f}",
        f"{plain(value * 100)}%",
        f"{sign}{plain(magnitude / 1000)} thousand" if magnitude >= 1000 else gold,
        f"({magnitude:,f})" if value < 0 else f"+{gold}",
        f"\\boxed{{{gold}}}",
        f"{gold}\u00a0",
    ]
    for notation in notations:
        assert rule_verdict(notation, gold) is EQUAL, (notation, gold)


@PROPERTY_SETTINGS
@given(decimals(), decimals())
def test_never_equal_beyond_the_written_precision(a, b):
    gap = abs(a - b)
    allowed = max(ulp(a), ulp(b), Decimal(RELATIVE_TOLERANCE) * min(abs(a), abs(b)))
    # a bare answer may also read as the percent points of a fraction gold: beyond that too
    points_gap = abs(a - b * 100)
    points_allowed = max(ulp(a), ulp(b) * 100, Decimal(RELATIVE_TOLERANCE) * min(abs(a), abs(b * 100)))
    if gap > allowed and points_gap > points_allowed:
        assert rule_verdict(plain(a), plain(b)) is not EQUAL, (a, b)
    if gap > allowed:
        # "a*100 %" also reads as the percent number a*100 against a bare gold: beyond that too
        percent_gap = abs(a * 100 - b)
        if percent_gap > max(ulp(a) * 100, ulp(b), Decimal(RELATIVE_TOLERANCE) * min(abs(a * 100), abs(b))):
            assert rule_verdict(f"{plain(a * 100)}%", plain(b)) is not EQUAL, (a, b)


def random_golds(count: int = 1000, seed: int = 0) -> list[str]:
    """Golds as datasets write them: 3-6 significant digits, magnitudes 1e-4..1e9, either sign, some percents."""
    rng = random.Random(seed)
    golds = []
    for _ in range(count):
        digits = rng.randint(3, 6)
        value = Decimal(rng.randint(10 ** (digits - 1), 10**digits - 1)).scaleb(rng.randint(-3, 10) - digits)
        value = -value if rng.random() < 0.5 else value
        golds.append(f"{plain(value * 100)}%" if rng.random() < 0.3 else plain(value))
    return golds


GOLDS = random_golds()
SCALES = ["", " thousand", " million", " billion", "k", "亿", "万", " bn"]
SUFFIXES = ["", "%", " percent", " bps", "‰", "元", " USD"]


@st.composite
def fixed_answers(draw) -> str:
    """A grammar of fixed answers: sign, digits, decimals, exponent, scale words, units, percent/bps."""
    sign = draw(st.sampled_from(["", "-", "+", "(", "negative "]))
    integer = draw(st.sampled_from(["0", "1", "5", "10", "50", "100", "0.0", "0.5", "1000", "99"]))
    decimals_part = draw(st.sampled_from(["", ".0", ".5", ".00"]))
    exponent = draw(st.sampled_from(["", "e0", "e3", "e-3", "e9", " \\times 10^{6}"]))
    body = f"{sign}{integer}{decimals_part}{exponent}{draw(st.sampled_from(SCALES))}{draw(st.sampled_from(SUFFIXES))}"
    return body + (")" if sign == "(" else "")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fixed_answers())
def test_no_fixed_answer_is_equal_to_more_than_3_of_1000_random_golds(answer):
    hits = [gold for gold in GOLDS if rule_verdict(answer, gold) is EQUAL]
    assert len(hits) <= 3, (answer, hits[:10])
