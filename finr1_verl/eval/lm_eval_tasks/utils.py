"""The functions the task YAMLs name (``!function utils.…``): the items, and the project's scorer.

lm-eval imports this file by its path; everything it does goes through :mod:`finr1_verl.eval`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import datasets

from finr1_verl.eval.benchmarks import EvalItem, benchmark
from finr1_verl.eval.items import load_items, read_items_file
from finr1_verl.eval.score import EVAL_SCORING, score_item
from finr1_verl.reward.score import Sample


def _doc(item: EvalItem, position: int) -> dict[str, Any]:
    (system, user) = item.messages
    sample = item.sample
    return {
        "benchmark": item.benchmark,
        "id": item.id,
        "position": position,
        "system": system["content"],
        "user": user["content"],
        "target": sample.readings[0],
        "sample": json.dumps(
            {
                "readings": list(sample.readings),
                "answer_type": sample.answer_type,
                "choices": dict(sample.choices) if sample.choices else None,
                "question": sample.question,
            },
            ensure_ascii=False,
        ),
    }


def load_benchmark(benchmark_name: str, **metadata: Any) -> datasets.DatasetDict:
    """The task's items as a ``test`` split: ``metadata[benchmark_name]`` is the benchmark's file or
    folder; ``items`` (an items file) pins the ids, else ``seed`` (default 0) selects them as
    ``finr1-eval`` does; ``limit`` takes the first N of the selection."""
    bench = benchmark(benchmark_name)
    path = metadata.get(bench.name)
    if not path:
        raise ValueError(
            f"task finr1_{bench.name}: give the benchmark file in lm-eval's --metadata, "
            f'e.g. --metadata \'{{"{bench.name}": "/data/{bench.name}/..."}}\''
        )
    pinned = read_items_file(Path(metadata["items"])).get(bench.name) if metadata.get("items") else None
    loaded = load_items(bench, path, int(metadata.get("seed", 0)), pinned, metadata.get("limit"))
    docs = [_doc(item, position) for position, item in enumerate(loaded.items)]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def _item(doc: dict[str, Any]) -> EvalItem:
    fields = json.loads(doc["sample"])
    sample = Sample(tuple(fields["readings"]), fields["answer_type"], fields["choices"], fields["question"])
    messages = [{"role": "system", "content": doc["system"]}, {"role": "user", "content": doc["user"]}]
    return EvalItem(doc["benchmark"], doc["id"], messages, sample)


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """``acc``: the rule verdict of the project's scorer on the response (lenient extraction, as
    ``finr1-eval``); ``format``: the think/answer format check."""
    score = asyncio.run(score_item(_item(doc), results[0], EVAL_SCORING, None))
    return {"acc": float(score.rule_correct), "format": float(score.format_ok)}
