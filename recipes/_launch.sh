# Sourced by recipes/run_fin_r1_*.sh: environment -> Hydra overrides, --dry-run, GPU check, launch.
# The config directory comes from the installed package (finr1_verl.config), never from this checkout.
#
# Environment (all optional):
#   MODEL_PATH        model to train (SFT: base model; GRPO: the SFT checkpoint's huggingface/ folder)
#   DATA_DIR          output of `finr1-data prepare|filter` (uses sft/{train,val}.parquet or rl/{train,val}.parquet)
#   SAVE_DIR          checkpoint folder (trainer.default_local_dir)
#   NNODES, N_GPUS_PER_NODE   cluster shape (trainer.nnodes / trainer.n_gpus_per_node)
#   NODE_RANK, MASTER_ADDR, MASTER_PORT   torchrun rendezvous for multi-node SFT (run the script on every node)
#   RAY_ADDRESS       GRPO on an existing Ray cluster (verl's ray.init connects to it)
#   JUDGE             GRPO judge placement: external (default) or verl_hosted
#   FINR1_JUDGE_URLS  comma-separated judge base URLs (external placement), e.g. from scripts/serve_judge.sh
#   FINR1_JUDGE_MODEL judge model name as served; JUDGE_MODEL_PATH the judge verl hosts (verl_hosted)
# Arguments: --dry-run (compose + validate + check data and judge, start nothing), then Hydra overrides.

set -euo pipefail

finr1_config_dir() {
  python -c "from finr1_verl.config import CONFIG_DIR; print(CONFIG_DIR)"
}

# finr1_launch RECIPE KIND "$@": KIND is sft or grpo.
finr1_launch() {
  local recipe="$1" kind="$2"
  shift 2
  local dry_run=0 args=() overrides=()
  for arg in "$@"; do
    if [ "$arg" = "--dry-run" ]; then dry_run=1; else args+=("$arg"); fi
  done

  [ -n "${NNODES:-}" ] && overrides+=("trainer.nnodes=$NNODES")
  [ -n "${N_GPUS_PER_NODE:-}" ] && overrides+=("trainer.n_gpus_per_node=$N_GPUS_PER_NODE")
  [ -n "${SAVE_DIR:-}" ] && overrides+=("trainer.default_local_dir=$SAVE_DIR")
  if [ "$kind" = sft ]; then
    [ -n "${MODEL_PATH:-}" ] && overrides+=("model.path=$MODEL_PATH")
    [ -n "${DATA_DIR:-}" ] && overrides+=("data.train_files=$DATA_DIR/sft/train.parquet" "data.val_files=$DATA_DIR/sft/val.parquet")
  else
    [ -n "${JUDGE:-}" ] && overrides+=("judge=$JUDGE")
    [ -n "${MODEL_PATH:-}" ] && overrides+=("actor_rollout_ref.model.path=$MODEL_PATH")
    [ -n "${DATA_DIR:-}" ] && overrides+=("data.train_files=$DATA_DIR/rl/train.parquet" "data.val_files=$DATA_DIR/rl/val.parquet")
    local kw=reward.custom_reward_function.reward_kwargs
    [ -n "${FINR1_JUDGE_URLS:-}" ] && [ "${JUDGE:-external}" = external ] && overrides+=("$kw.judge_urls='$FINR1_JUDGE_URLS'")
    [ -n "${FINR1_JUDGE_MODEL:-}" ] && [ "${JUDGE:-external}" = external ] && overrides+=("$kw.judge_model=$FINR1_JUDGE_MODEL")
    [ -n "${JUDGE_MODEL_PATH:-}" ] && overrides+=("reward.reward_model.model_path=$JUDGE_MODEL_PATH")
  fi
  overrides+=("${args[@]+"${args[@]}"}")

  if [ "$dry_run" = 1 ]; then
    python -m finr1_verl.recipes dry-run "$recipe" "${overrides[@]+"${overrides[@]}"}"
    return
  fi
  python -m finr1_verl.recipes doctor "$recipe" "${overrides[@]+"${overrides[@]}"}"

  local config_dir config_name
  config_dir="$(finr1_config_dir)"
  config_name="$(python -c "from finr1_verl.recipes import RECIPES; print(RECIPES['$recipe'].config_name)")"
  if [ "$kind" = sft ]; then
    torchrun --nnodes="${NNODES:-1}" --nproc_per_node="${N_GPUS_PER_NODE:-8}" --node_rank="${NODE_RANK:-0}" \
      --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
      -m verl.trainer.sft_trainer --config-path="$config_dir" --config-name="$config_name" \
      "${overrides[@]+"${overrides[@]}"}"
  else
    python -m verl.trainer.main_ppo --config-path="$config_dir" --config-name="$config_name" \
      "${overrides[@]+"${overrides[@]}"}"
  fi
}
