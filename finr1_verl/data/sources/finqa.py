"""FinQA (czyssrs/FinQA): numeric QA over a report page's text and table.

Two layouts are read: the official JSON list (``pre_text``, ``post_text``, ``table``, ``id``,
``qa{question, program, exe_ans, answer, gold_inds}``) and the simplified ``{question, context,
answer}`` records (a list, or ``{"data": [...]}``) that copies of the test set use.  The human
answer (``qa.answer``, e.g. ``"14%"``) is the reference; the executed value (``qa.exe_ans``,
e.g. ``0.14464``) is kept in ``meta["executed_answer"]`` so the reward accepts either reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources.base import (
    INVALID_RECORD,
    IdGuard,
    ParseItem,
    Rejected,
    files_under,
    format_number,
    load_json,
    report_context,
    report_page,
    require_text,
    split_from_name,
    text,
)
from finr1_verl.reward.answer_type import classify_answer

SOURCE = "finqa"


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".json",)):
        document = load_json(file)
        records = document.get("data") if isinstance(document, dict) else document
        if not isinstance(records, list):
            raise RecordError(file, "<document>", "data", "expected a list of records or {'data': [...]}")
        split = split_from_name(file)
        for index, record in enumerate(records):
            item = _parse_record(record, file, index, split)
            yield guard.check(item, str(file), index) if isinstance(item, Example) else item


def _parse_record(record: object, file: Path, index: int, split: str) -> ParseItem:
    if not isinstance(record, dict):
        return Rejected(SOURCE, str(file), index, INVALID_RECORD, "record is not a JSON object")
    if "qa" in record:
        return _official(record, file, index, split)
    question, answer = text(record.get("question")), text(record.get("answer"))
    rid = text(record.get("id")) or f"{file.stem}-{index}"
    problem = require_text(SOURCE, str(file), index, rid, question, answer)
    if problem:
        return problem
    return Example(
        source=SOURCE,
        id=rid,
        question=question,
        answer=answer,
        answer_type=classify_answer(answer, {}),
        split=split,
        context=text(record.get("context")),
        meta={"document": report_page(rid)},
    )


def _official(record: dict, file: Path, index: int, split: str) -> ParseItem:
    qa = record["qa"]
    if not isinstance(qa, dict):
        raise RecordError(file, index, "qa", "expected an object")
    rid = text(record.get("id")) or f"{file.stem}-{index}"
    question = text(qa.get("question"))
    executed = format_number(qa.get("exe_ans"))
    answer = text(qa.get("answer")) or executed
    problem = require_text(SOURCE, str(file), index, rid, question, answer)
    if problem:
        return problem
    table = record.get("table") or []
    if not isinstance(table, list):
        raise RecordError(file, index, "table", "expected a list of rows")
    meta = {"program": text(qa.get("program")), "document": report_page(rid)}
    if executed:
        meta["executed_answer"] = executed
    return Example(
        source=SOURCE,
        id=rid,
        question=question,
        answer=answer,
        answer_type=classify_answer(answer, {}),
        split=split,
        context=report_context(record.get("pre_text"), table, record.get("post_text")),
        meta=meta,
    )
