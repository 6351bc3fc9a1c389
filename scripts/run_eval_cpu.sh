#!/usr/bin/env bash
# Evaluate a checkpoint on the CPU. Config overrides may follow, e.g. --test_manifest data/x.csv
set -euo pipefail
usage() { echo "Usage: bash scripts/run_eval_cpu.sh CKPT [--config_key value ...]"; }
if [ $# -lt 1 ] || [ "${1:0:1}" == "-" ]; then usage; exit 2; fi
. "$(dirname "$0")/common.sh"
ckpt=$(get_real_path "$1"); shift
require_file "$ckpt" "CKPT"
run_logged "${DS2_LOG_DIR:-$PWD/logs}/eval_cpu.log" python "$DS2_ROOT/eval.py" --device_target CPU --pretrain_ckpt "$ckpt" "$@"
