#!/usr/bin/env bash
# Fin-R1 stage 1: SFT of Qwen2.5-7B-Instruct on the distilled traces with verl's SFT trainer (FSDP).
# Config: finr1_verl/config/fin_r1_sft.yaml.  Environment and arguments: recipes/_launch.sh.
#   bash recipes/run_fin_r1_sft.sh --dry-run
#   MODEL_PATH=Qwen/Qwen2.5-7B-Instruct DATA_DIR=data/finr1 bash recipes/run_fin_r1_sft.sh trainer.total_epochs=1
source "$(dirname "$0")/_launch.sh"
finr1_launch sft sft "$@"
