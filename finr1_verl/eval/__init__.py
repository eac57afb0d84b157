"""Evaluation on Fin-R1's five financial benchmarks (and FinanceIQ, FinCUGE), with the paper's protocol.

``finr1-eval run`` (see :mod:`finr1_verl.eval.cli`) selects seeded items (:mod:`.items`) of the
benchmarks declared in :mod:`.benchmarks`, generates with vLLM or an endpoint (:mod:`.generate`),
scores with the reward's answer module and judge (:mod:`.score`), resumes from per-item JSONL
(:mod:`.runner`) and reports beside the paper's table (:mod:`.report`, :mod:`.paper`).
"""

from finr1_verl.eval.benchmarks import BENCHMARKS, Benchmark, EvalItem
from finr1_verl.eval.generate import EndpointBackend, Generation, Sampling, VLLMBackend
from finr1_verl.eval.items import load_items, read_items_file, write_items_file
from finr1_verl.eval.runner import EvalConfig, RunMismatch, run_eval
from finr1_verl.eval.score import EVAL_SCORING, BenchmarkScore, ItemScore, score_item

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "BenchmarkScore",
    "EVAL_SCORING",
    "EndpointBackend",
    "EvalConfig",
    "EvalItem",
    "Generation",
    "ItemScore",
    "RunMismatch",
    "Sampling",
    "VLLMBackend",
    "load_items",
    "read_items_file",
    "run_eval",
    "score_item",
    "write_items_file",
]
