"""BBT-FinCUGE (ssymmetry/BBT-FinCUGE-Applications): Chinese financial NLP tasks, one folder each.

Labelled files (``eval_list.json``, ``train_list.json``) are positional lists ``[input, gold]``;
``problem_list.json`` holds ``[{id, input}]`` without gold (the hidden test part), so its records
are rejected as ``unlabelled``.  FinFE golds are sentiment ids 0/1/2 (消极/中性/积极, the order of
the task card); other tasks' golds are free text (FinQA here is Chinese event QA, not English FinQA).
``path`` is one task folder or the folder holding several.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources.base import (
    BAD_LABEL,
    INVALID_RECORD,
    UNLABELLED,
    IdGuard,
    ParseItem,
    Rejected,
    load_json,
    require_text,
    text,
)
from finr1_verl.prompts import FINFE_QUESTION
from finr1_verl.reward.labels import FINFE_LABELS

SOURCE = "fincuge"
LABELLED_FILES = ("train_list.json", "eval_list.json")


def parse(path: str | Path) -> Iterator[ParseItem]:
    path = Path(path)
    tasks = [path] if any((path / name).exists() for name in (*LABELLED_FILES, "problem_list.json")) else None
    tasks = tasks or sorted(p for p in path.iterdir() if p.is_dir())
    if not tasks:
        raise FileNotFoundError(f"{path}: no FinCUGE task folder (eval_list.json / problem_list.json)")
    guard = IdGuard(SOURCE)
    for task_dir in tasks:
        for name in LABELLED_FILES:
            if (task_dir / name).exists():
                yield from _labelled(task_dir / name, task_dir.name.lower(), guard)
        if (task_dir / "problem_list.json").exists():
            yield from _unlabelled(task_dir / "problem_list.json", task_dir.name.lower())


def _records(file: Path) -> list:
    records = load_json(file)
    if not isinstance(records, list):
        raise RecordError(file, "<document>", "<root>", "expected a JSON list")
    return records


def _labelled(file: Path, task: str, guard: IdGuard) -> Iterator[ParseItem]:
    split = file.stem.removesuffix("_list")
    for index, record in enumerate(_records(file)):
        rid = f"{task}/{split}/{index}"
        if not isinstance(record, list) or len(record) < 2:
            yield Rejected(SOURCE, str(file), index, INVALID_RECORD, "expected a [input, gold] list", rid)
            continue
        question, answer = text(record[0]), text(record[1])
        problem = require_text(SOURCE, str(file), index, rid, question, answer)
        if problem:
            yield problem
            continue
        answer_type, choices = "text", {}
        if task == "finfe":
            if answer not in FINFE_LABELS:
                yield Rejected(SOURCE, str(file), index, BAD_LABEL, f"label {answer!r} not in 0/1/2", rid)
                continue
            question, answer_type, choices = FINFE_QUESTION.format(text=question), "label", dict(FINFE_LABELS)
        example = Example(
            source=SOURCE,
            id=rid,
            question=question,
            answer=answer,
            answer_type=answer_type,
            split=split,
            choices=choices,
            meta={"task": task},
        )
        yield guard.check(example, str(file), index)


def _unlabelled(file: Path, task: str) -> Iterator[ParseItem]:
    for index, record in enumerate(_records(file)):
        rid = f"{task}/problem/{record.get('id', index) if isinstance(record, dict) else index}"
        yield Rejected(SOURCE, str(file), index, UNLABELLED, "problem_list has no gold answer", rid)
