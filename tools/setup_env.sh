#!/usr/bin/env bash
# Idempotent environment set-up for mmseg-dsrl.
#
# Creates (or reuses) a virtual environment at .venv, installs the pinned stack
# that works together (see README "Installation"):
#   torch==2.13.0 (CPU build; kept if a torch is already present)
#   setuptools<70 while mmcv builds, then >=77,<81 (see the end)
#   mmcv==2.1.0 built from source WITH its compiled ops
#   mmengine==0.10.7, mmsegmentation==1.2.2, ftfy, regex, numpy<2, opencv
#   torch-pruning, onnx, onnxruntime (pruning and ONNX export), openvino
#   (the OpenVINO deployment path)
#   scikit-image (tests only: the reference PSNR / SSIM on real images)
#   mmseg_dsrl itself in editable mode, with its fused FA kernel compiled
#   with MMSEG_DSRL_OPTIONAL_FAMILIES=1 also mmdet==3.3.0 and, with a CUDA
#   torch, mmpretrain==1.2.0 + torchvision==0.28.0 (the MaskFormer /
#   Mask2Former / ConvNeXt / PoolFormer configs need them)
# and verifies `import mmcv.ops, mmseg.models, mmseg_dsrl`.
#
# First run: ~15 min on 2 cores (mmcv compile). Later runs: seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMSEG_DSRL_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
log() { printf '[setup_env] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment at $VENV"
  "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)
# pip, without the notes some machines' pip configurations print for every
# package (an extra index folder that does not exist on this machine).
pip_q() {
  "${PIP[@]}" "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

have() { "$PY" - "$@" <<'PYEOF' >/dev/null 2>&1
import importlib, sys
for spec in sys.argv[1:]:
    name, _, version = spec.partition('==')
    mod = importlib.import_module(name)
    if version and not str(getattr(mod, '__version__', '')).startswith(version):
        raise SystemExit(1)
PYEOF
}

if ! have torch; then
  log "installing torch==2.13.0 (CPU build)"
  pip_q install torch==2.13.0
else
  log "torch present: $("$PY" -c 'import torch; print(torch.__version__)')"
fi

if ! have numpy; then
  pip_q install 'numpy<2'
fi

if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  # mmcv's setup.py needs pkg_resources and predates setuptools 70.
  log "installing setuptools<70 for the mmcv build"
  # (torch declares setuptools>=77: --no-warn-conflicts, since the last step
  # of this script restores it.)
  pip_q install --no-warn-conflicts 'setuptools<70' wheel
  log "building mmcv==2.1.0 with compiled ops (first time ~13 min on 2 cores; cached afterwards)"
  # --no-build-isolation: under isolation mmcv cannot see torch and silently
  # builds without its ops.
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    pip_q install --no-warn-conflicts --no-build-isolation mmcv==2.1.0
else
  log "mmcv 2.1.0 with ops present"
fi

if ! have mmengine==0.10.7 mmseg==1.2.2 ftfy regex cv2 pytest; then
  log "installing mmengine, mmsegmentation and friends"
  pip_q install 'numpy<2' 'opencv-python<4.12' mmengine==0.10.7 \
    mmsegmentation==1.2.2 ftfy regex pytest 'setuptools>=77,<81' 
fi

# ICNet compression (torch-pruning: dependency tracking for filter pruning)
# and ONNX export checks (onnx + onnxruntime).
if ! have torch_pruning onnx onnxruntime; then
  log "installing torch-pruning, onnx, onnxruntime"
  pip_q install 'torch-pruning>=1.5,<2' onnx onnxruntime \
    'ml-dtypes<0.6' 'numpy<2' 'setuptools>=77,<81'
fi
# onnx imports ml_dtypes, whose 0.6+ wheels are built for numpy 2 only
# (with numpy<2, onnx's import fails inside every ONNX export).
if ! "$PY" -c "import sys, ml_dtypes; sys.exit(tuple(map(int, ml_dtypes.__version__.split('.')[:2])) >= (0, 6))" 2>/dev/null; then
  log "installing ml-dtypes<0.6 (numpy<2 builds, for onnx)"
  pip_q install 'ml-dtypes<0.6' 'numpy<2'
fi

# The OpenVINO deployment paths (fp32, INT8 of the quantized ONNX graph).
if ! have openvino; then
  log "installing openvino (CPU deployment path)"
  pip_q install 'openvino>=2024.4' 'numpy<2' 'setuptools>=77,<81'
fi

# The tests compare the SISR metric's PSNR / SSIM with scikit-image's on
# the photographs it bundles (no download).
if ! have skimage; then
  log "installing scikit-image (reference PSNR / SSIM for the tests)"
  pip_q install 'scikit-image>=0.22' 'numpy<2' 'setuptools>=77,<81'
fi

# Checked from / so that the repository folder itself cannot satisfy it.
# The editable install also compiles the fused FA kernel
# (mmseg_dsrl/ops/csrc, ~1 min); it is rebuilt when missing or stale
# (source version changed). MMSEG_DSRL_WITH_OPS=0 skips it.
kernel_ok() {
  [ "${MMSEG_DSRL_WITH_OPS:-1}" = "0" ] && return 0
  (cd / && "$PY" -W ignore -c "import sys, torch, mmseg_dsrl.ops as o; sys.exit(torch.backends.cpu.get_cpu_capability() in ('AVX2', 'AVX512') and o.affinity_l1_cpu() is None)") 2>/dev/null
}
if ! (cd / && "$PY" -c "import mmseg_dsrl, os, sys; sys.exit(os.path.realpath(os.path.dirname(mmseg_dsrl.__file__)) != os.path.realpath('$ROOT/mmseg_dsrl'))") 2>/dev/null \
    || ! kernel_ok; then
  log "installing mmseg_dsrl (editable; compiles the fused FA kernel, ~1 min)"
  pip_q install --no-build-isolation --no-deps -e "$ROOT"
  kernel_ok || log "WARNING: the fused FA kernel did not build; the FA loss uses its PyTorch path (see mmseg_dsrl/ops)"
fi

# Final setuptools: torch 2.13 declares setuptools>=77, and mmengine's
# `mmseg::` config lookup imports pkg_resources, which setuptools 81 still
# has and 82 removed. Installing anything that depends on torch makes pip
# upgrade setuptools past that, so this runs last and whenever it drifted.
if ! "$PY" -c "import pkg_resources, setuptools, sys; v = tuple(map(int, setuptools.__version__.split('.')[:2])); sys.exit(not ((77, 0) <= v < (81, 0)))" 2>/dev/null; then
  log "pinning setuptools>=77,<81 (pkg_resources for mmengine, >=77 for torch)"
  pip_q install 'setuptools>=77,<81'
fi

# Opt-in: the mmseg families that need OpenMMLab's detection / pretraining
# libraries (MaskFormer, Mask2Former: mmdet; ConvNeXt, PoolFormer:
# mmpretrain), in the versions that work with the pinned mmcv 2.1.0 /
# mmengine 0.10.7 (neither changes torch, mmcv or numpy).
# mmpretrain imports torchvision, and the torchvision wheels that pair with
# torch 2.13 (0.28.0) link CUDA torch's libc10_cuda: with the CPU build of
# torch they cannot load, so mmpretrain is installed only with a CUDA torch.
if [ "${MMSEG_DSRL_OPTIONAL_FAMILIES:-0}" = "1" ]; then
  if ! have mmdet==3.3.0; then
    log "installing mmdet==3.3.0 (MMSEG_DSRL_OPTIONAL_FAMILIES=1)"
    pip_q install mmdet==3.3.0 'setuptools>=77,<81'
  fi
  if "$PY" -c "import sys, torch; sys.exit(torch.version.cuda is None)"; then
    if ! have mmpretrain==1.2.0 torchvision==0.28; then
      log "installing mmpretrain==1.2.0, torchvision==0.28.0 (MMSEG_DSRL_OPTIONAL_FAMILIES=1)"
      pip_q install mmpretrain==1.2.0 torchvision==0.28.0 'setuptools>=77,<81'
    fi
  else
    log "skipping mmpretrain (ConvNeXt, PoolFormer configs): its torchvision needs a CUDA build of torch"
  fi
fi

# Optional tools the pruning / export / report features use.
if [ -n "${MMSEG_DSRL_EXTRAS:-}" ]; then
  pip_q install $MMSEG_DSRL_EXTRAS
fi

log "verifying imports (from /, not the repository)"
cd /
"$PY" -W 'ignore:pkg_resources is deprecated' - <<'PYEOF'
import mmcv, mmcv.ops, mmengine, mmseg, mmseg.models, mmseg_dsrl, torch
import pkg_resources  # noqa: F401  (mmengine resolves `mmseg::` bases with it)
from mmcv.ops import point_sample  # noqa: F401  (compiled-ops sanity)
print(f'[setup_env] OK: torch {torch.__version__}, mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmseg {mmseg.__version__}, '
      f'mmseg_dsrl {mmseg_dsrl.__version__}')
PYEOF
