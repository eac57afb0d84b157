"""Fin-R1's GRPO reward as a verl custom reward function: format + judged answer equivalence.

Use it from verl with::

    reward.custom_reward_function.path=pkg://finr1_verl.reward.score
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.judge_urls=http://judge:8000/v1
    +reward.custom_reward_function.reward_kwargs.judge_model=Qwen2.5-72B-Instruct

Per sample, in one direction: strict format check → answer extraction → hack guard (0, no judge
call) → rule verdict → judge when the mode asks for it → ``score = format_weight × format +
accuracy_weight × accuracy``.  Modes: ``rule_first`` (default; the judge only when rules are
UNDECIDED), ``always`` (judge every found, unguarded answer, as Fin-R1 did), ``never`` (rules only).

A judge that fails after its retries never crashes a step: accuracy falls back to the rule verdict
(UNDECIDED counts 0), ``judge_error`` is 1 and a rate-limited warning is logged; ``strict=True``
raises instead.  An unusable row or response (:mod:`finr1_verl.reward.inputs`) raises a clear error
naming the row and the field with ``strict=True``; otherwise it scores 0 with ``input_error`` = 1 and
is counted by field in :data:`INPUT_ERRORS`.  Every sample returns the same keys (:data:`SCORE_KEYS`), all floats, so verl logs
them as metrics.  Clients and judges are built once per settings and reused by every call.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from finr1_verl.llm import DEADLINE, parse_endpoints, run_sync
from finr1_verl.llm.slicer import LoopSlicer
from finr1_verl.llm.stats import Counters
from finr1_verl.reward import inputs
from finr1_verl.reward.answer import answer_span, clear_box_cache, final_answer
from finr1_verl.reward.answer_type import classify_answer
from finr1_verl.reward.format import check_format, strip_stop_tokens
from finr1_verl.reward.guard import GUARD_COUNTS, OFF_SHAPE, clear_guard_cache, hack_reason
from finr1_verl.reward.inputs import InputError
from finr1_verl.reward.judge import AnswerJudge, JudgeResult, JudgeSettings
from finr1_verl.reward.llm_judge import JudgeError
from finr1_verl.reward.match import RULES_VERSION, Verdict, clear_verdict_cache, rule_verdict
from finr1_verl.reward.numbers import clear_number_cache
from finr1_verl.reward.shape import judge_shape

logger = logging.getLogger(__name__)

MODES = ("rule_first", "always", "never")
# rule_verdict codes: per-sample values, for dumps and agreement analysis.
RULE_CODES = {Verdict.EQUAL: 1.0, Verdict.DIFFERENT: 0.0, Verdict.UNDECIDED: -1.0}
# Passed by verl itself; anything else unknown in reward_kwargs is a likely typo and is warned about.
VERL_KWARGS = ("reward_router_address", "reward_model_tokenizer")
WARN_INTERVAL_S = 60.0
# Process-wide count of unusable inputs scored 0 (non-strict), by field (the per-sample metric is ``input_error``).
INPUT_ERRORS = Counters(inputs.FIELDS)
_SLICER = LoopSlicer()


@dataclass(frozen=True)
class ScoreSettings:
    """How responses are scored, in training (``reward_kwargs``) and in evaluation alike, with the
    Fin-R1 defaults.  ``reward_kwargs`` uses the same names, and those of :class:`JudgeSettings`
    (``urls``, ``model`` and ``max_tokens`` prefixed with ``judge_``): see :data:`KWARGS`.
    """

    mode: str = "rule_first"
    format_weight: float = 1.0
    accuracy_weight: float = 1.0
    strict: bool = False
    think_in_prompt: bool = False  # the chat template opens <think> in the prompt
    lenient: bool = False  # evaluation of untagged models: last box / "the answer is" / last line; not for RL
    judge_error_alarm: int = 64  # consecutive judge failures in one worker before an error-level log line
    # The most one sample waits for the judge, retries and backoff included; then the judge-fault fallback.
    judge_deadline_s: float = 60.0
    # Evaluation's paper protocol may judge answers of any shape; training never does (finr1_verl.reward.shape).
    judge_any_shape: bool = False
    judge: JudgeSettings = JudgeSettings()

    @property
    def max_answer_chars(self) -> int:
        """Longer final answers score 0 (hack guard) and are never judged (one limit: :class:`JudgeSettings`)."""
        return self.judge.max_answer_chars

    @property
    def rules_version(self) -> str:
        """The version of the rules (format, extraction, guard, verdicts) these settings score with."""
        return RULES_VERSION

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> ScoreSettings:
        values = {k: v for k, v in kwargs.items() if k in KWARGS and v is not None}
        _warn_unknown(set(kwargs) - set(KWARGS) - set(VERL_KWARGS))
        urls = parse_endpoints(values.get("judge_urls") or kwargs.get("reward_router_address"))
        values["judge_urls"] = tuple(urls or parse_endpoints(os.environ.get("FINR1_JUDGE_URLS")))
        values.setdefault("judge_model", os.environ.get("FINR1_JUDGE_MODEL", ""))
        judge = JudgeSettings(**{JUDGE_KWARGS[k]: values.pop(k) for k in list(values) if k in JUDGE_KWARGS})
        settings = cls(**values, judge=judge)
        if not settings.judge_deadline_s > 0:
            raise ValueError(f"reward_kwargs.judge_deadline_s must be > 0, got {settings.judge_deadline_s!r}")
        if settings.mode not in MODES:
            raise ValueError(f"reward_kwargs.mode must be one of {MODES}, got {settings.mode!r}")
        if settings.mode != "never" and not (judge.urls and judge.model):
            raise ValueError(
                f"reward mode {settings.mode!r} needs a judge: set reward_kwargs.judge_urls (or "
                "$FINR1_JUDGE_URLS, or let verl host it: reward.reward_model.enable=True) and "
                "reward_kwargs.judge_model (or $FINR1_JUDGE_MODEL); or use mode=never"
            )
        return settings


# reward_kwargs name -> JudgeSettings field: its own name, with ``judge_`` before the ambiguous ones.
JUDGE_KWARGS = {
    (f"judge_{f.name}" if f.name in ("urls", "model", "max_tokens") else f.name): f.name
    for f in fields(JudgeSettings)
}
# Every name reward_kwargs may set.
KWARGS = (*(f.name for f in fields(ScoreSettings) if f.name != "judge"), *JUDGE_KWARGS)


def settings_for(kwargs: Mapping[str, Any]) -> ScoreSettings:
    """:meth:`ScoreSettings.from_kwargs`, memoised: verl passes the same reward_kwargs every call.

    Environment defaults are read when a combination of kwargs is first seen.
    """
    key = tuple(kwargs.items())
    try:
        hash(key)
    except TypeError:  # list values (judge_urls): the same settings under a hashable key
        key = tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in kwargs.items()))
    try:
        return _settings_cached(key)
    except TypeError:  # an unhashable value: no memo
        return ScoreSettings.from_kwargs(kwargs)


@functools.lru_cache(maxsize=64)
def _settings_cached(key: tuple) -> ScoreSettings:
    return ScoreSettings.from_kwargs(dict(key))


@dataclass
class RewardResult:
    """One sample's reward; :meth:`as_dict` gives verl the fixed key set."""

    score: float = 0.0
    acc: float = 0.0
    format: float = 0.0
    answer_found: float = 0.0
    hacked: float = 0.0
    judged: float = 0.0  # a judge verdict decided the accuracy
    judge_error: float = 0.0  # the judge was needed and failed; the rule verdict was used
    judge_equal: float = 0.0  # the judge said "equivalent"
    judge_disagree: float = 0.0  # judge and a decided rule verdict disagree (hacking signal)
    rule_verdict: float = -1.0  # 1 equal, 0 different, -1 undecided or not computed
    input_error: float = 0.0  # the row or response was unusable and scored 0 (counted in INPUT_ERRORS)

    def as_dict(self) -> dict[str, float]:
        return {key: float(getattr(self, key)) for key in SCORE_KEYS}


SCORE_KEYS = tuple(f.name for f in fields(RewardResult))


@dataclass(frozen=True)
class Sample:
    """What the reward needs from one verl row besides the response."""

    readings: tuple[str, ...]
    answer_type: str
    choices: Mapping[str, str] | None
    question: str | None


def read_sample(data_source: str, ground_truth: Any, extra_info: Mapping[str, Any] | None) -> Sample:
    """Ground-truth readings and answer facts of a row, coerced to strings (:mod:`finr1_verl.reward.inputs`).

    Raises :class:`~finr1_verl.reward.inputs.InputError` (a ``ValueError``) naming the row and the field
    when a field is unusable.
    """
    if extra_info is not None and not isinstance(extra_info, Mapping):
        raise InputError(
            "extra_info",
            f"data_source={data_source!r}: extra_info must be a mapping, got {type(extra_info).__name__}",
        )
    extra = dict(extra_info or {})
    try:
        readings = inputs.readings(ground_truth)
        if not readings:
            raise InputError("ground_truth", f"reward_model.ground_truth is empty ({ground_truth!r})")
        choices = _choices(extra.get("choices"))
        answer_type = inputs.answer_type(extra.get("answer_type")) or classify_answer(readings[0])
        question = inputs.optional_text(extra.get("question"), "question")
    except InputError as err:
        raise InputError(err.field, f"{_where(data_source, extra)}: {err}") from err
    return Sample(readings, answer_type, choices, question)


def _choices(value: Any) -> dict[str, str] | None:
    """``extra_info.choices`` (a mapping or its JSON text) as a fresh dict of strings; None when empty."""
    if isinstance(value, (str, bytes)):
        try:
            value = _parse_json(inputs.as_text(value, "choices"))
        except json.JSONDecodeError as exc:
            raise InputError("choices", f"extra_info.choices is not a JSON object: {exc}") from exc
    if value is None or (isinstance(value, Mapping) and not value):
        return None
    if not isinstance(value, Mapping):
        raise InputError(
            "choices", f"extra_info.choices must map option labels to texts, got {type(value).__name__}"
        )
    return {inputs.as_text(key, "choices"): inputs.as_text(text, "choices") for key, text in value.items()}


def _where(data_source: str, extra: Mapping[str, Any]) -> str:
    return f"data_source={data_source!r} id={extra.get('id', extra.get('index', '?'))!r}"


@functools.lru_cache(maxsize=4096)
def _parse_json(text: str) -> Any:
    return json.loads(text) or None


@dataclass
class Assessment:
    """One response through the whole chain, with what each step saw (for evaluation and dumps)."""

    result: RewardResult
    answer: str | None = None  # the extracted final answer
    guard: str | None = None  # the hack guard's reason, when it zeroed the answer
    verdict: Verdict | None = None  # the rule verdict; None when no answer or guarded
    needs_judge: bool = False
    judge_reply: str | None = None
    judge_error: str | None = None  # the judge's error kind after its retries


def clear_rule_caches() -> None:
    """Forget every memoised rule result (boxes, guard reasons, parses, verdicts), to measure cold costs."""
    clear_box_cache()
    clear_guard_cache()
    clear_number_cache()
    clear_verdict_cache()


def assess_rules(solution_str: str, sample: Sample, settings: ScoreSettings) -> Assessment:
    """Everything but the judge: format, answer, guard and rule verdict (pure CPU work)."""
    think_in_prompt = settings.think_in_prompt
    solution_str = strip_stop_tokens(solution_str)
    result = RewardResult(format=float(check_format(solution_str, think_in_prompt)))
    span = answer_span(solution_str, think_in_prompt)
    answer = final_answer(solution_str, span, lenient=settings.lenient)
    result.answer_found = float(answer is not None)
    if answer is None:
        return Assessment(result)
    reason = hack_reason(
        solution_str,
        span,
        answer,
        answer_type=sample.answer_type,
        max_answer_chars=settings.max_answer_chars,
        golds=sample.readings,
        choices=sample.choices,
    )
    if reason is not None:
        GUARD_COUNTS.add(reason)
        result.hacked = 1.0
        return Assessment(result, answer, guard=reason)
    verdict = rule_verdict(answer, sample.readings, sample.answer_type, sample.choices)
    result.rule_verdict = RULE_CODES[verdict]
    result.acc = float(verdict is Verdict.EQUAL)
    needs_judge = settings.mode == "always" or (
        settings.mode == "rule_first" and verdict is Verdict.UNDECIDED
    )
    if (
        needs_judge
        and verdict is not Verdict.EQUAL
        and not settings.judge_any_shape
        and not judge_shape(answer, sample.answer_type, sample.readings, sample.choices)
    ):
        GUARD_COUNTS.add(OFF_SHAPE)
        result.hacked = 1.0
        return Assessment(result, answer, guard=OFF_SHAPE, verdict=verdict)
    return Assessment(result, answer, verdict=verdict, needs_judge=needs_judge)


async def assess(
    solution_str: str, sample: Sample, settings: ScoreSettings, judge: AnswerJudge | None = None
) -> Assessment:
    """The reward of one response with its intermediate steps (see the module docstring).

    ``judge`` defaults to the shared judge for ``settings`` (:func:`judge_for`).
    """
    assessment = await _SLICER.run(assess_rules, solution_str, sample, settings)
    return await _finish(assessment, sample, settings, judge)


async def _finish(
    assessment: Assessment, sample: Sample, settings: ScoreSettings, judge: AnswerJudge | None = None
) -> Assessment:
    if assessment.needs_judge:
        await _judge(assessment, sample, settings, judge or judge_for(settings.judge))
    result = assessment.result
    result.score = settings.format_weight * result.format + settings.accuracy_weight * result.acc
    return assessment


async def _judge(assessment: Assessment, sample: Sample, settings: ScoreSettings, judge: AnswerJudge) -> None:
    """Let the judge decide the accuracy; on a judge fault keep the rule verdict (UNDECIDED = 0)."""
    result = assessment.result
    try:
        judged = await _verdict(judge, assessment.answer, sample, settings.judge_deadline_s)
    except JudgeError as err:
        if settings.strict:
            raise
        result.judge_error = 1.0
        assessment.judge_error = err.kind
        _warn_judge_failure(err)
        _JUDGE_FAILURE_STREAK.failed(settings.judge_error_alarm)
        return
    _JUDGE_FAILURE_STREAK.succeeded()
    rule_decided = result.rule_verdict != RULE_CODES[Verdict.UNDECIDED]
    assessment.judge_reply = judged.raw
    result.judged = 1.0
    result.judge_equal = float(judged.equal)
    result.judge_disagree = float(rule_decided and bool(result.acc) != judged.equal)
    result.acc = float(judged.equal)


async def _verdict(judge: AnswerJudge, answer: str, sample: Sample, deadline_s: float) -> JudgeResult:
    """The judge's verdict within ``deadline_s``: the client stops retrying at the deadline, and the
    wait itself (endpoint queues included) is cut there too, as a judge fault."""
    call = judge.judge(
        answer, sample.readings, question=sample.question, choices=sample.choices, deadline_s=deadline_s
    )
    try:
        return await asyncio.wait_for(call, deadline_s)
    except TimeoutError as exc:
        raise JudgeError(DEADLINE, f"no verdict within judge_deadline_s={deadline_s:g}s") from exc


async def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str | Sequence[str],
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """verl's custom reward function: the fixed :data:`SCORE_KEYS` dict (``score`` is the reward).

    All CPU work (settings, row fields, format, extraction, guard, rules) runs in loop slices, so a
    whole batch gathered at once never stalls the event loop; only the judge call is awaited.
    """
    settings, sample, assessment = await _SLICER.run(
        _prepare, data_source, solution_str, ground_truth, extra_info, kwargs
    )
    return (await _finish(assessment, sample, settings)).result.as_dict()


def _prepare(data_source, solution_str, ground_truth, extra_info, kwargs):
    settings = settings_for(kwargs)
    try:
        sample = read_sample(data_source, ground_truth, extra_info)
        if not isinstance(solution_str, str):
            solution_str = inputs.as_text(solution_str, "response") if solution_str is not None else ""
    except InputError as err:
        if settings.strict:
            raise
        INPUT_ERRORS.add(err.field)
        _warn_input_error(err)
        return settings, None, Assessment(RewardResult(input_error=1.0))
    return settings, sample, assess_rules(solution_str, sample, settings)


def compute_score_sync(
    data_source: str,
    solution_str: str,
    ground_truth: str | Sequence[str],
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """:func:`compute_score` for synchronous callers (runs on the LLM layer's background loop)."""
    return run_sync(compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs))


# --- shared judges and warnings --------------------------------------------------------------
_judges: dict[JudgeSettings, AnswerJudge] = {}
_judges_lock = threading.Lock()


def judge_for(settings: JudgeSettings) -> AnswerJudge:
    """The one judge (and client) for these settings, built on first use and reused afterwards."""
    with _judges_lock:
        judge = _judges.get(settings)
        if judge is None:
            judge = _judges[settings] = AnswerJudge(
                settings.client(),
                max_answer_chars=settings.max_answer_chars,
                include_question=settings.include_question,
                structured_output=settings.structured_output,
                max_tokens=settings.max_tokens,
            )
        return judge


async def close_judges() -> None:
    """Close the cached judges' connections on the running loop and forget them.

    For the end of a run, or after a judge server was replaced at the same address; the next call
    builds fresh clients.
    """
    with _judges_lock:
        judges = list(_judges.values())
        _judges.clear()
    for judge in judges:
        await judge.client.aclose()


def judge_stats() -> dict[str, dict[str, int]]:
    """Counters of every judge built in this process (client counters plus verdict counts)."""
    with _judges_lock:
        judges = list(_judges.values())
    return {
        f"{j.client.model}@{','.join(j.client.endpoints)}": {
            **j.client.stats.snapshot(),
            **j.stats.snapshot(),
        }
        for j in judges
    }


_warn_lock = threading.Lock()
_warn_state = {"last": 0.0, "suppressed": 0}
_warned_keys: set[str] = set()


def _warn_judge_failure(err: JudgeError) -> None:
    with _warn_lock:
        now = time.monotonic()
        if now - _warn_state["last"] < WARN_INTERVAL_S:
            _warn_state["suppressed"] += 1
            return
        suppressed, _warn_state["suppressed"], _warn_state["last"] = _warn_state["suppressed"], 0, now
    logger.warning(
        "judge failed, accuracy falls back to the rule verdict (judge_error=1): %s "
        "[%d more judge failures in the last %.0fs not shown]",
        err,
        suppressed,
        WARN_INTERVAL_S,
    )


class _FailureStreak:
    """Consecutive judge failures in this process (one verl reward worker): at ``alarm`` in a row, one
    error-level line, so a dead judge is seen even when ``strict=false`` keeps training on rules."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def failed(self, alarm: int) -> None:
        with self._lock:
            self.count += 1
            count = self.count
        if alarm > 0 and count == alarm:
            logger.error(
                "judge failed %d times in a row in this reward worker: accuracy is rules-only until it "
                "answers again (check the judge URLs, judge_model and the server's log)",
                count,
            )

    def succeeded(self) -> None:
        with self._lock:
            self.count = 0


_JUDGE_FAILURE_STREAK = _FailureStreak()


def _warn_input_error(err: InputError) -> None:
    with _warn_lock:
        first = f"input:{err.field}" not in _warned_keys
        _warned_keys.add(f"input:{err.field}")
    if first:
        logger.warning("unusable reward input scored 0 (input_error=1; counted in INPUT_ERRORS): %s", err)


def _warn_unknown(keys: set[str]) -> None:
    with _warn_lock:
        new = sorted(keys - _warned_keys)
        _warned_keys.update(new)
    if new:
        logger.warning("unknown reward_kwargs ignored: %s", ", ".join(new))
