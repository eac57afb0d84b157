"""Scoring one response, and a benchmark's scores, with the reward's own chain.

Each response goes through :func:`finr1_verl.reward.score.assess` — the same format check, answer
extraction (lenient by default, for models that ignore the tags), hack guard, rule verdict and judge
as the GRPO reward — so an evaluation number and a training reward can never disagree on how an
answer is read.  Two scores come out of it:

* rule score — the rule verdict alone (UNDECIDED counts as wrong);
* judge score — the judge's verdict where it gave one, else the rule verdict.  A judge that fails
  after its retries never stops the run: the item keeps its rule verdict and counts as a judge error.

A response that could not be generated counts as wrong in both scores and is reported as a
generation error (a rerun retries it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from finr1_verl.eval.benchmarks import EvalItem
from finr1_verl.eval.generate import Generation
from finr1_verl.reward.judge import AnswerJudge
from finr1_verl.reward.match import Verdict
from finr1_verl.reward.score import ScoreSettings, assess

NO_ANSWER = "no_answer"
GUARDED = "guarded"


# Evaluation reads untagged models too: the last box / "the answer is" / last line count without <answer>.
# It judges answers of any shape, as the paper's protocol did (training never does: reward/shape.py).
EVAL_SCORING = ScoreSettings(lenient=True, judge_any_shape=True)


# The scoring settings an evaluation report records (the judge is described by the runner).
PROTOCOL_FIELDS = (
    "mode",
    "lenient",
    "think_in_prompt",
    "max_answer_chars",
    "judge_any_shape",
    "rules_version",
)


def protocol(settings: ScoreSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in PROTOCOL_FIELDS}


@dataclass(frozen=True)
class ItemScore:
    format_ok: bool
    answer: str | None
    guard: str | None  # the hack guard's reason, when it zeroed the answer
    rule_verdict: str  # equal | different | undecided | no_answer | guarded
    judge_verdict: str | None  # equal | different; None when the judge was not asked or failed
    judge_reply: str | None
    judge_error: str | None  # the judge's error kind after its retries
    rule_correct: bool
    correct: bool  # the judge score of this item

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def score_item(
    item: EvalItem, response: str, settings: ScoreSettings, judge: AnswerJudge | None
) -> ItemScore:
    """The score of one generated response: the reward's :func:`assess`, recorded per step."""
    if judge is None:
        settings = replace(settings, mode="never")
    outcome = await assess(response, item.sample, settings, judge)
    result = outcome.result
    if outcome.answer is None:
        rule = NO_ANSWER
    elif outcome.guard is not None:
        rule = GUARDED
    else:
        rule = outcome.verdict.value
    judge_verdict = ("equal" if result.judge_equal else "different") if result.judged else None
    return ItemScore(
        format_ok=bool(result.format),
        answer=outcome.answer,
        guard=outcome.guard,
        rule_verdict=rule,
        judge_verdict=judge_verdict,
        judge_reply=outcome.judge_reply,
        judge_error=outcome.judge_error,
        rule_correct=outcome.verdict is Verdict.EQUAL,
        correct=bool(result.acc),
    )


@dataclass(frozen=True)
class BenchmarkScore:
    """A benchmark's scores (percent) and the counts that say how far to trust them."""

    items: int
    rule_score: float | None  # None when no item was selected (a file too small for its protocol)
    judge_score: float | None  # None also when no judge was used
    rule_hits: int  # items the rule verdict counts right (rule_score's numerator)
    judge_hits: int | None  # items the judge score counts right; None when no judge was used
    judged: int  # items whose score a judge verdict decided
    judge_errors: int
    rule_judge_disagree: int  # judged items where a decided rule verdict said otherwise
    answer_found: int
    format_ok: int
    guarded: int
    truncated: int  # responses cut at max_tokens
    generation_errors: int

    @property
    def judged_share(self) -> float:
        return 100.0 * self.judged / self.items if self.items else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "judged_share": round(self.judged_share, 2)}


def percent(hits: int, total: int) -> float | None:
    return round(100.0 * hits / total, 2) if total else None


def summarize(records: list[dict[str, Any]], judge_used: bool) -> BenchmarkScore:
    """Aggregate per-item records (the JSONL rows written by the runner)."""
    n = len(records)
    judged = [r for r in records if r["judge_verdict"] is not None]
    decided = ("equal", "different")
    rule_hits = sum(bool(r["rule_correct"]) for r in records)
    judge_hits = sum(bool(r["correct"]) for r in records) if judge_used else None
    return BenchmarkScore(
        items=n,
        rule_score=percent(rule_hits, n),
        judge_score=None if judge_hits is None else percent(judge_hits, n),
        rule_hits=rule_hits,
        judge_hits=judge_hits,
        judged=len(judged),
        judge_errors=sum(r["judge_error"] is not None for r in records),
        rule_judge_disagree=sum(
            r["rule_verdict"] in decided and (r["rule_verdict"] == "equal") != (r["judge_verdict"] == "equal")
            for r in judged
        ),
        answer_found=sum(r["answer"] is not None for r in records),
        format_ok=sum(bool(r["format_ok"]) for r in records),
        guarded=sum(r["guard"] is not None for r in records),
        truncated=sum(r["finish_reason"] == "length" for r in records),
        generation_errors=sum(r["generation_error"] is not None for r in records),
    )


def failed_generation_score() -> dict[str, Any]:
    """The score fields of an item whose response could not be generated."""
    return ItemScore(False, None, None, NO_ANSWER, None, None, None, False, False).as_dict()


def generation_fields(generation: Generation) -> dict[str, Any]:
    return {
        "response": generation.response,
        "finish_reason": generation.finish_reason,
        "completion_tokens": generation.completion_tokens,
        "generation_error": generation.error,
    }
