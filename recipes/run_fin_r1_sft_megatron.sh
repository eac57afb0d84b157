#!/usr/bin/env bash
# Fin-R1 stage 1 on verl's Megatron engine (pip install -e .[megatron]).
# Config: finr1_verl/config/fin_r1_sft_megatron.yaml.
# The launch command is `finr1-recipe launch` (finr1_verl/recipes.py: environment variables, --dry-run,
# --smoke, --from-base, then Hydra overrides); --dry-run prints exactly the command that runs.
#   bash recipes/run_fin_r1_sft_megatron.sh --dry-run engine.tensor_model_parallel_size=4
exec python -m finr1_verl.recipes launch sft_megatron "$@"
