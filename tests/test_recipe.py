"""The Mini LibriSpeech recipe end to end on four real speakers: every stage's output, the results table,
and a re-run that skips every stage's work."""
import glob
import os
import re
import subprocess

import pytest

from src.data.manifest import read_manifest
from tests.helpers import LIBRI, ROOT
from tests.prep.test_speaker_split import MINI, libri_subset

SCRIPT = os.path.join(ROOT, "scripts", "run_recipe_mini_librispeech.sh")
# few padded widths (each costs a graph compile of ~10 s per process): 3 for <= 8 s of LibriSpeech, 1 for FSDD
TINY = {"MODEL_SIZE": "tiny", "EPOCHS": "1", "BATCH": "4", "PAD_MULTIPLE": "256", "FT_PAD_MULTIPLE": "160",
        "LOG_INTERVAL": "1",
        "WARMUP_STEPS": "0", "VAL_SPEAKERS": "2", "MAX_DURATION": "8", "BEAM_WIDTH": "8", "TUNE_STEPS": "2",
        "LM_WORKERS": "1", "FT_EPOCHS": "1", "FT_LIMIT": "10", "TTS_SENTENCES": "3",
        "N_MELS": "40", "NORMALIZE": "band"}  # other features than the zoo's: every stage must pass them on


def recipe(*args, **env):
    return subprocess.run(["bash", SCRIPT, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


def words_of(manifest):
    return {w for e in read_manifest(manifest) for w in open(e.txt_path, encoding="utf-8").read().split()}


@pytest.mark.skipif(not os.path.isdir(MINI), reason="Mini LibriSpeech not present")
def test_recipe_runs_every_stage_and_a_rerun_skips_them(tmp_path):
    env = {**TINY,
           "MINI_LIBRI": libri_subset(tmp_path / "mini", os.path.join(MINI, "train-clean-5"),
                                      ("669", "7859", "118", "2136"), 4),
           "LIBRI_SAMPLE": libri_subset(tmp_path / "sample", os.path.join(LIBRI, "test-other"), ("367", "1688"), 2)}
    out = tmp_path / "out"
    first = recipe(str(out), **env)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-3000:]
    assert [int(n) for n in re.findall(r"^stage (\d): ", first.stdout, re.M)] == list(range(1, 10))
    for path in ("data/libri_train_manifest.csv", "data/libri_test_other_manifest.csv", "split/train_manifest.csv",
                 "split/train_tts3_manifest.csv",
                 "split/val_manifest.csv", "checkpoint/DeepSpeech-best.ckpt", "checkpoint/run/metrics.jsonl",
                 "eval/greedy_val.json", "eval/val_output.bin", "eval/greedy_test_other.json", "lm/train_3gram.arpa",
                 "eval/tune.json", "eval/beam_val.json", "eval/beam_test_other.json", "plots/overview.png",
                 "plots/validation_minutes.png", "fsdd_finetune/data/fsdd_train_manifest.csv",
                 "fsdd_finetune/train_seconds", "eval/fsdd_george.json", "fsdd_finetune/lm/fsdd_2gram.arpa",
                 "eval/fsdd_george_beam.json", "results.md"):
        assert os.path.getsize(out / path) > 0, path

    # the table: four rows, the utterance counts of the two sets; tuned on the validation outputs
    results = (out / "results.md").read_text()
    rows = re.findall(r"^\| (validation speakers|test-other sample) \| (\d+) \| (greedy|beam \+ LM \(alpha "
                      r"[\d.]+, beta [\d.]+\)) \| [\d.]+ \| [\d.]+ \|$", results, re.M)
    val_n, test_n = (len(read_manifest(str(out / p))) for p in ("split/val_manifest.csv",
                                                                "data/libri_test_other_manifest.csv"))
    assert [(s, int(n), d.split()[0]) for s, n, d in rows] == [
        ("validation speakers", val_n, "greedy"), ("validation speakers", val_n, "beam"),
        ("test-other sample", test_n, "greedy"), ("test-other sample", test_n, "beam")] and test_n == 4
    # the fine-tune scores george, whom it never trained on, with the last epoch's checkpoint
    ft = re.findall(r"^\| FSDD unseen speaker george \(fine-tuned 1 epochs on the 4 others, [\d.]+ min wall clock\) "
                    r"\| (\d+) \| greedy \| [\d.]+ \| [\d.]+ \|$", results, re.M)
    beam = re.findall(r"^\| FSDD unseen speaker george \(same model\) \| (\d+) \| beam \+ 2-gram LM of the 4 others' "
                      r"transcripts \(alpha [\d.]+, beta [\d.]+\) \| [\d.]+ \| [\d.]+ \|$", results, re.M)
    assert beam == ["10"] and "--lm_path " + str(out / "fsdd_finetune" / "lm" / "fsdd_2gram.arpa") in results
    assert ft == ["10"] and "--pre_trained_model_path " + str(out / "checkpoint" / "DeepSpeech-best.ckpt") in results
    assert not {e.wav_path for e in read_manifest(str(out / "fsdd_finetune" / "data" / "fsdd_train_manifest.csv"))
                if "george" in os.path.basename(e.wav_path)}
    assert '"saved_output": "' + str(out / "eval" / "val_output.bin") in (out / "eval" / "tune.json").read_text()
    assert "--sortagrad true --spec_augment true --speed_volume_perturb true" in results  # the measured defaults
    # the features reached training, the fine-tune and every evaluation (each refuses other features)
    commands = [line for line in results.splitlines() if "train.py " in line or "eval.py " in line]
    assert len(commands) >= 4 and all("--n_mels 40 --normalize band" in line for line in commands)
    assert "features: 40 log-mel bands, normalised per band" in (out / "logs" / "train.log").read_text()
    # training heard the real training speakers and 3 TTS utterances of their sentences (max 8 s: some may be left out)
    real, trained = (read_manifest(str(out / "split" / p)) for p in ("train_manifest.csv", "train_tts3_manifest.csv"))
    synthetic = [e for e in trained if os.path.dirname(e.wav_path) == str(out / "tts" / "tts_train" / "wav")]
    assert {e.wav_path for e in real} | {e.wav_path for e in synthetic} == {e.wav_path for e in trained}
    said = lambda entries: {" ".join(open(e.txt_path, encoding="utf-8").read().split()) for e in entries}  # noqa: E731
    assert synthetic and said(synthetic) <= said(real)
    assert "--train_manifest " + str(out / "split" / "train_tts3_manifest.csv") in results
    assert f"Training also heard {len(synthetic)} synthetic utterances (TTS voices) of the training sentences." in results
    assert "--resume auto" in results and "--val_manifest " + str(out / "split" / "val_manifest.csv") in results
    assert results in first.stdout and "epoch(s) in " in results
    # the LM knows only the training speakers' words
    lm_words = {line.split("\t")[1] for line in open(out / "lm" / "train_3gram.arpa")
                if line.count("\t") >= 1 and line.split("\t")[1].isupper() and " " not in line.split("\t")[1]}
    train_words = words_of(str(out / "split" / "train_manifest.csv"))
    assert lm_words <= train_words and words_of(str(out / "split" / "val_manifest.csv")) - train_words

    # a re-run redoes nothing but the table
    logs = {p: open(p).read() for p in glob.glob(str(out / "logs" / "*.log"))}
    second = recipe(str(out), **env)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-3000:]
    assert second.stdout.count("is up to date, skipped") == 17 and "log: " not in second.stdout  # no step ran
    assert {p: open(p).read() for p in glob.glob(str(out / "logs" / "*.log"))} == logs
    assert (out / "results.md").read_text() == results


def test_usage_and_missing_data_are_one_line(tmp_path):
    extra = recipe("a", "b")
    assert extra.returncode == 2 and extra.stderr.startswith("Usage: bash scripts/run_recipe_mini_librispeech.sh")
    missing = recipe(str(tmp_path / "out"), MINI_LIBRI=str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and f"error: MINI_LIBRI not found: {tmp_path / 'nowhere'}" in missing.stderr
    assert not os.path.exists(tmp_path / "out")
