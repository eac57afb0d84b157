"""Gold consistency: the readings of every written row agree under the reward's own rules."""

from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finr1_verl.data.build import PrepareConfig, SourceInput, prepare
from finr1_verl.data.golds import readings_agree, reconcile
from finr1_verl.data.records import Example
from finr1_verl.reward.match import Verdict, rule_verdict
from tests.support.shared_data import shared_path

FIXTURES = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("golds")
    inputs = [
        SourceInput("finqa", shared_path("upstream_samples", "finqa_official", "test_subset.json")),
        SourceInput("convfinqa", shared_path("convfinqa")),
        SourceInput("fin_r1", FIXTURES / "fin_r1"),
    ]
    return out, prepare(inputs, PrepareConfig(out=out, mix="all", progress=False))


def test_every_pair_of_readings_in_every_written_row_is_rule_equal(prepared):
    out, _ = prepared
    rows = [
        row for path in sorted(out.glob("sources/*/rl.parquet")) for row in pq.read_table(path).to_pylist()
    ]
    two_readings = [row for row in rows if len(row["reward_model"]["ground_truth"]) > 1]
    assert len(two_readings) > 100
    for row in rows:
        for candidate, gold in permutations(row["reward_model"]["ground_truth"], 2):
            assert rule_verdict(candidate, gold) is Verdict.EQUAL, (row["extra_info"]["id"], candidate, gold)


def test_conflicts_keep_the_executed_reading_and_are_reported(prepared):
    out, report = prepared
    lines = [json.loads(line) for line in (out / "conflicts.jsonl").read_text(encoding="utf-8").splitlines()]
    counts = {name: s["conflicting_readings"] for name, s in report["sources"].items()}
    assert counts["finqa"] > 0 and counts["convfinqa"] > 0 and counts["fin_r1"] == 0
    assert len(lines) == report["totals"]["conflicting_readings"] == sum(counts.values())
    noisy = next(line for line in lines if line["id"] == "MSI/2014/page_76.pdf-3")
    assert (
        noisy["reason"] == "conflicting_readings"
        and "'0.12159'" in noisy["detail"]
        and "'15.8%'" in noisy["detail"]
    )
    rows = pq.read_table(out / "sources" / "finqa" / "rl.parquet").to_pylist()
    row = next(r for r in rows if r["extra_info"]["id"] == "MSI/2014/page_76.pdf-3")
    assert row["reward_model"]["ground_truth"] == ["0.12159"]
    assert report["sources"]["finqa"]["accounted"], "a resolved conflict is still one written record"


@pytest.mark.parametrize(
    ("human", "executed", "agree"),
    [("14.1%", "0.14136", True), ("60.94", "60.9412", True), ("yes", "yes", True),
     ("9.6%", "0.0001", False), ("197000", "19700", False), ("10%", "-0.09709", False)],
)  # fmt: skip
def test_readings_agree_by_the_rules(human, executed, agree):
    assert readings_agree(human, executed) is agree
    example = Example("finqa", "q", "question", human, "numeric", meta={"executed_answer": executed})
    fixed, conflict = reconcile(example)
    assert (conflict is None) is agree
    assert fixed.answer == (human if agree else executed)
