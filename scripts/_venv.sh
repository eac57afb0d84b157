# Sourced by the entry scripts: create or reuse the project venv and install the project into it.
#   FINR1_VENV   venv folder (default .venv in the repository)
#   FINR1_TORCH  torch requirement when the venv has no torch yet (default: torch==2.13.0, the CPU
#                wheel; on a GPU node the `gpu` extra brings verl's CUDA torch instead)
# ensure_venv EXTRAS   e.g. ensure_venv test,dev   or   ensure_venv gpu
ensure_venv() {
  local extras="$1"
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
    if [ "$extras" != "gpu" ] && [ "$extras" != "megatron" ] && ! python -c "import torch" 2>/dev/null; then
      echo "[finr1] installing ${FINR1_TORCH:-torch==2.13.0}"
      python -m pip install -q "${FINR1_TORCH:-torch==2.13.0}"
    fi
    echo "[finr1] installing finr1-verl[$extras]"
    python -m pip install -q -e ".[$extras]"
    touch "$stamp"
  fi
}
