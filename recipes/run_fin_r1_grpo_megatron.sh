#!/usr/bin/env bash
# Fin-R1 stage 2 on verl's Megatron engine (pip install -e .[megatron]), vLLM rollouts.
# Config: finr1_verl/config/fin_r1_grpo_megatron.yaml.
# The launch command is `finr1-recipe launch` (finr1_verl/recipes.py: environment variables, --dry-run,
# --smoke, --from-base, then Hydra overrides); --dry-run prints exactly the command that runs.
#   FINR1_JUDGE_URLS=http://judge:8000/v1 bash recipes/run_fin_r1_grpo_megatron.sh --dry-run
exec python -m finr1_verl.recipes launch grpo_megatron "$@"
