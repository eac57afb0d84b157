"""FinanceQT = Quant-Trading-Instruct (lumalik/Quant-Trading-Instruct): ``{context, question, answer}``.

Published as one parquet file, ``data/train-00000-of-00001-<hash>.parquet`` (hub commit 24eba86),
of quant-trading code requests answered with code; ``context`` is a short role line.  Answers are
free text (code), judged rather than rule-matched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.sources.base import ParseItem, open_answer_reader, parse_table_files

SOURCE = "financeqt"
SUFFIXES = (".parquet", ".jsonl", ".json")
read = open_answer_reader(SOURCE, question="question", answer="answer", context="context")


def parse(path: str | Path) -> Iterator[ParseItem]:
    return parse_table_files(path, SOURCE, SUFFIXES, read)
