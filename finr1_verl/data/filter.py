"""``filter``: Fin-R1's two-stage judge filtering of distilled traces, and the SFT and RL sets it yields.

Stage A (answer check) — the final answer of the trace (the last ``\\boxed{}`` of the answer for
objective questions, the whole answer for open ones) against the reference readings: the answer
module's rules decide when they can (:func:`~finr1_verl.reward.match.rule_verdict`), the answer
judge (:class:`~finr1_verl.reward.judge.AnswerJudge`, Qwen2.5-72B-Instruct by default) decides open
questions and whatever the rules leave UNDECIDED.  Stage B (reasoning quality) — only for samples
that passed A, as in Fin-R1: :class:`~finr1_verl.data.quality.QualityJudge` scores the seven
criteria; a trace passes only if all seven hold.

Every sample's verdict (with the rule verdict, the judge's reply and the failed criteria) is
appended to ``verdicts.jsonl`` as it arrives, keyed like the traces, so the run resumes after a
kill; a judge fault after the client's retries is stored as an error with its stage and kind —
never a pass — and the next run checks that sample again.

The outputs are rebuilt from the two files at the end of every run, in key order (same inputs,
same bytes): ``sft/{train,val}.parquet`` holds one row per question, its first sample that passed
both stages, in verl's SFT layout; ``rl/{train,val}.parquet`` holds the objective questions none of
whose samples passed — Fin-R1's hard RL set — once every sample has a trace and a verdict.
Questions with a missing trace or verdict are counted as unresolved until a rerun settles them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from finr1_verl import prompts
from finr1_verl.data.distill import TRACES, example_from_dict
from finr1_verl.data.jsonl_store import ERROR, OK, read_latest
from finr1_verl.data.mix import split_of
from finr1_verl.data.quality import QualityJudge
from finr1_verl.data.records import OBJECTIVE_TYPES, Example
from finr1_verl.data.resumable import ResumableRun, write_report
from finr1_verl.data.rows import RL_SCHEMA, SFT_SCHEMA, ground_truths, rl_row, sft_row
from finr1_verl.data.writer import BatchWriter
from finr1_verl.reward.answer import extract_answer
from finr1_verl.reward.judge import AnswerJudge
from finr1_verl.reward.llm_judge import JudgeError
from finr1_verl.reward.match import Verdict, rule_verdict
from finr1_verl.table import format_table

VERDICTS, REPORT = "verdicts.jsonl", "report.json"
SPLITS = ("train", "val")
STAGES = ("distill", "answer", "reasoning")
# An open answer is compared whole; its verdict record keeps the start (the trace file has all of it).
MAX_CANDIDATE_CHARS = 1000


@dataclass(frozen=True)
class FilterConfig:
    traces: Path  # distill's traces.jsonl, or the folder holding it
    out: Path
    val_fraction: float = 0.05
    progress: bool = True

    @property
    def traces_file(self) -> Path:
        return self.traces / TRACES if self.traces.is_dir() else self.traces


def answer_candidate(answer: str, answer_type: str) -> str | None:
    """What stage A compares: the boxed (or cued) final answer of objective questions, else the whole answer."""
    if answer_type in OBJECTIVE_TYPES:
        return extract_answer(answer, lenient=True)
    return answer.strip() or None


async def stage_a(judge: AnswerJudge, example: Example, answer: str) -> dict[str, Any]:
    """Rules first; the judge for open questions and for what the rules cannot decide."""
    candidate = answer_candidate(answer, example.answer_type)
    readings = ground_truths(example)
    verdict = rule_verdict(candidate, readings, example.answer_type, example.choices or None)
    shown = (
        candidate
        if candidate is None or len(candidate) <= MAX_CANDIDATE_CHARS
        else candidate[:MAX_CANDIDATE_CHARS] + " …"
    )
    result = {"method": "rule", "candidate": shown, "rule": verdict.value, "judge_reply": None}
    if verdict is not Verdict.UNDECIDED:
        return result | {"passed": verdict is Verdict.EQUAL}
    judged = await judge.judge(candidate or "", readings, choices=example.choices or None)
    return result | {"method": "judge", "passed": judged.equal, "judge_reply": judged.raw}


async def stage_b(judge: QualityJudge, example: Example, trace: dict[str, Any]) -> dict[str, Any]:
    rating = await judge.rate(
        example.source, trace["Question"], ground_truths(example), trace["Thinking"], trace["Answer"]
    )
    return {
        "passed": rating.passed,
        "scores": rating.scores,
        "failed_criteria": rating.failed_criteria,
        "judge_reply": rating.raw,
    }


async def check_trace(
    answer_judge: AnswerJudge, quality_judge: QualityJudge, trace: dict[str, Any]
) -> dict[str, Any]:
    """The verdict record of one distilled sample: ok with both stages' results, or an error."""
    example = example_from_dict(trace["example"])
    record: dict[str, Any] = {
        "key": trace["key"],
        "status": OK,
        "source": trace["source"],
        "id": trace["id"],
        "sample": trace["sample"],
        "answer_type": example.answer_type,
        "stage_a": None,
        "stage_b": None,
        "passed": False,
        "judge_model": answer_judge.client.model,
        "prompt_versions": {
            "answer": prompts.JUDGE_PROMPT_VERSION,
            "reasoning": prompts.QUALITY_PROMPT_VERSION,
        },
    }
    stage = "answer"
    try:
        record["stage_a"] = await stage_a(answer_judge, example, trace["Answer"])
        if record["stage_a"]["passed"]:
            stage = "reasoning"
            record["stage_b"] = await stage_b(quality_judge, example, trace)
            record["passed"] = record["stage_b"]["passed"]
    except JudgeError as err:
        record |= {
            "status": ERROR,
            "passed": False,
            "error": {"stage": stage, "kind": err.kind, "message": str(err)},
        }
    return record


def filter_traces(
    config: FilterConfig, answer_judge: AnswerJudge, quality_judge: QualityJudge
) -> dict[str, Any]:
    """Judge every distilled sample without a verdict, then rebuild the SFT/RL sets and the report."""
    traces_file = config.traces_file
    if not traces_file.exists():
        raise FileNotFoundError(f"{traces_file}: no traces (run `finr1-data distill` first)")
    config.out.mkdir(parents=True, exist_ok=True)
    with ResumableRun(config.out / VERDICTS, desc="filter", unit=" sample", progress=config.progress) as run:

        def todo() -> Iterator[dict[str, Any]]:
            traces = (t for t in read_latest(traces_file) if t["status"] == OK)
            return run.pending(traces, key=itemgetter("key"))

        pending = sum(1 for _ in todo())
        outcome: Counter = Counter()

        def status() -> str:
            stats = answer_judge.client.stats.snapshot()
            return (
                f"passed {outcome['passed']} failed {outcome['failed']} errors {outcome['error']}, "
                f"tokens in {stats['prompt_tokens']:,} out {stats['completion_tokens']:,}"
            )

        async def handle(trace: dict[str, Any]) -> dict[str, Any]:
            record = await check_trace(answer_judge, quality_judge, trace)
            outcome["error" if record["status"] == ERROR else "passed" if record["passed"] else "failed"] += 1
            return record

        run.start(pending, status=status)
        client = answer_judge.client
        concurrency = client.max_concurrency * len(client.endpoints)
        run.run(todo(), handle, concurrency, clients=[client, quality_judge.client])
        run.finish()
    report = build_outputs(config)
    report["this_run"] = {"checked": pending, **outcome, "client": answer_judge.client.stats.snapshot()}
    report["judge_model"] = answer_judge.client.model
    write_report(config.out / REPORT, report)
    return report


def _new_counts() -> dict[str, Any]:
    stage = {"in": 0, "passed": 0, "failed": 0, "errors": 0}
    return {
        **{name: dict(stage) for name in STAGES},
        "answer_by": Counter(),
        "failed_criteria": Counter(),
        "questions": 0,
        "sft": 0,
        "rl": 0,
        "unresolved": 0,
    }


def _count_sample(counts: dict[str, Any], trace: dict[str, Any], verdict: dict[str, Any] | None) -> None:
    counts["distill"]["in"] += 1
    if trace["status"] != OK:
        counts["distill"]["errors"] += 1
        return
    counts["distill"]["passed"] += 1
    answer, reasoning = counts["answer"], counts["reasoning"]
    answer["in"] += 1
    if verdict is None:
        return
    if verdict["stage_a"] is None:
        answer["errors"] += 1
        return
    answer["passed" if verdict["stage_a"]["passed"] else "failed"] += 1
    counts["answer_by"][verdict["stage_a"]["method"]] += 1
    if not verdict["stage_a"]["passed"]:
        return
    reasoning["in"] += 1
    if verdict["stage_b"] is None:
        reasoning["errors"] += 1
        return
    reasoning["passed" if verdict["stage_b"]["passed"] else "failed"] += 1
    counts["failed_criteria"].update(verdict["stage_b"]["failed_criteria"])


def build_outputs(config: FilterConfig) -> dict[str, Any]:
    """SFT and RL parquet from the traces and verdicts, in key order; returns the report."""
    verdicts = {record["key"]: record for record in read_latest(config.out / VERDICTS)}
    writers = {
        (kind, split): BatchWriter(config.out / kind / f"{split}.parquet", schema)
        for kind, schema in (("sft", SFT_SCHEMA), ("rl", RL_SCHEMA))
        for split in SPLITS
    }
    per_source: dict[str, dict[str, Any]] = defaultdict(_new_counts)
    rl_index = 0
    questions = groupby(read_latest(config.traces_file), key=lambda t: (t["source"], t["id"]))
    for (source, _), group in questions:
        samples = list(group)
        counts = per_source[source]
        counts["questions"] += 1
        for trace in samples:
            _count_sample(counts, trace, verdicts.get(trace["key"]))
        ok = [t for t in samples if t["status"] == OK]
        checked = [verdicts.get(t["key"]) for t in ok]
        passed = [
            t for t, v in zip(ok, checked, strict=True) if v is not None and v["status"] == OK and v["passed"]
        ]
        if not ok:
            counts["unresolved"] += 1
            continue
        example = example_from_dict(ok[0]["example"])
        split = split_of(str(example.meta.get("group", example.id)), config.val_fraction)
        if passed:
            writers["sft", split].add(
                sft_row(example, thinking=passed[0]["Thinking"], answer_text=passed[0]["Answer"])
            )
            counts["sft"] += 1
        elif len(ok) < len(samples) or any(v is None or v["status"] != OK for v in checked):
            counts["unresolved"] += 1
        elif example.is_objective:
            writers["rl", split].add(rl_row(example, rl_index, split))
            rl_index += 1
            counts["rl"] += 1
    for writer in writers.values():
        writer.close()
    sources = {}
    for name in sorted(per_source):
        counts = per_source[name]
        counts["answer_by"] = dict(sorted(counts["answer_by"].items()))
        counts["failed_criteria"] = {str(k): v for k, v in sorted(counts["failed_criteria"].items())}
        sources[name] = counts
    return {
        "traces": str(config.traces_file),
        "prompt_versions": {
            "answer": prompts.JUDGE_PROMPT_VERSION,
            "reasoning": prompts.QUALITY_PROMPT_VERSION,
        },
        "val_fraction": config.val_fraction,
        "sources": sources,
        "outputs": {f"{kind}/{split}.parquet": writer.count for (kind, split), writer in writers.items()},
    }


def summary_table(report: dict[str, Any]) -> str:
    """Per source and stage: in, passed, failed, errors; then per source what each output got."""
    stage_rows, output_rows = [], []
    for name, s in report["sources"].items():
        for stage in STAGES:
            c = s[stage]
            stage_rows.append([name, stage, c["in"], c["passed"], c["failed"], c["errors"]])
        criteria = ", ".join(f"#{k} {v}" for k, v in s["failed_criteria"].items())
        output_rows.append([name, s["questions"], s["sft"], s["rl"], s["unresolved"], criteria])
    stages = format_table(["source", "stage", "in", "passed", "failed", "errors"], stage_rows)
    outputs = format_table(
        ["source", "questions", "sft", "rl", "unresolved", "failed criteria (stage B)"], output_rows
    )
    return f"{stages}\n\n{outputs}"
