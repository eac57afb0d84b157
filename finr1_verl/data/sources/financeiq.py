"""FinanceIQ (Duxiaoman-DI/XuanYuan): Chinese professional-exam multiple choice.

One CSV per exam subject, columns ``"",Question,A,B,C,D,Answer`` (the unnamed first column is the
row number); the folder (``dev``/``test``) is the upstream split and the file name the subject.
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

SOURCE = "financeiq"
OPTIONS = ("A", "B", "C", "D")


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".csv",)):
        split = file.parent.name if file.parent.name in ("dev", "test", "train") else "test"
        for line, row in iter_csv(file, required=("Question", *OPTIONS, "Answer")):
            number = text(row.get("", "")) or str(line)
            rid = f"{split}/{file.stem}/{number}"
            question, answer = text(row["Question"]), text(row["Answer"]).upper()
            problem = require_text(SOURCE, str(file), f"line {line}", rid, question, answer)
            if problem:
                yield problem
                continue
            choices = {key: text(row[key]) for key in OPTIONS}
            if not re.fullmatch(r"[A-D]+", answer):
                yield Rejected(
                    SOURCE, str(file), f"line {line}", BAD_LABEL, f"answer {answer!r} not A-D", rid
                )
                continue
            example = Example(
                source=SOURCE,
                id=rid,
                question=question,
                answer=answer,
                answer_type="choice",
                split=split,
                choices=choices,
                meta={"subject": file.stem},
            )
            yield guard.check(example, str(file), f"line {line}")
