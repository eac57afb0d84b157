"""Decontamination: ``finr1-eval select`` writes each item's id, question and document; ``finr1-data
prepare --exclude-from`` drops the items, records on their report pages and questions overlapping theirs.
The FinQA/ConvFinQA cases use the shipped FinQA sample and the real ConvFinQA / FinQA excerpts."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from finr1_verl.data.build import PrepareConfig, SourceInput, prepare
from finr1_verl.data.cli import main as data_main
from finr1_verl.data.decontaminate import Decontaminator, EvalText, read_eval_texts
from finr1_verl.data.distill import DistillConfig, _examples
from finr1_verl.data.records import Example
from finr1_verl.data.rejects import RejectWriter
from finr1_verl.data.samples import SPEC
from finr1_verl.data.sources import parser_for
from finr1_verl.data.sources.base import report_page
from finr1_verl.eval.cli import main as eval_main
from tests.support.shared_data import shared_path

SAMPLE_FINQA = SPEC.parent / "finqa" / "train.json"


def select(tmp_path: Path, bench: str, path: Path, limit: int) -> Path:
    items = tmp_path / "items.json"
    argv = ["select", "--bench", f"{bench}={path}", "--limit", str(limit), "--out", str(items)]
    assert eval_main(argv) == 0
    return items


def rejects_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]


def test_finqa_and_convfinqa_ids_name_the_same_report_page():
    """The real excerpts: 5 report pages of the official FinQA test subset carry ConvFinQA's private
    test conversations; both ids give the same document key."""
    finqa = [
        e
        for e in parser_for("finqa")(shared_path("upstream_samples", "finqa_official"))
        if isinstance(e, Example)
    ]
    convfinqa = list(
        parser_for("convfinqa")(shared_path("upstream_samples", "convfinqa_official", "test_private.json"))
    )
    finqa_pages = {e.meta["document"] for e in finqa}
    assert "" not in finqa_pages and all(e.meta["document"] == report_page(e.id) for e in finqa)
    conv_pages = {report_page(item.id.split("#")[0]) for item in convfinqa}
    assert len(finqa_pages & conv_pages) == 5
    assert (
        report_page("Single_ADI/2009/page_49.pdf-2")
        == report_page("ADI/2009/page_49.pdf-1")
        == "ADI/2009/page_49.pdf"
    )
    assert (
        report_page("Double_UNP/2007/page_25.pdf") == "UNP/2007/page_25.pdf" and report_page("test-3") == ""
    )


def test_select_writes_id_question_and_document(tmp_path):
    items = select(tmp_path, "convfinqa", shared_path("convfinqa"), 20)
    texts = read_eval_texts(items)
    payload = json.loads(items.read_text(encoding="utf-8"))["benchmarks"]["convfinqa"]
    assert [t.id for t in texts] == payload["ids"] and len(texts) == 20
    assert all(t.source == "convfinqa" and t.question and t.document.endswith(".pdf") for t in texts)
    assert all(t.document == report_page(t.id.split("#")[0]) for t in texts)


def test_finqa_training_pages_of_convfinqa_evaluation_items_are_dropped(tmp_path):
    """Training on FinQA pages that ConvFinQA's evaluated dev conversations are built on: every FinQA
    record on such a page goes; the sample's own page stays."""
    items = select(tmp_path, "convfinqa", shared_path("convfinqa"), 30)
    pages = sorted({t.document for t in read_eval_texts(items)})
    sample = json.loads(SAMPLE_FINQA.read_text(encoding="utf-8"))
    train = copy.deepcopy(sample)
    for index, page in enumerate(pages[:4]):
        record = copy.deepcopy(sample[index % len(sample)])
        record["id"] = f"{page}-{index + 1}"
        record["qa"]["question"] = f"on this page, item {index}: what is the total?"
        train.append(record)
    (tmp_path / "finqa").mkdir()
    (tmp_path / "finqa" / "train.json").write_text(json.dumps(train), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["prepare", "--source", f"finqa={tmp_path / 'finqa'}", "--out", str(out), "--no-progress"]
    assert data_main([*argv, "--exclude-from", str(items)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["decontamination"]["finqa"] == {"eval_document": 4}
    written = pq.read_table(out / "sources" / "finqa" / "rl.parquet").to_pylist()
    assert {row["extra_info"]["document"] for row in written} == {"SMPL/2021/page_7.pdf"}
    dropped = [r for r in rejects_of(out) if r["reason"] == "eval_document"]
    assert {r["id"].rsplit("-", 1)[0] for r in dropped} == set(pages[:4])
    assert all("convfinqa/" in r["detail"] for r in dropped)


def example(source: str, rid: str, question: str, context: str = "") -> Example:
    return Example(
        source=source, id=rid, question=question, answer="1", answer_type="numeric", context=context
    )


def test_text_rules_ngram_exact_and_cross_source_duplicates():
    evaluation = [
        EvalText(
            "finqa", "e1", "What was the percentage change in net revenue from 2008 to 2009 for the group?"
        ),
        EvalText("tfns", "e2", "Is it up?"),
    ]
    rules = Decontaminator(evaluation, ngram=8)
    overlap = example(
        "mine", "a", "Tell me: what was the percentage change in NET revenue from 2008 to 2009, please"
    )
    assert rules.check(overlap)[0] == "eval_ngram"
    assert rules.check(example("mine", "b", "what was the percentage change in net income?")) is None
    assert rules.check(example("mine", "c", "  is IT   up? "))[0] == "eval_exact"
    assert rules.check(example("finqa", "e1", "anything"))[0] == "excluded_id"
    kept = example("one", "x", "How much did revenue grow?", "Revenue: 10 -> 12")
    assert rules.check(kept) is None
    assert (
        rules.check(example("one", "y", "How much did revenue grow?", "Revenue: 10 -> 12")) is None
    )  # same source
    twin = example("two", "z", "how much did  revenue grow?", "revenue: 10 -> 12")
    assert rules.check(twin) == ("duplicate_text", "same question and context as a record of one")
    assert Decontaminator(evaluation, ngram=0).check(overlap) is None, "0 turns the n-gram rule off"
    assert Decontaminator(evaluation, ngram=20).check(overlap) is None


def test_chinese_questions_are_compared_by_character():
    rules = Decontaminator(
        [EvalText("fincuge", "q", "请判断以下新闻对公司股价的影响是积极还是消极")], ngram=8
    )
    assert rules.check(example("mine", "a", "阅读后请判断以下新闻对公司股价的影响"))[0] == "eval_ngram"
    assert rules.check(example("mine", "b", "公司发布了年度报告")) is None


def test_prepare_counts_text_rules_per_source_and_cli_flag(tmp_path):
    question = "what is the ratio of the total cost of sales to the net sales in 2021 for this company?"
    items = tmp_path / "items.json"
    entry = {"source": "finqa", "id": "x", "question": question, "document": ""}
    items.write_text(
        json.dumps({"benchmarks": {"finqa": {"ids": ["x"], "decontamination": [entry]}}}), encoding="utf-8"
    )
    data = tmp_path / "mine_train.jsonl"
    lines = [{"question": f"Q: {question}", "answer": "0.6"}, {"question": "what is 2 + 2?", "answer": "4"}]
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    for ngram, dropped in ((8, {"eval_ngram": 1}), (0, {})):
        out = tmp_path / f"out{ngram}"
        argv = [
            "prepare",
            "--source",
            f"mine={data}",
            "--out",
            str(out),
            "--no-progress",
            "--exclude-from",
            str(items),
        ]
        assert data_main([*argv, "--decontaminate-ngram", str(ngram)]) == 0
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        assert report["decontamination"]["mine"] == dropped
        assert report["sources"]["mine"]["written"] == 2 - sum(dropped.values())
        assert report["config"]["decontaminate_ngram"] == ngram and not report["failures"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"benchmarks": {"finqa": {"ids": ["x"]}}}), encoding="utf-8")
    assert (
        data_main(
            ["prepare", "--source", f"mine={data}", "--out", str(tmp_path / "o"), "--exclude-from", str(old)]
        )
        == 2
    )


def test_distill_never_asks_the_teacher_about_evaluation_pages(tmp_path):
    items = select(tmp_path, "convfinqa", shared_path("convfinqa"), 10)
    source = SourceInput("convfinqa", shared_path("convfinqa"))
    config = DistillConfig(out=tmp_path, eval_items=tuple(read_eval_texts(items)))
    dropped: Counter = Counter()
    with RejectWriter(tmp_path / "rejects.jsonl") as rejects:
        kept = list(_examples([source], config, rejects, dropped))
    pages = {t.document for t in read_eval_texts(items)}
    assert kept and not {e.meta["document"] for e in kept} & pages
    assert dropped["convfinqa", "excluded_id"] == 10 and dropped["convfinqa", "eval_document"] > 0
    assert len(kept) + sum(dropped.values()) == 751


def test_every_record_ends_written_or_rejected_with_decontamination(tmp_path):
    items = select(tmp_path, "convfinqa", shared_path("convfinqa"), 50)
    config = PrepareConfig(out=tmp_path / "out", eval_items=tuple(read_eval_texts(items)), progress=False)
    report = prepare([SourceInput("convfinqa", shared_path("convfinqa"))], config)
    stats = report["sources"]["convfinqa"]
    assert stats["accounted"] and stats["rejected_by_reason"]["excluded_id"] == 50
    assert len(rejects_of(tmp_path / "out")) == stats["rejected"]


def test_a_benchmark_template_is_not_an_overlap():
    """TFNS wraps every tweet in one instruction: its words match no training question by themselves."""
    template = "Below is a finance-related tweet. What is its sentiment? Text: {}"
    tweets = [f"Company {i} shares jump after record quarter number {i}" for i in range(20)]
    rules = Decontaminator(
        [EvalText("tfns", str(i), template.format(t)) for i, t in enumerate(tweets)], ngram=8
    )
    assert rules.check(example("tfns", "a", template.format("Acme falls on weak guidance"))) is None
    copied = example(
        "tfns", "b", template.format("Company 7 shares jump after record quarter number 7 today")
    )
    assert rules.check(copied)[0] == "eval_ngram"
