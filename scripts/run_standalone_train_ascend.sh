#!/usr/bin/env bash
# Train on one Ascend device. Config overrides may follow the positional arguments.
set -euo pipefail
usage() { echo "Usage: bash scripts/run_standalone_train_ascend.sh [DEVICE_ID] [PRETRAINED_CKPT] [--config_key value ...]"; }
[ "${1:-}" == "-h" ] || [ "${1:-}" == "--help" ] && { usage; exit 0; }
. "$(dirname "$0")/device_launch.sh"
device_train Ascend "$@"
