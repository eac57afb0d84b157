"""ConvFinQA's published layouts: conversation files, turn files, the answerless private test split."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from finr1_verl.data.build import PrepareConfig, SourceInput, prepare
from finr1_verl.data.records import Example
from finr1_verl.data.sources import Rejected, parser_for
from tests.support.shared_data import shared_path

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def parse(path: Path) -> tuple[list[Example], list[Rejected]]:
    items = list(parser_for("convfinqa")(path))
    return [i for i in items if isinstance(i, Example)], [i for i in items if isinstance(i, Rejected)]


def turn_entries(conversations: list[dict]) -> list[dict]:
    """Conversation-level entries rewritten as the upstream turn files write them (one entry per turn)."""
    entries = []
    for conv in conversations:
        annotation = conv["annotation"]
        for turn in range(len(annotation["dialogue_break"])):
            per_turn = {"cur_dial": annotation["dialogue_break"][: turn + 1], "turn_ind": turn}
            if "exe_ans_list" in annotation:  # the private test split has neither programs nor answers
                per_turn |= {
                    "exe_ans": annotation["exe_ans_list"][turn],
                    "cur_program": annotation["turn_program"][turn],
                }
            entries.append({**conv, "id": f"{conv['id']}_{turn}", "annotation": {**annotation, **per_turn}})
    return entries


def reformatted_as_official(conversations: list[dict]) -> list[dict]:
    """The shared reformatted dev conversations in the official conversation layout."""
    official = []
    for conv in conversations:
        dialogue = conv["dialogue"]
        annotation = {
            "dialogue_break": dialogue["conv_questions"],
            "turn_program": dialogue["turn_program"],
            "exe_ans_list": dialogue["executed_answers"],
            "qa_split": dialogue["qa_split"],
        }
        official.append({"id": conv["id"], "pre_text": conv["doc"]["pre_text"], "post_text": conv["doc"]["post_text"],
                         "table": [], "annotation": annotation})  # fmt: skip
    return official


def test_official_conversation_file_keeps_the_human_final_answer():
    path = shared_path("upstream_samples", "convfinqa_official", "sample_train.json")
    conversations = json.loads(path.read_text(encoding="utf-8"))
    examples, rejects = parse(path)
    assert not rejects and len(examples) == sum(len(c["annotation"]["dialogue_break"]) for c in conversations)
    last = next(e for e in examples if e.id == "Single_JKHY/2009/page_28.pdf-3#3")
    assert (
        last.answer == "14.1%" and last.meta["executed_answer"] == "0.14136" and last.answer_type == "numeric"
    )
    assert [t["answer"] for t in last.meta["history"]] == ["206588", "181001", "25587"]
    assert {e.split for e in examples} == {"train"}


def test_private_test_split_is_rejected_as_unlabelled_without_aborting():
    path = shared_path("upstream_samples", "convfinqa_official", "test_private.json")
    conversations = json.loads(path.read_text(encoding="utf-8"))
    examples, rejects = parse(path.parent)
    turns = sum(len(c["annotation"]["dialogue_break"]) for c in conversations)
    assert [r.reason for r in rejects] == ["unlabelled"] * turns
    assert rejects[0].id == f"{conversations[0]['id']}#0"
    assert len(examples) == 9, "the labelled file in the same folder is still read"


def test_turn_file_gives_one_row_per_entry_identical_to_the_conversation_file(tmp_path):
    path = shared_path("upstream_samples", "convfinqa_official", "sample_train.json")
    conversations = json.loads(path.read_text(encoding="utf-8"))
    entries = turn_entries(conversations)
    (tmp_path / "train_turn.json").write_text(json.dumps(entries))
    turns, rejects = parse(tmp_path / "train_turn.json")
    whole, _ = parse(path)
    assert not rejects and len(turns) == len(entries) == len(whole), "n turns give n rows, not n²"
    assert [(e.id, e.answer, e.meta, e.question, e.context) for e in turns] == [
        (e.id, e.answer, e.meta, e.question, e.context) for e in whole
    ]


def test_turn_fixture_in_the_upstream_layout():
    examples, _ = parse(FIXTURES / "convfinqa_turn")
    assert [e.id for e in examples] == [f"Single_DEF/2008/page_5.pdf-1#{t}" for t in range(4)]
    assert examples[3].answer == "26.3%" and examples[3].meta["executed_answer"] == "0.26316"


def test_answerless_turn_file_is_unlabelled(tmp_path):
    path = shared_path("upstream_samples", "convfinqa_official", "test_private.json")
    entries = turn_entries(json.loads(path.read_text(encoding="utf-8")))
    (tmp_path / "test_turn.json").write_text(json.dumps(entries))
    examples, rejects = parse(tmp_path)
    assert not examples and len(rejects) == len(entries) and {r.reason for r in rejects} == {"unlabelled"}
    assert len({r.id for r in rejects}) == len(entries)


def test_a_conversation_never_lands_in_both_train_and_val(tmp_path):
    path = shared_path("convfinqa", "convfinqa_dev_part1.json")
    conversations = reformatted_as_official(json.loads(path.read_text(encoding="utf-8"))["dev"])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dev_turn.json").write_text(json.dumps(turn_entries(conversations)))
    config = PrepareConfig(out=tmp_path / "out", mix="all", val_fraction=0.3, progress=False)
    report = prepare([SourceInput("convfinqa", tmp_path / "data")], config)
    rows = pq.read_table(tmp_path / "out" / "sources" / "convfinqa" / "rl.parquet").to_pylist()
    assert report["sources"]["convfinqa"]["written"] == len(rows) == 751
    splits = defaultdict(set)
    for row in rows:
        splits[row["extra_info"]["id"].rsplit("#", 1)[0]].add(row["extra_info"]["split"])
    assert len(splits) == len(conversations) and all(len(s) == 1 for s in splits.values())
    assert {s for group in splits.values() for s in group} == {"train", "val"}
