# Sourced by the GPU commands (tools/analysis_tools/gpu_check.sh,
# tools/experiments/camvid_gpu.sh) after they set PY (a Python that holds a
# CUDA build of torch, never replaced), WHEELS (a folder of wheels to install
# from alone, for machines without internet, or empty) and log(). Installs
# what is missing into PY's environment: mmcv 2.1.0 built from source with
# its compiled ops for the CPU only (the GPU hidden during the build), or
# with MMCV_OPS=stub a stand-in whose every op raises (the plugin's modules
# use none of mmcv's compiled ops); mmengine 0.10.7 and mmsegmentation 1.2.2
# with their pure-Python dependencies. WHEELS must then hold
# mmcv-2.1.0.tar.gz, setuptools<70, wheel and the wheels of mmengine,
# mmsegmentation, addict, yapf, termcolor, prettytable, ftfy, wcwidth and
# platformdirs.
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
"""Stand-in for mmcv's compiled ops (tools/gpu_env.sh with MMCV_OPS=stub):
every op raises when called."""


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

