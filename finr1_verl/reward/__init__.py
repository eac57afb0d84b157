"""Fin-R1's reward: strict format + answer equivalence (rules first, an LLM judge when they cannot decide).

verl entry point: ``reward.custom_reward_function.path=pkg://finr1_verl.reward.score`` with
``name=compute_score``.  The public API (README, "Reward")::

    from finr1_verl.reward import compute_score, compute_score_sync, SCORE_KEYS  # async / sync
    from finr1_verl.reward import check_format, extract_answer, rule_verdict, Verdict  # the pure parts
    from finr1_verl.reward import InputError, INPUT_ERRORS  # unusable inputs: raised (strict) / counted

Everything else is imported from its module (``finr1_verl.reward.score``, ``.judge``, ``.guard``, ...).
"""

from finr1_verl.reward.answer import extract_answer
from finr1_verl.reward.format import check_format
from finr1_verl.reward.inputs import InputError
from finr1_verl.reward.match import Verdict, rule_verdict
from finr1_verl.reward.score import INPUT_ERRORS, SCORE_KEYS, compute_score, compute_score_sync

__all__ = [
    "INPUT_ERRORS",
    "SCORE_KEYS",
    "InputError",
    "Verdict",
    "check_format",
    "compute_score",
    "compute_score_sync",
    "extract_answer",
    "rule_verdict",
]
