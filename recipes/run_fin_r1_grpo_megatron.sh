#!/usr/bin/env bash
# Fin-R1 stage 2 on verl's Megatron engine (pip install -e .[megatron]), vLLM rollouts.
# Config: finr1_verl/config/fin_r1_grpo_megatron.yaml.  Environment and arguments: recipes/_launch.sh.
#   FINR1_JUDGE_URLS=http://judge:8000/v1 bash recipes/run_fin_r1_grpo_megatron.sh --dry-run
source "$(dirname "$0")/_launch.sh"
finr1_launch grpo_megatron grpo "$@"
