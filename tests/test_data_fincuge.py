"""FinCUGE: each of the nine tasks read in its own published layout (real excerpts of every list file)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources import Rejected, parser_for
from finr1_verl.data.sources.fincuge import FINNE_LABELS, TASKS
from tests.support.shared_data import shared_path

INSTRUCTION_MARKS = {
    "fincqa": "回答开头关于其中事件的问题",
    "finqa": "回答开头关于其中事件的问题",
    "finna": "一句话摘要",
    "finfe": "判断其情绪倾向",
    "finne": "判断其情绪倾向",
    "finnl": "属于哪些类别",
    "finre": "之间的关系",
    "finese": "找出该事件的主体",
    "finnsp": "负面信息",
}


def upstream() -> Path:
    return shared_path("upstream_samples", "fincuge")


def parse(path: Path) -> tuple[list[Example], list[Rejected]]:
    items = list(parser_for("fincuge")(path))
    return [i for i in items if isinstance(i, Example)], [i for i in items if isinstance(i, Rejected)]


def records(task: str, split: str) -> list:
    file = upstream() / task / f"{split}_list.json"
    return json.loads(file.read_text(encoding="utf-8")) if file.exists() else []


def expected_gold(task: str, record: list) -> str | None:
    """The gold of a labelled record as the task's layout places it (None: the record is rejected)."""
    fields = dict(zip(TASKS[task].fields, (str(v).strip() for v in record), strict=True))
    if task == "finese":
        return None if fields["entity"] == "NaN" else fields["entity"]
    if task == "finnsp":
        return f"是，{fields['key_entities']}" if fields["negative"] == "1" else "否"
    key = {"finna": "summary", "finre": "relation", "finnl": "labels", "finfe": "label", "finne": "label"}
    return fields[key.get(task, "answer")]


def test_nine_tasks_are_the_upstream_folders():
    assert sorted(TASKS) == sorted(p.name for p in upstream().iterdir() if p.is_dir())


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_pairs_its_instruction_prompt_with_its_gold(task):
    examples, rejects = parse(upstream() / task)
    by_id = {e.id: e for e in examples}
    labelled = 0
    for split in ("train", "eval"):
        for index, record in enumerate(records(task, split)):
            labelled += 1
            gold = expected_gold(task, record)
            example = by_id.get(f"{task}/{split}/{index}")
            if gold is None:
                assert example is None
                continue
            assert example is not None and example.answer == gold, (split, index)
            assert INSTRUCTION_MARKS[task] in example.question
            assert example.split == split and example.meta["task"] == task
    problems = records(task, "problem")
    assert len(examples) + len(rejects) == labelled + len(problems), "every record ends in one place"
    assert Counter(r.reason for r in rejects)["unlabelled"] == len(problems)


def test_task_specific_fields_and_types():
    examples, rejects = parse(upstream())
    first = {e.meta["task"]: e for e in examples if e.id.endswith("/eval/0")}
    summary, news = records("finna", "eval")[0]
    assert first["finna"].answer == summary and news in first["finna"].question, "finna is [summary, news]"
    head, tail, relation, text = records("finre", "eval")[0]
    assert first["finre"].answer == relation and f"“{head}”与实体“{tail}”" in first["finre"].question
    assert first["finre"].answer_type == "label" and text in first["finre"].question
    assert first["finne"].answer_type == "label" and first["finne"].choices == FINNE_LABELS
    assert first["finfe"].choices["2"] == "积极"
    _, _, text, entities, _, _ = records("finnsp", "eval")[0]
    assert entities in first["finnsp"].question and text in first["finnsp"].question
    empty = [r for r in rejects if r.reason == "empty_answer"]
    assert empty and all(r.id.startswith("finese/") and "NaN" in r.detail for r in empty)


def test_unknown_task_folder_is_refused(tmp_path):
    shutil.copytree(upstream() / "finfe", tmp_path / "finxx")
    with pytest.raises(RecordError, match="unknown FinCUGE task"):
        parse(tmp_path)


def test_file_in_another_tasks_layout_is_refused(tmp_path):
    (tmp_path / "finre").mkdir()
    shutil.copy(upstream() / "finna" / "eval_list.json", tmp_path / "finre" / "eval_list.json")
    with pytest.raises(RecordError, match=r"finre records are a list \[head, tail, relation, text\]"):
        parse(tmp_path)


def test_one_list_file_is_read_as_its_task(tmp_path):
    examples, rejects = parse(upstream() / "finre" / "eval_list.json")
    assert len(examples) == len(records("finre", "eval")) and not rejects
    (tmp_path / "notes.json").write_text("[]")
    with pytest.raises(RecordError, match="not a FinCUGE list file"):
        parse(tmp_path / "notes.json")


def test_header_rows_left_in_train_files_are_rejected(tmp_path):
    (tmp_path / "finne").mkdir()
    rows = [["trainingSourceData", "Sentiment"], *records("finne", "train")[:3]]
    (tmp_path / "finne" / "train_list.json").write_text(json.dumps(rows, ensure_ascii=False))
    examples, rejects = parse(tmp_path)
    assert len(examples) == 3 and [r.reason for r in rejects] == ["bad_label"]
