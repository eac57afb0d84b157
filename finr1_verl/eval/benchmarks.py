"""The evaluation benchmarks: each one's data, prompt, metric and sampling protocol declared in one place.

Data comes from local files through the data layer's source parsers; the prompt is the RL row's
``[system, user]`` turns (Fin-R1's think/answer system prompt, the question rendered for its answer
type), so a model is evaluated on exactly what it was trained on; the metric is accuracy (% of
items whose final answer equals the reference), scored by the reward's answer module and judge.

Sampling protocol (Fin-R1 §5): 1,000 random items per benchmark (all if fewer), and a 10%
stratified subset of Finance-Instruct-500K.  Finance-Instruct-500K's schema (``system, user,
assistant``) has no category field, so its strata are "has a task instruction (system turn) or
not" × the reference answer's length (short ≤ 8 words, medium ≤ 64, long): this keeps the
classification-style tasks with their one-word labels and the long explanatory answers in their
original proportions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finr1_verl import prompts
from finr1_verl.data.golds import reconcile
from finr1_verl.data.records import Example
from finr1_verl.data.rows import rl_row
from finr1_verl.data.sources import Rejected, parser_for
from finr1_verl.reward.score import Sample, read_sample

PROMPT_VERSION = f"{prompts.SYSTEM_PROMPT_VERSION}+{prompts.QUESTION_TEMPLATE_VERSION}"
PAPER_COUNT = 1000
SHORT_ANSWER_WORDS = 8
MEDIUM_ANSWER_WORDS = 64


def instruct_stratum(example: Example) -> str:
    """Finance-Instruct-500K stratum: task instruction present or not, and reference answer length."""
    words = len(example.answer.split())
    length = "short" if words <= SHORT_ANSWER_WORDS else "medium" if words <= MEDIUM_ANSWER_WORDS else "long"
    return f"{'instructed' if example.context else 'plain'}/{length}"


@dataclass(frozen=True)
class Selection:
    """Which items are scored: ``count`` random ones (all if fewer), or a ``fraction`` per stratum."""

    count: int | None = PAPER_COUNT
    fraction: float | None = None
    stratify: Callable[[Example], str] | None = None

    def describe(self) -> str:
        if self.fraction is not None:
            return f"{self.fraction:.0%} stratified"
        return f"{self.count} random (all if fewer)"


@dataclass(frozen=True)
class Benchmark:
    name: str  # command-line and report key
    title: str  # column title (the paper's, for its five)
    source: str  # parser in finr1_verl.data.sources
    in_paper: bool  # one of Fin-R1's five reported benchmarks (they make the average)
    selection: Selection = Selection()
    metric: str = "accuracy (%)"


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("finqa", "FinQA", "finqa", True),
        Benchmark("convfinqa", "ConvFinQA", "convfinqa", True),
        Benchmark("ant_finance", "Ant_Finance", "ant_fineva", True),
        Benchmark("tfns", "TFNS", "tfns", True),
        Benchmark(
            "finance_instruct",
            "Finance-Instruct-500K",
            "finance_instruct",
            True,
            Selection(count=None, fraction=0.1, stratify=instruct_stratum),
        ),
        Benchmark("financeiq", "FinanceIQ", "financeiq", False),
        Benchmark("fincuge", "FinCUGE", "fincuge", False),
    )
}


def benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


@dataclass(frozen=True)
class EvalItem:
    """One question as the model sees it and as the scorer checks it."""

    benchmark: str
    id: str
    messages: list[dict[str, str]]
    sample: Sample  # reference readings, answer type, choices: what the reward reads from an RL row


def eval_item(bench: Benchmark, example: Example) -> EvalItem:
    """The RL row of ``example`` turned into an evaluation item (prompt and ground truth, as in training:
    readings that disagree are reconciled the way ``finr1-data prepare`` does, so a benchmark never
    accepts the reading the upstream's own scorer would not)."""
    example, _ = reconcile(example)
    row: dict[str, Any] = rl_row(example, 0, "eval")
    sample = read_sample(row["data_source"], row["reward_model"]["ground_truth"], row["extra_info"])
    return EvalItem(bench.name, example.id, row["prompt"], sample)


def iter_parsed(bench: Benchmark, path: str | Path) -> Iterator[Example | Rejected]:
    """Every record of the benchmark's files, as the source parser yields it."""
    yield from parser_for(bench.source)(path)
