"""Score rollouts the way verl's trainer does: a DataProto batch through the reward manager verl builds.

``rollout_batch`` lays out RL parquet rows and response texts as verl's rollout produces them
(left-padded prompts, right-padded responses, attention mask over both, the row's ``data_source``,
``reward_model`` and ``extra_info`` as non-tensor columns).  ``score_batch`` builds the manager
with verl's own ``load_reward_manager`` from a composed config and scores every sample
concurrently on the manager's event loop, as a reward worker does, then closes the judge's
connections on that loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import torch


def rollout_batch(
    rows: list[dict[str, Any]], responses: list[str], tokenizer, max_response_tokens: int = 512
):
    """A verl ``DataProto`` holding one (prompt, response) pair per row."""
    from verl import DataProto

    pad = tokenizer.pad_token_id
    texts = [
        tokenizer.apply_chat_template(list(r["prompt"]), add_generation_prompt=True, tokenize=False)
        for r in rows
    ]
    prompts = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    answers = [
        tokenizer(text, add_special_tokens=False)["input_ids"][: max_response_tokens - 1]
        + [tokenizer.eos_token_id]
        for text in responses
    ]
    p_len, r_len = max(map(len, prompts)), max(map(len, answers))
    prompt_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])
    response_ids = torch.tensor([a + [pad] * (r_len - len(a)) for a in answers])
    prompt_mask = torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) for p in prompts])
    response_mask = torch.tensor([[1] * len(a) + [0] * (r_len - len(a)) for a in answers])
    attention_mask = torch.cat([prompt_mask, response_mask], dim=1)
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return DataProto.from_dict(
        tensors={
            "prompts": prompt_ids,
            "responses": response_ids,
            "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
            "attention_mask": attention_mask,
            "position_ids": position_ids,
        },
        non_tensors={
            "data_source": np.array([r["data_source"] for r in rows], dtype=object),
            "reward_model": np.array([dict(r["reward_model"]) for r in rows], dtype=object),
            "extra_info": np.array([dict(r["extra_info"]) for r in rows], dtype=object),
        },
    )


def score_batch(cfg, tokenizer, batch) -> list[dict[str, Any]]:
    """Per-sample ``{"reward_score", "reward_extra_info"}`` from the manager verl builds for ``cfg``."""
    from verl.trainer.ppo.reward import load_reward_manager

    from finr1_verl.reward.score import close_judges

    manager = load_reward_manager(cfg, tokenizer)

    async def score_all():
        try:
            return await asyncio.gather(*(manager.run_single(batch[i : i + 1]) for i in range(len(batch))))
        finally:
            await close_judges()  # the judge's connections belong to this loop

    return manager.loop.run_until_complete(score_all())
