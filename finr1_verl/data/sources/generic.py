"""Any user file (JSONL / JSON / CSV / parquet) through a column mapping; FinPEE is read this way.

The mapping names which column holds what: ``question`` and ``answer`` are required; ``id``,
``context``, ``thinking``, ``answer_type`` (a column) and ``choices`` (a column holding an object,
or several option columns joined with ``+``, e.g. ``A+B+C+D``) are optional.  Without an answer
type column, answers are typed by their form (numbers, yes/no, letters with options, else text).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from finr1_verl.data.records import ANSWER_TYPES, Example, RecordError
from finr1_verl.data.sources.base import (
    IdGuard,
    ParseItem,
    Rejected,
    files_under,
    iter_table_records,
    require_text,
    split_from_name,
    text,
)
from finr1_verl.reward.answer_type import classify_answer, option_letters

MAPPING_KEYS = ("id", "question", "answer", "context", "thinking", "answer_type", "choices")
DEFAULT_COLUMNS = {"question": "question", "answer": "answer"}
SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".csv", ".parquet")


def make_parser(
    source: str, columns: Mapping[str, str] | None = None
) -> Callable[[str | Path], Iterator[ParseItem]]:
    """A parse function for ``source`` that reads columns as ``columns`` maps them."""
    mapping = dict(DEFAULT_COLUMNS) | dict(columns or {})
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown mapping key(s) {unknown}; allowed: {', '.join(MAPPING_KEYS)}")

    def parse(path: str | Path) -> Iterator[ParseItem]:
        guard = IdGuard(source)
        for file in files_under(path, SUFFIXES):
            checked_columns = False
            for position, record in iter_table_records(file, source):
                if isinstance(record, Rejected):
                    yield record
                    continue
                if not checked_columns:
                    _check_columns(file, record, mapping)
                    checked_columns = True
                item = _example(source, mapping, record, file, position)
                yield guard.check(item, str(file), position) if isinstance(item, Example) else item

    return parse


def _check_columns(file: Path, record: dict, mapping: dict[str, str]) -> None:
    for key, column in mapping.items():
        names = column.split("+") if key == "choices" else [column]
        for name in names:
            if name not in record:
                raise RecordError(
                    file, "first record", name, f"column for {key!r} missing (has: {sorted(record)})"
                )


def _choices(record: dict, column: str | None) -> dict[str, str]:
    if not column:
        return {}
    if "+" in column:
        return {name: text(record[name]) for name in column.split("+")}
    value: Any = record[column]
    if isinstance(value, str) and value.strip().startswith("{"):
        value = json.loads(value)
    return {str(k): text(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _example(source: str, mapping: dict[str, str], record: dict, file: Path, position: int) -> ParseItem:
    rid = text(record.get(mapping["id"])) if "id" in mapping else ""
    rid = rid or f"{file.stem}-{position}"
    question, answer = text(record[mapping["question"]]), text(record[mapping["answer"]])
    problem = require_text(source, str(file), position, rid, question, answer)
    if problem:
        return problem
    choices = _choices(record, mapping.get("choices"))
    answer_type = text(record[mapping["answer_type"]]) if "answer_type" in mapping else ""
    if not answer_type:
        letters = option_letters(answer.upper(), choices) if choices else None
        answer_type, answer = ("choice", letters) if letters else (classify_answer(answer, {}), answer)
    if answer_type not in ANSWER_TYPES:
        return Rejected(
            source, str(file), position, "bad_answer_type", f"{answer_type!r} not in {ANSWER_TYPES}", rid
        )
    thinking = text(record.get(mapping["thinking"])) if "thinking" in mapping else ""
    return Example(
        source=source,
        id=rid,
        question=question,
        answer=answer,
        answer_type=answer_type,
        split=split_from_name(file),
        context=text(record.get(mapping["context"])) if "context" in mapping else "",
        choices=choices,
        meta={"thinking": thinking} if thinking else {},
    )
