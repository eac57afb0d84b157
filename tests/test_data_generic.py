"""The generic reader's nested mapping: dotted paths and one ``[]`` step that explodes a list."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finr1_verl.data.cli import main
from finr1_verl.data.cli_options import column_maps
from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources import Rejected, parser_for
from finr1_verl.data.sources.base import markdown_table
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


TATQA = Path(__file__).parent / "fixtures" / "data" / "tatqa" / "tatqa_dataset_dev.json"
# The README's TAT-QA mapping, as one --columns value.
TATQA_MAPPING = (
    "tatqa:question=questions[].question,answer=questions[].answer|join,id=questions[].uid,"
    "scale=questions[].scale,document=table.uid,context=paragraphs[].text|join,table.table|table"
)


def test_tatqa_excerpt_with_table_paragraphs_and_scale(tmp_path):
    """Two records of TAT-QA's dev file (NExTplusplus/TAT-QA @ 870accc): every question becomes a
    record whose context holds the paragraphs then the table, the scale rides on numeric answers,
    and a multi-span answer is one text gold with every span."""
    columns = column_maps([TATQA_MAPPING])["tatqa"]
    assert columns["context"] == "paragraphs[].text|join,table.table|table"
    examples, rejects = parse(TATQA, columns)
    assert not rejects and len(examples) == 12
    upstream = json.loads(TATQA.read_text(encoding="utf-8"))
    by_id = {e.id: e for e in examples}
    first = upstream[0]
    for question in first["questions"]:
        example = by_id[question["uid"]]
        assert example.split == "dev" and example.meta["document"] == first["table"]["uid"]
        paragraphs = "\n".join(p["text"] for p in first["paragraphs"])
        assert example.context == paragraphs + "\n\n" + markdown_table(first["table"]["table"])
    answers = [(by_id[q["uid"]].answer, by_id[q["uid"]].answer_type) for q in first["questions"]]
    assert answers[1] == ("$1,496.5 million", "numeric")  # span '$1,496.5', scale million
    assert answers[2] == ("fixed-price type\ncost-plus type\ntime-and-material type", "text")
    assert answers[4] == ("-12.6 million", "numeric") and answers[5] == ("-22.22%", "numeric")
    years = by_id[upstream[1]["questions"][1]["uid"]]
    assert (years.answer, years.answer_type) == ("2019\n2018\n2017", "text"), "three years: all three needed"
    rows = [row for row in map_rows(tmp_path, TATQA, TATQA_MAPPING)]
    multi = next(row for row in rows if row["extra_info"]["id"] == first["questions"][2]["uid"])
    assert multi["reward_model"]["ground_truth"] == [
        "fixed-price type\ncost-plus type\ntime-and-material type"
    ]


def map_rows(tmp_path, path, mapping: str) -> list[dict]:
    out = tmp_path / "out"
    argv = ["prepare", "--source", f"tatqa={path}", "--columns", mapping, "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    return pq.read_table(out / "sources" / "tatqa" / "rl.parquet").to_pylist()


def test_financemath_tables_index_paths_and_join_separator(tmp_path):
    path = tmp_path / "validation.json"
    records = [
        {"question_id": "validation-0", "question": "What is the average return?",
         "tables": ["| Year | Return |\n|---|---|\n| 2020 | 5% |", [["Year", "Risk"], ["2020", "low"]]],
         "ground_truth": 5.0, "answers": [{"text": "5"}, {"text": "5.0"}], "tags": ["mean", "return"]},
    ]  # fmt: skip
    path.write_text(json.dumps(records), encoding="utf-8")
    columns = {"id": "question_id", "question": "question", "answer": "answers.0.text",
               "context": "tables|table,tags|join(; )"}  # fmt: skip
    (example,), _ = parse(path, columns)
    assert example.answer == "5" and example.split == "validation"
    assert example.context == (
        "| Year | Return |\n|---|---|\n| 2020 | 5% |\n\n| Year | Risk |\n| --- | --- |\n| 2020 | low |\n\nmean; return"
    )


def test_a_context_part_resolving_to_nothing_names_the_column(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"q": "Growth?", "a": "14%", "paragraphs": [], "t": []}) + "\n")
    with pytest.raises(RecordError, match="context part resolves to nothing") as err:
        parse(path, {"question": "q", "answer": "a", "context": "paragraphs[].text|join"})
    assert err.value.field == "paragraphs[].text"
    with pytest.raises(RecordError, match="column for 'context' missing") as err:
        parse(path, {"question": "q", "answer": "a", "context": "q,table.rows|table"})
    assert err.value.field == "table.rows"


def test_an_unknown_scale_is_rejected(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = [{"q": "Sales?", "a": "12", "s": "million"}, {"q": "Cost?", "a": "3", "s": "lakh"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    examples, rejects = parse(path, {"question": "q", "answer": "a", "scale": "s"})
    assert [e.answer for e in examples] == ["12 million"]
    assert [(r.reason, r.record) for r in rejects] == [("bad_scale", 2)]
