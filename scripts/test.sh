#!/usr/bin/env bash
# Run the whole test suite: create (or reuse) a venv, install the CPU torch wheel first so nothing
# pulls a CUDA build, then the project with its test extra, then pytest.  Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv test,dev,eval-lm,smoke

# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
