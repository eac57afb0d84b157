"""Calibrating an answer-equivalence judge on a data set's own readings before training with it.

Fin-R1 reports 0.4% disagreement between its judge and humans; a smaller local judge can be much
worse.  :func:`labelled_pairs` builds (candidate, row, expected) pairs from the data itself:

* true pairs - other notations of the same numeric value (percent ↔ fraction, thousands separators,
  currency, a scale word), the row's other readings (human vs executed answer), an option letter with
  its option text, a label in another language;
* false pairs - perturbed values (×1.5, the sign flipped), another row's gold of the same answer type
  that is unrelated to this one, and hack-corpus answers built around a wrong answer.

:func:`calibrate` sends each pair to the judge and reports false-accept and false-reject rates,
agreement with the rules where they decide, and latency percentiles.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from finr1_verl.reward.corpus import BASE_ATTACKS
from finr1_verl.reward.judge import AnswerJudge, JudgeError
from finr1_verl.reward.keys import related
from finr1_verl.reward.match import Verdict, rule_verdict
from finr1_verl.reward.score import Sample

_OTHER_LANGUAGE = {
    "positive": "积极", "negative": "消极", "neutral": "中性", "bullish": "看涨", "bearish": "看跌",
    "yes": "是", "no": "否", "是": "yes", "否": "no", "积极": "positive", "消极": "negative", "中性": "neutral",
}  # fmt: skip


@dataclass(frozen=True)
class LabelledPair:
    candidate: str
    sample: Sample
    equal: bool
    kind: str


def _notations(gold: str) -> list[str]:
    """The same value in other notations (Decimal arithmetic on the written gold)."""
    body = gold.strip()
    percent = body.endswith("%")
    try:
        value = Decimal(body.rstrip("%").replace(",", ""))
    except InvalidOperation:
        return []
    if percent:
        return [format(value / 100, "f"), f"{value} percent"]
    out = [f"{value:,f}", f"{value}"]
    if abs(value) >= 1000:
        out.append(f"{value / 1000} thousand")
    return [text for text in out if text != body]


def labelled_pairs(samples: Sequence[Sample], limit: int, rng: random.Random) -> list[LabelledPair]:
    """Up to ``limit`` labelled pairs, about half true and half false (see the module docstring)."""
    pairs: list[LabelledPair] = []
    by_type: dict[str, list[Sample]] = {}
    for sample in samples:
        by_type.setdefault(sample.answer_type, []).append(sample)
    order = list(samples)
    rng.shuffle(order)
    for sample in order:
        gold = sample.readings[0]
        true: list[tuple[str, str]] = [(text, "notation") for text in _notations(gold)]
        true += [(reading, "other_reading") for reading in sample.readings[1:]]
        if sample.answer_type == "choice" and sample.choices and gold in sample.choices:
            true.append((f"{gold}. {sample.choices[gold]}", "letter_with_text"))
        if gold.lower() in _OTHER_LANGUAGE:
            true.append((_OTHER_LANGUAGE[gold.lower()], "other_language"))
        false: list[tuple[str, str]] = []
        try:
            value = Decimal(gold.rstrip("%").replace(",", ""))
            suffix = "%" if gold.endswith("%") else ""
            if value:
                false += [
                    (f"{value * Decimal('1.5')}{suffix}", "perturbed"),
                    (f"{-value}{suffix}", "sign_flipped"),
                ]
        except InvalidOperation:
            pass
        others = [other for other in by_type[sample.answer_type] if other is not sample]
        if others:
            other = rng.choice(others).readings[0]
            if not related(other, sample):
                false.append((other, "other_row"))
                base = rng.choice(list(BASE_ATTACKS.values()))[rng.randint(0, 1)]
                false.append((base.format(w=other, v=other, g=other), "hack_corpus"))
        pairs += [LabelledPair(text, sample, True, kind) for text, kind in true[:1]]
        pairs += [
            LabelledPair(text, sample, False, kind) for text, kind in rng.sample(false, min(1, len(false)))
        ]
        if len(pairs) >= limit:
            break
    return pairs[:limit]


@dataclass
class Calibration:
    pairs: int
    false_accept: float  # judge "equivalent" on false pairs
    false_reject: float  # judge "different" on true pairs
    rule_agreement: float  # judge agrees with rules where they decide
    rule_decided: int
    errors: int
    latency_ms: dict[str, float]


async def calibrate(judge: AnswerJudge, pairs: Sequence[LabelledPair], concurrency: int = 16) -> Calibration:
    """Ask ``judge`` about every pair and measure it (see the module docstring)."""
    gate = asyncio.Semaphore(concurrency)

    async def ask(pair: LabelledPair) -> tuple[bool | None, float]:
        async with gate:
            start = time.perf_counter()
            try:
                result = await judge.judge(
                    pair.candidate,
                    pair.sample.readings,
                    question=pair.sample.question,
                    choices=pair.sample.choices,
                )
            except JudgeError:
                return None, time.perf_counter() - start
            return result.equal, time.perf_counter() - start

    answers = await asyncio.gather(*(ask(pair) for pair in pairs))
    answered = [(pair, equal) for pair, (equal, _) in zip(pairs, answers, strict=True) if equal is not None]
    false_pairs = [equal for pair, equal in answered if not pair.equal]
    true_pairs = [equal for pair, equal in answered if pair.equal]
    agreements = []
    for pair, equal in answered:
        verdict = rule_verdict(
            pair.candidate, pair.sample.readings, pair.sample.answer_type, pair.sample.choices
        )
        if verdict is not Verdict.UNDECIDED:
            agreements.append((verdict is Verdict.EQUAL) == equal)
    latencies = sorted(seconds * 1e3 for _, seconds in answers)
    quantiles = (
        statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    )
    return Calibration(
        pairs=len(pairs),
        false_accept=sum(false_pairs) / len(false_pairs) if false_pairs else 0.0,
        false_reject=(len(true_pairs) - sum(true_pairs)) / len(true_pairs) if true_pairs else 0.0,
        rule_agreement=sum(agreements) / len(agreements) if agreements else 1.0,
        rule_decided=len(agreements),
        errors=len(pairs) - len(answered),
        latency_ms={"p50": quantiles[49], "p90": quantiles[89], "p99": quantiles[98]} if latencies else {},
    )
