"""Any user file (JSONL / JSON / CSV / parquet) through a column mapping; FinPEE is read this way.

The mapping names which column holds what: ``question`` and ``answer`` are required; ``id``,
``context``, ``thinking``, ``answer_type`` (a column), ``document`` (the report page or table the
question is asked on: decontamination drops training records on an evaluation item's document),
``scale`` (a column of TAT-QA scales: thousand, million, billion, percent) and ``choices`` (a column
holding an object, or several option columns joined with ``+``, e.g. ``A+B+C+D``) are optional.
Without an answer type column, answers are typed by their form (the reward's classifier; letters
when options exist).

Columns are paths into nested records: ``doc.title`` reads ``record["doc"]["title"]``, ``answer.0``
the first element of a list.  The ``[]`` step of the question's column explodes that list into one
record per element (TAT-QA: one table and its paragraphs, then a list of questions); other columns on
the same list read the element, columns without ``[]`` the enclosing record, and a ``[]`` on another
list gathers its values (``paragraphs[].text``).  A path may end in a form: ``|join`` joins a list into
one text with newlines (``|join(; )`` with another separator), ``|table`` renders a list of rows as a
markdown table (a list of such tables, or tables already written as text, one after another).
``context`` may list several parts, in order, separated by commas::

    --columns 'tatqa:question=questions[].question,answer=questions[].answer|join,id=questions[].uid,\
scale=questions[].scale,document=table.uid,context=paragraphs[].text|join,table.table|table'

A joined list answer of several spans (TAT-QA's multi-span) is one text gold that needs every span,
never a list of alternatives.  A ``scale`` is attached to a numeric answer as TAT-QA's evaluation reads
it (NExTplusplus/TAT-QA @ 870accc, ``tatqa_metric.py`` ``get_answer_str``: the number with its scale):
``-12.6`` with ``million`` gives ``-12.6 million``, with ``percent`` ``-22.22%``.

A record whose exploded list is empty or missing is rejected as ``empty_list``.  A text field must map
to a string or number: a list or an object there stops the run naming the column when the first record
shows it (a mapping mistake), and rejects a later record as ``not_text``; so does a context part that
resolves to nothing on the first record.
"""

from __future__ import annotations

import json
import re
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
    markdown_table,
    require_text,
    split_from_name,
    text,
)
from finr1_verl.reward.answer_type import classify_answer, option_letters

MAPPING_KEYS = (
    "id",
    "question",
    "answer",
    "context",
    "thinking",
    "answer_type",
    "document",
    "scale",
    "choices",
)
TEXT_KEYS = ("id", "question", "answer", "context", "thinking", "answer_type", "document", "scale")
DEFAULT_COLUMNS = {"question": "question", "answer": "answer"}
SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".csv", ".parquet")
EXPLODE = "[]"
EMPTY_LIST = "empty_list"
NOT_TEXT = "not_text"
BAD_SCALE = "bad_scale"
# TAT-QA's scales (tatqa_metric.py, EmAndF1 counters) and how an answer carries each.
SCALES = {"thousand": " thousand", "million": " million", "billion": " billion", "percent": "%"}
_MISSING = object()
_FORM = re.compile(r"^(?P<path>.*?)(?:\|(?P<form>join|table)(?:\((?P<sep>[^)]*)\))?)?$")
PARTS = re.compile(r",(?![^()]*\))")  # commas between context parts, not inside a join(...) separator


@dataclass(frozen=True)
class Part:
    """One column path with its form: ``""`` (the value itself), ``join`` or ``table``."""

    path: str
    form: str = ""
    separator: str = "\n"

    @classmethod
    def parse(cls, spec: str) -> Part:
        match = _FORM.match(spec.strip())
        form, sep = match["form"] or "", match["sep"]
        return cls(match["path"], form, "\n" if sep is None else sep)


@dataclass(frozen=True)
class ColumnMap:
    """The parsed column mapping: key -> its parts, and the list that ``[]`` explodes (if any)."""

    columns: dict[str, str]
    parts: dict[str, tuple[Part, ...]]
    explode: str | None  # the path of the exploded list, e.g. "questions"

    def column_paths(self, key: str) -> list[str]:
        return [part.path for part in self.parts[key]]


def _parts(key: str, column: str) -> tuple[Part, ...]:
    if key == "choices":
        return tuple(Part(path) for path in column.split("+"))
    pieces = PARTS.split(column) if key == "context" else [column]
    return tuple(Part.parse(piece) for piece in pieces)


def _mapping(source: str, columns: Mapping[str, str] | None) -> ColumnMap:
    mapping = dict(DEFAULT_COLUMNS) | dict(columns or {})
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown mapping key(s) {unknown}; allowed: {', '.join(MAPPING_KEYS)}")
    parts = {key: _parts(key, column) for key, column in mapping.items()}
    question = parts["question"][0].path
    explode = question.split(EXPLODE)[0] if EXPLODE in question else None
    for key, key_parts in parts.items():
        for part in key_parts:
            on_list = explode is not None and part.path.startswith(explode + EXPLODE)
            rest = part.path[len(explode) + 2 :] if on_list else part.path
            if EXPLODE in rest and not part.form:
                raise ValueError(
                    f"{source}: column {part.path!r} for {key!r} gathers a list that the question does not"
                    f" explode (one list may be exploded, the question's): add |join or |table"
                )
    return ColumnMap(mapping, parts, explode)


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
    """The value at a dotted ``path`` (a literal key with dots wins: CSV headers may contain them);
    a number step indexes a list, a ``[]`` step gathers the rest of the path over a list's elements."""
    if isinstance(record, dict) and path in record:
        return record[path]
    if EXPLODE in path:
        head, rest = path.split(EXPLODE, 1)
        elements = resolve(record, head.rstrip(".")) if head else record
        if not isinstance(elements, list):
            return _MISSING
        rest = rest.lstrip(".")
        values = [resolve(element, rest) if rest else element for element in elements]
        return [value for value in values if value is not _MISSING]
    value = record
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return _MISSING
    return value


def _formed(part: Part, value: Any) -> Any:
    """``value`` in the part's form: joined text, a markdown table, or itself."""
    if value is _MISSING or not part.form:
        return value
    if part.form == "table":
        return _tables(value)
    if not isinstance(value, list):
        return text(value)
    return part.separator.join(piece for piece in (_joined(v) for v in value) if piece)


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(piece for piece in (_joined(v) for v in value) if piece)
    return "" if isinstance(value, dict) else text(value)


def _tables(value: Any) -> str:
    """A list of rows as a markdown table; a list of tables (or of tables already in text) one after another."""
    if isinstance(value, str):
        return value.strip()
    if not isinstance(value, list) or not value:
        return ""
    if all(isinstance(row, list) and not any(isinstance(cell, list) for cell in row) for row in value):
        return markdown_table(value)
    return "\n\n".join(table for table in (_tables(v) for v in value) if table)


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
    """Each part's path -> its value in the part's form (``__spans__`` counts a joined answer's spans)."""
    flat: dict[str, Any] = {}
    for key, parts in mapping.parts.items():
        for part in parts:
            on_list = mapping.explode is not None and part.path.startswith(mapping.explode + EXPLODE)
            if on_list:
                inner = part.path[len(mapping.explode) + 2 :].lstrip(".")
                value = resolve(element, inner) if inner else element
            else:
                value = resolve(record, part.path)
            if key == "answer" and part.form == "join":
                flat["__spans__"] = len(value) if isinstance(value, list) else 1
            flat[part.path] = _formed(part, value)
    return flat


def _check_first(file: Path, flat: dict, mapping: ColumnMap) -> None:
    """A mapping mistake shows on the first record: a missing column, a list/object as text, or a
    context part with nothing in it."""
    for key in mapping.columns:
        for path in mapping.column_paths(key):
            if flat[path] is _MISSING:
                raise RecordError(file, "first record", path, f"column for {key!r} missing")
            if key != "choices" or "+" in mapping.columns[key]:
                _text_or_error(file, "first record", path, key, flat[path])
            if key == "context" and not text(flat[path]):
                raise RecordError(file, "first record", path, "context part resolves to nothing")


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


def _field(file: Path, record: str | int, mapping: ColumnMap, flat: dict, key: str) -> str:
    """A text field: its parts' texts, in order, blank-line separated."""
    texts = [_text_or_error(file, record, path, key, flat[path]) for path in mapping.column_paths(key)]
    return "\n\n".join(piece for piece in texts if piece)


def _scaled(answer: str, scale: str) -> str:
    """``answer`` with its TAT-QA scale when it is a number (a text span stays as written)."""
    if not scale or classify_answer(answer, {}) != "numeric" or answer.endswith("%"):
        return answer
    return answer + SCALES[scale]


def _example(source: str, mapping: ColumnMap, flat: dict, file: Path, record: str | int) -> ParseItem:
    try:
        fields = {
            key: _field(file, record, mapping, flat, key) for key in TEXT_KEYS if key in mapping.columns
        }
        choices = _choices(flat, mapping, file, record)
    except RecordError as err:
        return Rejected(source, str(file), record, NOT_TEXT, f"column {err.field!r}: {err.reason}")
    rid = fields.get("id") or f"{file.stem}-{record}"
    question, answer = fields["question"], fields["answer"]
    problem = require_text(source, str(file), record, rid, question, answer)
    if problem:
        return problem
    scale = fields.get("scale", "").lower()
    if scale and scale not in SCALES:
        return Rejected(source, str(file), record, BAD_SCALE, f"scale {scale!r} not in {sorted(SCALES)}", rid)
    answer_type = fields.get("answer_type", "")
    if flat.get("__spans__", 1) > 1 and not answer_type:
        answer_type = "text"  # several spans: one gold that needs them all
    if not answer_type:
        answer = _scaled(answer, scale)
        letters = option_letters(answer.upper(), choices) if choices else None
        answer_type, answer = ("choice", letters) if letters else (classify_answer(answer, {}), answer)
    if answer_type not in ANSWER_TYPES:
        return Rejected(
            source, str(file), record, "bad_answer_type", f"{answer_type!r} not in {ANSWER_TYPES}", rid
        )
    thinking = fields.get("thinking", "")
    meta: dict[str, Any] = {"thinking": thinking} if thinking else {}
    if fields.get("document"):
        meta["document"] = fields["document"]
    return Example(
        source=source,
        id=rid,
        question=question,
        answer=answer,
        answer_type=answer_type,
        split=split_from_name(file),
        context=fields.get("context", ""),
        choices=choices,
        meta=meta,
    )
