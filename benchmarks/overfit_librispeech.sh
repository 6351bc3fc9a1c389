#!/usr/bin/env bash
# Overfit check on real continuous speech: train on the 50 LibriSpeech test-other utterances of
# ../shared/data/librispeech-sample and decode the same utterances. A greedy CER well under 10 %
# shows that features, lengths, CTC and decoding agree on real speech (it says nothing about
# generalisation: 6 minutes of audio cannot teach English). Time is padded to multiples of 512
# frames: five graph shapes for 1-23 s utterances (each static shape holds its own memory).
# Usage: bash benchmarks/overfit_librispeech.sh [OUTPUT_DIR]   (default: bench_output/overfit)
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
OUT=$(get_real_path "${1:-bench_output/overfit}")
EPOCHS=${OVERFIT_EPOCHS:-70}
cd "$DS2_ROOT"
mkdir -p "$OUT"
python librispeech.py --libri-root ../shared/data/librispeech-sample/LibriSpeech --target-dir "$OUT/data"
MANIFEST="$OUT/data/libri_test_other_manifest.csv"
start=$(date +%s)
python train.py --train_manifest "$MANIFEST" --model_size small --epochs "$EPOCHS" --batch_size 4 \
    --learning_rate 2e-3 --lr_schedule cosine --warmup_steps 50 --weight_decay 0 \
    --activation hardtanh --rnn_batch_norm true --pad_multiple 512 \
    --ckpt_path "$OUT/checkpoint" --keep_checkpoint_max 1 --log_interval 13 | tee "$OUT/train.log"
train_seconds=$(( $(date +%s) - start ))
CKPT=$(python -c "import sys; from src.model.checkpoint import latest_checkpoint; print(latest_checkpoint(sys.argv[1], 'DeepSpeech'))" "$OUT/checkpoint")
python eval.py --pretrain_ckpt "$CKPT" --test_manifest "$MANIFEST" --batch_size 4 --pad_multiple 512 \
    --result_file "$OUT/eval_result.json" | tee "$OUT/eval.log"
echo "LibriSpeech sample overfit (train = test, 50 utterances): $(grep 'Test Summary' "$OUT/eval.log" | tr '\t' ' ')  training wall time ${train_seconds} s"
