"""The generic reader's nested mapping: dotted paths and one ``[]`` step that explodes a list."""

from __future__ import annotations

import json

import pytest

from finr1_verl.data.cli import main
from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources import Rejected, parser_for
from finr1_verl.exitcodes import BAD_INPUT

TATQA_COLUMNS = {"question": "questions[].question", "answer": "questions[].answer", "id": "questions[].uid",
                 "context": "doc.title"}  # fmt: skip
TATQA_LIKE = [
    {
        "doc": {"title": "Annual report 2019"},
        "table": {"uid": "t1", "table": [["", "2019"], ["Revenue", "1,200"]]},
        "questions": [
            {"uid": "q1", "question": "What was the revenue in 2019?", "answer": "1,200", "answer_type": "span"},
            {"uid": "q2", "question": "Which segments grew?", "answer": ["Cloud", "Retail"], "answer_type": "multi-span"},
            {"uid": "q3", "question": "What was the change?", "answer": 5.5, "answer_type": "arithmetic"},
        ],
    },
    {"doc": {"title": "Empty"}, "questions": []},
]  # fmt: skip


def parse(path, columns):
    items = list(parser_for("tatqa", columns)(path))
    return [i for i in items if isinstance(i, Example)], [i for i in items if isinstance(i, Rejected)]


def test_explode_a_list_into_one_record_per_element(tmp_path):
    path = tmp_path / "tatqa_dataset_train.json"
    path.write_text(json.dumps(TATQA_LIKE))
    examples, rejects = parse(path, TATQA_COLUMNS)
    assert [(e.id, e.answer, e.answer_type) for e in examples] == [
        ("q1", "1,200", "numeric"),
        ("q3", "5.5", "numeric"),
    ]
    assert all(e.context == "Annual report 2019" and e.split == "train" for e in examples)
    not_text, empty = rejects
    assert (
        not_text.reason == "not_text"
        and "questions[].answer" in not_text.detail
        and not_text.record == "0.questions[1]"
    )
    assert empty.reason == "empty_list" and empty.record == 1


def test_a_list_mapped_to_a_text_field_names_the_column(tmp_path, capsys):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"q": "Which segments grew?", "a": ["Cloud", "Retail"]}) + "\n")
    with pytest.raises(RecordError, match="'answer' must be text, the column holds a list") as err:
        parse(path, {"question": "q", "answer": "a"})
    assert err.value.field == "a"
    argv = [
        "prepare",
        "--source",
        f"mine={path}",
        "--columns",
        "mine:question=q,answer=a",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, "--no-progress"]) == BAD_INPUT
    assert "field 'a': 'answer' must be text" in capsys.readouterr().err


def test_dotted_paths_and_missing_nested_columns(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"item": {"q": "Growth?", "gold": {"value": "14%"}}}) + "\n")
    examples, _ = parse(path, {"question": "item.q", "answer": "item.gold.value"})
    assert examples[0].question == "Growth?" and examples[0].answer == "14%"
    with pytest.raises(RecordError, match="column for 'answer' missing"):
        parse(path, {"question": "item.q", "answer": "item.gold.text"})


def test_one_list_may_be_exploded(tmp_path):
    with pytest.raises(ValueError, match="one list"):
        parser_for("x", {"question": "a[].q", "answer": "b[].a"})
