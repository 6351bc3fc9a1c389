#!/usr/bin/env bash
# Train on the CPU. Config overrides may follow, e.g. --train_manifest data/x.csv --epochs 5
set -euo pipefail
usage() { echo "Usage: bash scripts/run_standalone_train_cpu.sh [PRETRAINED_CKPT] [--config_key value ...]"; }
[ "${1:-}" == "-h" ] || [ "${1:-}" == "--help" ] && { usage; exit 0; }
. "$(dirname "$0")/common.sh"
args=()
if [ $# -gt 0 ] && [ "${1:0:2}" != "--" ]; then
    ckpt=$(get_real_path "$1"); shift
    require_file "$ckpt" "PRETRAINED_CKPT"
    args+=(--pre_trained_model_path "$ckpt")
fi
run_logged "${DS2_LOG_DIR:-$PWD/logs}/train_cpu.log" python "$DS2_ROOT/train.py" --device_target CPU "${args[@]}" "$@"
