#!/usr/bin/env bash
# Real speech, one command: DeepSpeech2 trained on the CPU on Mini LibriSpeech's train-clean-5 (18 speakers,
# 3.5 h), scored on speakers held out of training and on the 50 test-other utterances of 5 other speakers.
#   stage 1  prepare: librispeech.py converts train-clean-5 (1-20 s kept: all of it) and the sample's test-other
#   stage 2  split by speaker: VAL_SPEAKERS validation speakers, half F and half M (SPEAKERS.TXT); with
#            TTS_SENTENCES > 0, that many synthetic utterances of the training transcripts (the TTS voices of
#            src/prep/tts_corpus.py) join the training set
#   stage 3  train; validation every epoch on the held-out speakers keeps checkpoint/DeepSpeech-best.ckpt
#   stage 4  greedy evaluation on the validation speakers (network outputs saved) and on test-other
#   stage 5  a 3-gram LM from the training transcripts only
#   stage 6  alpha/beta tuned on the validation speakers' saved outputs (never on test-other), then beam
#            search + LM on both sets
#   stage 7  curves (plots/), validation WER/CER against training minutes (plots/validation_minutes.png)
#   stage 8  real speech -> spoken digits: the best checkpoint fine-tuned on FSDD's four training speakers
#            for FT_EPOCHS epochs (fixed: the unseen speaker `george` only scores the last one), greedy on george,
#            and beam search with a 2-gram LM of the four speakers' transcripts (stage 6's alpha/beta)
#   stage 9  results.md: the table and the commands that made it (printed)
# A stage's step is skipped when its output exists and is newer than its inputs, so a re-run after an
# interruption continues where it stopped (training with --resume auto). Training re-runs (resuming) when
# its command changed, e.g. a larger EPOCHS; for another split or model use another OUTPUT_DIR.
#
# Usage: bash scripts/run_recipe_mini_librispeech.sh [OUTPUT_DIR]   (default: ./recipe_mini_librispeech)
# Environment (default):
#   data      MINI_LIBRI (../shared/data/mini-librispeech), LIBRI_SAMPLE (../shared/data/librispeech-sample),
#             SPEAKERS_FILE (MINI_LIBRI's SPEAKERS.TXT), MIN_DURATION (1), MAX_DURATION (20)
#   split     VAL_SPEAKERS (4), SPLIT_SEED (0), or VAL_SPEAKER_IDS (e.g. 1898,5789; overrides both),
#             TTS_SENTENCES (0: none; e.g. 800 for each training sentence about once, ~5 min to synthesise)
#   features  N_MELS (0: the zoo's 161 linear bins; e.g. 80 log-mel bands), NORMALIZE (utterance, or band); every
#             train/eval command of the recipe gets them
#   training  MODEL_SIZE (small), ACTIVATION (hardtanh), RNN_BATCH_NORM (true), BATCH (4), PAD_MULTIPLE (512),
#             EPOCHS (14), LR (1e-3), LR_SCHEDULE (cosine), WARMUP_STEPS (100), KEEP_CHECKPOINTS (3),
#             LOG_INTERVAL (20), SEED (1), SORTAGRAD (true), SPEC_AUGMENT (true), SPEED_PERTURB (true: speed
#             and gain), TRAIN_ARGS (more train.py flags, e.g. "--vtlp true"); docs/accuracy.md measures them
#   decoding  EVAL_BATCH (BATCH), LM_ORDER (3), BEAM_WIDTH (128), LM_WORKERS (2), TUNE_STEPS (5),
#             ALPHA_RANGE ("0 3"), BETA_RANGE ("0 3")
#   fine-tune FSDD (../shared/data/fsdd), FT_EPOCHS (24: 12 min), FT_LR (5e-4), FT_BATCH (16), FT_PAD_MULTIPLE (32), FT_AUGMENT (true: speed
#             perturbation + VTLP), FT_TEST_SPEAKER (george), FT_LIMIT (all: recordings per speaker, for quick runs)
#   stages    STAGE (1), STOP_STAGE (9): run only these stages
set -euo pipefail
usage() { echo "Usage: bash scripts/run_recipe_mini_librispeech.sh [OUTPUT_DIR]   (settings: the script's header)"; }
if [ "${1:-}" == "-h" ] || [ "${1:-}" == "--help" ]; then usage; exit 0; fi
first=${1:-}
if [ $# -gt 1 ] || [ "${first:0:1}" == "-" ]; then usage >&2; exit 2; fi
. "$(dirname "$0")/common.sh"
OUT=$(get_real_path "${1:-recipe_mini_librispeech}")
MINI_LIBRI=$(get_real_path "${MINI_LIBRI:-$DS2_ROOT/../shared/data/mini-librispeech}")
LIBRI_SAMPLE=$(get_real_path "${LIBRI_SAMPLE:-$DS2_ROOT/../shared/data/librispeech-sample}")
if [ -z "${SPEAKERS_FILE:-}" ]; then
    SPEAKERS_FILE=$MINI_LIBRI/LibriSpeech/SPEAKERS.TXT
    [ -f "$SPEAKERS_FILE" ] || SPEAKERS_FILE=$MINI_LIBRI/SPEAKERS.TXT  # MINI_LIBRI may be the LibriSpeech folder
fi
SPEAKERS_FILE=$(get_real_path "$SPEAKERS_FILE")
MIN_DURATION=${MIN_DURATION:-1}
MAX_DURATION=${MAX_DURATION:-20}  # the longest train-clean-5 utterance is 17.3 s; 15 would drop 35 % of it
VAL_SPEAKERS=${VAL_SPEAKERS:-4}
SPLIT_SEED=${SPLIT_SEED:-0}
TTS_SENTENCES=${TTS_SENTENCES:-0}
VAL_SPEAKER_IDS=${VAL_SPEAKER_IDS:-}
MODEL_SIZE=${MODEL_SIZE:-small}
ACTIVATION=${ACTIVATION:-hardtanh}
RNN_BATCH_NORM=${RNN_BATCH_NORM:-true}
BATCH=${BATCH:-4}
PAD_MULTIPLE=${PAD_MULTIPLE:-512}
EPOCHS=${EPOCHS:-14}
LR=${LR:-1e-3}
LR_SCHEDULE=${LR_SCHEDULE:-cosine}
WARMUP_STEPS=${WARMUP_STEPS:-100}
KEEP_CHECKPOINTS=${KEEP_CHECKPOINTS:-3}
LOG_INTERVAL=${LOG_INTERVAL:-20}
SEED=${SEED:-1}
SORTAGRAD=${SORTAGRAD:-true}
SPEC_AUGMENT=${SPEC_AUGMENT:-true}
SPEED_PERTURB=${SPEED_PERTURB:-true}
read -r -a TRAIN_EXTRA <<< "${TRAIN_ARGS:-}"
N_MELS=${N_MELS:-0}
NORMALIZE=${NORMALIZE:-utterance}
FEATURE_ARGS=()  # only when not the defaults, so that the commands of earlier runs stay the same
if [ "$N_MELS" != 0 ] || [ "$NORMALIZE" != utterance ]; then FEATURE_ARGS=(--n_mels "$N_MELS" --normalize "$NORMALIZE"); fi
EVAL_BATCH=${EVAL_BATCH:-$BATCH}
LM_ORDER=${LM_ORDER:-3}
BEAM_WIDTH=${BEAM_WIDTH:-128}
LM_WORKERS=${LM_WORKERS:-2}
TUNE_STEPS=${TUNE_STEPS:-5}
read -r -a ALPHAS <<< "${ALPHA_RANGE:-0 3}"
read -r -a BETAS <<< "${BETA_RANGE:-0 3}"
STAGE=${STAGE:-1}
STOP_STAGE=${STOP_STAGE:-9}
FSDD=$(get_real_path "${FSDD:-$DS2_ROOT/../shared/data/fsdd}")
FT_EPOCHS=${FT_EPOCHS:-24}
FT_LR=${FT_LR:-5e-4}
FT_BATCH=${FT_BATCH:-16}
FT_PAD_MULTIPLE=${FT_PAD_MULTIPLE:-32}  # FSDD's clips are 0.14-1.32 s: 5 widths; 160 makes one (one graph to compile)
FT_AUGMENT=${FT_AUGMENT:-true}
FT_TEST_SPEAKER=${FT_TEST_SPEAKER:-george}
FT_LIMIT=${FT_LIMIT:-}

fail() { echo "error: $*" >&2; exit 2; }
[ -d "$MINI_LIBRI" ] || fail "MINI_LIBRI not found: $MINI_LIBRI (the folder holding LibriSpeech/train-clean-5)"
[ -d "$LIBRI_SAMPLE" ] || fail "LIBRI_SAMPLE not found: $LIBRI_SAMPLE (the folder holding LibriSpeech/test-other)"
[ -n "$VAL_SPEAKER_IDS" ] || require_file "$SPEAKERS_FILE" "SPEAKERS_FILE (LibriSpeech's SPEAKERS.TXT: who is F or M)"
[ "${#ALPHAS[@]}" -eq 2 ] && [ "${#BETAS[@]}" -eq 2 ] || fail "ALPHA_RANGE and BETA_RANGE are 'LOW HIGH'"
[[ "$STAGE" =~ ^[1-9]$ && "$STOP_STAGE" =~ ^[1-9]$ ]] || fail "STAGE and STOP_STAGE are 1..9"
[[ "$TTS_SENTENCES" =~ ^[0-9]+$ ]] || fail "TTS_SENTENCES is a number of utterances, got '$TTS_SENTENCES'"

DATA=$OUT/data
TRAIN_ALL=$DATA/libri_train_manifest.csv
TEST=$DATA/libri_test_other_manifest.csv
SPLIT=$OUT/split
TRAIN=$SPLIT/train_manifest.csv  # the real training speakers; with TTS_SENTENCES, training also hears TTS voices
[ "$TTS_SENTENCES" -eq 0 ] || TRAIN=$SPLIT/train_tts${TTS_SENTENCES}_manifest.csv
CKPT_DIR=$OUT/checkpoint
BEST=$CKPT_DIR/DeepSpeech-best.ckpt
EVAL=$OUT/eval
LM=$OUT/lm/train_${LM_ORDER}gram.arpa
mkdir -p "$OUT/logs" "$OUT/commands" "$EVAL" "$(dirname "$LM")"  # eval.py and build_lm write into existing folders
cd "$DS2_ROOT"
export DS2_LOG_DIR="$OUT/logs"

# stage N TITLE: true (and the title printed) when stage N is within STAGE..STOP_STAGE
stage() {
    [ "$1" -ge "$STAGE" ] && [ "$1" -le "$STOP_STAGE" ] || return 1
    echo "stage $1: $2"
}

# needed OUTPUT INPUT...: false (and "skipped" printed) when OUTPUT exists and is newer than every INPUT
needed() {
    local out=$1 input; shift
    if [ -s "$out" ]; then
        for input in "$@"; do
            require_file "$input" "input of $out (from an earlier stage)"
            [ "$out" -nt "$input" ] || return 0
        done
        echo "  $out is up to date, skipped"
        return 1
    fi
    for input in "$@"; do require_file "$input" "input of $out (from an earlier stage)"; done
}

# run NAME CMD...: run CMD from the project folder, logged to logs/NAME.log; commands/NAME.sh keeps it
run() {
    local name=$1; shift
    printf '%q ' "$@" | sed 's/ $/\n/' > "$OUT/commands/$name.sh"
    run_logged "$OUT/logs/$name.log" "$@"
}

# tuned_alpha_beta: "ALPHA BETA", the best on the validation speakers (stage 6's eval/tune.json)
tuned_alpha_beta() {
    python -c 'import json, sys; b = json.load(open(sys.argv[1]))["best"]; print(b["alpha"], b["beta"])' "$EVAL/tune.json"
}

EVAL_ARGS=(--pretrain_ckpt "$BEST" --device_target CPU --batch_size "$EVAL_BATCH" --pad_multiple "$PAD_MULTIPLE"
           --verbose false ${FEATURE_ARGS[@]+"${FEATURE_ARGS[@]}"})
BEAM_ARGS=(--decoder_type beam --lm_path "$LM" --beam_width "$BEAM_WIDTH" --lm_workers "$LM_WORKERS")

if stage 1 "prepare train-clean-5 from $MINI_LIBRI and test-other from $LIBRI_SAMPLE into $DATA"; then
    if needed "$TRAIN_ALL"; then
        run prepare_train python librispeech.py --libri-root "$MINI_LIBRI" --files-to-use train-clean-5 \
            --target-dir "$DATA" --min-duration "$MIN_DURATION" --max-duration "$MAX_DURATION"
    fi
    if needed "$TEST"; then
        run prepare_test python librispeech.py --libri-root "$LIBRI_SAMPLE" --files-to-use test-other \
            --target-dir "$DATA"
    fi
fi

if stage 2 "split the training speakers: ${VAL_SPEAKER_IDS:-$VAL_SPEAKERS balanced by sex} for validation"; then
    if [ -n "$VAL_SPEAKER_IDS" ]; then which=(--val-speaker-ids "$VAL_SPEAKER_IDS")
    else which=(--val-speakers "$VAL_SPEAKERS" --seed "$SPLIT_SEED" --speakers-file "$SPEAKERS_FILE"); fi
    if needed "$SPLIT/val_manifest.csv" "$TRAIN_ALL"; then  # written after train_manifest.csv
        run split python -m src.prep.speaker_split --manifest "$TRAIN_ALL" --out "$SPLIT" "${which[@]}"
    fi
    if [ "$TTS_SENTENCES" -gt 0 ] && needed "$TRAIN" "$SPLIT/train_manifest.csv"; then
        run tts python -m src.prep.tts_corpus --target_dir "$OUT/tts" --n_train "$TTS_SENTENCES" --n_test 1 \
            --texts_from "$SPLIT/train_manifest.csv" --join "$SPLIT/train_manifest.csv" --joined_manifest "$TRAIN" \
            --max_duration "$MAX_DURATION"
    fi
fi

TRAIN_CMD=(python train.py --device_target CPU --train_manifest "$TRAIN"
           --val_manifest "$SPLIT/val_manifest.csv" --model_size "$MODEL_SIZE" --activation "$ACTIVATION"
           --rnn_batch_norm "$RNN_BATCH_NORM" --batch_size "$BATCH" --pad_multiple "$PAD_MULTIPLE" --epochs "$EPOCHS"
           --learning_rate "$LR" --lr_schedule "$LR_SCHEDULE" --warmup_steps "$WARMUP_STEPS"
           --feature_cache_dir "$OUT/cache" --keep_checkpoint_max "$KEEP_CHECKPOINTS" --log_interval "$LOG_INTERVAL"
           --seed "$SEED" --sortagrad "$SORTAGRAD" --spec_augment "$SPEC_AUGMENT"
           --speed_volume_perturb "$SPEED_PERTURB" --ckpt_path "$CKPT_DIR" --resume auto
           ${FEATURE_ARGS[@]+"${FEATURE_ARGS[@]}"} "${TRAIN_EXTRA[@]}")
if stage 3 "train a '$MODEL_SIZE' model for $EPOCHS epoch(s) on the CPU, validating on the held-out speakers"; then
    # train.done holds the command that finished: the same command again is skipped, another one resumes
    if [ "$(cat "$OUT/train.done" 2>/dev/null)" != "$(printf '%q ' "${TRAIN_CMD[@]}")" ] \
            || needed "$OUT/train.done" "$TRAIN" "$SPLIT/val_manifest.csv"; then
        rm -f "$OUT/train.done"
        run train "${TRAIN_CMD[@]}"
        require_file "$BEST" "the best checkpoint (train.py validates every epoch)"
        printf '%q ' "${TRAIN_CMD[@]}" > "$OUT/train.done"
    fi
fi

if stage 4 "greedy evaluation of $BEST"; then
    if needed "$EVAL/greedy_val.json" "$BEST"; then  # also writes val_output.bin for stage 6
        run greedy_val python eval.py "${EVAL_ARGS[@]}" --test_manifest "$SPLIT/val_manifest.csv" \
            --save_output "$EVAL/val_output" --result_file "$EVAL/greedy_val.json"
    fi
    if needed "$EVAL/greedy_test_other.json" "$BEST"; then
        run greedy_test_other python eval.py "${EVAL_ARGS[@]}" --test_manifest "$TEST" \
            --result_file "$EVAL/greedy_test_other.json"
    fi
fi

if stage 5 "a ${LM_ORDER}-gram LM from the training transcripts"; then
    if needed "$LM" "$SPLIT/train_manifest.csv"; then
        run lm python -m src.tools.build_lm --manifest "$SPLIT/train_manifest.csv" --order "$LM_ORDER" --out "$LM"
    fi
fi

if stage 6 "alpha/beta on the validation speakers, then beam search + LM"; then
    if needed "$EVAL/tune.json" "$EVAL/greedy_val.json" "$LM"; then
        run tune python -m src.tools.tune_decoder --saved_output "$EVAL/val_output.bin" --lm_path "$LM" \
            --alpha_range "${ALPHAS[@]}" --beta_range "${BETAS[@]}" --steps "$TUNE_STEPS" \
            --beam_width "$BEAM_WIDTH" --lm_workers "$LM_WORKERS" --result_file "$EVAL/tune.json"
    fi
    read -r ALPHA BETA <<< "$(tuned_alpha_beta)"
    echo "  alpha $ALPHA, beta $BETA (best WER on the validation speakers)"
    if needed "$EVAL/beam_val.json" "$BEST" "$EVAL/tune.json"; then
        run beam_val python eval.py "${EVAL_ARGS[@]}" "${BEAM_ARGS[@]}" --alpha "$ALPHA" --beta "$BETA" \
            --test_manifest "$SPLIT/val_manifest.csv" --result_file "$EVAL/beam_val.json"
    fi
    if needed "$EVAL/beam_test_other.json" "$BEST" "$EVAL/tune.json"; then
        run beam_test_other python eval.py "${EVAL_ARGS[@]}" "${BEAM_ARGS[@]}" --alpha "$ALPHA" --beta "$BETA" \
            --test_manifest "$TEST" --result_file "$EVAL/beam_test_other.json"
    fi
fi

if stage 7 "training curves in $OUT/plots"; then
    if needed "$OUT/plots/validation_minutes.png" "$CKPT_DIR/run/metrics.jsonl"; then
        run plots python -m src.tools.plot_runs "$CKPT_DIR/run" --out "$OUT/plots" --labels "$MODEL_SIZE" --val_minutes
    fi
fi

FT_DIR=$OUT/fsdd_finetune
FT_LM=$FT_DIR/lm/fsdd_2gram.arpa
FT_CMD=(python train.py --device_target CPU --train_manifest "$FT_DIR/data/fsdd_train_manifest.csv"
        --pre_trained_model_path "$BEST" --model_size "$MODEL_SIZE" --activation "$ACTIVATION"
        --rnn_batch_norm "$RNN_BATCH_NORM" --batch_size "$FT_BATCH" --epochs "$FT_EPOCHS" --learning_rate "$FT_LR"
        --lr_schedule cosine --warmup_steps 50 --pad_multiple "$FT_PAD_MULTIPLE" --max_static_shapes 16
        --speed_volume_perturb "$FT_AUGMENT" --vtlp "$FT_AUGMENT" --keep_checkpoint_max 1 --log_interval 50
        --seed "$SEED" --ckpt_path "$FT_DIR/checkpoint" ${FEATURE_ARGS[@]+"${FEATURE_ARGS[@]}"})
if stage 8 "fine-tune on FSDD's training speakers for $FT_EPOCHS epoch(s), score the unseen '$FT_TEST_SPEAKER'"; then
    [ -d "$FSDD" ] || fail "FSDD not found: $FSDD (the Free Spoken Digit Dataset's recordings)"
    if needed "$FT_DIR/data/fsdd_test_manifest.csv"; then
        run fsdd_prepare python -m src.prep.fsdd --fsdd_dir "$FSDD" --target_dir "$FT_DIR/data" \
            --test_speaker "$FT_TEST_SPEAKER" ${FT_LIMIT:+--limit_per_speaker "$FT_LIMIT"}
    fi
    if needed "$FT_DIR/train_seconds" "$BEST" "$FT_DIR/data/fsdd_train_manifest.csv"; then
        rm -rf "$FT_DIR/checkpoint"  # a fine-tune starts from the best checkpoint, never from an older fine-tune
        start=$(date +%s)
        run fsdd_finetune "${FT_CMD[@]}"
        echo $(( $(date +%s) - start )) > "$FT_DIR/train_seconds"
    fi
    ft_ckpt=$(python -c "import sys; from src.model.checkpoint import latest_checkpoint; print(latest_checkpoint(sys.argv[1], 'DeepSpeech'))" \
        "$FT_DIR/checkpoint")
    FT_EVAL=(python eval.py --pretrain_ckpt "$ft_ckpt" --device_target CPU --batch_size 32 --pad_multiple "$FT_PAD_MULTIPLE"
             --verbose false --test_manifest "$FT_DIR/data/fsdd_test_manifest.csv" ${FEATURE_ARGS[@]+"${FEATURE_ARGS[@]}"})
    if needed "$EVAL/fsdd_${FT_TEST_SPEAKER}.json" "$FT_DIR/train_seconds"; then
        run fsdd_eval "${FT_EVAL[@]}" --result_file "$EVAL/fsdd_${FT_TEST_SPEAKER}.json"
    fi
    # the digits' own LM, from the training speakers' transcripts; alpha/beta are the validation speakers' (stage 6)
    if needed "$FT_LM" "$FT_DIR/data/fsdd_train_manifest.csv"; then
        mkdir -p "$(dirname "$FT_LM")"
        run fsdd_lm python -m src.tools.build_lm --manifest "$FT_DIR/data/fsdd_train_manifest.csv" --order 2 \
            --out "$FT_LM"
    fi
    if needed "$EVAL/fsdd_${FT_TEST_SPEAKER}_beam.json" "$FT_DIR/train_seconds" "$FT_LM" "$EVAL/tune.json"; then
        read -r ALPHA BETA <<< "$(tuned_alpha_beta)"
        run fsdd_beam_eval "${FT_EVAL[@]}" --decoder_type beam --lm_path "$FT_LM" --beam_width "$BEAM_WIDTH" \
            --lm_workers "$LM_WORKERS" --alpha "$ALPHA" --beta "$BETA" \
            --result_file "$EVAL/fsdd_${FT_TEST_SPEAKER}_beam.json"
    fi
fi

if stage 9 "results table $OUT/results.md"; then
    for f in greedy_val greedy_test_other beam_val beam_test_other tune "fsdd_$FT_TEST_SPEAKER" \
            "fsdd_${FT_TEST_SPEAKER}_beam"; do
        require_file "$EVAL/$f.json" "$f results (stages 4, 6 and 8)"
    done
    python - "$OUT" "$DS2_ROOT" "$SPEAKERS_FILE" "$FT_TEST_SPEAKER" "$FT_EPOCHS" "$TRAIN" <<'EOF'
"""results.md from the recipe's outputs: error rates, the split, training minutes, the commands."""
import json, os, sys
from src.common.files import atomic_write_text
from src.data.manifest import read_manifest
from src.prep.speaker_split import read_speakers_file, speaker_of
from src.tools.plot_runs import training_minutes
from src.training.run_log import read_records

out, root, speakers_file, ft_speaker, ft_epochs, trained_on = sys.argv[1:]
STEPS = ("prepare_train", "prepare_test", "split", "tts", "train", "greedy_val", "greedy_test_other", "lm", "tune",
         "beam_val", "beam_test_other", "plots", "fsdd_prepare", "fsdd_finetune", "fsdd_eval", "fsdd_lm",
         "fsdd_beam_eval")


def results(name):
    with open(os.path.join(out, "eval", name + ".json"), encoding="utf-8") as fh:
        return json.load(fh)


def speakers(manifest):
    return sorted({speaker_of(e) for e in read_manifest(os.path.join(out, manifest))}, key=int)


tune = results("tune")["best"]
sexes = read_speakers_file(speakers_file) if os.path.isfile(speakers_file) else {}
val, train = speakers("split/val_manifest.csv"), speakers("split/train_manifest.csv")
test = speakers("data/libri_test_other_manifest.csv")
records = read_records(os.path.join(out, "checkpoint", "run", "metrics.jsonl"))
epochs = [dict(r, minutes=m) for r, m in zip([r for r in records if r["kind"] == "val"], training_minutes(records))]
synthetic = len(read_manifest(trained_on)) - len(read_manifest(os.path.join(out, "split", "train_manifest.csv")))
tts = f" Training also heard {synthetic} synthetic utterances (TTS voices) of the training sentences." if synthetic else ""
best = min(epochs, key=lambda r: r["wer"])  # the first of equals, as the trainer keeps it
lines = ["# Mini LibriSpeech recipe: results", "",
         f"Trained on {len(train)} speakers of train-clean-5; validated on {len(val)} others "
         f"({', '.join(s + ' ' + sexes.get(s, '?') for s in val)}), which choose the checkpoint and alpha/beta; "
         f"test-other (the LibriSpeech sample: {len(test)} other speakers) is only scored.{tts}", "",
         "| set | utterances | decoding | WER % | CER % |", "| --- | --- | --- | --- | --- |"]
for name, label in (("val", "validation speakers"), ("test_other", "test-other sample")):
    for kind in ("greedy", "beam"):
        r = results(f"{kind}_{name}")
        how = "greedy" if kind == "greedy" else f"beam + LM (alpha {tune['alpha']:g}, beta {tune['beta']:g})"
        lines.append(f"| {label} | {r['utterances']} | {how} | {r['wer']:.1f} | {r['cer']:.1f} |")
ft = results(f"fsdd_{ft_speaker}")
ft_minutes = int(open(os.path.join(out, "fsdd_finetune", "train_seconds")).read()) / 60
lines.append(f"| FSDD unseen speaker {ft_speaker} (fine-tuned {ft_epochs} epochs on the 4 others, "
             f"{ft_minutes:.1f} min wall clock) | {ft['utterances']} | greedy | {ft['wer']:.1f} | {ft['cer']:.1f} |")
ft = results(f"fsdd_{ft_speaker}_beam")
lines.append(f"| FSDD unseen speaker {ft_speaker} (same model) | {ft['utterances']} | beam + 2-gram LM of the 4 others' "
             f"transcripts (alpha {tune['alpha']:g}, beta {tune['beta']:g}) | {ft['wer']:.1f} | {ft['cer']:.1f} |")
lines += ["", f"Training: {epochs[-1]['epoch']} epoch(s) in {epochs[-1]['minutes']:.1f} minutes (summed step times, "
          f"validation excluded); the best checkpoint is epoch {best['epoch']}, after {best['minutes']:.1f} minutes "
          f"(validation WER {best['wer']:.1f} %, CER {best['cer']:.1f} %). Curves: plots/validation_minutes.png, "
          "plots/overview.png.", "", "Commands:", "", "```bash", f"cd {root}"]
for name in STEPS:
    path = os.path.join(out, "commands", name + ".sh")
    lines.append(open(path, encoding="utf-8").read().strip() if os.path.isfile(path) else f"# {name}: not run")
atomic_write_text(os.path.join(out, "results.md"), "\n".join(lines + ["```", ""]))
EOF
    echo
    cat "$OUT/results.md"
fi
