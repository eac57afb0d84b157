"""One evaluation run: select items, generate, score, save each item as it finishes, resume, report.

Output folder (``--out``)::

    run.json            the settings the responses were produced and scored with
    items.json          the selected item ids per benchmark, in rank order (reusable with --items;
                        --limit N scores the first N of them)
    items/<name>.jsonl  one line per item: prompt, response, extracted answer, verdicts, judge reply
    rejects.jsonl       input records the parsers could not use, with their reason
    summary.json        scores + protocol; report.md and report.png (see report.py)
    results.json        the scores in lm-evaluation-harness 0.4's layout, and samples_<name>.jsonl
                        its per-sample logs (see harness_format.py)

Resume: a rerun with the same folder reuses every item already in ``items/<name>.jsonl`` whose
response was generated and whose judge call did not fail; it regenerates failed generations and
re-scores judge errors from the stored response.  A run with other generation settings (model,
sampling, seed, prompt) is refused — its responses would not be comparable; items scored with
other scoring settings (judge, mode, extraction: ``scored_with``) are re-scored from their stored
responses without generating again.
Each ``items/<name>.jsonl`` is the store of a :class:`~finr1_verl.data.resumable.ResumableRun`
keyed by item id, the same skeleton as distillation and filtering: an item is one line written the
moment it is scored, a line torn by a kill is cut when the run resumes, and at the end the file is
rewritten in selection order, so an interrupted and resumed run leaves the same bytes as an
uninterrupted one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from finr1_verl import prompts
from finr1_verl.data.records import RecordError
from finr1_verl.data.rejects import RejectWriter
from finr1_verl.data.resumable import ResumableRun
from finr1_verl.eval.benchmarks import PROMPT_VERSION, Benchmark, EvalItem, benchmark
from finr1_verl.eval.generate import Generation, Request, Sampling
from finr1_verl.eval.harness_format import write_harness_results
from finr1_verl.eval.items import Loaded, load_items, read_items_file, write_items_file
from finr1_verl.eval.report import build_summary, write_reports
from finr1_verl.eval.score import (
    EVAL_SCORING,
    BenchmarkScore,
    failed_generation_score,
    generation_fields,
    protocol,
    score_item,
    summarize,
)
from finr1_verl.reward.judge import AnswerJudge
from finr1_verl.reward.score import ScoreSettings


class Backend(Protocol):
    """What the run needs of a generation backend (:class:`EndpointBackend`, :class:`VLLMBackend`)."""

    sampling: Sampling

    def describe(self) -> dict[str, Any]: ...

    def stats(self) -> dict[str, int]: ...

    def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[str, Generation]]: ...


@dataclass(frozen=True)
class EvalConfig:
    data: Mapping[str, Path]  # benchmark name -> file or folder
    out: Path
    seed: int = 0
    limit: int | None = None  # items per benchmark (a random subset of the selection)
    items_file: Path | None = None
    scoring: ScoreSettings = EVAL_SCORING
    label: str | None = None  # the new row's name in the report (default: the model)
    command: str = ""
    progress: bool = True


class RunMismatch(ValueError):
    """The output folder holds responses produced with other generation settings."""


def run_settings(config: EvalConfig, backend: Backend, judge: AnswerJudge | None) -> dict[str, Any]:
    described = backend.describe()
    scoring = protocol(config.scoring)
    if judge is None:
        scoring["mode"] = "never"
    else:
        scoring |= {
            "judge_model": judge.client.model,
            "judge_prompt_version": prompts.JUDGE_PROMPT_VERSION,
            "judge_structured_output": judge.structured_output,
            "judge_sees_question": judge.include_question,
        }
    return {
        "generation": {
            "backend": described["backend"],
            "model": described["model"],
            "sampling": asdict(backend.sampling),
            "prompt_version": PROMPT_VERSION,
        },
        "scoring": scoring,
    }


def check_resumable(path: Path, settings: dict[str, Any]) -> None:
    """Refuses an output folder whose stored responses were generated with other settings."""
    if not path.exists():
        return
    previous = json.loads(path.read_text(encoding="utf-8"))
    if previous.get("generation") != settings["generation"]:
        raise RunMismatch(
            f"{path.parent} holds responses generated with other settings:\n"
            f"  stored: {json.dumps(previous.get('generation'), sort_keys=True)}\n"
            f"  now:    {json.dumps(settings['generation'], sort_keys=True)}\n"
            "use another --out folder for this run"
        )


def fingerprint(section: dict[str, Any]) -> str:
    """A short hash of a settings section, stored with each item to tell how it was scored."""
    return hashlib.sha256(json.dumps(section, sort_keys=True).encode()).hexdigest()[:16]


def base_record(item: EvalItem, position: int) -> dict[str, Any]:
    sample = item.sample
    return {
        "benchmark": item.benchmark,
        "id": item.id,
        "position": position,
        "prompt": item.messages,
        "references": list(sample.readings),
        "answer_type": sample.answer_type,
    }


async def run_benchmark(
    bench: Benchmark,
    loaded: Loaded,
    backend: Backend,
    judge: AnswerJudge | None,
    config: EvalConfig,
    scored_with: str,
) -> list[dict[str, Any]]:
    """Every selected item generated and scored, reusing what ``items/<name>.jsonl`` already holds."""
    path = config.out / "items" / f"{bench.name}.jsonl"
    positions = {item.id: position for position, item in enumerate(loaded.items)}
    by_id = {item.id: item for item in loaded.items}
    done: dict[str, dict[str, Any]] = {}
    to_score: list[tuple[EvalItem, Generation]] = []
    to_generate: list[EvalItem] = []
    desc = f"eval {bench.name}"
    with ResumableRun(path, desc=desc, unit=" item", progress=config.progress, key_field="id") as run:
        for item in loaded.items:
            record = run.store.get(item.id)
            if record is None or record["response"] is None:
                to_generate.append(item)
            elif record["scored_with"] != scored_with or record["judge_error"] is not None:
                generation = Generation(
                    record["response"], record["finish_reason"], record["completion_tokens"]
                )
                to_score.append((item, generation))
            else:
                done[item.id] = record
        run.start(len(loaded.items), done=len(done))

        async def finish(item: EvalItem, generation: Generation) -> None:
            record = base_record(item, positions[item.id]) | generation_fields(generation)
            record["scored_with"] = scored_with
            if generation.response is None:
                record |= failed_generation_score()
            else:
                score = await score_item(item, generation.response, config.scoring, judge)
                record |= score.as_dict()
            run.save(record)
            done[item.id] = record

        pending = [asyncio.ensure_future(finish(item, generation)) for item, generation in to_score]
        requests = [(item.id, item.messages) for item in to_generate]
        try:
            async for key, generation in backend.generate(requests):
                pending.append(asyncio.ensure_future(finish(by_id[key], generation)))
            await asyncio.gather(*pending)
        finally:
            for task in pending:
                task.cancel()
        run.finish([item.id for item in loaded.items])
    return [done[item.id] for item in loaded.items]


def prepare_items(config: EvalConfig) -> dict[str, Loaded]:
    """Every benchmark's items (pinned by the items file, else selected), read before any model is:
    a damaged file or a missing id stops the run before the costly part."""
    pinned_path = config.items_file or config.out / "items.json"
    pinned = read_items_file(pinned_path) if pinned_path.exists() else {}
    if config.items_file is not None:
        for name in config.data:
            if name not in pinned:
                raise RecordError(
                    config.items_file, name, "ids", "the items file lists no ids for this benchmark"
                )
    return {
        name: load_items(benchmark(name), path, config.seed, pinned.get(name), config.limit)
        for name, path in config.data.items()
    }


async def run_eval(
    config: EvalConfig,
    backend: Backend,
    judge: AnswerJudge | None,
    loaded: dict[str, Loaded] | None = None,
) -> dict[str, Any]:
    """The whole run (see the module docstring); returns the summary that was written.  ``loaded``:
    the items :func:`prepare_items` read already (read here when not given)."""
    config.out.mkdir(parents=True, exist_ok=True)
    settings = run_settings(config, backend, judge)
    check_resumable(config.out / "run.json", settings)
    scored_with = fingerprint(settings["scoring"])
    loaded = prepare_items(config) if loaded is None else loaded
    write_items_file(config.out / "items.json", {name: ld.selected for name, ld in loaded.items()})
    with RejectWriter(config.out / "rejects.jsonl") as rejects:
        for name, ld in loaded.items():
            for reject in ld.rejects:
                rejects.write(reject, benchmark=name)
    (config.out / "run.json").write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    scores: dict[str, BenchmarkScore] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    for name, ld in loaded.items():
        records[name] = await run_benchmark(benchmark(name), ld, backend, judge, config, scored_with)
        scores[name] = summarize(records[name], judge_used=judge is not None)
    summary = build_summary(config, settings, loaded, scores, judge, backend)
    write_reports(summary, config.out)
    write_harness_results(summary, records, config.out)
    return summary
