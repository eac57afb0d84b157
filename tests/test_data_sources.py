"""Each source parser reads its published schema completely: counts checked against the files."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finr1_verl.data.records import Example
from finr1_verl.data.sources import SOURCES, Rejected, parser_for
from tests.support.shared_data import shared_path

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def parse_all(name: str, path: Path, columns: dict | None = None) -> tuple[list[Example], list[Rejected]]:
    items = list(parser_for(name, columns)(path))
    examples = [i for i in items if isinstance(i, Example)]
    rejects = [i for i in items if isinstance(i, Rejected)]
    assert len(examples) + len(rejects) == len(items)
    assert len({e.id for e in examples}) == len(examples), "ids must be unique within a source"
    return examples, rejects


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_registry_names_every_fin_r1_source():
    assert set(SOURCES) >= {
        "finqa", "convfinqa", "tfns", "financeiq", "ant_fineva", "fincuge",
        "finance_instruct", "fincorpus", "financeqt", "fin_r1", "finpee",
    }  # fmt: skip


# --- real data in ../shared/data ------------------------------------------------------------


def test_finqa_simplified_file():
    path = shared_path("finqa", "finqa_test_first100.json")
    records = json.loads(path.read_text(encoding="utf-8"))["data"]
    examples, rejects = parse_all("finqa", path)
    blank = [r for r in records if not r["answer"].strip()]
    assert len(examples) == len(records) - len(blank) and len(rejects) == len(blank) == 1
    assert rejects[0].reason == "empty_answer"
    by_question = {e.question: e for e in examples}
    first = by_question[records[1]["question"].strip()]
    assert first.answer == "14%" and first.answer_type == "numeric" and first.split == "test"
    assert Counter(e.answer_type for e in examples)["boolean"] == sum(
        r["answer"] in ("yes", "no") for r in records
    )


def test_convfinqa_reformatted_one_example_per_turn_with_history():
    path = shared_path("convfinqa", "convfinqa_dev_part1.json")
    conversations = json.loads(path.read_text(encoding="utf-8"))["dev"]
    examples, rejects = parse_all("convfinqa", path)
    assert not rejects
    assert len(examples) == sum(len(c["dialogue"]["conv_questions"]) == len(c["dialogue"]["conv_answers"]) and len(
        c["dialogue"]["conv_questions"]) for c in conversations) == 751  # fmt: skip
    last = next(e for e in examples if e.id == f"{conversations[0]['id']}#4")
    assert last.answer == "142.4%" and last.meta["executed_answer"] == "1.42403"
    assert [t["answer"] for t in last.meta["history"]] == ["60.94", "25.14", "35.80", "25.14"]
    assert last.meta["group"] == conversations[0]["id"]
    assert "| weighted average exercise price per share | 60.94 |" in last.context


def test_tfns_every_row_labelled():
    path = shared_path("tfns", "sent_valid.csv")
    rows = csv_rows(path)
    examples, rejects = parse_all("tfns", path)
    assert len(examples) == len(rows) == 2388 and not rejects
    assert Counter(e.answer for e in examples) == Counter(r["label"] for r in rows)
    assert examples[0].choices == {"0": "Bearish", "1": "Bullish", "2": "Neutral"}
    assert rows[0]["text"] in examples[0].question


def test_financeiq_all_files():
    folder = shared_path("financeiq")
    files = sorted(folder.rglob("*.csv"))
    total = sum(len(csv_rows(f)) for f in files)
    examples, rejects = parse_all("financeiq", folder)
    assert len(examples) == total and not rejects
    assert {e.split for e in examples} == {"dev", "test"}
    assert all(e.answer_type == "choice" and set(e.choices) == {"A", "B", "C", "D"} for e in examples)


def test_ant_fineva_rejects_empty_answers_with_reason():
    folder = shared_path("ant_fineva", "Ant")
    rows = [row for f in sorted(folder.rglob("*.csv")) for row in csv_rows(f)]
    answered = [row for row in rows if row["answer"].strip()]
    examples, rejects = parse_all("ant_fineva", folder)
    assert len(examples) == len(answered) and len(rejects) == len(rows) - len(answered)
    assert {r.reason for r in rejects} == {"unlabelled"}
    types = Counter(e.answer_type for e in examples)
    assert types["boolean"] == sum(1 for row in answered if "A" not in row)
    five = [e for e in examples if "E" in e.choices]
    three = [e for e in examples if set(e.choices) == {"A", "B", "C"}]
    assert five and three, "5-option and 3-option tasks both parsed"
    with_context = [e for e in examples if e.context]
    assert len(with_context) == sum(1 for row in answered if row.get("context", "").strip())


def test_fincuge_positional_lists_per_task():
    folder = shared_path("fincuge")
    labelled = {
        t: json.loads((folder / t / "eval_list.json").read_text(encoding="utf-8")) for t in ("finfe", "finqa")
    }
    problems = {
        t: json.loads((folder / t / "problem_list.json").read_text(encoding="utf-8"))
        for t in ("finfe", "finqa")
    }
    examples, rejects = parse_all("fincuge", folder)
    assert len(examples) == sum(map(len, labelled.values()))
    assert len(rejects) == sum(map(len, problems.values())) and {r.reason for r in rejects} == {"unlabelled"}
    finfe = [e for e in examples if e.meta["task"] == "finfe"]
    assert Counter(e.answer for e in finfe) == Counter(str(gold) for _, gold in labelled["finfe"])
    assert all(e.answer_type == "label" and e.choices["2"] == "积极" for e in finfe)
    event_qa = next(e for e in examples if e.id == "finqa/eval/0")
    assert (
        event_qa.question.endswith(labelled["finqa"][0][0].strip())
        and event_qa.answer == labelled["finqa"][0][1]
    )
    single_task, _ = parse_all("fincuge", folder / "finfe")
    assert len(single_task) == len(labelled["finfe"])


# --- fixtures in the documented upstream schemas -------------------------------------------


def test_finqa_official_schema():
    examples, rejects = parse_all("finqa", FIXTURES / "finqa_official")
    assert [e.answer for e in examples] == ["1.6%", "yes", "2.08"]
    assert examples[0].meta["executed_answer"] == "0.01639" and examples[0].answer_type == "numeric"
    assert examples[1].answer_type == "boolean" and "executed_answer" in examples[1].meta
    assert examples[2].answer == examples[2].meta["executed_answer"], "no human answer: executed value used"
    assert "| net revenue | $ 5,829 | $ 5,735 |" in examples[0].context
    assert examples[0].context.startswith("the company reported") and not rejects


def test_convfinqa_official_conversation_and_turn_files():
    examples, _ = parse_all("convfinqa", FIXTURES / "convfinqa_official")
    assert len(examples) == 8
    single = [e for e in examples if e.meta["group"] == "Single_DEF/2008/page_5.pdf-1"]
    assert [e.answer for e in single] == ["120", "95", "25", "26.3%"]
    assert single[-1].meta["executed_answer"] == "0.26316"
    double = [e for e in examples if e.meta["group"] == "Double_DEF/2008/page_5.pdf"]
    assert [e.answer for e in double] == ["400", "20", "120", "0.3"]
    turns, _ = parse_all("convfinqa", FIXTURES / "convfinqa_turn")
    assert [e.id for e in turns] == [f"Single_DEF/2008/page_5.pdf-1#{t}" for t in range(4)]
    assert turns[3].meta["history"] == [
        {"question": "what was cash in 2008?", "answer": "120"},
        {"question": "and in 2007?", "answer": "95"},
        {"question": "what was the change?", "answer": "25"},
    ]


def test_finance_instruct_jsonl_and_json_array(tmp_path):
    examples, rejects = parse_all("finance_instruct", FIXTURES / "finance_instruct" / "train.json")
    assert len(examples) == 3 and [r.reason for r in rejects] == ["empty_answer"]
    assert examples[1].context.startswith("You are a financial sentiment classifier")
    lines = (FIXTURES / "finance_instruct" / "train.json").read_text().splitlines()
    array = tmp_path / "train.json"
    array.write_text(json.dumps([json.loads(line) for line in lines]))
    again, _ = parse_all("finance_instruct", array)
    assert [e.answer for e in again] == [e.answer for e in examples]


def test_fincorpus_exam_text(tmp_path):
    gz = tmp_path / "fin_exam.jsonl.gz"
    with gzip.open(gz, "wb") as out:
        out.write((FIXTURES / "fincorpus" / "fin_exam.jsonl").read_bytes())
    examples, rejects = parse_all("fincorpus", gz)
    single, multi, calc = examples
    assert single.answer == "C" and single.answer_type == "choice" and single.choices["C"] == "确定性"
    assert single.question.startswith("下列关于金融衍生工具") and "A、" not in single.question
    assert multi.answer == "ABD" and set(multi.choices) == {"A", "B", "C", "D"}
    assert calc.answer == "5" and calc.answer_type == "numeric" and calc.meta["explanation"] == "100×5%=5元。"
    assert [r.reason for r in rejects] == ["no_answer_in_text"]


def test_financeqt_parquet(tmp_path):
    rows = [json.loads(line) for line in (FIXTURES / "financeqt" / "train.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train-00000-of-00001.parquet")
    examples, _ = parse_all("financeqt", tmp_path)
    assert len(examples) == 2 and examples[0].context == "You are a helpful assistant for quant trading."
    assert examples[0].answer.startswith("class SmaCross") and examples[0].answer_type == "text"


def test_fin_r1_data_format():
    examples, _ = parse_all("fin_r1", FIXTURES / "fin_r1")
    finpee, tfns, conv = examples
    assert finpee.answer == "10\\%" and finpee.meta["origin"] == "FinPEE" and finpee.meta["thinking"]
    assert tfns.answer == "1" and tfns.meta["answer_text"] == "\\boxed{1}"
    assert conv.meta["history"] == [{"question": "what was cash in 2008?", "answer": "120"}]


def test_generic_mapping_for_finpee(tmp_path):
    columns = {"id": "编号", "question": "题目", "answer": "答案"}
    examples, _ = parse_all("finpee", FIXTURES / "finpee", columns)
    assert [e.id for e in examples] == ["p1", "p2"] and [e.answer_type for e in examples] == [
        "numeric",
        "numeric",
    ]
    shutil.copy(FIXTURES / "finpee" / "finpee.csv", tmp_path / "mine.csv")
    with pytest.raises(ValueError, match="unknown mapping key"):
        parser_for("mine", {"questoin": "题目"})
