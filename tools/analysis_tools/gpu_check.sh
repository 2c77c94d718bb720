#!/usr/bin/env bash
# The GPU check in one command, on a CUDA machine with a fresh clone:
# installs what is missing into the current Python environment (use a venv
# or a throw-away machine: it may pin setuptools<70 for the mmcv build),
# then runs tools/analysis_tools/gpu_check.py and prints its table.
#
#   bash tools/analysis_tools/gpu_check.sh [--wheels DIR] [gpu_check.py args]
#
# PYTHON (default python3) must already hold a CUDA build of torch; it is
# never replaced. mmcv 2.1.0 is built from source with its compiled ops for
# the CPU only (the GPU hidden during the build): the plugin's modules use no
# CUDA op of mmcv, and the CPU ops build in ~2 minutes on 16 cores where the
# CUDA ones take far longer (MMCV_OPS=stub skips the ops build: tools/gpu_env.sh).
# --wheels DIR installs from DIR alone (no
# index: for machines without internet), which must hold mmcv-2.1.0.tar.gz,
# setuptools<70 and the wheels of mmengine 0.10.7, mmsegmentation 1.2.2 and
# their pure-Python dependencies (addict, yapf, termcolor, prettytable, ftfy,
# wcwidth, platformdirs). The plugin is used from the clone (PYTHONPATH),
# without its CPU kernel. The whole check takes under 8 minutes on an H200.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"
WHEELS=""
if [ "${1:-}" = "--wheels" ]; then
  WHEELS="$(cd "$2" && pwd)"
  shift 2
fi
log() { printf '[gpu_check.sh] %s\n' "$*"; }
# shellcheck source=../gpu_env.sh
source "$ROOT/tools/gpu_env.sh"

cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
exec "$PY" tools/analysis_tools/gpu_check.py "$@"
