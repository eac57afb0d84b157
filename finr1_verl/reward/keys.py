"""Searching a data set for universal keys: fixed answers that the rules call EQUAL to unrelated golds.

A *universal key* is a fixed final answer that scores full accuracy on more than a small fraction
(:data:`KEY_THRESHOLD`) of rows whose gold it is *unrelated* to (:func:`related`).  A GRPO policy
finds such an answer within a few hundred steps and then trains on it, so the reward audit looks for
them the way a policy would:

* :func:`grammar` - answers built from numbers, signs, exponents, scale words, units, percent /
  permille / basis points, option letters and labels, and their combinations;
* :func:`evolve` - a random/evolutionary search that mutates and recombines the best answers found
  so far to maximise the fraction of unrelated golds they hit.

The search scores answers with the rule verdict alone (an upper bound, fast); the answers it
reports are then scored through the whole rule path (:func:`~finr1_verl.reward.score.assess_rules`:
format, extraction, hack guard, rule verdict) as ``\\boxed{answer}`` in a well-formed response.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from finr1_verl.reward.format import render_response
from finr1_verl.reward.labels import canonical_label, choice_letters, normalize_text
from finr1_verl.reward.match import MAX_PERCENT_ROUNDING_GAP, Verdict, rule_verdict
from finr1_verl.reward.numbers import parse_number
from finr1_verl.reward.score import Sample, ScoreSettings, assess_rules

# The one threshold for fixed answers, in the audit and the README alike: a fixed answer rule-EQUAL to more
# than this share of unrelated golds (universal keys) or of distinct numeric golds (the short-answer sweep)
# fails the audit.
KEY_THRESHOLD = 0.005
RULES_ONLY = ScoreSettings(mode="never")

_NUMBERS = ("0", "0.0", "1", "5", "10", "50", "100", "0.5", "1.5", "12.5", "99", "1000", "0.01", "3.14")
_SIGNS = ("", "-", "+", "(")
_EXPONENTS = ("", "e3", "e-3", "e9", " \\times 10^{6}", "e99")
_SCALES = ("", " thousand", " million", " billion", "k", "m", "bn", "万", "亿", "万亿")
_UNITS = ("", "%", "‰", " bps", " percent", " percentage points", "$", "元", " USD", "个百分点")
_WORDS = ("", "approximately ", "about ", "约", "more than ", "at least ", "negative ", "下降")
_LETTERS = ("A", "B", "C", "D", "E", "AB", "ABC", "ABCD", "ABCDE", "A, B, C, D")
_LABELS = (
    "yes", "no", "是", "否", "true", "positive", "negative", "neutral", "bullish", "bearish", "积极", "消极",
    "中性", "合规", "违规", "0", "1", "2", "N/A", "none", "unknown", "无相应参数",
)  # fmt: skip


def wrap_boxed(answer: str) -> str:
    return render_response("I computed it.", f"\\boxed{{{answer}}}")


def grammar() -> list[str]:
    """Fixed answers from the grammar (numbers with every decoration, letters, labels), deduplicated."""
    answers: list[str] = []
    for number in _NUMBERS:
        for unit in _UNITS:
            for sign in _SIGNS:
                answers.append(f"{sign}{number}{unit}" + (")" if sign == "(" else ""))
            answers += [f"{number}{exponent}{unit}" for exponent in _EXPONENTS[1:]]
            answers += [f"{number}{scale}{unit}" for scale in _SCALES[1:]]
            answers += [f"{word}{number}{unit}" for word in _WORDS[1:]]
            answers += [
                f"{number}{exponent}{scale}{unit}" for exponent in _EXPONENTS[1:3] for scale in _SCALES[1:4]
            ]
    answers += list(_LETTERS) + [f"{letter}." for letter in _LETTERS] + list(_LABELS)
    return list(dict.fromkeys(answers))


def _values(text: str) -> list[float]:
    number = parse_number(text)
    if number is None:
        return []
    return [number.value, number.value * 100] if number.percent else [number.value]


def related(answer: str, sample: Sample) -> bool:
    """True when ``answer`` could be the row's answer by value, label, letters or text.

    Numbers are related when they lie within the widest tolerance the rules ever grant
    (:data:`~finr1_verl.reward.match.MAX_PERCENT_ROUNDING_GAP`) in some reading, a ×100 percent
    reading included; a hit beyond that can only come from a flaw in the rules.
    """
    answer_values = _values(answer)
    for gold in sample.readings:
        if normalize_text(answer) == normalize_text(gold):
            return True
        label = canonical_label(gold, sample.choices)
        if label is not None and label == canonical_label(answer, sample.choices):
            return True
        letters = choice_letters(gold) if sample.answer_type == "choice" else None
        if letters is not None and letters == choice_letters(answer, sample.choices):
            return True
        for a in answer_values:
            for g in _values(gold):
                if a == g or (a * g > 0 and abs(a - g) <= MAX_PERCENT_ROUNDING_GAP * max(abs(a), abs(g))):
                    return True
    return False


def unrelated_hits(answer: str, samples: Sequence[Sample], *, full: bool = False) -> int:
    """Rows whose gold ``answer`` is EQUAL to without being related to it.

    The search uses the rule verdict alone (an upper bound); ``full=True`` scores ``\\boxed{answer}``
    through the whole rule path (format, extraction, hack guard, verdict), as the reward does.
    """
    response = wrap_boxed(answer)
    hits = 0
    for sample in samples:
        if full:
            equal = assess_rules(response, sample, RULES_ONLY).verdict is Verdict.EQUAL
        else:
            equal = rule_verdict(answer, sample.readings, sample.answer_type, sample.choices) is Verdict.EQUAL
        if equal and not related(answer, sample):
            hits += 1
    return hits


@dataclass(frozen=True)
class Key:
    """A fixed answer and the fraction of unrelated golds it hit."""

    answer: str
    hits: int
    rows: int

    @property
    def rate(self) -> float:
        return self.hits / self.rows if self.rows else 0.0


def score_answers(
    answers: Iterable[str], samples: Sequence[Sample], progress: Callable[[Iterable], Iterable] = iter
) -> list[Key]:
    """Each answer's unrelated hits on ``samples``, best first."""
    keys = [Key(answer, unrelated_hits(answer, samples), len(samples)) for answer in progress(list(answers))]
    return sorted(keys, key=lambda key: (-key.hits, key.answer))


_MUTATIONS: tuple[Callable[[str, random.Random], str], ...] = (
    lambda a, r: a + r.choice(_UNITS[1:]),
    lambda a, r: a + r.choice(_SCALES[1:]),
    lambda a, r: r.choice(("-", "+", "(", "负", "约")) + a,
    lambda a, r: a.replace("0", str(r.randint(0, 9)), 1),
    lambda a, r: a + r.choice(_EXPONENTS[1:]),
    lambda a, r: a[: r.randint(0, max(len(a) - 1, 0))],
    lambda a, r: (
        a + r.choice((" or ", "/", "-", ", ", "或", " ± ")) + r.choice(_NUMBERS + _LETTERS + _LABELS)
    ),
    lambda a, r: r.choice(_WORDS[1:]) + a,
    lambda a, r: f"{a}.{r.randint(0, 99)}",
)


def evolve(
    samples: Sequence[Sample],
    seeds: Sequence[Key],
    *,
    generations: int = 20,
    population: int = 24,
    rng: random.Random | None = None,
    progress: Callable[[Iterable], Iterable] = iter,
) -> list[Key]:
    """Mutate and recombine the best answers for ``generations`` rounds; every answer tried, best first."""
    rng = rng or random.Random(0)
    tried: dict[str, Key] = {key.answer: key for key in seeds}
    parents = [key.answer for key in sorted(seeds, key=lambda key: -key.hits)[:population]] or ["0"]
    for _ in progress(range(generations)):
        children = []
        for _ in range(population):
            child = rng.choice(_MUTATIONS)(rng.choice(parents), rng)
            if rng.random() < 0.2:
                child = child + rng.choice(parents)
            if child.strip() and child not in tried:
                children.append(child)
        for child in children:
            tried[child] = Key(child, unrelated_hits(child, samples), len(samples))
        best = sorted(tried.values(), key=lambda key: (-key.hits, len(key.answer)))
        parents = [key.answer for key in best[:population]]
    return sorted(tried.values(), key=lambda key: (-key.hits, key.answer))
