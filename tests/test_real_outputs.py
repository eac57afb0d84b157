"""The corpus of real model outputs: schema, counts, the split, the wrapping, the review list."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from finr1_verl.reward.format import check_format
from finr1_verl.reward.real_outputs import (
    FIELDS,
    OUTCOMES,
    PARTS,
    CorpusError,
    RealOutput,
    load_corpus,
    load_file,
    part_of,
    policy_response,
    rule_outcome,
)

CORPUS = Path(__file__).parent / "fixtures" / "real_outputs"
# At least this many labelled outputs in all, from at least two repositories.
MIN_RECORDS = 500
MAX_FILE_BYTES = 400_000


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def test_every_file_has_the_schema_and_both_labels_and_parts(corpus):
    assert sum(len(records) for records in corpus.values()) >= MIN_RECORDS
    repositories = {record.source.split("/")[0] for records in corpus.values() for record in records}
    assert len(repositories) >= 2
    for name, records in corpus.items():
        assert (CORPUS / f"{name}.jsonl").stat().st_size <= MAX_FILE_BYTES, name
        assert {r.label for r in records} == {"correct", "incorrect"}, name
        assert {r.part for r in records} == set(PARTS), name
        keys = [(r.model, r.question_id) for r in records]
        assert len(keys) == len(set(keys)), f"{name}: a model answers a question twice"
        for line in (CORPUS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            assert tuple(json.loads(line)) == FIELDS


@pytest.mark.parametrize(
    "output",
    [
        "<think>\nRevenue grew from 10 to 11.07.\n</think>\n<answer>\n\\boxed{10.7%}\n</answer>",
        "<think>\nRevenue grew from 10 to 11.07.\n</think>\n<answer>\n10.7%\n</answer><|im_end|>",
        "<think>\nRevenue grew from 10 to 11.07.\n</think>\n\nThe answer is 10.7%.",  # R1 style: no answer tags
        "Revenue grew from 10 to 11.07.</think>\n\\boxed{10.7%}",  # the think tag was in the prompt
        "<answer>10.7%</answer>",
    ],
)
def test_outputs_of_reasoning_models_keep_their_answer_and_forge_no_tags(output):
    """A reasoning model's own tags are its format, not forged tags: kept when the output is already a
    Fin-R1 response, taken out of the reasoning otherwise."""
    record = RealOutput("s", "m", "q", "0.107", output, "correct")
    judged = rule_outcome(record)
    assert (judged.outcome, judged.guard, judged.answer) == ("equal", None, "10.7%")
    assert check_format(policy_response(output))


def test_every_source_is_named_in_the_readme(corpus):
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for name in corpus:
        assert f"`{name}.jsonl`" in readme


def test_the_split_is_a_pure_function_of_the_question_id():
    ids = [f"q{i}" for i in range(2000)]
    parts = [part_of(i) for i in ids]
    assert parts == [part_of(i) for i in ids]
    assert 0.45 < parts.count("tune") / len(parts) < 0.55


def test_wrapped_outputs_pass_the_format_check_and_keep_the_final_answer():
    response = policy_response("Revenue grew 10.7%.\nSo the answer is:\n10.7%")
    assert check_format(response)
    assert response.endswith("<answer>\n10.7%\n</answer>")


def test_review_list_names_real_records_with_a_reading(corpus):
    reviewed = json.loads((CORPUS / "reviewed.json").read_text(encoding="utf-8"))
    known = {(name, r.model, r.question_id): r for name, records in corpus.items() for r in records}
    for entry in reviewed["records"]:
        record = known[(entry["file"], entry["model"], entry["question_id"])]
        assert entry["reading"] in reviewed["readings"], entry
        assert entry["label"] == record.label
    assert sum(reviewed["counts"].values()) == len(reviewed["records"])


def test_every_record_the_rules_misjudge_has_been_read(corpus):
    """A rule change that misjudges a new record needs a reading in reviewed.json (the benchmark's ``*``
    columns rest on it)."""
    reviewed = json.loads((CORPUS / "reviewed.json").read_text(encoding="utf-8"))
    read = {(entry["file"], entry["model"], entry["question_id"]) for entry in reviewed["records"]}
    unread = []
    for name, records in corpus.items():
        for record in records:
            judged = rule_outcome(record)
            if judged.misjudged and (name, record.model, record.question_id) not in read:
                unread.append((name, record.model, record.question_id, record.gold, judged.answer))
    assert not unread


def test_rule_outcome_is_one_of_the_outcomes(corpus):
    first = [records[0] for records in corpus.values()]
    assert all(rule_outcome(record).outcome in OUTCOMES for record in first)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"source": "s"}', "missing"),
        ("[1]", "JSON object"),
        ("{", "not JSON"),
        (
            json.dumps(dict.fromkeys(FIELDS, "x")),
            "'label' must be one of",
        ),
        (
            json.dumps({**dict.fromkeys(FIELDS, "x"), "label": "correct", "gold": ""}),
            "'gold' must be a non-empty string",
        ),
    ],
)
def test_bad_records_name_the_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n" + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=f"bad.jsonl:2: .*{message}"):
        load_file(path)


def test_the_benchmark_meets_the_reward_targets_on_every_numeric_part(corpus, tmp_path):
    """``bench/bench_real_outputs.py`` as a user runs it: on every file and part, correct numeric answers
    zeroed with no judge call stay at or under 5%, and the figures it writes add up."""
    out = tmp_path / "figures.json"
    script = CORPUS.parents[2] / "bench" / "bench_real_outputs.py"
    subprocess.run([sys.executable, str(script), "--json", str(out)], check=True, capture_output=True)
    figures = json.loads(out.read_text(encoding="utf-8"))
    numeric = {key: s for key, s in figures.items() if key.endswith("/numeric")}
    assert len(numeric) == 2 * len(corpus)
    for key, s in numeric.items():
        assert s["correct_zeroed"] <= 0.05 * s["correct"], key
        assert s["correct_equal"] + s["correct_undecided"] + s["correct_zeroed"] == s["correct"], key
        assert s["judge_calls"] <= s["n"], key
