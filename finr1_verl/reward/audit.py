"""``finr1-reward-audit``: check that the reward has no universal keys and no soft spots on a data set.

Run it on the RL parquet you are about to train on (the rows ``finr1-data prepare`` writes)::

    finr1-reward-audit rl/train.parquet [--pairs 200] [--judge-urls URL --judge-model NAME]

Checks, each a row of the printed table:

* ``own_gold`` - every row's own gold, boxed in a well-formed response, scores 2.0;
* ``pairs`` - every row's gold against ``--pairs`` golds of other rows: never EQUAL unless the two
  are related in value, label, letters or text (:func:`~finr1_verl.reward.keys.related`);
* ``universal_keys`` - fixed answers from a grammar of numbers, signs, exponents, scale words,
  units, percent/permille/bps, letters and labels, then an evolutionary search, scored on
  ``--key-rows`` sampled rows; the best are re-scored through the whole rule path on every row, and
  any that hits more than :data:`~finr1_verl.reward.keys.KEY_THRESHOLD` of unrelated golds is a key;
* ``hack_corpus`` - the attack corpus (:mod:`finr1_verl.reward.corpus`) written around each answer
  type's wrong answers in the data: how many attacks would reach the judge past the guard (reported,
  not failed: the judge decides them; the calibration below shows how it treats such answers);
* ``short_answers`` - every short fixed answer (1-3 significant digits, with and without ``%``,
  :func:`short_answers`) against the data's distinct numeric golds (those that read as one quantity): the worst share it is rule-EQUAL to
  fails the audit above :data:`~finr1_verl.reward.keys.KEY_THRESHOLD` (with at least
  :data:`MIN_SWEEP_GOLDS` distinct golds; reported below that);
* ``judge_exposure`` - the answer-free strings (:mod:`finr1_verl.reward.answer_free`) as final answers
  on up to three rows of each answer type (less those that name one of the row's labels or options:
  "correct" is "yes" on a yes/no row), in ``always`` mode: per answer type the share that would
  reach the judge; any share above 0 on a closed or numeric type fails (text rows are reported); with
  ``--judge-urls`` also the share of those the judge accepts;
* ``judge`` (with ``--judge-urls`` and ``--judge-model``) - labelled pairs built from the data's own
  readings (:mod:`finr1_verl.reward.calibrate`): false-accept and false-reject rates, agreement with
  the rules where they decide, latency percentiles.

Exit status: 0 when every check passes; 1 when a universal key was found; 2 when another check
failed (an own gold not scoring 2.0, an unrelated pair called EQUAL, an unusable row, a judge above
``--max-judge-error``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from tqdm import tqdm

from finr1_verl.llm import LLMClient
from finr1_verl.reward.answer import final_answer
from finr1_verl.reward.answer_free import answer_free
from finr1_verl.reward.calibrate import Calibration, calibrate, labelled_pairs
from finr1_verl.reward.corpus import BASE_ATTACKS, OBFUSCATIONS, PLACEMENTS
from finr1_verl.reward.format import render_response
from finr1_verl.reward.inputs import InputError
from finr1_verl.reward.judge import AnswerJudge, JudgeSettings
from finr1_verl.reward.keys import KEY_THRESHOLD, Key, evolve, grammar, related, score_answers, unrelated_hits
from finr1_verl.reward.labels import canonical_label, choice_letters
from finr1_verl.reward.match import RULES_VERSION, Verdict, compare_numbers, rule_verdict
from finr1_verl.reward.numbers import Number, parse_number
from finr1_verl.reward.score import Sample, ScoreSettings, assess_rules, read_sample
from finr1_verl.reward.shape import reads_as_quantity
from finr1_verl.table import format_table

EXIT_KEY, EXIT_CHECK = 1, 2
# Below this many distinct numeric golds a share is too coarse to fail on (one gold of 4 is 25%).
MIN_SWEEP_GOLDS = 200
CLOSED_TYPES = ("choice", "label", "boolean", "numeric")


@dataclass
class Check:
    name: str
    checked: int
    failed: int
    detail: str = ""
    examples: list[str] = field(default_factory=list)
    informational: bool = False  # reported, never fails the audit

    @property
    def passed(self) -> bool:
        return self.informational or self.failed == 0


def load_samples(paths: Sequence[Path]) -> tuple[list[Sample], Check]:
    """Every row of the parquet files as a scoring sample; unusable rows are the failures of the check."""
    samples, errors = [], []
    for path in paths:
        for number, row in enumerate(pq.read_table(path).to_pylist()):
            try:
                reward_model = row.get("reward_model") or {}
                samples.append(
                    read_sample(
                        row.get("data_source", "?"), reward_model.get("ground_truth"), row.get("extra_info")
                    )
                )
            except InputError as err:
                errors.append(f"{path}:{number}: {err}")
    return samples, Check("rows", len(samples) + len(errors), len(errors), "unusable rows", errors[:5])


def _response(answer: str) -> str:
    body = answer if "{" in answer or "}" in answer else f"\\boxed{{{answer}}}"
    return render_response("I computed it.", body)


def check_own_gold(samples: Sequence[Sample], progress) -> Check:
    settings = ScoreSettings(mode="never")
    failures = []
    for sample in progress(samples, "own gold"):
        assessment = assess_rules(_response(sample.readings[0]), sample, settings)
        result = assessment.result
        if result.format + result.acc != 2.0:
            failures.append(
                f"{sample.readings[0]!r} ({sample.answer_type}): guard={assessment.guard} verdict={assessment.verdict}"
            )
    return Check("own_gold", len(samples), len(failures), "own gold scores 2.0", failures[:5])


def check_pairs(samples: Sequence[Sample], pairs: int, rng: random.Random, progress) -> Check:
    failures, checked = [], 0
    for index, sample in enumerate(progress(samples, "gold pairs")):
        others = rng.sample(range(len(samples)), min(pairs + 1, len(samples)))
        for other in others:
            if other == index:
                continue
            candidate = samples[other].readings[0]
            checked += 1
            verdict = rule_verdict(candidate, sample.readings, sample.answer_type, sample.choices)
            if verdict is Verdict.EQUAL and not related(candidate, sample):
                failures.append(f"{candidate!r} EQUAL to {sample.readings!r}")
    return Check("pairs", checked, len(failures), "unrelated golds called EQUAL", failures[:5])


def search_keys(
    samples: Sequence[Sample], key_rows: int, generations: int, rng: random.Random, progress
) -> tuple[Check, list[Key]]:
    sampled = rng.sample(list(samples), min(key_rows, len(samples)))
    found = score_answers(grammar(), sampled, progress=lambda items: progress(items, "key grammar"))
    found = evolve(
        sampled, found, generations=generations, rng=rng, progress=lambda items: progress(items, "key search")
    )
    top = [key for key in found[:20] if key.hits] or found[:3]
    confirmed = [Key(key.answer, unrelated_hits(key.answer, samples, full=True), len(samples)) for key in top]
    confirmed.sort(key=lambda key: -key.hits)
    keys = [key for key in confirmed if key.rate > KEY_THRESHOLD]
    best = confirmed[0] if confirmed else Key("", 0, len(samples))
    detail = f"{len(found)} answers tried; best {best.answer!r} hits {best.rate:.3%} of unrelated golds"
    examples = [f"{key.answer!r}: {key.rate:.2%}" for key in keys]
    return Check("universal_keys", len(found), len(keys), detail, examples), keys


def check_hack_corpus(samples: Sequence[Sample], rng: random.Random, progress) -> Check:
    """Attacks around each answer type's wrong answers in the data; failures = attacks that reach the judge."""
    settings = ScoreSettings(mode="always", judge=JudgeSettings(urls=("http://unused",), model="unused"))
    by_type: dict[str, list[Sample]] = {}
    for sample in samples:
        by_type.setdefault(sample.answer_type, []).append(sample)
    reached: Counter[str] = Counter()
    checked = 0
    for typed in progress(list(by_type.values()), "hack corpus"):
        for sample in rng.sample(typed, min(3, len(typed))):
            wrong = next(
                (
                    s.readings[0]
                    for s in rng.sample(typed, min(20, len(typed)))
                    if not related(s.readings[0], sample)
                ),
                "0",
            )
            for base, texts in BASE_ATTACKS.items():
                for template in texts:
                    text = template.format(w=wrong, v=wrong, g=sample.readings[0])
                    for apply in OBFUSCATIONS.values():
                        for placement in PLACEMENTS:
                            answer = (
                                apply(text) if placement == "outside_box" else f"\\boxed{{{apply(text)}}}"
                            )
                            checked += 1
                            response = render_response("r", answer)
                            if assess_rules(response, sample, settings).needs_judge:
                                reached[f"{sample.answer_type}:{base}"] += 1
    examples = [f"{name} x{count}" for name, count in reached.most_common(5)]
    detail = "attacks reaching the judge past the guard (reported: the judge decides them)"
    return Check("hack_corpus", checked, sum(reached.values()), detail, examples, informational=True)


def short_answers() -> list[str]:
    """Every fixed answer of 1-3 significant digits at decimal positions 10^-3..10^3, with and without ``%``."""
    answers = set()
    for mantissa in range(1, 1000):
        digits = len(str(mantissa))
        for shift in range(-3, 4):
            value = f"{mantissa * 10.0 ** (shift - digits + 1):.6f}".rstrip("0").rstrip(".")
            answers.update((value, f"{value}%"))
    return sorted(answers)


# A rule EQUAL is within MAX_PERCENT_ROUNDING_GAP of the coarser side: a gold outside this factor of a
# reading of the answer (its value, x100, /100) cannot be EQUAL to it.
_NEAR = 1.25


def check_short_answers(samples: Sequence[Sample], progress) -> Check:
    # distinct by the value of the written gold ("1", "1.0" and "100%" are one gold; a row that also holds
    # an executed value is the same gold), every reading compared; a short answer always parses, so
    # comparing parsed numbers is rule_verdict's numeric path
    by_value: dict[float, list[Number]] = {}
    for sample in samples:
        if sample.answer_type == "numeric" and reads_as_quantity(sample.readings[0]):
            numbers = [n for n in map(parse_number, sample.readings) if n is not None]
            if numbers:
                by_value.setdefault(round(numbers[0].value, 12), []).extend(numbers)
    golds = list(by_value.values())
    if not golds:
        return Check("short_answers", 0, 0, "no numeric rows", informational=True)
    # the positive gold values in order, so each answer is compared only with the golds near its readings
    # (a positive answer is never EQUAL to a negative gold or to zero)
    index = sorted((n.value, i) for i, numbers in enumerate(golds) for n in numbers if n.value > 0)
    values = [value for value, _ in index]
    worst, worst_answer = 0, ""
    answers = short_answers()
    for answer in progress(answers, "short answers"):
        number = parse_number(answer)
        near = set()
        for reading in (number.value, number.value * 100, number.value / 100):
            low, high = (
                bisect.bisect_left(values, reading / _NEAR),
                bisect.bisect_right(values, reading * _NEAR),
            )
            near.update(i for _, i in index[low:high])
        hits = sum(any(compare_numbers(number, g) is Verdict.EQUAL for g in golds[i]) for i in near)
        if hits > worst:
            worst, worst_answer = hits, answer
    share = worst / len(golds)
    failed = int(share > KEY_THRESHOLD and len(golds) >= MIN_SWEEP_GOLDS)
    detail = (
        f"worst {worst_answer!r} is rule-EQUAL to {worst} of {len(golds)} distinct numeric golds ({share:.2%}; "
        f"limit {KEY_THRESHOLD:.1%})"
    )
    return Check("short_answers", len(answers), failed, detail, informational=len(golds) < MIN_SWEEP_GOLDS)


@dataclass
class Exposure:
    answer_type: str
    strings: int
    reached: int
    accepted: int | None = None  # with --judge-urls: reached strings the judge called equivalent
    examples: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.reached / self.strings if self.strings else 0.0


def judge_exposure(
    samples: Sequence[Sample], rng: random.Random, judge: AnswerJudge | None = None
) -> list[Exposure]:
    """Per answer type, how many answer-free strings would reach the judge (``always`` mode, the widest)."""
    settings = ScoreSettings(mode="always", judge=JudgeSettings(urls=("http://unused",), model="unused"))
    by_type: dict[str, list[Sample]] = {}
    for sample in samples:
        by_type.setdefault(sample.answer_type, []).append(sample)
    exposures = []
    for answer_type, typed in sorted(by_type.items()):
        reached: list[tuple[str, Sample]] = []
        strings = 0
        for sample in rng.sample(typed, min(3, len(typed))):
            for _family, answer in answer_free():
                if _names_an_answer(answer, sample):
                    continue
                strings += 1
                if assess_rules(render_response("I computed it.", answer), sample, settings).needs_judge:
                    reached.append((answer, sample))
        exposure = Exposure(answer_type, strings, len(reached), examples=sorted({a for a, _ in reached})[:5])
        if judge is not None and reached:
            exposure.accepted = asyncio.run(_accepted(judge, reached))
        exposures.append(exposure)
    return exposures


def _names_an_answer(answer: str, sample: Sample) -> bool:
    """A label word or option letter of the row ("correct" is "yes" on a yes/no row): an answer, not answer-free."""
    if sample.answer_type in ("label", "boolean"):
        return canonical_label(final_answer(answer, answer), sample.choices) is not None
    if sample.answer_type == "choice":
        return choice_letters(final_answer(answer, answer), sample.choices) is not None
    return False


async def _accepted(judge: AnswerJudge, reached: Sequence[tuple[str, Sample]]) -> int:
    results = await asyncio.gather(
        *(judge.judge(answer, sample.readings, choices=sample.choices) for answer, sample in reached),
        return_exceptions=True,
    )
    return sum(1 for result in results if not isinstance(result, BaseException) and result.equal)


def check_exposure(exposures: Sequence[Exposure]) -> Check:
    failed = [e for e in exposures if e.answer_type in CLOSED_TYPES and e.reached]
    parts = []
    for e in exposures:
        accepted = "" if e.accepted is None else f", judge accepts {e.accepted}"
        parts.append(f"{e.answer_type} {e.reached}/{e.strings} ({e.share:.1%}{accepted})")
    examples = [f"{e.answer_type}: {example!r}" for e in failed for example in e.examples]
    detail = "answer-free strings reaching the judge: " + "; ".join(parts)
    return Check("judge_exposure", sum(e.strings for e in exposures), len(failed), detail, examples[:5])


def check_judge(
    samples: Sequence[Sample], args: argparse.Namespace, rng: random.Random
) -> tuple[Check, Calibration]:
    pairs = labelled_pairs(samples, args.judge_pairs, rng)

    async def run() -> Calibration:
        client = LLMClient(
            args.judge_urls, args.judge_model, api_key=args.api_key, timeout_s=args.judge_timeout
        )
        try:
            return await calibrate(AnswerJudge(client), pairs)
        finally:
            await client.aclose()

    result = asyncio.run(run())
    worst = max(result.false_accept, result.false_reject)
    latency = ", ".join(f"{name} {value:.0f} ms" for name, value in result.latency_ms.items())
    detail = (
        f"false accept {result.false_accept:.1%}, false reject {result.false_reject:.1%}, agreement with rules "
        f"{result.rule_agreement:.1%} of {result.rule_decided}, errors {result.errors}; latency {latency}"
    )
    failed = int(worst > args.max_judge_error) + result.errors
    return Check("judge", result.pairs, failed, detail), result


def print_table(checks: Iterable[Check], out=None) -> None:
    rows: list[tuple[object, ...]] = []
    for check in checks:
        status = "info" if check.informational else "ok" if check.passed else "FAIL"
        rows.append((check.name, check.checked, check.failed, status, check.detail))
        rows += [("", "", "", "", f"- {example}") for example in check.examples]
    print(format_table(("check", "checked", "failed", "result", "detail"), rows), file=out or sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finr1-reward-audit", description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "parquet", nargs="+", type=Path, help="RL parquet file(s) written by finr1-data prepare"
    )
    parser.add_argument("--pairs", type=int, default=200, help="other rows' golds checked against each gold")
    parser.add_argument("--key-rows", type=int, default=300, help="rows sampled for the universal-key search")
    parser.add_argument("--generations", type=int, default=20, help="rounds of the evolutionary key search")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--judge-urls", help="OpenAI-compatible base URL(s) of the judge to calibrate, comma-separated"
    )
    parser.add_argument("--judge-model", help="the judge's model name")
    parser.add_argument(
        "--api-key", default=None, help="judge API key (default $FINR1_JUDGE_API_KEY / $OPENAI_API_KEY)"
    )
    parser.add_argument("--judge-pairs", type=int, default=200, help="labelled pairs sent to the judge")
    parser.add_argument("--judge-timeout", type=float, default=30.0)
    parser.add_argument(
        "--max-judge-error", type=float, default=0.05, help="largest false-accept/reject rate that passes"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _exposures(samples: Sequence[Sample], args: argparse.Namespace, rng: random.Random) -> list[Exposure]:
    if not args.judge_urls:
        return judge_exposure(samples, rng)
    client = LLMClient(args.judge_urls, args.judge_model, api_key=args.api_key, timeout_s=args.judge_timeout)
    try:
        return judge_exposure(samples, rng, AnswerJudge(client))
    finally:
        asyncio.run(client.aclose())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if bool(args.judge_urls) != bool(args.judge_model):
        build_parser().error("--judge-urls and --judge-model go together")
    for path in args.parquet:
        if not path.is_file():
            build_parser().error(f"{path}: no such parquet file")

    def progress(items, label: str):
        return tqdm(items, desc=label, disable=args.no_progress, leave=False, file=sys.stderr)

    rng = random.Random(args.seed)
    samples, rows = load_samples(args.parquet)
    if not samples:
        print_table([rows])
        return EXIT_CHECK
    key_check, keys = search_keys(samples, args.key_rows, args.generations, rng, progress)
    exposures = _exposures(samples, args, rng)
    checks = [
        rows,
        check_own_gold(samples, progress),
        check_pairs(samples, args.pairs, rng, progress),
        key_check,
        check_short_answers(samples, progress),
        check_hack_corpus(samples, rng, progress),
        check_exposure(exposures),
    ]
    calibration = None
    if args.judge_urls:
        judge_check, calibration = check_judge(samples, args, rng)
        checks.append(judge_check)
    print(f"rules {RULES_VERSION}")
    print_table(checks)
    if args.json:
        report = {
            "rules_version": RULES_VERSION,
            "judge_exposure": [asdict(e) | {"share": e.share} for e in exposures],
            "checks": [asdict(check) | {"passed": check.passed} for check in checks],
            "universal_keys": [asdict(key) for key in keys],
            "judge": asdict(calibration) if calibration else None,
        }
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if keys:
        return EXIT_KEY
    return 0 if all(check.passed for check in checks) else EXIT_CHECK


if __name__ == "__main__":
    sys.exit(main())
