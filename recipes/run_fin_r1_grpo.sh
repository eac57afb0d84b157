#!/usr/bin/env bash
# Fin-R1 stage 2: GRPO from the SFT model with verl's PPO trainer (FSDP, vLLM rollouts), reward =
# format + judged answer equivalence.  Config: finr1_verl/config/fin_r1_grpo.yaml.
# The launch command is `finr1-recipe launch` (finr1_verl/recipes.py: environment variables, --dry-run,
# --smoke, --from-base, then Hydra overrides); --dry-run prints exactly the command that runs.
#   FINR1_JUDGE_URLS=http://judge:8000/v1 bash recipes/run_fin_r1_grpo.sh --dry-run
#   JUDGE=verl_hosted MODEL_PATH=checkpoints/finr1/fin-r1-sft-qwen2.5-7b/global_step_1335/huggingface \
#     bash recipes/run_fin_r1_grpo.sh actor_rollout_ref.actor.kl_loss_coef=0
exec python -m finr1_verl.recipes launch grpo "$@"
