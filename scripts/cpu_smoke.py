"""The CPU smoke chain of ``scripts/run_pipeline.sh``: the whole Fin-R1 path at toy scale, no GPU.

1. data     ``finr1-data prepare`` on the sample of every source shipped in finr1_verl/data/samples
2. model    a tiny random Qwen2 with a locally trained tokenizer (finr1_verl/smoke/tiny_model.py)
3. SFT      verl's real SFT trainer, a few steps with the Fin-R1 SFT recipe, on CPU through the
            test platform shim (finr1_verl/smoke/platform.py)
4. rollouts the SFT'd tiny model answers RL prompts (transformers greedy decoding), next to a
            reference-shaped answer for each prompt, so both ends of the reward show
5. reward   verl's reward manager, built from the composed GRPO recipe, scores every rollout:
            rules only, or rules + the judge when FINR1_JUDGE_URLS (and FINR1_JUDGE_MODEL) are set
6. summary  where every artifact went

Run: ``python scripts/cpu_smoke.py --out runs/pipeline`` (from the repository root).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from finr1_verl.data.samples import SPEC  # noqa: E402
from finr1_verl.recipes import compose_recipe  # noqa: E402
from finr1_verl.smoke.launch import cpu_sft_command, parse_losses  # noqa: E402
from finr1_verl.smoke.tiny_model import build_tiny_qwen2  # noqa: E402

SFT_STEPS = 4
ROLLOUT_PROMPTS = 8


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def run_streamed(argv: list[str], env: dict[str, str], log_path: Path) -> str:
    """Run a command, echo its output live and keep a copy in ``log_path``; raise on failure."""
    lines: list[str] = []
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=log_path.parent
        ) as proc,
    ):
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
            lines.append(line)
    if proc.returncode:
        raise SystemExit(
            f"command failed with exit code {proc.returncode} (log: {log_path}): {' '.join(argv[:6])} ..."
        )
    return "".join(lines)


def prepare_data(out: Path) -> Path:
    step(f"1/5 data: finr1-data prepare --spec {SPEC}")
    data = out / "data"
    cmd = [sys.executable, "-m", "finr1_verl.data.cli", "prepare", "--spec", str(SPEC), "--out", str(data)]
    subprocess.run(cmd, check=True)
    return data


def train_sft(out: Path, model: Path, data: Path) -> tuple[Path, list[tuple[int, float]]]:
    step(f"3/5 SFT: verl.trainer.sft_trainer, {SFT_STEPS} steps on CPU (recipe fin_r1_sft)")
    sft_dir = out / "sft"
    sft_dir.mkdir(parents=True, exist_ok=True)
    argv, env = cpu_sft_command(
        model,
        data / "sft" / "train.parquet",
        sft_dir / "checkpoints",
        steps=SFT_STEPS,
        batch_size=1,
        val_files=data / "sft" / "val.parquet",
    )
    losses = parse_losses(run_streamed(argv, env, sft_dir / "train.log"))
    return sft_dir / "checkpoints" / f"global_step_{SFT_STEPS}" / "huggingface", losses


def reference_answer(row: dict) -> str:
    gold = row["reward_model"]["ground_truth"][0]
    answer = gold if row["extra_info"]["answer_type"] == "text" else f"\\boxed{{{gold}}}"
    return f"<think>\nThe reference solution gives {gold}.\n</think>\n<answer>\n{answer}\n</answer>"


def generate(model_dir: Path, rows: list[dict], max_new_tokens: int = 48) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    texts = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(
            list(row["prompt"]), add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
        texts.append(tokenizer.decode(output[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
    return texts


def reward_overrides(model_dir: Path) -> tuple[list[str], str]:
    kw = "reward.custom_reward_function.reward_kwargs"
    urls, judge_model = os.environ.get("FINR1_JUDGE_URLS"), os.environ.get("FINR1_JUDGE_MODEL")
    overrides = [f"actor_rollout_ref.model.path={model_dir}"]
    if not urls:
        return [*overrides, f"{kw}.mode=never"], "rules only (set FINR1_JUDGE_URLS to add the judge)"
    if not judge_model:
        raise SystemExit("FINR1_JUDGE_URLS is set but FINR1_JUDGE_MODEL is not: name the served judge model")
    return [
        *overrides,
        f"{kw}.judge_urls='{urls}'",
        f"{kw}.judge_model={judge_model}",
    ], f"rules + judge at {urls}"


def score_rollouts(out: Path, model_dir: Path, data: Path) -> list[dict]:
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    from tests.support.verl_batch import rollout_batch, score_batch

    rows = pq.read_table(data / "rl" / "train.parquet").to_pylist()[:ROLLOUT_PROMPTS]
    step(f"4/5 rollouts: the SFT model answers {len(rows)} RL prompts")
    policy = generate(model_dir, rows)
    overrides, how = reward_overrides(model_dir)
    step(f"5/5 reward: verl's reward manager from the composed GRPO recipe, {how}")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    pairs = [
        (row, kind, text)
        for row, generated in zip(rows, policy, strict=True)
        for kind, text in (("policy", generated), ("reference", reference_answer(row)))
    ]
    batch = rollout_batch([p[0] for p in pairs], [p[2] for p in pairs], tokenizer)
    scored = score_batch(compose_recipe("grpo", overrides), tokenizer, batch)
    results = []
    for (row, kind, text), result in zip(pairs, scored, strict=True):
        info = result["reward_extra_info"]
        record = {
            "id": row["extra_info"]["id"],
            "source": row["data_source"],
            "rollout": kind,
            "response": text,
        }
        record.update({key: float(info[key]) for key in ("format", "acc", "judged", "judge_error")})
        results.append({**record, "score": float(result["reward_score"])})
    with (out / "rollouts.jsonl").open("w") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    return results


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "pipeline")
    out = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    data = prepare_data(out)
    step("2/5 model: tiny random Qwen2 + local ChatML tokenizer")
    model = build_tiny_qwen2(out / "tiny-model")
    sft_model, losses = train_sft(out, model, data)
    results = score_rollouts(out, sft_model, data)

    step("rollout scores (format + accuracy; 2.0 = right answer in the right format)")
    print_table(["id", "source", "rollout", "format", "acc", "judged", "score"],
                [[r["id"], r["source"], r["rollout"], r["format"], r["acc"], r["judged"], r["score"]] for r in results])  # fmt: skip
    step("SFT loss by step")
    print_table(["step", "train/loss"], [[s, f"{v:.4f}"] for s, v in losses])
    step("where everything went")
    print_table(["artifact", "path"], [
        ["RL + SFT parquet, report, rejects", data],
        ["tiny base model", model],
        ["SFT log", out / "sft" / "train.log"],
        ["SFT checkpoints", out / "sft" / "checkpoints"],
        ["SFT model (Hugging Face)", sft_model],
        ["scored rollouts", out / "rollouts.jsonl"],
    ])  # fmt: skip


if __name__ == "__main__":
    main()
