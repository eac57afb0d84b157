"""FinCorpus (Duxiaoman-DI/FinCorpus), its exam part ``fin_exam.jsonl.gz``.

Each line is ``{"text": ..., "meta": {...}}``; an exam item's text is the stem, option lines
``A、…``/``A．…``, then ``答案：X`` and usually ``分析解释：…``.  Letter answers with options become
choice questions; other answers stay free text.  Lines without an ``答案`` part (the corpus's news
and announcement files have none) are rejected as ``no_answer_in_text``.  The hub repository keeps
the file as ``data/fin_exam.jsonl.gz`` (commit b12fd5b) beside ~21 GB of news and announcements:
``hf:Duxiaoman-DI/FinCorpus`` streams all of them, so download the exam file when only it is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.records import Example
from finr1_verl.data.sources.base import (
    ParseItem,
    RecordAt,
    Rejected,
    parse_table_files,
    require_text,
    text,
)
from finr1_verl.reward.answer_type import classify_answer, option_letters

SOURCE = "fincorpus"
SUFFIXES = (".jsonl", ".jsonl.gz", ".json")
_ANSWER = re.compile(r"\n\s*答案\s*[：:]")
_EXPLANATION = re.compile(r"\n\s*(?:分析解释|解析|答案解析)\s*[：:]")
_OPTION = re.compile(r"^\s*([A-H])\s*[、．.:：]\s*(.*)$")


def read(record: dict, at: RecordAt) -> ParseItem:
    return _exam_item(text(record.get("text")), at)


def parse(path: str | Path) -> Iterator[ParseItem]:
    return parse_table_files(path, SOURCE, SUFFIXES, read)


def _exam_item(body: str, at: RecordAt) -> ParseItem:
    file, line, rid = at.file, at.position, at.default_id
    parts = _ANSWER.split(body, maxsplit=1)
    if len(parts) != 2:
        return Rejected(SOURCE, file, line, "no_answer_in_text", "no '答案：' part", rid)
    stem_and_options, rest = parts
    answer_part, *explanation = _EXPLANATION.split(rest, maxsplit=1)
    answer = answer_part.strip()
    stem_lines, choices = [], {}
    for row in stem_and_options.strip().splitlines():
        option = _OPTION.match(row)
        if option:
            choices[option.group(1)] = option.group(2).strip()
        elif not choices:
            stem_lines.append(row)
        else:
            choices[list(choices)[-1]] += "\n" + row.strip()
    question = "\n".join(stem_lines).strip()
    problem = require_text(SOURCE, file, line, rid, question, answer)
    if problem:
        return problem
    letters = option_letters(answer.upper(), choices) if choices else None
    if letters:
        answer_type, answer = "choice", letters
    else:
        answer_type, question, choices = classify_answer(answer, {}), stem_and_options.strip(), {}
    meta = {"explanation": explanation[0].strip()} if explanation else {}
    return Example(
        source=SOURCE,
        id=rid,
        question=question,
        answer=answer,
        answer_type=answer_type,
        split=at.split,
        choices=choices,
        meta=meta,
    )
