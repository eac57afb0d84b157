"""verl's real GRPO trainer, launched by ``recipes/run_fin_r1_grpo.sh --smoke``, runs 2 steps on CPU.

The policy is the tiny Qwen2 trained briefly on the answer format (built once per session), so
about half of its sampled answers carry the tags and GRPO groups have mixed scores.  The judge is
the loopback OpenAI-compatible server; verl's Ray reward workers call it through the project's
reward.  One run per judge mode is shared by all assertions on it; a third run injects judge faults.
"""

from __future__ import annotations

import threading
import time

import pytest

from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply
from finr1_verl.smoke.run import REWARD_KWARGS, prepare_inputs, run_grpo

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="session")
def smoke_inputs(tmp_path_factory):
    return prepare_inputs(tmp_path_factory.mktemp("grpo-smoke"))


def _val_keys(metrics: dict[str, float], key: str) -> dict[str, float]:
    """``val-aux/<data_source>/<key>/mean@1`` of every data source."""
    return {k: v for k, v in metrics.items() if k.startswith("val-aux/") and k.endswith(f"/{key}/mean@1")}


@pytest.fixture(scope="module", params=["always", "rule_first"])
def grpo_run(request, smoke_inputs, tmp_path_factory):
    mode = request.param
    with FakeOpenAIServer(responder=lambda body: Reply(content="\\boxed{1}")) as judge:
        run = run_grpo(
            smoke_inputs,
            tmp_path_factory.mktemp(f"grpo-{mode}"),
            judge_url=judge.base_url,
            overrides=[f"{REWARD_KWARGS}.mode={mode}"],
        )
        run.judge_requests = len(judge.requests)
    run.mode = mode
    return run


def test_grpo_runs_two_steps_and_logs_the_reward(grpo_run):
    assert grpo_run.returncode == 0, grpo_run.log[-4000:]
    assert sorted(grpo_run.metrics) == [1, 2]
    for step in (1, 2):
        assert "critic/score/mean" in grpo_run.metrics[step]
    last = grpo_run.metrics[2]
    for key in ("format", "acc_success_only", "judged", "judge_error", "score"):
        assert _val_keys(last, key), f"no val-aux/*/{key} metric"
    assert all(v == 0 for v in _val_keys(last, "judge_error").values())
    assert any(v > 0 for v in _val_keys(last, "format").values())


def test_the_judge_is_called_by_the_reward_workers(grpo_run):
    judged = _val_keys(grpo_run.metrics[2], "judged")
    if grpo_run.mode == "always":
        # Every answer found in the format goes to the judge.
        assert grpo_run.judge_requests > 0
        assert any(v > 0 for v in judged.values())
    else:
        # Rules decide what they can: only some answers reach the judge.
        fmt = _val_keys(grpo_run.metrics[2], "format")
        assert all(judged[k.replace("/format/", "/judged/")] <= v for k, v in fmt.items())
        if any(v > 0 for v in judged.values()):
            assert grpo_run.judge_requests > 0


def test_step_one_has_mixed_groups_and_a_real_update(grpo_run):
    step1 = grpo_run.metrics[1]
    assert step1["critic/advantages/max"] > 0
    assert step1["actor/grad_norm"] > 0


def test_the_rollout_policy_changes_after_the_first_weight_sync(grpo_run):
    syncs = [e for e in grpo_run.rollout_events if e["event"] == "weights"]
    assert [e["step"] for e in syncs][-2:] == [1, 2]  # after each of the two updates
    after_step1 = next(e for e in syncs if e["step"] == 1)
    assert after_step1["probe_logprob_before"] is not None
    assert after_step1["probe_logprob_after"] != after_step1["probe_logprob_before"]
    sampled_after_sync = [e for e in grpo_run.rollout_events if e["event"] == "generate" and e["step"] == 1]
    assert sampled_after_sync, "step 2 rollouts were not sampled from the weights synced after step 1"


def test_a_checkpoint_is_written(grpo_run):
    actor = grpo_run.save_dir / "global_step_2" / "actor"
    assert (grpo_run.save_dir / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    assert (
        list(actor.glob("model_world_size_1_rank_0.pt")) and (actor / "huggingface" / "config.json").exists()
    )


def test_judge_faults_never_stop_training(smoke_inputs, tmp_path):
    """503s, timeouts, then the judge goes down after the first update: the run completes, errors are counted."""
    faults = [*[Reply(status=503) for _ in range(3)], *[Reply(fault="hang", delay=5) for _ in range(2)]]
    judge = FakeOpenAIServer().start()
    judge.script(*faults)
    judge.responder = lambda body: Reply(content="\\boxed{1}")
    save_dir = tmp_path / "grpo-faults"

    def stop_after_first_update() -> None:
        # Down once the first update reached the rollout server and every scripted fault was served
        # (how many answers reach the judge in step 1 depends on how many carry the format).
        log = save_dir / "rollout_server.jsonl"
        while not (log.exists() and '"step": 1' in log.read_text() and len(judge.requests) >= len(faults)):
            time.sleep(0.2)
        judge.stop()

    watcher = threading.Thread(target=stop_after_first_update, daemon=True)
    watcher.start()
    try:
        run = run_grpo(
            smoke_inputs,
            save_dir,
            judge_url=judge.base_url,
            overrides=[
                f"{REWARD_KWARGS}.mode=always",
                f"{REWARD_KWARGS}.timeout=1",
                f"{REWARD_KWARGS}.max_retries=1",
            ],
        )
    finally:
        judge.stop()
    assert run.returncode == 0, run.log[-4000:]
    assert sorted(run.metrics) == [1, 2]
    assert len(judge.requests) >= len(faults)  # the scripted faults were served
    errors = _val_keys(run.metrics[2], "judge_error")
    assert errors and any(v > 0 for v in errors.values())  # validation ran with the judge down


def test_finr1_eval_scores_the_grpo_checkpoint_folder_with_transformers(grpo_run, tmp_path):
    """``finr1-eval --backend hf --model <checkpoint folder>``: exported once with verl's model merger."""
    import json

    from finr1_verl.data.samples import SPEC
    from finr1_verl.eval.cli import main

    out = tmp_path / "eval"
    argv = ["run", "--bench", f"tfns={SPEC.parent / 'tfns'}", "--bench", f"finqa={SPEC.parent / 'finqa'}"]
    argv += ["--model", str(grpo_run.save_dir), "--backend", "hf", "--limit", "2", "--max-tokens", "48"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    merged = grpo_run.save_dir / "global_step_2" / "actor" / "merged_hf"
    assert (merged / "config.json").exists() and list(merged.glob("*.safetensors"))
    summary = json.loads((out / "summary.json").read_text())
    assert {name: b["items"] for name, b in summary["benchmarks"].items()} == {"tfns": 2, "finqa": 2}
    assert (out / "report.md").exists() and (out / "report.png").exists()
