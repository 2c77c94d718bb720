#!/usr/bin/env bash
# Set up the environment (idempotent; first run builds mmcv, ~15 min) and run
# the test suite. Extra arguments go to pytest, e.g. `-k affinity`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
exec .venv/bin/python -m pytest tests "$@"
