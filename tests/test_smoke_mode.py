"""The CPU smoke mode: its overrides compose into valid recipes, the SFT script runs with --smoke,
and nothing outside ``finr1_verl.smoke`` imports it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from finr1_verl.smoke.launch import smoke_overrides

REPO = Path(__file__).resolve().parents[1]


def test_nothing_outside_the_smoke_package_imports_it():
    pattern = re.compile(r"^\s*(from|import)\s+finr1_verl\.smoke\b", re.M)
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "finr1_verl").rglob("*.py")
        if "smoke" not in path.relative_to(REPO / "finr1_verl").parts[:1] and pattern.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("kind", ["sft", "grpo"])
def test_smoke_overrides_compose_into_a_valid_recipe(kind):
    from finr1_verl.recipes import compose_recipe, validate_recipe

    cfg = compose_recipe(kind, smoke_overrides(kind, environ={}))
    validate_recipe(kind, cfg)
    assert cfg.trainer.total_training_steps == 2 and cfg.trainer.device == "cpu"
    if kind == "grpo":
        assert cfg.actor_rollout_ref.rollout.name == "vllm"
        assert cfg.actor_rollout_ref.rollout.checkpoint_engine.update_weights_bucket_megabytes == 64
        assert cfg.reward.custom_reward_function.reward_kwargs.mode == "never"  # no judge URL given
        with_judge = compose_recipe(kind, smoke_overrides(kind, environ={"FINR1_JUDGE_URLS": "http://j/v1"}))
        assert with_judge.reward.custom_reward_function.reward_kwargs.mode == "rule_first"
        hosted = compose_recipe(
            kind, ["judge=verl_hosted", *smoke_overrides(kind, environ={"JUDGE": "verl_hosted"})]
        )
        validate_recipe(kind, hosted)
        assert hosted.reward.reward_model.enable and hosted.reward.reward_model.rollout.name == "vllm"
        assert hosted.reward.custom_reward_function.reward_kwargs.structured_output is True


@pytest.mark.slow
@pytest.mark.integration
def test_sft_script_runs_two_steps_with_smoke(tmp_path):
    from finr1_verl.smoke.run import prepare_inputs

    inputs = prepare_inputs(tmp_path / "inputs")
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "MODEL_PATH": str(inputs.model_dir),
        "DATA_DIR": str(inputs.data_dir),
        "SAVE_DIR": str(tmp_path / "sft"),
    }
    proc = subprocess.run(
        ["bash", str(REPO / "recipes" / "run_fin_r1_sft.sh"), "--smoke"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert re.search(r"step:2 - .*train/loss", log)
    assert (tmp_path / "sft" / "global_step_2" / "huggingface" / "config.json").exists()
