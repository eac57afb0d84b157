"""Fin-Eva (alipay/financial_evaluation_dataset @ b175692): its Ant part (the paper's "Ant_Finance")
and its SUFE part.

- ``Ant/<category>/<task>.csv``: multiple choice ``id,question,A..D[,E],answer`` (3 to 5 options,
  some tasks with a ``context`` column) and yes/no compliance sets ``id,question,answer`` (是/否).
  Most answers are empty (the hidden test part): those rows are rejected as ``unlabelled``, never
  guessed.  The whole Ant part is an evaluation set, so its upstream split is ``test``.
- ``SUFE/{dev,val,test}/<subject>_<split>.csv``: four-option multiple choice
  ``id,question,A,B,C,D,answer`` (``dev`` adds ``explanation``); ``test`` has no ``answer`` column,
  so its rows are ``unlabelled``.  The folder is the upstream split.

An empty option cell is no option: it is left out of the choices, so its letter is not a valid
answer and the prompt shows no blank option.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.records import Example
from finr1_verl.data.sources.base import (
    BAD_LABEL,
    UNLABELLED,
    IdGuard,
    ParseItem,
    Rejected,
    files_under,
    iter_csv,
    require_text,
    text,
)
from finr1_verl.reward.answer_type import option_letters

SOURCE = "ant_fineva"
OPTION_KEYS = ("A", "B", "C", "D", "E")
BOOLEAN_ANSWERS = ("是", "否")
SUFE_SPLITS = ("dev", "val", "test")


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".csv",)):
        sufe = file.parent.name in SUFE_SPLITS
        split = file.parent.name if sufe else "test"
        task = f"SUFE/{file.stem.removesuffix('_' + split)}" if sufe else f"{file.parent.name}/{file.stem}"
        required = ("id", "question") if sufe else ("id", "question", "answer")
        for line, row in iter_csv(file, required=required):
            rid = f"{task}/{split}/{text(row['id']) or line}" if sufe else f"{task}/{text(row['id']) or line}"
            item = _row(row, file, f"line {line}", rid, task, split)
            yield guard.check(item, str(file), f"line {line}") if isinstance(item, Example) else item


def _row(row: dict[str, str], file: Path, record: str, rid: str, task: str, split: str) -> ParseItem:
    question, answer = text(row["question"]), text(row.get("answer")).upper()
    if question and not answer:
        return Rejected(SOURCE, str(file), record, UNLABELLED, "no answer (hidden test part)", rid)
    problem = require_text(SOURCE, str(file), record, rid, question, answer)
    if problem:
        return problem
    choices = {key: text(row[key]) for key in OPTION_KEYS if text(row.get(key))}
    if any(key in row for key in OPTION_KEYS):
        letters, answer_type = option_letters(answer, choices), "choice"
        valid = letters is not None and bool(choices)
    else:
        letters, answer_type = answer, "boolean"
        valid = answer in BOOLEAN_ANSWERS
    if not valid:
        return Rejected(
            SOURCE, str(file), record, BAD_LABEL, f"answer {answer!r} is not a non-empty option", rid
        )
    meta = {"task": task}
    if text(row.get("explanation")):
        meta["explanation"] = text(row["explanation"])
    return Example(
        source=SOURCE,
        id=rid,
        question=question,
        answer=letters,
        answer_type=answer_type,
        split=split,
        context=text(row.get("context")),
        choices=choices,
        meta=meta,
    )
