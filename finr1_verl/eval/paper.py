"""Fin-R1's published evaluation table (arXiv 2503.16252 v5, §5), the rows a new result is set beside.

Scores are % correct as judged by an LLM; ``avg`` is the unweighted mean of the five benchmarks.
The order of :data:`PAPER_COLUMNS` is the paper's column order; keys are benchmark names of
:mod:`finr1_verl.eval.benchmarks`.
"""

from __future__ import annotations

PAPER_SOURCE = "Fin-R1 (arXiv 2503.16252 v5), evaluation table"
PAPER_COLUMNS: tuple[str, ...] = ("finqa", "convfinqa", "ant_finance", "tfns", "finance_instruct")

# model -> (FinQA, ConvFinQA, Ant_Finance, TFNS, Finance-Instruct-500K, average), as printed.
PAPER_ROWS: dict[str, tuple[float, float, float, float, float, float]] = {
    "DeepSeek-R1 (671B)": (71.0, 82.0, 90.0, 78.0, 70.0, 78.2),
    "Fin-R1 (7B)": (76.0, 85.0, 81.0, 71.0, 62.9, 75.2),
    "Qwen2.5-32B-Instruct": (72.0, 78.0, 84.0, 77.0, 58.0, 73.8),
    "DeepSeek-R1-Distill-Qwen-32B": (70.0, 72.0, 87.0, 79.0, 54.0, 72.4),
    "Fin-R1-SFT (7B)": (73.0, 81.0, 76.0, 68.0, 61.4, 71.9),
    "Qwen2.5-14B-Instruct": (68.0, 77.0, 84.0, 72.0, 56.0, 71.4),
    "DeepSeek-R1-Distill-Llama-70B": (68.0, 74.0, 84.0, 62.0, 56.0, 69.2),
    "Fin-R1-Zero (GRPO only)": (62.1, 76.3, 72.2, 70.9, 57.6, 67.8),
    "DeepSeek-R1-Distill-Qwen-14B": (62.0, 73.0, 82.0, 65.0, 49.0, 66.2),
    "Qwen2.5-7B-Instruct": (60.0, 66.0, 85.0, 68.0, 49.0, 65.6),
    "DeepSeek-R1-Distill-Qwen-7B": (55.0, 62.0, 71.0, 60.0, 42.0, 58.0),
}

# The paper rows drawn beside a new result in the bar chart (all rows stay in the markdown table).
PLOT_ROWS: tuple[str, ...] = ("Fin-R1 (7B)", "Fin-R1-SFT (7B)", "Qwen2.5-7B-Instruct", "DeepSeek-R1 (671B)")
