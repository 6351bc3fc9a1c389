#!/usr/bin/env bash
# Learning on real speech: train on four FSDD speakers, report WER on the fifth (unseen) one.
# Usage: bash benchmarks/learn_fsdd.sh [OUTPUT_DIR] [TEST_SPEAKER]   (defaults: bench_output/fsdd george)
# Prints the wall-clock training time and the unseen speaker's WER/CER.
# The four real speakers are joined by FSDD_TTS (default 3000) synthetic utterances of 59 TTS
# voices at FSDD's bandwidth, and training uses speed perturbation + VTLP: more voices is what
# generalises to a new one. FSDD_TTS=0 FSDD_AUGMENT=false gives the plain four-speaker run.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
OUT=$(get_real_path "${1:-bench_output/fsdd}")
SPEAKER=${2:-george}
EPOCHS=${FSDD_EPOCHS:-5}
TTS=${FSDD_TTS:-3000}
AUGMENT=${FSDD_AUGMENT:-true}
cd "$DS2_ROOT"
mkdir -p "$OUT"
python -m src.prep.fsdd --fsdd_dir ../shared/data/fsdd --target_dir "$OUT/data" --test_speaker "$SPEAKER" --add_tts "$TTS"
if [ "$TTS" -gt 0 ]; then TRAIN="$OUT/data/fsdd_tts_train_manifest.csv"; else TRAIN="$OUT/data/fsdd_train_manifest.csv"; fi
start=$(date +%s)
python train.py --train_manifest "$TRAIN" --model_size small --epochs "$EPOCHS" \
    --batch_size 16 --learning_rate 2e-3 --lr_schedule cosine --warmup_steps 100 --pad_multiple 32 \
    --max_static_shapes 16 --speed_volume_perturb "$AUGMENT" --vtlp "$AUGMENT" \
    --activation hardtanh --rnn_batch_norm true --ckpt_path "$OUT/checkpoint" --keep_checkpoint_max 1 --log_interval 50 \
    | tee "$OUT/train.log"
train_seconds=$(( $(date +%s) - start ))
CKPT=$(python -c "import sys; from src.model.checkpoint import latest_checkpoint; print(latest_checkpoint(sys.argv[1], 'DeepSpeech'))" "$OUT/checkpoint")
python eval.py --pretrain_ckpt "$CKPT" --test_manifest "$OUT/data/fsdd_test_manifest.csv" --verbose false \
    --batch_size 32 --pad_multiple 32 --result_file "$OUT/eval_result.json" | tee "$OUT/eval.log"
echo "FSDD unseen speaker '$SPEAKER': $(grep 'Test Summary' "$OUT/eval.log" | tr '\t' ' ')  training wall time ${train_seconds} s"
