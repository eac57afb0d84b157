"""Finance-Instruct-500k (Josephgflowers/Finance-Instruct-500k): ``{system, user, assistant}`` records.

The published ``train.json`` is read as JSON lines or a JSON array; parquet exports and the hub
dataset (``hf:Josephgflowers/Finance-Instruct-500k``) work too.  Records carry no id, so the id is
the file stem (or hub split) and the record's position.  Answers are free text; a non-empty
``system`` turn is task instruction and becomes the context.  Schema: the three columns named
above, as the dataset card and its viewer list them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.sources.base import ParseItem, open_answer_reader, parse_table_files

SOURCE = "finance_instruct"
SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz", ".parquet")
read = open_answer_reader(SOURCE, question="user", answer="assistant", context="system")


def parse(path: str | Path) -> Iterator[ParseItem]:
    return parse_table_files(path, SOURCE, SUFFIXES, read)
