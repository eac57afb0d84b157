"""Finance-Instruct-500k (Josephgflowers/Finance-Instruct-500k): ``{system, user, assistant}`` records.

The published ``train.json`` is read as JSON lines or a JSON array; parquet exports work too.
Records carry no id, so the id is the file name and the record's position.  Answers are free
text; a non-empty ``system`` turn is task instruction and becomes the context.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.records import Example
from finr1_verl.data.sources.base import (
    IdGuard,
    ParseItem,
    Rejected,
    files_under,
    iter_table_records,
    require_text,
    text,
)

SOURCE = "finance_instruct"


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".json", ".jsonl", ".json.gz", ".jsonl.gz", ".parquet")):
        for position, record in iter_table_records(file, SOURCE):
            if isinstance(record, Rejected):
                yield record
                continue
            rid = f"{file.stem}-{position}"
            question, answer = text(record.get("user")), text(record.get("assistant"))
            problem = require_text(SOURCE, str(file), position, rid, question, answer)
            if problem:
                yield problem
                continue
            example = Example(
                source=SOURCE,
                id=rid,
                question=question,
                answer=answer,
                answer_type="text",
                context=text(record.get("system")),
            )
            yield guard.check(example, str(file), position)
