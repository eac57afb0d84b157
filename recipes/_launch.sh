# Sourced by recipes/run_fin_r1_*.sh: environment -> Hydra overrides, --dry-run, --smoke, GPU check, launch.
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
#   SMOKE_DIR         --smoke only: where the sample data, the tiny model and the checkpoints go (runs/smoke)
# Arguments: --dry-run (compose + validate + check data and judge, start nothing), --smoke (2 steps at
# tiny sizes on CPU, no GPU needed: finr1_verl/smoke; builds the sample data and a tiny model unless
# DATA_DIR / MODEL_PATH are given; rules-only reward unless FINR1_JUDGE_URLS is set), then Hydra overrides.

set -euo pipefail

finr1_config_dir() {
  python -c "from finr1_verl.config import CONFIG_DIR; print(CONFIG_DIR)"
}

# --smoke: the CPU platform's environment, and the sample data + tiny model when none are given.
finr1_smoke_setup() {
  local kind="$1" dir="${SMOKE_DIR:-runs/smoke}"
  eval "$(python -m finr1_verl.smoke env)"
  if [ -z "${DATA_DIR:-}" ]; then
    DATA_DIR="$dir/data"
    [ -f "$DATA_DIR/rl/train.parquet" ] || python -m finr1_verl.smoke data "$DATA_DIR" >/dev/null
  fi
  if [ -z "${MODEL_PATH:-}" ]; then
    MODEL_PATH="$dir/tiny-model"
    [ -f "$MODEL_PATH/config.json" ] || python -m finr1_verl.smoke model "$MODEL_PATH" --rl "$DATA_DIR/rl/train.parquet"
  fi
  SAVE_DIR="${SAVE_DIR:-$dir/$kind}"
  export VERL_FILE_LOGGER_PATH="${VERL_FILE_LOGGER_PATH:-$SAVE_DIR/metrics.jsonl}"
  mkdir -p "$SAVE_DIR"
  echo "[finr1] smoke mode on CPU: model $MODEL_PATH, data $DATA_DIR, checkpoints $SAVE_DIR" >&2
}

# finr1_launch RECIPE KIND "$@": KIND is sft or grpo.
finr1_launch() {
  local recipe="$1" kind="$2"
  shift 2
  local dry_run=0 smoke=0 args=() overrides=() checks=()
  for arg in "$@"; do
    case "$arg" in
      --dry-run) dry_run=1 ;;
      --smoke) smoke=1 checks+=(--smoke) ;;
      --from-base) checks+=(--from-base) ;;
      *) args+=("$arg") ;;
    esac
  done
  [ "$smoke" = 1 ] && finr1_smoke_setup "$kind" && mapfile -t overrides < <(python -m finr1_verl.smoke overrides "$kind")

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

  # torchrun Megatron needs this on every rank; verl sets it only for its Ray workers.
  if [ "$recipe" = sft_megatron ]; then export CUDA_DEVICE_MAX_CONNECTIONS=1; fi

  if [ "$dry_run" = 1 ]; then
    python -m finr1_verl.recipes dry-run ${checks[@]+"${checks[@]}"} "$recipe" "${overrides[@]+"${overrides[@]}"}"
    return
  fi
  python -m finr1_verl.recipes doctor ${checks[@]+"${checks[@]}"} "$recipe" "${overrides[@]+"${overrides[@]}"}"

  local config_dir config_name
  config_dir="$(finr1_config_dir)"
  config_name="$(python -c "from finr1_verl.recipes import RECIPES; print(RECIPES['$recipe'].config_name)")"
  if [ "$kind" = sft ]; then
    torchrun --nnodes="${NNODES:-1}" --nproc_per_node="${N_GPUS_PER_NODE:-$((smoke ? 1 : 8))}" --node_rank="${NODE_RANK:-0}" \
      --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
      -m verl.trainer.sft_trainer --config-path="$config_dir" --config-name="$config_name" \
      "${overrides[@]+"${overrides[@]}"}"
  else
    python -m verl.trainer.main_ppo --config-path="$config_dir" --config-name="$config_name" \
      "${overrides[@]+"${overrides[@]}"}"
  fi
}
