#!/usr/bin/env bash
# Does augmentation help on unseen voices and in noise? Train the same model twice on four FSDD
# speakers (same seed, same epochs), without and with augmentation (speed/gain, noise from
# coloured noise + babble of the training speakers, SpecAugment), then score both on the unseen
# speaker, clean and mixed at 10 dB SNR with noise training never saw (other coloured-noise
# recordings + babble of LibriSpeech talkers).
# Usage: bash benchmarks/augment_fsdd.sh [OUTPUT_DIR] [TEST_SPEAKER]  (defaults: bench_output/augment george)
# AUG_EPOCHS (default 6) sets the budget of each run.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
OUT=$(get_real_path "${1:-bench_output/augment}")
SPEAKER=${2:-george}
EPOCHS=${AUG_EPOCHS:-6}
cd "$DS2_ROOT"
mkdir -p "$OUT"
python -m src.prep.fsdd --fsdd_dir ../shared/data/fsdd --target_dir "$OUT/data" --test_speaker "$SPEAKER"
TRAIN="$OUT/data/fsdd_train_manifest.csv" TEST="$OUT/data/fsdd_test_manifest.csv"
python -m src.tools.noise make --target_dir "$OUT/noise_train" --seed 1 --babble_manifest "$TRAIN"
python -m src.tools.noise make --target_dir "$OUT/noise_test" --seed 2 --babble_dir ../shared/data/librispeech-sample
python -m src.tools.noise mix --manifest "$TEST" --noise_dir "$OUT/noise_test" --snr 10 --target_dir "$OUT/test_snr10"
NOISY="$OUT/test_snr10/fsdd_test_manifest_snr10.csv"
COMMON=(--train_manifest "$TRAIN" --model_size small --epochs "$EPOCHS" --batch_size 16 --learning_rate 2e-3
        --lr_schedule cosine --warmup_steps 100 --pad_multiple 16 --activation hardtanh --rnn_batch_norm true
        --max_static_shapes 12 --keep_checkpoint_max 1 --log_interval 50 --seed 1)
AUG=(--speed_volume_perturb true --spec_augment true --noise_dir "$OUT/noise_train" --noise_prob 0.5
     --noise_min 0.0 --noise_max 0.5)
for run in plain augmented; do
    extra=(); [ "$run" == augmented ] && extra=("${AUG[@]}")
    if [ ! -f "$OUT/$run/train.done" ]; then
        start=$(date +%s)
        python train.py "${COMMON[@]}" "${extra[@]}" --ckpt_path "$OUT/$run" > "$OUT/$run.train.log" 2>&1
        echo $(( $(date +%s) - start )) > "$OUT/$run/train.done"
    fi
    ckpt=$(python -c "import sys; from src.model.checkpoint import latest_checkpoint; print(latest_checkpoint(sys.argv[1], 'DeepSpeech'))" "$OUT/$run")
    for set in clean snr10; do
        manifest=$TEST; [ "$set" == snr10 ] && manifest=$NOISY
        python eval.py --pretrain_ckpt "$ckpt" --test_manifest "$manifest" --verbose false --batch_size 32 \
            --pad_multiple 16 --result_file "$OUT/$run.$set.json" > "$OUT/$run.$set.log" 2>&1
    done
done
echo "FSDD, unseen speaker '$SPEAKER', small model, $EPOCHS epochs each, seed 1"
for run in plain augmented; do
    for set in clean snr10; do
        printf '%-10s %-6s %s  (training %s s)\n' "$run" "$set" "$(grep 'Test Summary' "$OUT/$run.$set.log" | tr '\t' ' ')" \
            "$(cat "$OUT/$run/train.done")"
    done
done
