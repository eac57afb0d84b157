"""Evaluation item selection: seeded and repeatable, the paper's counts, stratified 10%, pinned ids."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from finr1_verl.data.records import RecordError
from finr1_verl.eval.benchmarks import BENCHMARKS, benchmark, instruct_stratum
from finr1_verl.eval.items import (
    ids_sha256,
    load_items,
    read_items_file,
    stratified_quota,
    write_items_file,
)
from finr1_verl.prompts import SYSTEM_PROMPT
from finr1_verl.reward.match import Verdict, rule_verdict
from tests.support.shared_data import shared_path

# Strata of the Finance-Instruct fixture below: (system turn?, answer words) -> records.
INSTRUCT_STRATA = {("", 3): 100, ("", 80): 60, ("Classify the sentiment.", 1): 25, ("", 20): 15}


def write_instruct(path) -> None:
    """A Finance-Instruct-500K file in its published schema (system, user, assistant), 200 records."""
    lines = []
    for (system, words), count in INSTRUCT_STRATA.items():
        for k in range(count):
            answer = " ".join(["word"] * (words - 1) + [f"a{len(lines)}"])
            lines.append(
                json.dumps({"system": system, "user": f"Question {len(lines)} ({k})?", "assistant": answer})
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_same_seed_same_items_other_seed_other_items():
    path = shared_path("tfns", "sent_valid.csv")
    first = [i.id for i in load_items(benchmark("tfns"), path, seed=0).items]
    again = [i.id for i in load_items(benchmark("tfns"), path, seed=0).items]
    other = [i.id for i in load_items(benchmark("tfns"), path, seed=1).items]
    assert first == again
    assert len(first) == len(set(first)) == 1000  # the paper's 1,000 of 2,388
    assert len(set(first) & set(other)) < 600  # a different random draw (expected overlap ~419)
    limited = [i.id for i in load_items(benchmark("tfns"), path, seed=0, limit=10).items]
    assert limited == first[:10]


def test_all_items_when_fewer_than_the_count_and_rejects_kept():
    finqa = load_items(benchmark("finqa"), shared_path("finqa", "finqa_test_first100.json"), seed=0)
    assert len(finqa.items) == finqa.parsed == 99
    assert [r.reason for r in finqa.rejects] == ["empty_answer"]
    ant = load_items(benchmark("ant_finance"), shared_path("ant_fineva", "Ant"), seed=0)
    assert len(ant.items) == 1000 and ant.parsed == 2343
    assert Counter(r.reason for r in ant.rejects) == {"unlabelled": 6101}  # the hidden test part


def test_items_are_the_rl_prompt_and_ground_truth():
    item = next(
        i
        for i in load_items(benchmark("convfinqa"), shared_path("convfinqa"), seed=0, limit=50).items
        if len(i.sample.readings) == 2
    )
    assert item.messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "\\boxed{}" in item.messages[1]["content"]
    assert item.sample.answer_type == "numeric"  # human answer first, executed value second


def test_benchmark_readings_agree_as_in_training():
    """ConvFinQA's dev excerpt has human answers that contradict the executed value: an item keeps
    the readings that agree (as `finr1-data prepare` writes them), never both."""
    items = load_items(benchmark("convfinqa"), shared_path("convfinqa"), seed=0).items
    assert sum(len(i.sample.readings) == 1 for i in items) >= 30  # the excerpt's 30 conflicts
    for item in items:
        for candidate in item.sample.readings:
            for gold in item.sample.readings:
                assert rule_verdict(candidate, gold) is Verdict.EQUAL, (item.id, candidate, gold)


def test_stratified_quota_adds_up_with_largest_remainders():
    assert stratified_quota({"a": 100, "b": 60, "c": 25, "d": 15}, 0.1) == {"a": 10, "b": 6, "c": 3, "d": 1}
    assert stratified_quota({"p": 7, "q": 11, "r": 13}, 0.1) == {"p": 1, "q": 1, "r": 1}
    # at least one item of every non-empty stratum, even where 10% rounds to none
    assert stratified_quota({"x": 5, "y": 5}, 0.1) == {"x": 1, "y": 1}
    assert stratified_quota({"x": 3, "y": 0}, 0.1) == {"x": 1, "y": 0}


def test_a_small_file_keeps_an_item_of_every_stratum(tmp_path):
    path = tmp_path / "train.json"
    records = [
        {"system": "", "user": "What is a bond?", "assistant": "A debt security."},
        {"system": "", "user": "Define equity.", "assistant": "Ownership " * 70},
        {"system": "Classify.", "user": "Stocks fell.", "assistant": "negative"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    loaded = load_items(BENCHMARKS["finance_instruct"], path, seed=0)
    # three records in three strata (plain/short, plain/long, instructed/short): 10% rounds to none
    assert sorted(item.id for item in loaded.items) == sorted(loaded.selected) and len(loaded.items) == 3


def test_finance_instruct_ten_percent_stratified(tmp_path):
    path = tmp_path / "train.json"
    write_instruct(path)
    bench = BENCHMARKS["finance_instruct"]
    loaded = load_items(bench, path, seed=3)
    assert len(loaded.items) == 20
    strata = Counter(item.sample.readings[0].count(" ") + 1 for item in loaded.items)
    # 100 plain/short (3 words), 60 plain/long (80), 25 instructed/short (1), 15 plain/medium (20)
    assert strata == {3: 10, 80: 6, 1: 3, 20: 1}
    assert [i.id for i in load_items(bench, path, seed=3).items] == [i.id for i in loaded.items]


def test_instruct_strata_names():
    from finr1_verl.data.records import Example

    def example(system: str, words: int) -> Example:
        return Example("finance_instruct", "x", "q", " ".join(["w"] * words), "text", context=system)

    assert instruct_stratum(example("", 8)) == "plain/short"
    assert instruct_stratum(example("Be brief.", 9)) == "instructed/medium"
    assert instruct_stratum(example("", 65)) == "plain/long"


def test_items_file_round_trip_and_damage(tmp_path):
    path = tmp_path / "items.json"
    write_items_file(path, {"finqa": ["b", "a"], "tfns": ["x"]})
    assert read_items_file(path) == {"finqa": ["b", "a"], "tfns": ["x"]}
    payload = json.loads(path.read_text())
    assert payload["benchmarks"]["finqa"]["ids_sha256"] == ids_sha256(["b", "a"])
    payload["benchmarks"]["finqa"]["ids"] = ["a", "b"]
    path.write_text(json.dumps(payload))
    with pytest.raises(RecordError, match=r"items.json: record finqa: field 'ids_sha256'"):
        read_items_file(path)
    path.write_text('{"benchmarks": {"tfns": {"ids": [1, 2]}}}')
    with pytest.raises(RecordError, match=r"record tfns: field 'ids'"):
        read_items_file(path)


def test_pinned_ids_are_used_in_their_order_and_must_exist():
    path = shared_path("finqa", "finqa_test_first100.json")
    ids = ["finqa_test_first100-5", "finqa_test_first100-2"]
    assert [i.id for i in load_items(benchmark("finqa"), path, seed=0, ids=ids).items] == ids
    with pytest.raises(RecordError, match=r"record finqa_test_first100-999: field 'id'.*1 selected item id"):
        load_items(benchmark("finqa"), path, seed=0, ids=["finqa_test_first100-999"])
