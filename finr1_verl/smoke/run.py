"""Drive ``recipes/run_fin_r1_grpo.sh --smoke`` from Python and read what the run left behind.

Tests and ``bench/bench_grpo_overlap.py`` start GRPO exactly as a user does (the recipe script
with ``--smoke``) and then read verl's own outputs: the file logger's metrics (one JSON line per
step) and the checkpoint folder.  Every run goes through the guard (``finr1_verl/smoke/guard.py``):
a hard timeout, then its processes, shared memory and Ray folder are removed.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from finr1_verl.smoke.guard import guarded_run

REPO_ROOT = Path(__file__).resolve().parents[2]
GRPO_SCRIPT = REPO_ROOT / "recipes" / "run_fin_r1_grpo.sh"
REWARD_KWARGS = "reward.custom_reward_function.reward_kwargs"


@dataclass
class SmokeInputs:
    data_dir: Path  # `finr1-data prepare` output of the shipped sample (rl/ and sft/ parquet)
    model_dir: Path  # tiny Qwen2 trained briefly on the answer format


def prepare_inputs(work: Path) -> SmokeInputs:
    """The sample data and the format-trained tiny model, built once into ``work``."""
    from finr1_verl.data.cli import main as data_main
    from finr1_verl.data.samples import SPEC
    from finr1_verl.smoke.format_model import build_format_model

    data, model = work / "data", work / "format-model"
    if not (data / "rl" / "train.parquet").exists():
        data_main(["prepare", "--spec", str(SPEC), "--out", str(data)])
    if not (model / "config.json").exists():
        build_format_model(model, data / "rl" / "train.parquet")
    return SmokeInputs(data, model)


@dataclass
class GrpoRun:
    returncode: int
    log: str
    save_dir: Path
    metrics: dict[int, dict[str, float]]  # step -> verl's metrics of that step
    timed_out: bool
    engine_error: str | None  # the vLLM engine's fatal line when the guard stopped the run for it
    removed_shm: list[str]  # /dev/shm entries the run left and the guard removed


def _read_jsonl(path: Path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )


def run_grpo(
    inputs: SmokeInputs,
    save_dir: Path,
    *,
    judge_url: str | None = None,
    judge_model: str = "fake-model",
    overrides: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> GrpoRun:
    """``bash recipes/run_fin_r1_grpo.sh --smoke`` with this data, model and judge; waits for the end."""
    save_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **(env or {}),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "MODEL_PATH": str(inputs.model_dir),
        "DATA_DIR": str(inputs.data_dir),
        "SAVE_DIR": str(save_dir),
        "VERL_FILE_LOGGER_PATH": str(save_dir / "metrics.jsonl"),
    }
    env.pop("FINR1_JUDGE_URLS", None)
    if judge_url:
        env.update(FINR1_JUDGE_URLS=judge_url, FINR1_JUDGE_MODEL=judge_model)
    (save_dir / "metrics.jsonl").unlink(missing_ok=True)
    done = guarded_run(
        ["bash", str(GRPO_SCRIPT), "--smoke", *(overrides or [])], timeout=timeout, env=env, cwd=save_dir
    )
    (save_dir / "run.log").write_text(done.stdout)
    metrics = {row["step"]: row["data"] for row in _read_jsonl(save_dir / "metrics.jsonl")}
    return GrpoRun(
        done.returncode, done.stdout, save_dir, metrics, done.timed_out, done.engine_error, done.removed_shm
    )
