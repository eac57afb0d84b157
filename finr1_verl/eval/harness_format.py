"""The run's scores in lm-evaluation-harness 0.4's layout, for tools and readers that know it.

* ``results.json`` — ``results[task]["acc,none"]`` and ``["acc_stderr,none"]`` (a fraction, and
  lm-eval's standard error), ``acc_rule`` beside them, ``n-samples``, ``configs[task]`` holding the
  protocol, ``versions``, ``n-shot``, ``higher_is_better`` and ``config`` as lm-eval's evaluator
  writes them (``lm_eval/result_schema.py``).  ``acc`` is the judge score when a judge ran and the
  rule score otherwise; ``acc_rule`` is always the rule score.
* ``samples_<task>.jsonl`` — one line per item in lm-eval's sample-log fields (``doc_id``,
  ``target``, ``arguments``, ``resps``, ``filtered_resps``, ``acc``) plus what the scorer decided on
  the way: the extracted answer, the rule verdict, the judge's verdict, reply and error.

Both are written from the same records as ``summary.json``; ``items/`` stays the store a rerun
resumes from.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from finr1_verl.eval.benchmarks import PROMPT_VERSION
from finr1_verl.eval.stats import mean_stderr

METRICS = ("acc", "acc_rule")


def _fraction(hits: int | None, n: int) -> float | None:
    return None if hits is None or n == 0 else hits / n


def task_results(name: str, bench: dict[str, Any]) -> dict[str, Any]:
    """One task's ``results`` entry: acc (judged when a judge ran) and acc_rule, each with its stderr."""
    n = bench["items"]
    judged = bench["judge_hits"] is not None
    acc_hits = bench["judge_hits"] if judged else bench["rule_hits"]
    return {
        "alias": name,
        "acc,none": _fraction(acc_hits, n),
        "acc_stderr,none": mean_stderr(acc_hits, n) if n else None,
        "acc_rule,none": _fraction(bench["rule_hits"], n),
        "acc_rule_stderr,none": mean_stderr(bench["rule_hits"], n) if n else None,
    }


def harness_results(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary.json``'s scores as lm-evaluation-harness 0.4's ``results.json``."""
    protocol, benches = summary["protocol"], summary["benchmarks"]
    common = {
        key: protocol[key] for key in ("backend", "model", "sampling", "prompt_version", "scoring", "seed")
    }
    return {
        "results": {name: task_results(name, bench) for name, bench in benches.items()},
        "group_subtasks": {name: [] for name in benches},
        "configs": {
            name: {
                "task": name,
                "output_type": "generate_until",
                "num_fewshot": 0,
                "metric_list": [
                    {"metric": m, "aggregation": "mean", "higher_is_better": True} for m in METRICS
                ],
                "generation_kwargs": protocol["sampling"],
                "metadata": {
                    "title": bench["title"],
                    "data": bench["data"],
                    "selection": bench["selection"],
                    "acc_is": "judge" if bench["judge_hits"] is not None else "rule",
                    "protocol": common | {"items": protocol["items"][name]},
                },
            }
            for name, bench in benches.items()
        },
        "versions": {name: PROMPT_VERSION for name in benches},
        "n-shot": {name: 0 for name in benches},
        "higher_is_better": {name: dict.fromkeys(METRICS, True) for name in benches},
        "n-samples": {
            name: {"original": bench["parsed"], "effective": bench["items"]}
            for name, bench in benches.items()
        },
        "config": {
            "model": protocol["backend"],
            "model_args": protocol["model"],
            "gen_kwargs": protocol["sampling"],
            "random_seed": protocol["seed"],
            "limit": protocol["limit"],
        },
        "model_name": summary["label"],
        "date": time.time(),
    }


def sample_line(record: dict[str, Any], judged: bool) -> dict[str, Any]:
    """One item's ``samples_<task>.jsonl`` line from its ``items/<task>.jsonl`` record."""
    acc = record["correct"] if judged else record["rule_correct"]
    return {
        "doc_id": record["position"],
        "doc": {"id": record["id"], "answer_type": record["answer_type"]},
        "target": record["references"][0] if record["references"] else "",
        "references": record["references"],
        "arguments": {"gen_args_0": {"arg_0": record["prompt"]}},
        "resps": [[record["response"]]],
        "filtered_resps": [record["answer"]],
        "filter": "none",
        "metrics": list(METRICS),
        "acc": float(bool(acc)),
        "acc_rule": float(bool(record["rule_correct"])),
        "extracted_answer": record["answer"],
        "rule_verdict": record["rule_verdict"],
        "judge_verdict": record["judge_verdict"],
        "judge_reply": record["judge_reply"],
        "judge_error": record["judge_error"],
        "format_ok": record["format_ok"],
        "finish_reason": record["finish_reason"],
        "generation_error": record["generation_error"],
    }


def write_harness_results(
    summary: dict[str, Any], records: dict[str, list[dict[str, Any]]], out: Path
) -> None:
    """``results.json`` and one ``samples_<task>.jsonl`` per benchmark in ``out``."""
    (out / "results.json").write_text(
        json.dumps(harness_results(summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for name, rows in records.items():
        judged = summary["benchmarks"][name]["judge_hits"] is not None
        with (out / f"samples_{name}.jsonl").open("w", encoding="utf-8") as handle:
            for record in rows:
                handle.write(json.dumps(sample_line(record, judged), ensure_ascii=False) + "\n")
