#!/usr/bin/env bash
# Fin-R1 stage 1: SFT of Qwen2.5-7B-Instruct on the distilled traces with verl's SFT trainer (FSDP).
# Config: finr1_verl/config/fin_r1_sft.yaml.
# The launch command is `finr1-recipe launch` (finr1_verl/recipes.py: environment variables, --dry-run,
# --smoke, --from-base, then Hydra overrides); --dry-run prints exactly the command that runs.
#   bash recipes/run_fin_r1_sft.sh --dry-run
#   MODEL_PATH=Qwen/Qwen2.5-7B-Instruct DATA_DIR=data/finr1 bash recipes/run_fin_r1_sft.sh trainer.total_epochs=1
exec python -m finr1_verl.recipes launch sft "$@"
