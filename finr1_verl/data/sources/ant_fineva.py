"""Ant Group Fin-Eva (alipay/financial_evaluation_dataset), the paper's "Ant_Finance".

``Ant/<category>/<task>.csv``; multiple choice ``id,question,A..D[,E],answer`` (3 to 5 options,
some tasks with a ``context`` column) and yes/no compliance sets ``id,question,answer`` (是/否).
Most answers are empty (the hidden test part): those rows are rejected as ``empty_answer``,
never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.records import Example
from finr1_verl.data.sources.base import (
    BAD_LABEL,
    IdGuard,
    ParseItem,
    Rejected,
    files_under,
    iter_csv,
    require_text,
    text,
)

SOURCE = "ant_fineva"
OPTION_KEYS = ("A", "B", "C", "D", "E")
BOOLEAN_ANSWERS = ("是", "否")


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".csv",)):
        task = f"{file.parent.name}/{file.stem}"
        for line, row in iter_csv(file, required=("id", "question", "answer")):
            rid = f"{task}/{text(row['id']) or line}"
            record = f"line {line}"
            question, answer = text(row["question"]), text(row["answer"]).upper()
            problem = require_text(SOURCE, str(file), record, rid, question, answer)
            if problem:
                yield problem
                continue
            choices = {key: text(row[key]) for key in OPTION_KEYS if key in row}
            if choices:
                valid = re.fullmatch(f"[{''.join(choices)}]+", answer) is not None
                answer_type = "choice"
            else:
                valid, answer_type = answer in BOOLEAN_ANSWERS, "boolean"
            if not valid:
                yield Rejected(
                    SOURCE, str(file), record, BAD_LABEL, f"answer {answer!r} is not an option", rid
                )
                continue
            example = Example(
                source=SOURCE,
                id=rid,
                question=question,
                answer=answer,
                answer_type=answer_type,
                split="test",
                context=text(row.get("context")),
                choices=choices,
                meta={"task": task},
            )
            yield guard.check(example, str(file), record)
