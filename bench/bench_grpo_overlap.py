"""How much reward time lies after the last rollout of a GRPO step (CPU smoke path, loopback judge).

In verl 0.9.1 every finished trajectory is scored by a reward worker while the other rollouts are
still generating, so with a slow judge only the last trajectories' scoring should show after
generation ends.  This runs ``recipes/run_fin_r1_grpo.sh --smoke`` (verl's real GRPO trainer, the
vLLM rollout on CPU, verl's reward workers) with the loopback judge answering after
``--latency`` seconds, in reward mode ``never`` (baseline, no judge), ``rule_first`` and ``always``,
all in the same run, and reports per step from the reward's timestamps.  A trajectory's scoring
starts when its rollout ends (verl hands each finished trajectory to a reward worker at once), so
the last scoring start of a step is the end of its last rollout:

- reward_s   summed scoring time of the step's trajectories (finr1_verl/smoke/timed_reward.py)
- after_s    last reward end - last rollout end: reward time not hidden behind generation
- verl_gen_s verl's own ``timing_s/gen`` (generation + scoring of the step, as the trainer saw it);
             it moves in 2 s ticks: the V1 trainer polls its replay buffer every 2 s
             (``verl/trainer/ppo/v1/replay_buffer.py:144,409``)

Target: median after_s <= 0.22 s in rule_first and always at 0.2 s judge latency.

    PYTHONPATH=. python bench/bench_grpo_overlap.py [--steps 3] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finr1_verl.smoke.fake_openai import FakeOpenAIServer, Reply  # noqa: E402
from finr1_verl.smoke.run import REWARD_KWARGS, GrpoRun, prepare_inputs, run_grpo  # noqa: E402
from finr1_verl.smoke.timed_reward import LOG_ENV  # noqa: E402

MODES = ("never", "rule_first", "always")
TRAJECTORIES_PER_STEP = 16  # the smoke run's data.train_batch_size=4 x rollout.n=4


def per_step(run: GrpoRun, reward_events: list[dict], steps: int, per_step_count: int) -> list[dict]:
    """Timings of each training step: the scored trajectories in start order, ``per_step_count`` a step."""
    events = sorted(reward_events, key=lambda e: e["start"])
    rows = []
    for step in range(1, steps + 1):
        rewards = events[(step - 1) * per_step_count : step * per_step_count]
        rows.append(
            {
                "step": step,
                "rollouts": len(rewards),
                "reward_s": sum(r["end"] - r["start"] for r in rewards),
                "judged": int(sum(r["judged"] for r in rewards)),
                "after_s": max(r["end"] for r in rewards) - max(r["start"] for r in rewards),
                "verl_gen_s": run.metrics[step]["timing_s/gen"],
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2, help="judge reply delay in seconds")
    parser.add_argument("--work", type=Path, help="folder for data, model and runs (default: a temp dir)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-grpo-overlap-"))
    inputs = prepare_inputs(work)
    results: dict[str, list[dict]] = {}
    with FakeOpenAIServer(responder=lambda body: Reply(content="\\boxed{1}", delay=args.latency)) as judge:
        for mode in MODES:
            save_dir = work / f"run-{mode}"
            reward_log = save_dir / "reward_times.jsonl"
            reward_log.parent.mkdir(parents=True, exist_ok=True)
            reward_log.unlink(missing_ok=True)
            run = run_grpo(
                inputs,
                save_dir,
                judge_url=judge.base_url,
                env={LOG_ENV: str(reward_log)},
                overrides=[
                    f"{REWARD_KWARGS}.mode={mode}",
                    "reward.custom_reward_function.path=pkg://finr1_verl.smoke.timed_reward",
                    f"trainer.total_training_steps={args.steps}",
                    "trainer.test_freq=-1",
                    f"trainer.save_freq={args.steps}",
                ],
            )
            if run.returncode:
                print(run.log[-3000:], file=sys.stderr)
                raise SystemExit(f"GRPO run in mode {mode} failed (log: {save_dir / 'run.log'})")
            events = [json.loads(line) for line in reward_log.read_text().splitlines()]
            results[mode] = per_step(run, events, args.steps, TRAJECTORIES_PER_STEP)

    print(f"judge latency {args.latency * 1000:.0f} ms, {args.steps} GRPO steps per mode, work dir {work}\n")
    print("mode        step  rollouts  judged  reward_s  after_s  verl_gen_s")
    for mode, rows in results.items():
        for r in rows:
            print(
                f"{mode:<11} {r['step']:>4}  {r['rollouts']:>8}  {r['judged']:>6}  "
                f"{r['reward_s']:>8.2f}  {r['after_s']:>7.3f}  {r['verl_gen_s']:>10.2f}"
            )
    base = statistics.median(r["after_s"] for r in results["never"])
    print("\nmedian reward time after the last rollout (target <= 0.220 s in rule_first and always):")
    for mode, rows in results.items():
        after = statistics.median(r["after_s"] for r in rows)
        gen = statistics.median(r["verl_gen_s"] for r in rows)
        base_gen = statistics.median(r["verl_gen_s"] for r in results["never"])
        print(
            f"  {mode:<11} {after * 1000:7.1f} ms  (never: {base * 1000:.1f} ms; "
            f"verl timing_s/gen {gen:.2f} s = {gen / base_gen:.2f}x never)"
        )
    (work / "overlap.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
