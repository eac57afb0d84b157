"""``distill``: reasoning traces from a teacher behind an OpenAI-compatible API, with Fin-R1's settings.

Fin-R1 (arXiv 2503.16252; docs/method.md §1) asked DeepSeek-R1 at temperature 0.6, with no system
prompt, a ``\\boxed{}`` instruction for calculation and choice questions (the rendered question
carries it, see :mod:`finr1_verl.data.render`) and the reply forced to open its thinking block.
``force_thinking`` says how that is forced:

* ``prefill`` (default; vLLM, SGLang): the request ends with the assistant message ``"<think>\\n"``
  and ``add_generation_prompt=false, continue_final_message=true``, so the model writes on inside
  its thinking block;
* ``server``: nothing extra is sent, for servers whose chat template opens the block itself
  (DeepSeek-R1's current template) and hosted APIs that refuse a final assistant message.

The reply's trace is vLLM's ``reasoning_content`` when the server runs a reasoning parser, else the
``<think>`` block of the content (without its opening tag when prefilled); the answer is what
follows.  A reply cut at ``max_tokens``, or with no trace or no answer, is asked again (a fresh
draw) up to ``reply_retries`` times; transport faults are retried by the client within its bounds.
What still fails is stored as an error record with its kind and reason — never a crash — and the
next run asks again.

k samples per question are k separate requests at temperature > 0 without a seed: independent
draws that the client never caches or de-duplicates.  Results go to ``traces.jsonl`` (a
:class:`~finr1_verl.data.resumable.ResumableRun`, keyed ``source/id#sample``) as
Fin-R1-Data records: ``Question``, ``Thinking``, ``Answer`` plus source, id, sample, teacher model,
token counts and the parsed example that the filter needs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finr1_verl import prompts
from finr1_verl.data.build import SourceInput, decontaminated
from finr1_verl.data.decontaminate import DEFAULT_NGRAM, REASONS, Decontaminator, EvalText
from finr1_verl.data.golds import reconcile
from finr1_verl.data.jsonl_store import ERROR, OK, read_latest, sample_key
from finr1_verl.data.records import Example
from finr1_verl.data.rejects import RejectWriter
from finr1_verl.data.render import render_question
from finr1_verl.data.resumable import ResumableRun, write_report
from finr1_verl.data.sources import Rejected
from finr1_verl.llm import ChatResult, LLMClient, LLMError
from finr1_verl.reward.format import THINK_CLOSE, THINK_OPEN
from finr1_verl.table import format_table

FORCE_THINKING = ("prefill", "server")
TRUNCATED, NO_REASONING, NO_ANSWER = "truncated", "no_reasoning", "no_answer"
TRACES, REJECTS, REPORT = "traces.jsonl", "rejects.jsonl", "report.json"
OVER_LIMIT = "over_limit"  # the reject reason of questions beyond ``limit_per_source``


@dataclass(frozen=True)
class TeacherSettings:
    """How the teacher is asked (Fin-R1's values by default)."""

    model: str = "deepseek-ai/DeepSeek-R1"
    samples: int = 1  # k independent traces per question
    temperature: float = 0.6  # Fin-R1
    max_tokens: int = 16384  # R1 traces on table questions run to several thousand tokens
    top_p: float | None = None  # None: the server's default
    force_thinking: str = "prefill"
    reply_retries: int = 2  # fresh draws after a truncated reply or one without trace or answer

    def __post_init__(self) -> None:
        if self.force_thinking not in FORCE_THINKING:
            raise ValueError(f"force_thinking must be one of {FORCE_THINKING}, got {self.force_thinking!r}")
        if self.samples < 1 or self.reply_retries < 0 or self.max_tokens < 1:
            raise ValueError("samples >= 1, reply_retries >= 0 and max_tokens >= 1 are required")
        if self.temperature <= 0:
            raise ValueError("distillation samples at temperature > 0 (Fin-R1: 0.6)")


@dataclass(frozen=True)
class DistillConfig:
    out: Path
    teacher: TeacherSettings = field(default_factory=TeacherSettings)
    limit_per_source: int | None = None  # the first N examples of each source
    progress: bool = True
    eval_items: tuple[EvalText, ...] = ()  # --exclude-from: questions of these never reach the teacher
    ngram: int = DEFAULT_NGRAM


class ReplyError(Exception):
    """A well-formed reply that is not a usable trace: ``kind`` is truncated, no_reasoning or no_answer."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"[{kind}] {message}")
        self.kind = kind


def teacher_messages(example: Example, force_thinking: str) -> list[dict[str, str]]:
    """No system prompt (Fin-R1): the rendered question, plus the thinking prefix when prefilling."""
    messages = [{"role": "user", "content": render_question(example)}]
    if force_thinking == "prefill":
        messages.append({"role": "assistant", "content": prompts.TEACHER_THINK_PREFIX})
    return messages


def teacher_extra_body(force_thinking: str) -> dict[str, Any] | None:
    """vLLM/SGLang request fields that make the model continue the prefilled assistant message."""
    if force_thinking == "prefill":
        return {"add_generation_prompt": False, "continue_final_message": True}
    return None


def split_reply(result: ChatResult) -> tuple[str, str]:
    """(thinking, answer) of a teacher reply, or :class:`ReplyError` when it is not a usable trace."""
    if result.finish_reason == "length":
        raise ReplyError(TRUNCATED, "the reply hit max_tokens")
    content = result.content or ""
    if result.reasoning_content and result.reasoning_content.strip():
        thinking = result.reasoning_content
        answer = content.rpartition(THINK_CLOSE)[2] if THINK_CLOSE in content else content
    elif THINK_CLOSE in content:
        thinking, _, answer = content.partition(THINK_CLOSE)
        thinking = thinking.strip()
        thinking = thinking[len(THINK_OPEN) :] if thinking.startswith(THINK_OPEN) else thinking
    else:
        raise ReplyError(NO_REASONING, "the reply has no reasoning_content and no </think>")
    if not thinking.strip():
        raise ReplyError(NO_REASONING, "the reasoning is empty")
    if not answer.strip():
        raise ReplyError(NO_ANSWER, "nothing follows the reasoning")
    return thinking.strip(), answer.strip()


def example_to_dict(example: Example) -> dict[str, Any]:
    return dataclasses.asdict(example)


def example_from_dict(data: dict[str, Any]) -> Example:
    return Example(**data)


async def ask_teacher(
    client: LLMClient, example: Example, teacher: TeacherSettings
) -> tuple[ChatResult, str, str]:
    """One trace; a reply that is not a usable trace is drawn again up to ``reply_retries`` times."""
    messages = teacher_messages(example, teacher.force_thinking)
    error: ReplyError | None = None
    for _ in range(teacher.reply_retries + 1):
        result = await client.chat(
            messages,
            max_tokens=teacher.max_tokens,
            temperature=teacher.temperature,
            top_p=teacher.top_p,
            extra_body=teacher_extra_body(teacher.force_thinking),
            use_cache=False,
        )
        try:
            thinking, answer = split_reply(result)
        except ReplyError as err:
            error = err
            continue
        return result, thinking, answer
    assert error is not None
    raise error


def _sample_fields(example: Example, sample: int, status: str) -> dict[str, Any]:
    """What every traces.jsonl record starts with, ok or error: resuming finds samples by ``key``."""
    return {
        "key": sample_key(example.source, example.id, sample),
        "status": status,
        "source": example.source,
        "id": example.id,
        "sample": sample,
    }


def trace_record(
    example: Example, sample: int, result: ChatResult, thinking: str, answer: str, teacher: TeacherSettings
) -> dict[str, Any]:
    """The Fin-R1-Data record of one sample (Question, Thinking, Answer + provenance)."""
    return {
        **_sample_fields(example, sample, OK),
        "Question": render_question(example),
        "Thinking": thinking,
        "Answer": answer,
        "teacher_model": result.model or teacher.model,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "finish_reason": result.finish_reason,
        "temperature": teacher.temperature,
        "force_thinking": teacher.force_thinking,
        "prompt_version": prompts.DISTILL_PROMPT_VERSION,
        "example": example_to_dict(example),
    }


def error_record(
    example: Example, sample: int, kind: str, message: str, teacher: TeacherSettings
) -> dict[str, Any]:
    return {
        **_sample_fields(example, sample, ERROR),
        "teacher_model": teacher.model,
        "error": {"kind": kind, "message": message},
    }


def _examples(
    inputs: list[SourceInput],
    config: DistillConfig,
    rejects: RejectWriter | None = None,
    dropped: Counter | None = None,
) -> Iterator[Example]:
    """Every parsed example that decontamination keeps, the first ``limit_per_source`` per source, with
    its gold readings reconciled as ``finr1-data prepare`` does.  With ``rejects``, every other record is
    written there with its reason (the parser's, decontamination's, or ``over_limit``), so none goes
    unaccounted; ``dropped`` counts decontamination's rejects by (source, reason)."""
    limit = config.limit_per_source
    decontaminate = Decontaminator(config.eval_items, config.ngram) if config.eval_items else None
    for source in inputs:
        taken = 0
        for item in source.parse():
            item = decontaminated(item, decontaminate, source)
            if isinstance(item, Example) and limit is not None and taken >= limit:
                item = Rejected(item.source, str(source.path), "", OVER_LIMIT, f"limit {limit}", item.id)
            if isinstance(item, Rejected):
                if rejects is not None:
                    rejects.write(item)
                if dropped is not None and item.reason in REASONS:
                    dropped[item.source, item.reason] += 1
            else:
                taken += 1
                yield reconcile(item)[0]  # readings that agree, as prepare writes them (data/golds.py)


def _sample_key(job: tuple[Example, int]) -> str:
    example, sample = job
    return sample_key(example.source, example.id, sample)


def distill(inputs: list[SourceInput], client: LLMClient, config: DistillConfig) -> dict[str, Any]:
    """Distil every pending (question, sample); returns the report (also written to ``report.json``)."""
    config.out.mkdir(parents=True, exist_ok=True)
    teacher = config.teacher

    samples = (
        (example, sample) for example in _examples(inputs, config) for sample in range(teacher.samples)
    )
    with ResumableRun(config.out / TRACES, desc="distill", unit=" req", progress=config.progress) as run:
        pending, questions, dropped = 0, Counter(), Counter()
        with RejectWriter(config.out / REJECTS) as rejects:
            for example in _examples(inputs, config, rejects, dropped):
                questions[example.source] += 1
                pending += sum(not run.store.done(_sample_key((example, s))) for s in range(teacher.samples))
        failures: Counter = Counter()

        def status() -> str:
            stats = client.stats.snapshot()
            return (
                f"tokens in {stats['prompt_tokens']:,} out {stats['completion_tokens']:,}, "
                f"errors {sum(failures.values())}"
            )

        async def handle(job: tuple[Example, int]) -> dict[str, Any]:
            example, sample = job
            try:
                result, thinking, answer = await ask_teacher(client, example, teacher)
            except (LLMError, ReplyError) as err:
                failures[err.kind] += 1
                return error_record(example, sample, err.kind, str(err), teacher)
            return trace_record(example, sample, result, thinking, answer, teacher)

        run.start(pending, status=status)
        concurrency = client.max_concurrency * len(client.endpoints)
        run.run(run.pending(samples, _sample_key), handle, concurrency, clients=[client])
        run.finish()
    report = _report(config, questions, pending, failures, client)
    report["decontamination"] = {
        name: {reason: n for (source, reason), n in sorted(dropped.items()) if source == name}
        for name in sorted({source for source, _ in dropped})
    }
    write_report(config.out / REPORT, report)
    return report


def _report(
    config: DistillConfig, questions: Counter, requested: int, failures: Counter, client: LLMClient
) -> dict[str, Any]:
    per_source: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "questions": 0,
            "ok": 0,
            "errors": 0,
            "errors_by_kind": Counter(),
            "prompt_tokens": 0,
            "completion_tokens": 0,
        }
    )
    for name, count in questions.items():
        per_source[name]["questions"] = count
    for record in read_latest(config.out / TRACES):
        entry = per_source[record["source"]]
        if record["status"] == OK:
            entry["ok"] += 1
            entry["prompt_tokens"] += record["prompt_tokens"]
            entry["completion_tokens"] += record["completion_tokens"]
        else:
            entry["errors"] += 1
            entry["errors_by_kind"][record["error"]["kind"]] += 1
    sources = {}
    for name in sorted(per_source):
        entry = per_source[name]
        entry["samples"] = entry["questions"] * config.teacher.samples
        entry["errors_by_kind"] = dict(sorted(entry["errors_by_kind"].items()))
        sources[name] = entry
    return {
        "teacher": dataclasses.asdict(config.teacher),
        "endpoints": client.endpoints,
        "prompt_version": prompts.DISTILL_PROMPT_VERSION,
        "this_run": {
            "requested": requested,
            "failed": dict(sorted(failures.items())),
            "client": client.stats.snapshot(),
        },
        "sources": sources,
    }


def summary_table(report: dict[str, Any]) -> str:
    """Per source: questions, samples, traces kept, errors (by kind), tokens."""
    header = ["source", "questions", "samples", "ok", "errors", "error kinds", "prompt tok", "completion tok"]
    counted = ("questions", "samples", "ok", "errors", "prompt_tokens", "completion_tokens")
    rows, totals = [], Counter()
    for name, s in report["sources"].items():
        kinds = ", ".join(f"{kind} {n}" for kind, n in s["errors_by_kind"].items())
        rows.append([name, *(s[k] for k in counted[:4]), kinds, *(s[k] for k in counted[4:])])
        totals.update({k: s[k] for k in counted})
    total = ["TOTAL", *(totals[k] for k in counted[:4]), "", *(totals[k] for k in counted[4:])]
    return format_table(header, rows, total=total)
