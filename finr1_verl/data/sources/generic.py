"""Any user file (JSONL / JSON / CSV / parquet) through a column mapping; FinPEE is read this way.

The mapping names which column holds what: ``question`` and ``answer`` are required; ``id``,
``context``, ``thinking``, ``answer_type`` (a column) and ``choices`` (a column holding an object,
or several option columns joined with ``+``, e.g. ``A+B+C+D``) are optional.  Without an answer
type column, answers are typed by their form (the reward's classifier; letters when options exist).

Columns may be paths into nested records: ``doc.title`` reads ``record["doc"]["title"]``, and one
``[]`` step explodes a list into one record per element.  TAT-QA (one table and its paragraphs,
then a list of questions) is read as::

    --columns 'tatqa:question=questions[].question,answer=questions[].answer,id=questions[].uid'

Each element of ``questions`` becomes a record; columns without ``[]`` (e.g. ``context=title``)
come from the enclosing record.  All ``[]`` columns of a mapping must explode the same list.  A
record whose list is empty or missing is rejected as ``empty_list``.  A text field must map to a
string or number: a list or an object there stops the run naming the column when the first record
shows it (a mapping mistake), and rejects a later record as ``not_text``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
TEXT_KEYS = ("id", "question", "answer", "context", "thinking", "answer_type")
DEFAULT_COLUMNS = {"question": "question", "answer": "answer"}
SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".csv", ".parquet")
EXPLODE = "[]"
EMPTY_LIST = "empty_list"
NOT_TEXT = "not_text"
_MISSING = object()


@dataclass(frozen=True)
class ColumnMap:
    """The parsed column mapping: key -> column path, and the list that ``[]`` explodes (if any)."""

    columns: dict[str, str]
    explode: str | None  # the path of the exploded list, e.g. "questions"

    def column_paths(self, key: str) -> list[str]:
        column = self.columns[key]
        return column.split("+") if key == "choices" else [column]


def _mapping(source: str, columns: Mapping[str, str] | None) -> ColumnMap:
    mapping = dict(DEFAULT_COLUMNS) | dict(columns or {})
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown mapping key(s) {unknown}; allowed: {', '.join(MAPPING_KEYS)}")
    lists = {column.split(EXPLODE)[0] for column in mapping.values() if EXPLODE in column}
    if len(lists) > 1 or any(column.count(EXPLODE) > 1 for column in mapping.values()):
        raise ValueError(
            f"{source}: the columns may explode one list with one '[]' step; got {sorted(mapping.values())}"
        )
    return ColumnMap(mapping, lists.pop() if lists else None)


def make_parser(
    source: str, columns: Mapping[str, str] | None = None
) -> Callable[[str | Path], Iterator[ParseItem]]:
    """A parse function for ``source`` that reads columns as ``columns`` maps them."""
    mapping = _mapping(source, columns)

    def parse(path: str | Path) -> Iterator[ParseItem]:
        guard = IdGuard(source)
        for file in files_under(path, SUFFIXES):
            first = True
            for position, record in iter_table_records(file, source):
                if isinstance(record, Rejected):
                    yield record
                    continue
                for number, item in _records(source, mapping, record, file, position):
                    if first and isinstance(item, dict):
                        _check_first(file, item, mapping)
                        first = False
                    if isinstance(item, dict):
                        item = _example(source, mapping, item, file, number)
                    yield guard.check(item, str(file), number) if isinstance(item, Example) else item

    return parse


def resolve(record: Any, path: str) -> Any:
    """The value at a dotted ``path`` (a literal key with dots wins: CSV headers may contain them)."""
    if isinstance(record, dict) and path in record:
        return record[path]
    value = record
    for step in path.split("."):
        if not isinstance(value, dict) or step not in value:
            return _MISSING
        value = value[step]
    return value


def _records(
    source: str, mapping: ColumnMap, record: dict, file: Path, position: int
) -> Iterator[tuple[str | int, dict | Rejected]]:
    """The flat records of one input record: itself, or one per element of the exploded list.

    A flat record maps each mapping key to its value (``choices`` parts by their own path).
    """
    if mapping.explode is None:
        yield position, _flat(mapping, record, None)
        return
    elements = resolve(record, mapping.explode)
    if not isinstance(elements, list) or not elements:
        detail = f"{mapping.explode!r} is {'missing' if elements is _MISSING else 'not a non-empty list'}"
        yield position, Rejected(source, str(file), position, EMPTY_LIST, detail)
        return
    for index, element in enumerate(elements):
        yield f"{position}.{mapping.explode}[{index}]", _flat(mapping, record, element)


def _flat(mapping: ColumnMap, record: dict, element: Any) -> dict:
    flat: dict[str, Any] = {}
    for key in mapping.columns:
        for path in mapping.column_paths(key):
            if EXPLODE in path:
                inner = path.split(EXPLODE, 1)[1].lstrip(".")
                flat[path] = resolve(element, inner) if inner else element
            else:
                flat[path] = resolve(record, path)
    return flat


def _check_first(file: Path, flat: dict, mapping: ColumnMap) -> None:
    """A mapping mistake shows on the first record: a missing column, or a list/object as text."""
    for key in mapping.columns:
        for path in mapping.column_paths(key):
            if flat[path] is _MISSING:
                raise RecordError(file, "first record", path, f"column for {key!r} missing")
            if key != "choices" or "+" in mapping.columns[key]:
                _text_or_error(file, "first record", path, key, flat[path])


def _text_or_error(file: Path, record: str | int, path: str, key: str, value: Any) -> str:
    if isinstance(value, (list, dict)):
        raise RecordError(
            file, record, path, f"{key!r} must be text, the column holds a {type(value).__name__}"
        )
    return "" if value is _MISSING else text(value)


def _choices(flat: dict, mapping: ColumnMap, file: Path, record: str | int) -> dict[str, str]:
    if "choices" not in mapping.columns:
        return {}
    paths = mapping.column_paths("choices")
    if len(paths) > 1:
        return {
            path.rsplit(".", 1)[-1]: _text_or_error(file, record, path, "choices", flat[path])
            for path in paths
        }
    value: Any = flat[paths[0]]
    if isinstance(value, str) and value.strip().startswith("{"):
        value = json.loads(value)
    return {str(k): text(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _example(source: str, mapping: ColumnMap, flat: dict, file: Path, record: str | int) -> ParseItem:
    try:
        fields = {
            key: _text_or_error(file, record, mapping.columns[key], key, flat[mapping.columns[key]])
            for key in TEXT_KEYS
            if key in mapping.columns
        }
        choices = _choices(flat, mapping, file, record)
    except RecordError as err:
        return Rejected(source, str(file), record, NOT_TEXT, f"column {err.field!r}: {err.reason}")
    rid = fields.get("id") or f"{file.stem}-{record}"
    question, answer = fields["question"], fields["answer"]
    problem = require_text(source, str(file), record, rid, question, answer)
    if problem:
        return problem
    answer_type = fields.get("answer_type", "")
    if not answer_type:
        letters = option_letters(answer.upper(), choices) if choices else None
        answer_type, answer = ("choice", letters) if letters else (classify_answer(answer, {}), answer)
    if answer_type not in ANSWER_TYPES:
        return Rejected(
            source, str(file), record, "bad_answer_type", f"{answer_type!r} not in {ANSWER_TYPES}", rid
        )
    thinking = fields.get("thinking", "")
    return Example(
        source=source,
        id=rid,
        question=question,
        answer=answer,
        answer_type=answer_type,
        split=split_from_name(file),
        context=fields.get("context", ""),
        choices=choices,
        meta={"thinking": thinking} if thinking else {},
    )
