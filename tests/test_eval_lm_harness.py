"""The five paper benchmarks in lm-evaluation-harness itself: lm-eval's own runner (its CLI, HF model,
greedy decoding) over the shipped samples with the task package ``finr1_verl/eval/lm_eval_tasks``,
against ``finr1-eval run --backend hf`` on the same items and settings.  The format-trained tiny
model writes tagged answers to some items and not others, so both tools see right, wrong and
untagged answers; every item's response and verdict must be the same in both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "lm_eval", reason="lm-evaluation-harness is the eval-lm extra (scripts/test.sh installs it)"
)

from finr1_verl.data.cli import main as data_main  # noqa: E402
from finr1_verl.data.samples import SPEC  # noqa: E402
from finr1_verl.eval.cli import main as eval_main  # noqa: E402
from finr1_verl.eval.lm_eval_tasks import TASKS_DIR  # noqa: E402
from finr1_verl.smoke.format_model import build_format_model  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "finr1_verl" / "data" / "samples"
BENCHES = {
    "finqa": SAMPLES / "finqa" / "train.json",
    "convfinqa": SAMPLES / "convfinqa" / "train.json",
    "ant_finance": SAMPLES / "ant_fineva" / "Ant",
    "tfns": SAMPLES / "tfns",
    "finance_instruct": SAMPLES / "finance_instruct" / "train.json",
}
MAX_TOKENS = 48


@pytest.fixture(scope="module")
def format_model(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("lm-harness")
    data_main(["prepare", "--spec", str(SPEC), "--out", str(work / "data")])
    return build_format_model(work / "model", work / "data" / "rl" / "train.parquet", steps=200)


def finr1_verdicts(out: Path) -> dict[str, dict[str, tuple[str, bool]]]:
    verdicts = {}
    for name in BENCHES:
        rows = [json.loads(line) for line in (out / "items" / f"{name}.jsonl").read_text().splitlines()]
        verdicts[name] = {r["id"]: (r["response"], r["rule_correct"]) for r in rows}
    return verdicts


def lm_eval_verdicts(out: Path) -> dict[str, dict[str, tuple[str, bool]]]:
    verdicts = {}
    for name in BENCHES:
        (path,) = out.glob(f"*/samples_finr1_{name}_*.jsonl")
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        verdicts[name] = {r["doc"]["id"]: (r["resps"][0][0], r["acc"] == 1.0) for r in rows}
    return verdicts


@pytest.mark.slow
def test_lm_eval_runner_gives_finr1_evals_verdicts(format_model, tmp_path):
    ours = tmp_path / "finr1-eval"
    argv = ["run", "--model", str(format_model), "--backend", "hf", "--batch-size", "1", "--temperature", "0"]
    argv += ["--max-tokens", str(MAX_TOKENS), "--out", str(ours), "--no-progress"]
    for name, path in BENCHES.items():
        argv += ["--bench", f"{name}={path}"]
    assert eval_main(argv) == 0

    theirs = tmp_path / "lm-eval"
    metadata = {name: str(path) for name, path in BENCHES.items()} | {"items": str(ours / "items.json")}
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--device", "cpu", "--batch_size", "1"]
    cmd += ["--model_args", f"pretrained={format_model},dtype=float32", "--tasks", "finr1"]
    cmd += ["--include_path", str(TASKS_DIR), "--apply_chat_template", "--metadata", json.dumps(metadata)]
    cmd += ["--gen_kwargs", f"do_sample=false,temperature=0,max_gen_toks={MAX_TOKENS}"]
    cmd += ["--output_path", str(theirs), "--log_samples"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    expected, got = finr1_verdicts(ours), lm_eval_verdicts(theirs)
    assert {name: len(v) for name, v in got.items()} == {name: len(v) for name, v in expected.items()}
    for name in BENCHES:
        for item_id, (response, correct) in expected[name].items():
            assert got[name][item_id] == (response, correct), f"{name}/{item_id}"
    verdicts = [correct for bench in expected.values() for _, correct in bench.values()]
    assert any(verdicts) and not all(verdicts)  # right and wrong answers both compared
    results = json.loads(next(theirs.glob("*/results_*.json")).read_text())["results"]
    ours_results = json.loads((ours / "results.json").read_text())["results"]
    for name in BENCHES:
        assert results[f"finr1_{name}"]["acc,none"] == pytest.approx(ours_results[name]["acc_rule,none"])
