#!/usr/bin/env bash
# Evaluate a checkpoint on one Ascend device. Config overrides may follow.
set -euo pipefail
usage() { echo "Usage: bash scripts/run_eval_ascend.sh DEVICE_ID CKPT [--config_key value ...]"; }
if [ $# -lt 2 ] || [ "${1:0:1}" == "-" ]; then usage; exit 2; fi
. "$(dirname "$0")/device_launch.sh"
device_eval Ascend "$@"
