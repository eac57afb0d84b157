"""The two verl row layouts, defined once: RL rows (prompt + ground truth) and SFT rows (messages).

RL (``verl.utils.dataset.rl_dataset.RLHFDataset``): ``data_source = "finr1/<source>"``, ``prompt``
= [system, user], ``ability``, ``reward_model = {style, ground_truth}`` with ground_truth the list of
acceptable readings (human string first, then the executed value when it exists and differs),
and ``extra_info`` with the same fields on every row (the reward and the judge read it);
``extra_info.split`` is this project's train/val split, ``extra_info.upstream_split`` the split the
record came from upstream (``train``, ``dev``, ``test``, ``eval``, ...), ``extra_info.document`` the
report page the question is asked on (empty where the upstream has none: decontamination drops
training rows on an evaluation item's page).
SFT (``MultiTurnSFTDataset``): ``messages`` = [system, user, assistant] with the assistant turn in
Fin-R1's ``<think>…</think>`` + ``<answer>…</answer>`` form, plus ``source`` and ``id``.
The pyarrow schemas pin column order and types so that identical input gives identical bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from finr1_verl.data.records import Example
from finr1_verl.data.render import language_of, render_question
from finr1_verl.prompts import SYSTEM_PROMPT
from finr1_verl.reward.format import render_response

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
EXTRA_INFO = pa.struct(
    [
        ("split", pa.string()),
        ("index", pa.int64()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("question", pa.string()),
        ("answer_type", pa.string()),
        ("choices", pa.string()),
        ("language", pa.string()),
        ("upstream_split", pa.string()),
        ("document", pa.string()),
    ]
)
RL_SCHEMA = pa.schema(
    [
        ("data_source", pa.string()),
        ("prompt", pa.list_(_MESSAGE)),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.list_(pa.string()))])),
        ("extra_info", EXTRA_INFO),
    ]
)
SFT_SCHEMA = pa.schema([("messages", pa.list_(_MESSAGE)), ("source", pa.string()), ("id", pa.string())])


def ground_truths(example: Example) -> list[str]:
    """Acceptable gold readings: the human answer, then the executed value if it differs."""
    readings = [example.answer]
    executed = str(example.meta.get("executed_answer") or "")
    if executed and executed != example.answer:
        readings.append(executed)
    return readings


def rl_row(example: Example, index: int, split: str) -> dict[str, Any]:
    language = language_of(example)
    return {
        "data_source": f"finr1/{example.source}",
        "prompt": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": render_question(example, language)},
        ],
        "ability": "finance",
        "reward_model": {"style": "rule", "ground_truth": ground_truths(example)},
        "extra_info": {
            "split": split,
            "index": index,
            "id": example.id,
            "source": example.source,
            "question": example.question,
            "answer_type": example.answer_type,
            "choices": json.dumps(example.choices, ensure_ascii=False) if example.choices else "{}",
            "language": language,
            "upstream_split": example.split,
            "document": str(example.meta.get("document", "")),
        },
    }


def assistant_turn(thinking: str, answer_text: str) -> str:
    """Fin-R1's SFT target: the trace in <think>, the answer in <answer>, newline-separated."""
    return render_response(thinking.strip(), answer_text.strip())


def sft_row(
    example: Example, thinking: str | None = None, answer_text: str | None = None
) -> dict[str, Any] | None:
    """The SFT row for an example with a reasoning trace (``meta["thinking"]`` unless given);
    None when there is no trace.  Objective answers default to ``\\boxed{answer}``."""
    thinking = thinking if thinking is not None else example.meta.get("thinking", "")
    if not thinking:
        return None
    if answer_text is None:
        answer_text = example.meta.get("answer_text") or (
            f"\\boxed{{{example.answer}}}" if example.is_objective else example.answer
        )
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": render_question(example)},
            {"role": "assistant", "content": assistant_turn(thinking, answer_text)},
        ],
        "source": example.source,
        "id": example.id,
    }
