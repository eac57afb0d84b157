"""Upstream splits are kept: test items stay out of the training mix, and benchmark selections
can be excluded by id.  Proven on the shared data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finr1_verl.data.build import PrepareConfig, SourceInput, prepare
from finr1_verl.data.cli import main as data_main
from finr1_verl.data.records import Example
from finr1_verl.data.sources import Rejected, parser_for
from finr1_verl.data.sources.base import split_from_name, split_kind
from finr1_verl.eval.cli import main as eval_main
from tests.support.shared_data import shared_path


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def shared_inputs() -> list[SourceInput]:
    return [
        SourceInput("finqa", shared_path("finqa", "finqa_test_first100.json")),
        SourceInput("financeiq", shared_path("financeiq")),
        SourceInput("ant_fineva", shared_path("upstream_samples", "fin_eva")),
        SourceInput("tfns", shared_path("tfns")),
        SourceInput("fincuge", shared_path("upstream_samples", "fincuge")),
    ]


@pytest.mark.parametrize(
    ("name", "split", "kind"),
    [
        ("train.json", "train", "train"),
        ("sample_train.json", "train", "train"),
        ("dev.json", "dev", "dev"),
        ("convfinqa_dev_part1.json", "dev", "dev"),
        ("val/accounting.csv", "val", "dev"),
        ("sent_valid.csv", "valid", "dev"),
        ("validation.json", "validation", "dev"),
        ("eval_list.json", "eval", "dev"),
        ("test.json", "test", "test"),
        ("finqa_test_first100.json", "test", "test"),
        ("test_gold.json", "test_gold", "test"),
        ("private_test.jsonl", "private_test", "test"),
        ("test_private.json", "test_private", "test"),
        ("test/注册会计师（CPA）.csv", "test", "test"),
        ("data.json", "unknown", "unknown"),
        ("fin_exam.jsonl", "unknown", "unknown"),
        ("train_test.json", "unknown", "unknown"),
    ],
)
def test_split_names(name, split, kind):
    assert split_from_name(Path("/data") / name) == split and split_kind(split) == kind


@pytest.mark.parametrize(("include_dev", "include_test"), [(False, False), (True, False), (False, True)])
def test_only_training_splits_enter_the_mix_unless_asked(tmp_path, include_dev, include_test):
    config = PrepareConfig(
        out=tmp_path, val_fraction=0.2, include_dev=include_dev, include_test=include_test, progress=False
    )
    report = prepare(shared_inputs(), config)
    mixed = rows(tmp_path / "rl" / "train.parquet") + rows(tmp_path / "rl" / "val.parquet")
    written = [row for path in sorted(tmp_path.glob("sources/*/rl.parquet")) for row in rows(path)]
    kinds = {"train"} | ({"dev"} if include_dev else set()) | ({"test"} if include_test else set())
    out_rows = [row for row in written if split_kind(row["extra_info"]["upstream_split"]) not in kinds]
    mixed_ids = {(row["data_source"], row["extra_info"]["id"]) for row in mixed}
    out_ids = {(row["data_source"], row["extra_info"]["id"]) for row in out_rows}
    assert not out_ids & mixed_ids
    assert {split_kind(row["extra_info"]["upstream_split"]) for row in mixed} <= kinds
    kept_out = sum(sum(s["kept_out_of_mix"].values()) for s in report["sources"].values())
    assert kept_out == len(out_rows)
    if include_dev:  # TFNS's sent_valid.csv and FinCUGE's eval lists are dev-type
        assert {"finr1/tfns", "finr1/fincuge"} <= {row["data_source"] for row in mixed}
    else:
        assert "finr1/tfns" not in {row["data_source"] for row in mixed}
    if include_test:
        assert "finr1/finqa" in {row["data_source"] for row in mixed}
    splits = {name: set(s["upstream_split"]) for name, s in report["sources"].items()}
    assert splits == {"ant_fineva": {"dev", "val"}, "fincuge": {"train", "eval"}, "finqa": {"test"},
                      "financeiq": {"dev", "test"}, "tfns": {"valid"}}  # fmt: skip


def test_unknown_split_is_reported_and_kept_out_until_named(tmp_path, capsys):
    data = tmp_path / "mine.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"q{i}?", "answer": str(i)}) + "\n" for i in range(4)),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert data_main(["prepare", "--source", f"mine={data}", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["sources"]["mine"]["upstream_split"] == {"unknown": 4}
    assert report["sources"]["mine"]["kept_out_of_mix"] == {"unknown": 4}
    assert report["unknown_splits"] and "--split mine=SPLIT" in capsys.readouterr().err
    argv = [
        "prepare",
        "--source",
        f"mine={data}",
        "--split",
        "mine=train",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert data_main(argv) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["sources"]["mine"]["upstream_split"] == {"train": 4} and not report["unknown_splits"]
    assert sum(report["sources"]["mine"]["mixed"].values()) == 4
    bad = [
        "prepare",
        "--source",
        f"mine={data}",
        "--split",
        "mine=holdout",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert data_main(bad) == 2 and "not a split name" in capsys.readouterr().err


def test_hub_split_names_are_read():
    from finr1_verl.data.sources.base import open_answer_reader, parse_records

    read = open_answer_reader("x", "q", "a", "c")
    records = [
        ("train", 0, {"q": "a?", "a": "1"}),
        ("validation", 0, {"q": "b?", "a": "2"}),
        ("holdout", 0, {"q": "c?", "a": "3"}),
    ]
    assert [e.split for e in parse_records(records, "hf:x", "x", read)] == ["train", "validation", "unknown"]


def test_eval_select_writes_ids_that_prepare_excludes(tmp_path, capsys):
    finqa = shared_path("finqa", "finqa_test_first100.json")
    items = tmp_path / "items.json"
    assert eval_main(["select", "--bench", f"finqa={finqa}", "--limit", "30", "--out", str(items)]) == 0
    exclude = tmp_path / "items.exclude-ids.txt"
    selected = json.loads(items.read_text(encoding="utf-8"))["benchmarks"]["finqa"]["ids"]
    assert exclude.read_text(encoding="utf-8").splitlines() == [f"finqa/{rid}" for rid in selected]
    out = tmp_path / "prepared"
    argv = ["prepare", "--source", f"finqa={finqa}", "--out", str(out), "--include-test", "--no-progress"]
    assert data_main([*argv, "--exclude-ids", str(exclude)]) == 0
    written = {row["extra_info"]["id"] for row in rows(out / "sources" / "finqa" / "rl.parquet")}
    assert len(selected) == 30 and not written & set(selected) and len(written) == 99 - 30
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["sources"]["finqa"]["rejected_by_reason"]["excluded_id"] == 30


def test_fin_eva_sufe_splits_and_unlabelled_test():
    folder = shared_path("upstream_samples", "fin_eva", "SUFE")
    items = list(parser_for("ant_fineva")(folder))
    examples = [i for i in items if isinstance(i, Example)]
    rejects = [i for i in items if isinstance(i, Rejected)]
    count = {
        split: sum(
            len(list(csv.DictReader(f.read_text(encoding="utf-8").splitlines())))
            for f in (folder / split).glob("*.csv")
        )
        for split in ("dev", "val", "test")
    }
    assert len(examples) == count["dev"] + count["val"] and {e.split for e in examples} == {"dev", "val"}
    assert len(rejects) == count["test"] and {r.reason for r in rejects} == {"unlabelled"}
    first = next(e for e in examples if e.id == "SUFE/accounting/dev/0")
    assert (
        first.answer == "B"
        and first.choices["B"] == "会计分期"
        and first.meta["explanation"].startswith("1.")
    )


def test_fin_eva_empty_option_cells_are_not_options(tmp_path):
    (tmp_path / "Ant" / "金融知识").mkdir(parents=True)
    file = tmp_path / "Ant" / "金融知识" / "题.csv"
    file.write_text(
        "id,question,A,B,C,D,answer\n1,问一,甲,乙,,,B\n2,问二,甲,乙,,,C\n3,问三,甲,乙,丙,丁,\n",
        encoding="utf-8",
    )
    items = list(parser_for("ant_fineva")(tmp_path))
    first, blank, hidden = items
    assert isinstance(first, Example) and first.choices == {"A": "甲", "B": "乙"}
    assert isinstance(blank, Rejected) and blank.reason == "bad_label"
    assert isinstance(hidden, Rejected) and hidden.reason == "unlabelled"
    real = shared_path("ant_fineva")
    with_blanks = [e for e in parser_for("ant_fineva")(real) if isinstance(e, Example) and e.answer_type == "choice"
                   and len(e.choices) < 3]  # fmt: skip
    assert all(e.answer in e.choices for e in with_blanks) and all(
        v for e in with_blanks for v in e.choices.values()
    )
