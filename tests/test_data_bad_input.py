"""Bad input never disappears: a clear error naming file, record and field, or a reject with a reason."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finr1_verl.data.build import PrepareConfig, SourceInput, prepare
from finr1_verl.data.cli import main
from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources import Rejected, parser_for

FINQA_RECORD = {
    "pre_text": ["text"],
    "post_text": [],
    "table": [["", "2019"], ["revenue", "10"]],
    "id": "A/2019/page_1.pdf-1",
    "qa": {"question": "what was revenue?", "exe_ans": 10.0, "answer": "10", "program": "10"},
}


def items(name: str, path: Path, columns: dict | None = None) -> list:
    return list(parser_for(name, columns)(path))


def test_truncated_json_names_line_and_column(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps([FINQA_RECORD], indent=1)[:-40])
    with pytest.raises(RecordError) as err:
        items("finqa", path)
    assert (
        err.value.file == str(path) and "line" in str(err.value.record) and "column" in str(err.value.record)
    )
    assert "invalid JSON" in str(err.value)


def test_truncated_jsonl_line_is_a_reject_and_the_rest_is_kept(tmp_path):
    path = tmp_path / "train.json"
    good = json.dumps({"system": "", "user": "q?", "assistant": "a."})
    path.write_text(f"{good}\n{good[:-9]}\n{good.replace('q?', 'q2?')}\n")
    result = items("finance_instruct", path)
    assert [type(i).__name__ for i in result] == ["Example", "Rejected", "Example"]
    assert result[1].reason == "invalid_json" and result[1].record == "line 2"


def test_csv_missing_column_names_the_column(tmp_path):
    path = tmp_path / "sent_valid.csv"
    path.write_text("text,sentiment\nStocks up,1\n")
    with pytest.raises(RecordError) as err:
        items("tfns", path)
    assert err.value.field == "label" and err.value.record == "line 1" and str(path) in str(err.value)


def test_csv_row_with_wrong_cell_count_names_the_line(tmp_path):
    path = tmp_path / "sent_valid.csv"
    path.write_text("text,label\nStocks up,1\nBroken,row,2\n")
    with pytest.raises(RecordError, match="line 3"):
        items("tfns", path)


def test_non_utf8_bytes_name_the_line(tmp_path):
    path = tmp_path / "sent_valid.csv"
    path.write_bytes(b"text,label\nStocks up,1\n" + "股价上涨,1\n".encode("gbk"))
    with pytest.raises(RecordError) as err:
        items("tfns", path)
    assert err.value.record == "line 3" and "UTF-8" in err.value.reason


def test_duplicate_ids_are_rejected_after_the_first(tmp_path):
    path = tmp_path / "test.json"
    path.write_text(json.dumps([FINQA_RECORD, FINQA_RECORD]))
    first, second = items("finqa", path)
    assert isinstance(first, Example)
    assert (
        isinstance(second, Rejected) and second.reason == "duplicate_id" and second.id == FINQA_RECORD["id"]
    )


def test_empty_question_and_nan_answer_are_rejected(tmp_path):
    # pandas writes a numeric answer column with NaN for blank cells; JSON lines may carry a bare NaN.
    path = tmp_path / "mine.parquet"
    pq.write_table(
        pa.table({"question": ["What is beta?", "   ", "What is alpha?"], "answer": [1.5, 2.0, math.nan]}),
        path,
    )
    parquet_items = items("mine", path)
    assert [getattr(i, "reason", None) for i in parquet_items] == [None, "empty_question", "empty_answer"]
    assert parquet_items[0].answer == "1.5"
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text('{"question": "What is alpha?", "answer": NaN}\n')
    (nan_item,) = items("mine", jsonl)
    assert nan_item.reason == "empty_answer" and nan_item.record == 1


def test_generic_missing_mapped_column_names_it(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"q": "What is beta?", "a": "risk"}\n')
    with pytest.raises(RecordError) as err:
        items("mine", path, {"question": "q", "answer": "answer"})
    assert err.value.field == "answer" and err.value.record == "first record"


def test_prepare_accounts_for_every_record_and_explains_rejects(tmp_path):
    data = tmp_path / "in.json"
    data.write_text(
        json.dumps([FINQA_RECORD, FINQA_RECORD, {**FINQA_RECORD, "id": "B", "qa": {"question": ""}}])
    )
    report = prepare([SourceInput("finqa", data)], PrepareConfig(out=tmp_path / "out", progress=False))
    stats = report["sources"]["finqa"]
    assert stats["read"] == 3 and stats["written"] == 1 and stats["accounted"]
    assert stats["rejected_by_reason"] == {"duplicate_id": 1, "empty_question": 1}
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert sorted(r["reason"] for r in rejects) == ["duplicate_id", "empty_question"]
    assert all(r["file"] == str(data) and r["source"] == "finqa" and r["detail"] for r in rejects)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prepare", "--source", "finqa= ", "--out", "o"], "--source expects NAME=VALUE, got 'finqa= '"),
        (["prepare", "--source", "t=x", "--columns", "t", "--out", "o"], "--columns expects NAME:KEY=COL"),
        (["prepare", "--source", "t=x", "--count", "t", "--out", "o"], "--count expects NAME=VALUE"),
        (["distill", "--source", "=x", "--out", "o", "--teacher-url", "u"], "--source expects NAME=VALUE"),
        (
            ["distill", "--source", "t=x", "--columns", "t:q", "--out", "o", "--teacher-url", "u"],
            "--columns expects NAME=VALUE, got 'q'",
        ),
        (
            ["distill", "--source", "t=x", "--source", "t=y", "--out", "o", "--teacher-url", "u"],
            "each source may be given once",
        ),
        (
            ["distill", "--source", "t=x", "--out", "o", "--teacher-url", ""],
            "--teacher-url (or $FINR1_TEACHER_URLS)",
        ),
        (["filter", "--traces", "t", "--out", "o", "--judge-url", ""], "--judge-url (or $FINR1_JUDGE_URLS)"),
    ],
)
def test_bad_command_line_values_stop_before_any_work_naming_the_flag(tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert message in str(err.value)
    assert not (tmp_path / "o").exists()
