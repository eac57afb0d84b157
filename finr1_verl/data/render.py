"""Example -> the user turn of a chat, laid out for its answer type (templates in finr1_verl.prompts).

Context first (a report's text with its table already in markdown), then the conversation so
far, the question, the options or labels, and the answer instruction: ``\\boxed{}`` for
calculations, choices, labels and yes/no, nothing for open questions.
"""

from __future__ import annotations

import re

from finr1_verl import prompts
from finr1_verl.data.records import Example

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def language_of(example: Example) -> str:
    """'zh' when the question, context or options contain Chinese characters, else 'en'."""
    sample = example.question[:2000] + example.context[:500] + "".join(example.choices.values())[:500]
    return "zh" if _CJK.search(sample) else "en"


def render_question(example: Example, language: str | None = None) -> str:
    """The user message for ``example``."""
    lang = language or language_of(example)
    blocks: list[str] = []
    history = example.meta.get("history") or []
    labelled = bool(example.context or history)
    if example.context:
        blocks.append(f"{prompts.CONTEXT_INTRO[lang]}\n\n{example.context}")
    if history:
        turns = [prompts.HISTORY_TURN[lang].format(**turn) for turn in history]
        blocks.append("\n".join([prompts.HISTORY_HEADER[lang], *turns]))
    blocks.append(f"{prompts.QUESTION_LABEL[lang]}{example.question}" if labelled else example.question)
    if example.choices:
        header = (
            prompts.LABELS_HEADER[lang] if example.answer_type == "label" else prompts.OPTIONS_HEADER[lang]
        )
        blocks.append("\n".join([header, *_option_lines(example, lang)]))
    instruction = prompts.ANSWER_INSTRUCTIONS.get(example.answer_type)
    if instruction:
        blocks.append(instruction[lang])
    return "\n\n".join(blocks)


def _option_lines(example: Example, lang: str) -> list[str]:
    """``key. text`` per option, ``id: name`` per label; labels named by themselves on one line."""
    if example.answer_type != "label":
        return [f"{key}. {value}" for key, value in example.choices.items()]
    if all(key == value for key, value in example.choices.items()):
        return [("、" if lang == "zh" else ", ").join(example.choices)]
    return [f"{key}: {value}" for key, value in example.choices.items()]
