#!/usr/bin/env bash
# 1 vs 2 msrun workers on this CPU at the same global batch: step time and samples/s.
# Usage: bash benchmarks/distributed_cpu.sh [OUTPUT_DIR] [GLOBAL_BATCH]  (defaults: bench_output/dist 16)
# Trains the small model 2 epochs on 400 FSDD clips each way and reports the second epoch (the
# first includes graph compilation).
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
OUT=$(get_real_path "${1:-bench_output/dist}")
BATCH=${2:-16}
cd "$DS2_ROOT"
mkdir -p "$OUT"
python -m src.prep.fsdd --fsdd_dir ../shared/data/fsdd --target_dir "$OUT/data" --limit_per_speaker 100 >/dev/null
COMMON=(--train_manifest "$OUT/data/fsdd_train_manifest.csv" --model_size small --epochs 2 --pad_multiple 16
        --log_interval 1000 --keep_checkpoint_max 1)
python train.py "${COMMON[@]}" --batch_size "$BATCH" --ckpt_path "$OUT/ckpt1" > "$OUT/one.log" 2>&1
DS2_LOG_DIR="$OUT/logs" bash scripts/run_distribute_train_cpu.sh 2 "${COMMON[@]}" --batch_size $((BATCH / 2)) \
    --ckpt_path "$OUT/ckpt2" > "$OUT/two.log" 2>&1
report() {  # label log: the second epoch's "epoch 2 done in T s (R steps/s, U utterances/s)"
    local line; line=$(grep -m1 '^epoch 2 done in' "$2")
    echo "$1: $line"
}
echo "global batch $BATCH, small model (3 x BiLSTM-256), $(nproc) cores"
report "1 worker  (batch $BATCH)" "$OUT/one.log"
report "2 workers (batch $((BATCH / 2)) each)" "$OUT/logs/distribute_cpu/worker_0.log"
