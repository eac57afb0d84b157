"""Judge-hacking defences: answers that must score 0 before any judge sees them.

The reward is an RL target, so the policy searches for whatever fools the judge.  The published
attacks ("One Token to Fool LLM-as-a-Judge", arXiv 2507.08794; "Pitfalls of Rule- and Model-based
Verifiers", arXiv 2505.22203) are content-free openers, prompt injection addressed to the grader,
forged tags and hedging between answers.  Each check here is a small pure predicate on the
response, its answer span and the extracted answer; :func:`hack_reason` returns the first reason
found, or ``None`` for an answer that may be scored.

Only the repeated-tag check reads the whole response; every other check is a function of the answer
span and the answer alone and is memoised for short spans, because a GRPO group's responses end in
a few distinct answer blocks.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from finr1_verl.data.records import OBJECTIVE_TYPES
from finr1_verl.llm.stats import Counters
from finr1_verl.reward.answer import MEMO_CHARS, count_span_answers
from finr1_verl.reward.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

EMPTY = "empty"
TOO_LONG = "too_long"
HEDGE = "hedge"
ADDRESSES_GRADER = "addresses_grader"
FAKE_TAGS = "fake_tags"
CONTENT_FREE = "content_free"
NO_DIGIT = "no_digit"
REASONS = (EMPTY, TOO_LONG, FAKE_TAGS, ADDRESSES_GRADER, HEDGE, CONTENT_FREE, NO_DIGIT)
_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

# Chat-template role markers and the judge prompt's own delimiters: never part of a real answer.
_FORGED = re.compile(
    r"<\|(?:im_start|im_end|endoftext|system|user|assistant|eot_id|start_header_id|end_header_id)\|>"
    r"|\[/?INST\]|<</?SYS>>|</?s>"
    r"|</?\s*(?:reference_answer|candidate_answer|question|options|system|user|assistant|verdict|score)\s*>"
    r"|^\s*(?:system|user|assistant|grader|judge)\s*[:：]",
    re.IGNORECASE | re.MULTILINE,
)

# Text that speaks to whoever grades the answer instead of answering.
_GRADER = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+|your\s+)?"
    r"(?:previous|prior|above|preceding|earlier|former|system|instructions?|rules?|criteria)"
    r"|\b(?:grader|judge|evaluator|verifier|grading)\b"
    r"|\b(?:score|grade|verdict|reward)\s*(?:is\s*|of\s*)?[:=：]"
    r"|\b(?:output|respond|reply|answer|return|print|say|write)\s*(?:with\s*|only\s*)?[\"'`]?\\boxed"
    r"|\b(?:output|respond|reply|return)\s+(?:with\s+)?(?:1|one|true|yes|correct)\b"
    r"|\bmark\s+(?:it|this|the\s+answer|me)\s+(?:as\s+)?(?:correct|right|equivalent)"
    r"|\b(?:answer|solution|response)\s+(?:above\s+)?is\s+(?:correct|right|equivalent)\b"
    r"|\bequivalent\s+to\s+the\s+reference"
    r"|\b(?:reference|candidate|gold|ground[\s-]*truth|expected)\s+answer"
    r"|\b(?:new|these|following)\s+instructions\b|\bsystem\s+prompt\b"
    r"|忽略.{0,8}(?:指令|指示|要求|规则|内容|说明)|无视.{0,8}(?:指令|指示|要求|规则)"
    r"|评委|裁判|评分员|阅卷|参考答案|标准答案|候选答案"
    r"|(?:给|打|评)(?:我|这个答案|本答案|该答案)?\s*(?:满分|1分|一分)"
    r"|判(?:为|定为)?\s*(?:正确|1\b)|(?:上述|以上|该|这个)(?:答案|回答)(?:是)?正确"
    r"|输出\s*(?:\\boxed|1\b|一)",
    re.IGNORECASE,
)

# Wording that offers more than one final answer ("5 or 6", "可能是A或者B").
_HEDGE_WORDS = re.compile(
    r"\b(?:or|either)\b|或者|或是|还是|也可能|[A-Za-z0-9%]\s*或\s*[A-Za-z0-9]", re.IGNORECASE
)
# Choice answers: option texts may contain "or", so only letter-versus-letter counts.
_HEDGE_LETTERS = re.compile(
    r"(?<![A-Za-z])[A-H]\s*(?:or|或者|或是|还是|或|/)\s*[A-H](?![A-Za-z])", re.IGNORECASE
)

# Openers that carry no answer (arXiv 2507.08794's "master keys" and their variants), normalised
# by :func:`_normalise`: lower case, no punctuation, no spaces.
_OPENER_WORDS = """
    solution solutions answer answers theanswer theansweris finalanswer thefinalansweris
    thoughtprocess reasoning explanation step1 steps result stepbystep letssolvethisstepbystep
    letssolvethisproblemstepbystep letsthinkstepbystep letmethinkstepbystep letmesolvethisstepbystep
    letsworkthisoutstepbystep ican sure ok okay yesican none null na nan unknown idk
    解 解答 解析 答 答案 答案是 答案为 思考过程 思路 分析 步骤 结果 首先 回答 かいせつ 解説
    让我们一步一步解决这个问题 让我们一步步思考 我们一步一步来
"""
_OPENERS = frozenset(_OPENER_WORDS.split())
_STEP_BY_STEP = re.compile(r"(?:let'?s|let\s+us|let\s+me|i\s+will|we\s+will)\b.*step\s*by\s*step\W*", re.I)
_DIGIT = re.compile(r"[0-9〇零一二两三四五六七八九十百千万亿]")


def _normalise(text: str) -> str:
    """Lower case without punctuation, symbols, spaces and LaTeX wrappers, for opener matching."""
    text = re.sub(r"\\(?:text|textbf|mathrm|boxed)\s*", "", text.lower())
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def _hedges(answer: str, span: str | None, answer_type: str) -> bool:
    if span is not None and count_span_answers(span) > 1:
        return True
    if answer_type == "choice":
        return bool(_HEDGE_LETTERS.search(answer))
    return answer_type in OBJECTIVE_TYPES and bool(_HEDGE_WORDS.search(answer))


def hack_reason(
    response: str,
    span: str | None,
    answer: str | None,
    *,
    answer_type: str,
    max_answer_chars: int = 1000,
) -> str | None:
    """Why this answer must score 0 without a judge call, or None (also None when there is no answer).

    ``span`` is the response's answer block (:func:`~finr1_verl.reward.answer.answer_span`), ``answer``
    the extracted final answer.
    """
    if answer is None:
        return None
    if span is not None and len(span) <= MEMO_CHARS:
        reason = _answer_reason_memo(answer, span, answer_type, max_answer_chars)
    else:
        reason = _answer_reason(answer, span, answer_type, max_answer_chars)
    if reason in (EMPTY, TOO_LONG):
        return reason
    if _repeated_tag(response) or (span is None and _FORGED.search(response)):
        return FAKE_TAGS
    return reason


def _repeated_tag(response: str) -> bool:
    return (
        response.count(THINK_OPEN) > 1
        or response.count(THINK_CLOSE) > 1
        or response.count(ANSWER_OPEN) > 1
        or response.count(ANSWER_CLOSE) > 1
    )


def _answer_reason(answer: str, span: str | None, answer_type: str, max_answer_chars: int) -> str | None:
    """:func:`hack_reason` without the checks on the whole response (repeated tags, forged tags without a span)."""
    normalised = _normalise(answer)
    if not normalised:
        return EMPTY
    if len(answer) > max_answer_chars or (span is not None and len(span) > 4 * max_answer_chars):
        return TOO_LONG
    if span is not None and (any(tag in span for tag in _TAGS) or _FORGED.search(span)):
        return FAKE_TAGS
    if _GRADER.search(span if span is not None else answer):
        return ADDRESSES_GRADER
    if _hedges(answer, span, answer_type):
        return HEDGE
    if normalised in _OPENERS or _STEP_BY_STEP.fullmatch(answer.strip()):
        return CONTENT_FREE
    if answer_type == "numeric" and not _DIGIT.search(answer):
        return NO_DIGIT
    return None


_answer_reason_memo = functools.lru_cache(maxsize=16_384)(_answer_reason)


# Process-wide guard hits by reason (the per-sample metric is ``hacked``).
GUARD_COUNTS = Counters(REASONS)
