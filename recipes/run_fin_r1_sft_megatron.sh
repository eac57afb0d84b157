#!/usr/bin/env bash
# Fin-R1 stage 1 on verl's Megatron engine (pip install -e .[megatron]).
# Config: finr1_verl/config/fin_r1_sft_megatron.yaml.  Environment and arguments: recipes/_launch.sh.
#   bash recipes/run_fin_r1_sft_megatron.sh --dry-run engine.tensor_model_parallel_size=4
source "$(dirname "$0")/_launch.sh"
finr1_launch sft_megatron sft "$@"
