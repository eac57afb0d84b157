"""Fin-R1's reward: strict format + answer equivalence (rules first, an LLM judge when they cannot decide).

verl entry point: ``reward.custom_reward_function.path=pkg://finr1_verl.reward.score`` with
``name=compute_score``.  For other callers::

    from finr1_verl.reward import compute_score, compute_score_sync, SCORE_KEYS
"""

from finr1_verl.reward.answer import extract_answer
from finr1_verl.reward.answer_type import classify_answer
from finr1_verl.reward.format import check_format
from finr1_verl.reward.guard import GUARD_COUNTS, hack_reason
from finr1_verl.reward.inputs import ANSWER_TYPES, InputError
from finr1_verl.reward.judge import AnswerJudge, JudgeError, JudgeResult, parse_verdict
from finr1_verl.reward.match import Verdict, rule_verdict
from finr1_verl.reward.score import (
    INPUT_ERRORS,
    SCORE_KEYS,
    Assessment,
    RewardResult,
    ScoreSettings,
    assess,
    assess_rules,
    close_judges,
    compute_score,
    compute_score_sync,
    judge_stats,
    read_sample,
)

__all__ = [
    "ANSWER_TYPES",
    "GUARD_COUNTS",
    "INPUT_ERRORS",
    "InputError",
    "SCORE_KEYS",
    "AnswerJudge",
    "Assessment",
    "JudgeError",
    "JudgeResult",
    "RewardResult",
    "ScoreSettings",
    "Verdict",
    "assess",
    "assess_rules",
    "check_format",
    "close_judges",
    "compute_score",
    "compute_score_sync",
    "extract_answer",
    "hack_reason",
    "classify_answer",
    "judge_stats",
    "parse_verdict",
    "read_sample",
    "rule_verdict",
]
