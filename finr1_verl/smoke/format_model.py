"""A tiny model that has seen the Fin-R1 answer format: the starting policy of the CPU GRPO runs.

A random tiny model never writes ``<think>…</think><answer>…</answer>``, so every rollout scores 0,
GRPO's group-normalised advantages are all 0 and an update proves nothing.  This module trains the
tiny Qwen2 of :mod:`finr1_verl.smoke.tiny_model` for a few hundred optimizer steps on
reference-shaped answers to the RL prompts (plain transformers + AdamW, seconds on a CPU), until
sampled answers carry the tags part of the time: groups then have mixed scores and the GRPO update
has a non-zero gradient.
"""

from __future__ import annotations

from pathlib import Path

from finr1_verl.reward.format import render_response


def reference_answer(row: dict) -> str:
    """An answer in the Fin-R1 format whose final answer is the row's reference."""
    gold = row["reward_model"]["ground_truth"][0]
    answer = gold if row["extra_info"]["answer_type"] == "text" else f"\\boxed{{{gold}}}"
    return render_response(f"The reference solution gives {gold}.", answer)


def _examples(tokenizer, rows: list[dict]) -> list[tuple[list[int], int]]:
    """(prompt + answer token ids, prompt length) per RL row."""
    examples = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(
            list(row["prompt"]), add_generation_prompt=True, tokenize=False
        )
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(reference_answer(row) + tokenizer.eos_token, add_special_tokens=False)[
            "input_ids"
        ]
        examples.append((prompt_ids + answer_ids, len(prompt_ids)))
    return examples


def train_format(
    model_dir: str | Path, rl_parquet: str | Path, *, steps: int = 400, lr: float = 2e-3, seed: int = 0
) -> Path:
    """Train the model in ``model_dir`` in place on the answers to ``rl_parquet``'s prompts (loss on answers only)."""
    import pyarrow.parquet as pq
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    examples = _examples(tokenizer, pq.read_table(rl_parquet).to_pylist())
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        ids, prompt_len = examples[int(torch.randint(len(examples), (1,), generator=generator))]
        input_ids = torch.tensor([ids])
        labels = input_ids.clone()
        labels[0, :prompt_len] = -100
        loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval().save_pretrained(str(model_dir), safe_serialization=True)
    return model_dir


def build_format_model(out_dir: str | Path, rl_parquet: str | Path, *, steps: int = 400) -> Path:
    """A tiny Qwen2 + tokenizer in ``out_dir``, trained briefly on the answer format."""
    from finr1_verl.smoke.tiny_model import build_tiny_qwen2

    return train_format(build_tiny_qwen2(out_dir), rl_parquet, steps=steps)
