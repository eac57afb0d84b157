"""Twitter Financial News Sentiment (zeroshot/twitter-financial-news-sentiment): ``text,label`` CSV.

Labels are the dataset's ids, 0 = Bearish, 1 = Bullish, 2 = Neutral; the reference answer is the
id (Fin-R1's RL record for TFNS is the tweet with solution ``"0"``) and the names go in
``choices`` so the reward can accept either.
"""

from __future__ import annotations

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
    split_from_name,
    text,
)
from finr1_verl.prompts import TFNS_QUESTION

SOURCE = "tfns"
# The dataset card's label ids (zeroshot/twitter-financial-news-sentiment).
TFNS_LABELS: dict[str, str] = {"0": "Bearish", "1": "Bullish", "2": "Neutral"}


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".csv",)):
        for row_index, (line, row) in enumerate(iter_csv(file, required=("text", "label"))):
            rid = f"{file.stem}-{row_index}"
            tweet, label = text(row["text"]), text(row["label"])
            problem = require_text(SOURCE, str(file), f"line {line}", rid, tweet, label)
            if problem:
                yield problem
                continue
            if label not in TFNS_LABELS:
                yield Rejected(
                    SOURCE, str(file), f"line {line}", BAD_LABEL, f"label {label!r} not in 0/1/2", rid
                )
                continue
            example = Example(
                source=SOURCE,
                id=rid,
                question=TFNS_QUESTION.format(text=tweet),
                answer=label,
                answer_type="label",
                split=split_from_name(file),
                choices=dict(TFNS_LABELS),
            )
            yield guard.check(example, str(file), f"line {line}")
