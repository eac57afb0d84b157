"""``prepare`` end to end: per-source and mixed parquet that verl loads and the reward accepts."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finr1_verl.data.build import PrepareConfig, SourceInput, prepare
from finr1_verl.data.cli import main
from finr1_verl.data.mix import FIN_R1_COUNTS
from finr1_verl.data.rows import RL_SCHEMA, SFT_SCHEMA
from tests.support.shared_data import shared_path

FIXTURES = Path(__file__).parent / "fixtures" / "data"
FINPEE_COLUMNS = {"id": "编号", "question": "题目", "answer": "答案"}


def fixture_inputs() -> list[SourceInput]:
    return [
        SourceInput("finance_instruct", FIXTURES / "finance_instruct"),
        SourceInput("fincorpus", FIXTURES / "fincorpus", split="train"),  # file names that name no split
        SourceInput("financeqt", FIXTURES / "financeqt"),
        SourceInput("fin_r1", FIXTURES / "fin_r1", split="train"),
        SourceInput("finpee", FIXTURES / "finpee", FINPEE_COLUMNS, split="train"),
    ]


def shared_inputs() -> list[SourceInput]:
    return [
        SourceInput("finqa", shared_path("finqa", "finqa_test_first100.json")),
        SourceInput("convfinqa", shared_path("convfinqa")),
        SourceInput("tfns", shared_path("tfns")),
        SourceInput("financeiq", shared_path("financeiq")),
        SourceInput("ant_fineva", shared_path("ant_fineva")),
        SourceInput("fincuge", shared_path("fincuge")),
    ]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("prepared")
    # the shared excerpts are mostly dev / validation files: let them in so every source is mixed
    config = PrepareConfig(out=out, include_dev=True, progress=False)
    report = prepare([*shared_inputs(), *fixture_inputs()], config)
    return out, report


def rows_of(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_report_accounts_for_every_record(prepared):
    out, report = prepared
    rejects = (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == report["totals"]["rejected"]
    for name, stats in report["sources"].items():
        assert stats["accounted"], name
        assert stats["read"] == stats["written"] + stats["rejected"]
        assert pq.read_metadata(out / "sources" / name / "rl.parquet").num_rows == stats["written"]
        may_train = stats["written"] - sum(stats["kept_out_of_mix"].values())
        assert sum(stats["mixed"].values()) == min(may_train, FIN_R1_COUNTS.get(name, may_train))
    assert report["sources"]["ant_fineva"]["rejected_by_reason"] == {"unlabelled": 6101}
    assert report["sources"]["ant_fineva"]["kept_out_of_mix"]["test"] == 2343, "Fin-Eva is an evaluation set"
    assert json.loads((out / "report.json").read_text()) == report


def test_every_file_has_the_fixed_schema(prepared):
    out, _ = prepared
    for path in out.rglob("*.parquet"):
        schema = pq.read_schema(path)
        assert schema.equals(RL_SCHEMA if "sft" not in str(path.relative_to(out)) else SFT_SCHEMA), path


def test_rl_rows_follow_the_conventions(prepared):
    out, _ = prepared
    rows = rows_of(out / "sources" / "convfinqa" / "rl.parquet")
    row = next(r for r in rows if r["extra_info"]["id"] == "Single_MRO/2007/page_134.pdf-1#4")
    assert row["data_source"] == "finr1/convfinqa" and row["ability"] == "finance"
    assert row["reward_model"] == {"style": "rule", "ground_truth": ["142.4%", "1.42403"]}
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert "<think>" in row["prompt"][0]["content"] and "\\boxed{}" in row["prompt"][1]["content"]
    assert "Q: and what was it in 2005?\nA: 25.14" in row["prompt"][1]["content"]
    tfns = rows_of(out / "sources" / "tfns" / "rl.parquet")[0]
    assert json.loads(tfns["extra_info"]["choices"]) == {"0": "Bearish", "1": "Bullish", "2": "Neutral"}
    assert tfns["extra_info"]["language"] == "en"
    ant = rows_of(out / "sources" / "ant_fineva" / "rl.parquet")[0]
    assert ant["extra_info"]["language"] == "zh" and "选项：\nA." in ant["prompt"][1]["content"]


def test_conversation_turns_share_one_split(prepared):
    out, _ = prepared
    splits = defaultdict(set)
    for row in rows_of(out / "sources" / "convfinqa" / "rl.parquet"):
        splits[row["extra_info"]["id"].rsplit("#", 1)[0]].add(row["extra_info"]["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert {s for group in splits.values() for s in group} == {"train", "val"}


def test_sft_rows_carry_the_trace_in_tags(prepared):
    out, report = prepared
    assert report["sources"]["fin_r1"]["sft_rows"] == 3
    row = next(
        r
        for r in rows_of(out / "sources" / "fin_r1" / "sft.parquet")
        if "Lindsay" in r["messages"][1]["content"]
    )
    assistant = row["messages"][2]["content"]
    assert assistant.startswith("<think>\nAn earnings beat") and assistant.endswith(
        "</think>\n<answer>\n\\boxed{1}\n</answer>"
    )
    assert row["source"] == "fin_r1" and [m["role"] for m in row["messages"]] == [
        "system",
        "user",
        "assistant",
    ]


@pytest.mark.integration
def test_rl_parquet_loads_in_verl_rlhf_dataset(prepared, tiny_tokenizer, tmp_path):
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    out, _ = prepared
    config = OmegaConf.create(
        {"prompt_key": "prompt", "max_prompt_length": 100_000, "filter_overlong_prompts": False,
         "truncation": "error", "cache_dir": str(tmp_path), "return_raw_chat": True}
    )  # fmt: skip
    dataset = RLHFDataset(str(out / "rl" / "val.parquet"), tiny_tokenizer, config)
    assert len(dataset) == pq.read_metadata(out / "rl" / "val.parquet").num_rows
    for index in (0, len(dataset) - 1):
        item = dataset[index]
        assert item["raw_prompt"][0]["role"] == "system" and item["extra_info"]["split"] == "val"
        assert item["reward_model"]["ground_truth"] and item["data_source"].startswith("finr1/")


@pytest.mark.integration
def test_sft_parquet_loads_in_verl_multiturn_dataset(prepared, tiny_tokenizer):
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    out, _ = prepared
    path = out / "sources" / "fin_r1" / "sft.parquet"
    config = OmegaConf.create({"messages_key": "messages", "max_length": 16384, "truncation": "error"})
    dataset = MultiTurnSFTDataset(str(path), tiny_tokenizer, config)
    for index in range(len(dataset)):  # __getitem__ runs verl's chat-template consistency check
        item = dataset[index]
        assert item["loss_mask"].sum() > 0 and item["input_ids"].shape == item["loss_mask"].shape


@pytest.mark.slow
def test_reward_accepts_every_row_ground_truth(prepared):
    from finr1_verl.reward.score import SCORE_KEYS, compute_score

    out, _ = prepared
    rows = [row for path in sorted((out / "sources").glob("*/rl.parquet")) for row in rows_of(path)]

    async def score_all() -> list[dict]:
        calls = []
        for row in rows:
            gold = row["reward_model"]["ground_truth"]
            response = f"<think>\nThe reference says so.\n</think>\n<answer>\n\\boxed{{{gold[0]}}}\n</answer>"
            calls.append(compute_score(row["data_source"], response, gold, row["extra_info"], mode="never"))
        return await asyncio.gather(*calls)

    results = asyncio.run(score_all())
    assert all(tuple(r) == SCORE_KEYS and r["format"] == 1.0 for r in results)
    objective = [
        (row, r) for row, r in zip(rows, results, strict=True)
        if row["extra_info"]["answer_type"] in ("numeric", "choice", "label", "boolean")
    ]  # fmt: skip
    wrong = [
        (row["extra_info"]["id"], row["reward_model"]["ground_truth"])
        for row, r in objective
        if r["acc"] != 1.0
    ]
    assert not wrong, f"the reward does not accept its own gold on {len(wrong)} rows, e.g. {wrong[:5]}"


def test_same_input_and_seed_give_identical_bytes(tmp_path):
    inputs = fixture_inputs() + [
        SourceInput("tfns", shared_path("tfns")),
        SourceInput("convfinqa", shared_path("convfinqa")),
    ]
    for run in ("a", "b"):
        prepare(inputs, PrepareConfig(out=tmp_path / run, seed=7, counts={"tfns": 300}, progress=False))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_seed_changes_the_sample_not_the_split(tmp_path):
    tfns = [SourceInput("tfns", shared_path("tfns"))]
    picked = {}
    for seed in (1, 2):
        prepare(
            tfns,
            PrepareConfig(
                out=tmp_path / str(seed), seed=seed, counts={"tfns": 500}, include_dev=True, progress=False
            ),
        )
        rows = rows_of(tmp_path / str(seed) / "rl" / "train.parquet") + rows_of(
            tmp_path / str(seed) / "rl" / "val.parquet"
        )
        picked[seed] = {r["extra_info"]["id"]: r["extra_info"]["split"] for r in rows}
    assert len(picked[1]) == len(picked[2]) == 500 and picked[1].keys() != picked[2].keys()
    common = picked[1].keys() & picked[2].keys()
    assert all(picked[1][i] == picked[2][i] for i in common)


def test_exclude_ids_keeps_benchmark_items_out(tmp_path):
    exclude = tmp_path / "eval_ids.txt"
    exclude.write_text("# benchmark items\nsent_valid-0\ntfns/sent_valid-1\n")
    code = main(
        ["prepare", "--source", f"tfns={shared_path('tfns')}", "--out", str(tmp_path / "out"),
         "--exclude-ids", str(exclude), "--mix", "all", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    ids = {r["extra_info"]["id"] for r in rows_of(tmp_path / "out" / "sources" / "tfns" / "rl.parquet")}
    assert "sent_valid-0" not in ids and "sent_valid-1" not in ids and "sent_valid-2" in ids
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rejects if r["reason"] == "excluded_id") == [
        "sent_valid-0",
        "sent_valid-1",
    ]


def test_cli_spec_file_and_summary_table(tmp_path, capsys):
    spec = tmp_path / "prepare.yaml"
    spec.write_text(
        f"sources:\n  fincorpus: {FIXTURES / 'fincorpus'}\n  finpee:\n    path: {FIXTURES / 'finpee'}\n"
        f"    columns: {json.dumps(FINPEE_COLUMNS, ensure_ascii=False)}\nout: out\nmix: all\nseed: 3\n"
    )
    assert main(["prepare", "--spec", str(spec), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert (
        "source" in printed
        and "fincorpus" in printed
        and "TOTAL" in printed
        and "no_answer_in_text 1" in printed
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["config"]["seed"] == 3 and report["sources"]["finpee"]["written"] == 2


def test_cli_bad_file_exits_with_the_named_field(tmp_path, capsys):
    bad = tmp_path / "sent.csv"
    bad.write_text("tweet,label\nup,1\n")
    assert main(["prepare", "--source", f"tfns={bad}", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "field 'text'" in capsys.readouterr().err
