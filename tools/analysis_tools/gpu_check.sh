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
# CUDA ones take far longer (MMCV_OPS=stub skips the ops build: see below).
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
PIP=("$PY" -m pip --disable-pip-version-check -q install)
if [ -n "$WHEELS" ]; then
  PIP+=(--no-index --find-links "$WHEELS")
fi

"$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" || {
  log "torch in $PY sees no CUDA device: install a CUDA build of torch first"
  exit 2
}

if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  "${PIP[@]}" 'setuptools<70' wheel
  src=mmcv==2.1.0
  [ -n "$WHEELS" ] && src="$WHEELS/mmcv-2.1.0.tar.gz"
  if [ "${MMCV_OPS:-build}" = "stub" ]; then
    # mmcv without compiled ops, plus a stand-in `mmcv._ext` whose every
    # function raises: `import mmseg.models` needs mmcv.ops to import, the
    # plugin's modules call none of its compiled ops, and this saves the
    # ~3 minutes of the ops build on a short GPU lease. An op that does run
    # fails loudly, naming itself.
    log "installing mmcv 2.1.0 without compiled ops (MMCV_OPS=stub)"
    MMCV_WITH_OPS=0 "${PIP[@]}" --no-build-isolation --no-deps "$src"
    ext="$("$PY" -c 'import importlib.util as u, os; print(os.path.dirname(u.find_spec("mmcv").origin))')/_ext.py"
    cat > "$ext" <<'PYEOF'
"""Stand-in for mmcv's compiled ops (tools/analysis_tools/gpu_check.sh with
MMCV_OPS=stub): every op raises when called."""


def __getattr__(name):
    def missing(*args, **kwargs):
        raise NotImplementedError(
            f'mmcv op {name!r} is not built (MMCV_OPS=stub): build mmcv '
            'with MMCV_WITH_OPS=1 to use it')
    return missing
PYEOF
  else
    log "building mmcv 2.1.0 with its CPU ops (GPU hidden during the build)"
    CUDA_VISIBLE_DEVICES="" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" --no-build-isolation --no-deps "$src"
  fi
fi
if ! "$PY" -c "import mmengine, mmseg, ftfy, prettytable" 2>/dev/null; then
  log "installing mmengine 0.10.7 and mmsegmentation 1.2.2"
  "${PIP[@]}" --no-deps mmengine==0.10.7 mmsegmentation==1.2.2 addict yapf \
    termcolor prettytable ftfy wcwidth platformdirs
fi

cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
exec "$PY" tools/analysis_tools/gpu_check.py "$@"
