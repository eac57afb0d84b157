"""Fin-R1-Data's own format: ``Question``, ``Thinking``, ``Answer`` (+ optional ``repo_name``, ``conversation``).

``Thinking`` is the distilled reasoning trace and ``Answer`` the final answer text, whose objective
part is in ``\\boxed{}``; that boxed value becomes the reference answer, the full text is kept in
``meta["answer_text"]`` for the SFT target.  ``repo_name`` names the upstream dataset of the item;
``conversation`` (earlier turns as ``{role, content}`` or ``{from, value}``) becomes the history.
The fields are those of the Fin-R1-Data card that SUFE-AIFLM-Lab/Fin-R1 published and later removed
(commit bc73181); no copy of the data itself was checked against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finr1_verl.data.records import Example
from finr1_verl.data.sources.base import ParseItem, RecordAt, parse_table_files, require_text, text
from finr1_verl.reward.answer_type import classify_answer, option_letters

SOURCE = "fin_r1"
SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".parquet")


def read(record: dict, at: RecordAt) -> ParseItem:
    rid = text(record.get("id")) or at.default_id
    question, answer_text = text(record.get("Question")), text(record.get("Answer"))
    problem = require_text(SOURCE, at.file, at.position, rid, question, answer_text)
    if problem:
        return problem
    answer = last_boxed(answer_text) or answer_text
    meta: dict[str, Any] = {"answer_text": answer_text, "thinking": text(record.get("Thinking"))}
    if text(record.get("repo_name")):
        meta["origin"] = text(record["repo_name"])
    history = _history(record.get("conversation"))
    if history:
        meta["history"] = history
    letters = option_letters(answer.upper())
    return Example(
        source=SOURCE,
        id=rid,
        question=question,
        answer=letters or answer,
        answer_type="choice" if letters else classify_answer(answer),
        split=at.split,
        meta=meta,
    )


def parse(path: str | Path) -> Iterator[ParseItem]:
    return parse_table_files(path, SOURCE, SUFFIXES, read)


def last_boxed(answer_text: str) -> str:
    """Content of the last ``\\boxed{...}`` (nested braces allowed); '' when there is none."""
    start = answer_text.rfind("\\boxed{")
    if start < 0:
        return ""
    depth, begin = 0, start + len("\\boxed{")
    for position in range(begin, len(answer_text)):
        char = answer_text[position]
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return answer_text[begin:position].strip()
            depth -= 1
    return ""


def _history(conversation: Any) -> list[dict[str, str]]:
    """Earlier turns as question/answer pairs, from a list of chat messages."""
    if not isinstance(conversation, list):
        return []
    turns = [
        (text(m.get("role") or m.get("from")), text(m.get("content") or m.get("value")))
        for m in conversation
        if isinstance(m, dict)
    ]
    history, pending = [], None
    for role, content in turns:
        if role in ("user", "human"):
            pending = content
        elif role in ("assistant", "gpt") and pending is not None:
            history.append({"question": pending, "answer": content})
            pending = None
    return history
