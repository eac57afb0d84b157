"""What a composed recipe will cost: steps, tokens and FLOPs per step, and wall time at an assumed MFU.

An estimate for planning, printed by ``finr1-recipe dry-run``, never a measurement:

- steps as verl counts them: GRPO ``len(train) // train_batch_size`` per epoch
  (``verl/trainer/ppo/v1/trainer_base.py:765``), SFT ``floor(floor(rows / dp) / (batch / dp))`` (per-rank
  ``drop_last``, ``verl/trainer/sft_trainer.py:236-251``), capped by ``trainer.total_training_steps``;
- tokens per step at ``FILL`` of the length budget (an assumption: real lengths vary by data and model);
- FLOPs ``2 P`` per token forward, ``6 P`` forward + backward (Kaplan et al. 2020, arXiv:2001.08361);
  GRPO per step: rollout ``2 P`` on response tokens, old and reference log-probs ``2 P`` each, the
  update ``6 P`` on all tokens; SFT ``6 P``;
- time at ``MFU_TRAIN`` of the GPU's dense bf16 peak for the passes over full sequences and ``MFU_ROLLOUT``
  for decoding (memory-bound).  Peak: H100 SXM 989 TFLOP/s dense bf16 (NVIDIA H100 datasheet).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from omegaconf import DictConfig

PEAK_TFLOPS = 989.0
MFU_TRAIN = 0.30
MFU_ROLLOUT = 0.10
FILL = 0.5
# Parameters of the models the recipes name when no config.json is at hand (Qwen2.5 model cards).
KNOWN_PARAMS = {"7b": 7.6e9, "1.5b": 1.5e9, "0.5b": 0.5e9, "14b": 14.7e9, "32b": 32.5e9, "72b": 72.7e9}


def model_params(path: str) -> float | None:
    """Parameter count from ``config.json`` (decoder-only with GQA), else from a size in the name."""
    config = Path(path).expanduser() / "config.json"
    if config.is_file():
        c = json.loads(config.read_text())
        h, layers, inter, vocab = (
            c["hidden_size"],
            c["num_hidden_layers"],
            c["intermediate_size"],
            c["vocab_size"],
        )
        head = c.get("head_dim") or h // c["num_attention_heads"]
        kv = c.get("num_key_value_heads", c["num_attention_heads"]) * head
        tied = 1 if c.get("tie_word_embeddings") else 2
        return float(layers * (2 * h * h + 2 * h * kv + 3 * h * inter) + tied * vocab * h)
    match = re.search(r"(\d+(?:\.\d+)?)b\b", path.lower())
    return KNOWN_PARAMS.get(match[1] + "b") if match else None


def _rows(value) -> int | None:
    from finr1_verl.preflight import parquet_rows

    files = [value] if isinstance(value, str) else list(value or [])
    if not files or not all(Path(f).expanduser().is_file() for f in files):
        return None
    return sum(parquet_rows(str(Path(f).expanduser())) for f in files)


def steps(kind: str, cfg: DictConfig, rows: int | None) -> tuple[int | None, int | None]:
    """(steps per epoch, total steps) as verl will count them; None where the rows are unknown."""
    bsz, cap = int(cfg.data.train_batch_size), cfg.trainer.get("total_training_steps")
    per_epoch = None
    if rows is not None:
        if kind == "grpo":
            per_epoch = rows // bsz
        else:
            dp = int(cfg.trainer.nnodes) * int(cfg.trainer.n_gpus_per_node)
            if "tensor_model_parallel_size" in cfg.engine:
                dp //= int(cfg.engine.tensor_model_parallel_size) * int(
                    cfg.engine.pipeline_model_parallel_size
                )
            per_epoch = (rows // dp) // max(bsz // dp, 1)
    total = per_epoch * int(cfg.trainer.total_epochs) if per_epoch is not None else None
    if cap is not None:
        total = int(cap) if total is None else min(total, int(cap))
    return per_epoch, total


def _model(kind: str, cfg: DictConfig) -> str:
    return str(cfg.model.path if kind == "sft" else cfg.actor_rollout_ref.model.path)


def estimate_rows(kind: str, cfg: DictConfig) -> list[tuple[str, object]]:
    """The dry-run's estimate table: every assumption is a row of its own."""
    rows = _rows(cfg.data.get("train_files"))
    per_epoch, total = steps(kind, cfg, rows)
    params = model_params(_model(kind, cfg))
    gpus = int(cfg.trainer.nnodes) * int(cfg.trainer.n_gpus_per_node)
    bsz = int(cfg.data.train_batch_size)
    out: list[tuple[str, object]] = [
        ("train rows", rows if rows is not None else "unknown (train file missing)"),
        (
            "steps per epoch / total",
            f"{per_epoch if per_epoch is not None else '?'} / {total if total is not None else '?'}",
        ),
    ]
    if kind == "grpo":
        n = int(cfg.actor_rollout_ref.rollout.n)
        prompt = FILL * int(cfg.data.max_prompt_length)
        response = FILL * int(cfg.data.max_response_length)
        sequences = bsz * n
        tokens = sequences * (prompt + response)
        train_flops = (2 + 2 + 6) * (params or 0) * tokens
        rollout_flops = 2 * (params or 0) * sequences * response
    else:
        tokens = bsz * FILL * int(cfg.data.max_length)
        train_flops, rollout_flops = 6 * (params or 0) * tokens, 0.0
    out += [
        ("assumed fill of the length budget", f"{FILL:.0%}"),
        ("tokens per step", f"{tokens / 1e6:.1f} M"),
        (
            "model parameters",
            (f"{params / 1e9:.1f} B" if params >= 1e8 else f"{params / 1e6:.2f} M") if params else "unknown",
        ),
    ]
    if not params:
        return out
    peak = gpus * PEAK_TFLOPS * 1e12
    seconds = train_flops / (peak * MFU_TRAIN) + rollout_flops / (peak * MFU_ROLLOUT)
    out += [
        ("FLOPs per step", f"{train_flops + rollout_flops:.2e}"),
        (
            "assumed MFU",
            f"{MFU_TRAIN:.0%} training passes"
            + (f", {MFU_ROLLOUT:.0%} rollout decoding" if rollout_flops else "")
            + f" of {gpus} x {PEAK_TFLOPS:.0f} TFLOP/s (H100 bf16 dense)",
        ),
        ("wall time per step", f"{seconds / 60:.1f} min"),
        ("wall time in total", f"{seconds * total / 86400:.1f} days" if total else "?"),
    ]
    return out
