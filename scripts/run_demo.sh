#!/usr/bin/env bash
# The main job on the embedded default corpus, no download and no user data:
#   1. synthesise a spoken-digit corpus with Debian TTS voices (espeak-ng, flite), split by voice
#   2. train a small DeepSpeech2 on the CPU for a few minutes
#   3. evaluate it on the held-out voices (voices never heard in training)
#   4. export the inference network to MINDIR and check it against the checkpoint
# Usage: bash scripts/run_demo.sh [OUTPUT_DIR]   (default: ./demo_output)
# Tunables (environment): DEMO_EPOCHS, DEMO_N_TRAIN, DEMO_N_TEST, DEMO_MODEL_SIZE.
set -euo pipefail
. "$(dirname "$0")/common.sh"
OUT=$(get_real_path "${1:-demo_output}")
EPOCHS=${DEMO_EPOCHS:-8}
N_TRAIN=${DEMO_N_TRAIN:-1500}
N_TEST=${DEMO_N_TEST:-200}
SIZE=${DEMO_MODEL_SIZE:-small}
mkdir -p "$OUT"
cd "$DS2_ROOT"
export DS2_LOG_DIR="$OUT/logs"

echo "== 1/4 corpus: $N_TRAIN training + $N_TEST test utterances in $OUT/data"
run_logged "$OUT/logs/corpus.log" python -m src.prep.tts_corpus --target_dir "$OUT/data" --n_train "$N_TRAIN" --n_test "$N_TEST"

echo "== 2/4 training a '$SIZE' model for $EPOCHS epochs"
run_logged "$OUT/logs/train.log" python train.py --model_size "$SIZE" \
    --train_manifest "$OUT/data/tts_train_manifest.csv" --epochs "$EPOCHS" --batch_size 16 \
    --learning_rate 1e-3 --lr_schedule cosine --warmup_steps 100 --pad_multiple 32 \
    --activation hardtanh --rnn_batch_norm true \
    --ckpt_path "$OUT/checkpoint" --keep_checkpoint_max 2 --log_interval 20
CKPT=$(python -c "import sys; from src.model.checkpoint import latest_checkpoint; print(latest_checkpoint(sys.argv[1], 'DeepSpeech'))" "$OUT/checkpoint")

echo "== 3/4 evaluating $CKPT on unseen voices"
run_logged "$OUT/logs/eval.log" python eval.py --pretrain_ckpt "$CKPT" \
    --test_manifest "$OUT/data/tts_test_manifest.csv" --batch_size 16 --pad_multiple 32 \
    --result_file "$OUT/eval_result.json"

echo "== 4/4 exporting"
run_logged "$OUT/logs/export.log" python export.py --pre_trained_model_path "$CKPT" --input_frames 400
MINDIR="${CKPT%.ckpt}.mindir"
python -m src.tools.check_export --ckpt "$CKPT" --mindir "$MINDIR" --input_frames 400

echo
echo "done. Everything is in $OUT:"
echo "  corpus       $OUT/data (tts_train_manifest.csv, tts_test_manifest.csv)"
echo "  checkpoint   $CKPT"
echo "  eval         $OUT/eval_result.json  ($(grep -m1 'Test Summary' "$OUT/logs/eval.log" | tr '\t' ' '))"
echo "  MINDIR       $MINDIR"
echo "  logs         $OUT/logs"
