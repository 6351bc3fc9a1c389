#!/usr/bin/env bash
# Data-parallel training on CPU with msrun (multi-node and other options: scripts/distribute_launch.sh).
set -euo pipefail
usage() { echo "Usage: bash scripts/run_distribute_train_cpu.sh [WORKERS (default 2)] [PRETRAINED_CKPT] [--config_key value ...]"; }
[ "${1:-}" == "-h" ] || [ "${1:-}" == "--help" ] && { usage; exit 0; }
. "$(dirname "$0")/distribute_launch.sh"
distribute_train CPU "$@"
