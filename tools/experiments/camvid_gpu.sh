#!/usr/bin/env bash
# The ESPNetv2 CamVid rows on a GPU machine that only takes a small upload
# and reaches no network (the `device` machines), in one command.
#
# Here, once (writes CARRY, default gpu_carry/, about 40 MiB: CamVid packed
# as JPEG, EdgeNets' 512x256 checkpoint, the wheels gpu_env.sh installs):
#   bash tools/experiments/camvid_gpu.sh prepare [CARRY] [DATA_ROOT] [CKPT]
# There, with CARRY carried beside the clone and OUT a folder that comes back:
#   MMCV_OPS=stub bash tools/experiments/camvid_gpu.sh run CARRY OUT \
#       [camvid_batch.py args, e.g. --budget-s 300 --parallel 6]
#
# `run` installs what is missing (tools/gpu_env.sh), unpacks the data, and
# runs tools/experiments/camvid_batch.py: a probe of the slowest row, then
# the x0.5 rows (LR, DSRL, DSRL paper setting, full resolution) x seeds
# 0-2 with the longest common schedule that fits --budget-s. OUT gets
# records.tar (one recipe record per run), batch.json (probe, plan, exit
# statuses) and logs.tar: few files, as such machines return only a few.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf '[camvid_gpu.sh] %s\n' "$*"; }
ACTION="${1:-}"
[ $# -gt 0 ] && shift
case "$ACTION" in
prepare)
  CARRY="${1:-gpu_carry}"
  DATA="${2:-$ROOT/../shared/datasets/camvid}"
  CKPT="${3:-$ROOT/../shared/pretrained/edgenets/espnetv2_s_2.0_city_512x256.pth}"
  PY="${PYTHON:-python}"
  mkdir -p "$CARRY/wheels"
  [ -f "$CARRY/camvid_q95.tar" ] ||
    "$PY" "$ROOT/tools/dataset_converters/pack_camvid.py" pack "$DATA" \
      "$CARRY/camvid_q95.tar" --quality 95
  cp "$CKPT" "$CARRY/espnetv2_city_512x256.pth"
  "$PY" -m pip download -q --no-deps -d "$CARRY/wheels" \
    'setuptools<70' wheel mmengine==0.10.7 mmsegmentation==1.2.2 addict \
    yapf termcolor prettytable ftfy wcwidth platformdirs
  "$PY" -m pip download -q --no-deps --no-binary :all: -d "$CARRY/wheels" \
    mmcv==2.1.0
  log "wrote $CARRY ($(du -sh "$CARRY" | cut -f1)); carry it beside the clone"
  ;;
run)
  [ $# -ge 2 ] || { log "usage: $0 run CARRY OUT [camvid_batch.py args]"; exit 2; }
  CARRY="$(cd "$1" && pwd)"
  OUT="$(mkdir -p "$2" && cd "$2" && pwd)"
  shift 2
  PY="${PYTHON:-python3}"
  WHEELS="$CARRY/wheels"
  # shellcheck source=../gpu_env.sh
  source "$ROOT/tools/gpu_env.sh"
  DATA=/tmp/camvid_unpacked
  [ -d "$DATA/valannot" ] ||
    "$PY" "$ROOT/tools/dataset_converters/pack_camvid.py" unpack \
      "$CARRY/camvid_q95.tar" "$DATA"
  WORK=/tmp/camvid_batch
  cd "$ROOT"
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
  status=0
  "$PY" tools/experiments/camvid_batch.py --data-root "$DATA" \
    --edgenets-checkpoint "$CARRY/espnetv2_city_512x256.pth" \
    --models espnetv2-lr espnetv2-dsrl espnetv2-dsrl-paper espnetv2-full \
    --seeds 0 1 2 --records "$WORK/records" --work-dir "$WORK" \
    --summary "$OUT/batch.json" "$@" || status=$?
  [ -d "$WORK/records" ] && tar -cf "$OUT/records.tar" -C "$WORK" records
  find "$WORK" -name '*.log' -print0 | tar -cf "$OUT/logs.tar" --null -T -
  exit $status
  ;;
*)
  log "usage: $0 prepare [CARRY] [DATA_ROOT] [CKPT] | run CARRY OUT [args]"
  exit 2
  ;;
esac
