"""transcribe.py end to end (subprocesses) on real recordings, with a seeded random-weight tiny model.

An untrained network emits a different character at nearly every frame, so every recording
yields many words: their times, the chunking and the MINDIR path are checked on real CTC
alignments without spending minutes on training. Recognition quality is eval.py's business.
"""
import glob
import json
import os
import subprocess

import pytest
import soundfile

from src.decoding.ngram_lm import estimate, write_arpa
from tests.helpers import FSDD, LIBRI, random_checkpoint, run_script

FLACS = sorted(glob.glob(os.path.join(LIBRI, "test-other", "*", "*", "*.flac")))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp("model") / "random.ckpt")


def transcribe(tmp_path, *args, check=True):
    out = tmp_path / "out.json"
    proc = run_script("transcribe.py", *args, "--json", str(out), check=check, timeout=600)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def check_words(result):
    words = result["words"]
    assert words and " ".join(w["word"] for w in words) == result["text"]
    assert all(0 <= w["start"] <= w["end"] <= result["duration"] for w in words)
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:]))


@pytest.fixture(scope="module")
def short_run(model, tmp_path_factory):
    files = FLACS[:3] + [os.path.join(FSDD, "7_george_1.wav")]
    proc, doc = transcribe(tmp_path_factory.mktemp("short"), "--pretrain_ckpt", model, *files)
    return files, proc, doc


def test_real_flac_and_8khz_wav_get_text_and_word_times(short_run):
    files, proc, doc = short_run
    assert [r["path"] for r in doc["results"]] == files
    for path, result in zip(files, doc["results"]):
        assert result["duration"] == pytest.approx(soundfile.info(path).duration, abs=0.01)
        assert f"{path}: {result['text']}\n" in proc.stdout
        check_words(result)
    assert "s per second of audio" in proc.stderr and doc["summary"]["decoder"] == "greedy"


def test_a_long_recording_is_chunked_at_bounded_memory(model, short_run, tmp_path):
    long_file = tmp_path / "long.flac"
    subprocess.run(["sox", *FLACS[:17], str(long_file)], check=True)
    duration = soundfile.info(str(long_file)).duration
    assert duration > 120
    before = set(os.listdir(tmp_path))
    proc, doc = transcribe(tmp_path, "--pretrain_ckpt", model, str(long_file), "--chunk_seconds", "10",
                           "--search_seconds", "4")
    (result,) = doc["results"]
    chunks = result["chunks"]
    assert len(chunks) >= 13 and chunks[0]["start"] == 0 and chunks[-1]["end"] == pytest.approx(duration, abs=0.01)
    assert all(a["end"] == b["start"] for a, b in zip(chunks, chunks[1:]))
    assert all(c["end"] - c["start"] <= 10.0 + 1e-6 for c in chunks)
    check_words(result)
    # memory does not grow with the recording: 2 minutes need about what 30 seconds need
    assert doc["summary"]["peak_rss_mb"] < short_run[2]["summary"]["peak_rss_mb"] + 250
    assert set(os.listdir(tmp_path)) == before | {"out.json"}  # sox wrote no converted copy


def test_beam_search_with_an_lm_over_workers_and_a_bad_file_named(model, tmp_path):
    corpus = [line.split(" ", 1)[1].split() for path in glob.glob(os.path.join(LIBRI, "*", "*", "*", "*.txt"))
              for line in open(path)]
    write_arpa(estimate(corpus, 3), str(tmp_path / "lm.arpa"))
    bad = tmp_path / "notes.flac"
    bad.write_text("not audio")
    # config overrides before the files: their values are not taken for audio files
    proc, doc = transcribe(tmp_path, "--pretrain_ckpt", model, "--decoder_type", "beam", "--lm_path",
                           str(tmp_path / "lm.arpa"), "--beam_width", "8", "--lm_workers", "2", "--alpha", "0.5",
                           "--beta", "1.0", FLACS[0], str(bad), FLACS[1], check=False)
    assert doc["summary"]["decoder"].startswith("beam 8, LM ") and "2 workers" in doc["summary"]["decoder"]
    assert doc["summary"]["decode_seconds"] > 0
    good, failed, other = doc["results"]
    check_words(good)
    check_words(other)
    # the unreadable file is named in one line, the others are still transcribed, the exit status says so
    assert proc.returncode == 2 and "notes.flac: sox cannot read it" in proc.stderr
    assert "Traceback" not in proc.stderr and failed["error"] and not failed["words"]


def test_mindir_transcribes_as_its_checkpoint(model, tmp_path):
    run_script("export.py", "--pre_trained_model_path", model, "--batch_size", "2", "--input_frames", "600",
               "--file_name", str(tmp_path / "m"), timeout=600)
    files = FLACS[:2] + [os.path.join(FSDD, "3_george_12.wav")]
    _, from_ckpt = transcribe(tmp_path, "--pretrain_ckpt", model, *files, "--chunk_seconds", "5.99")
    proc, from_mindir = transcribe(tmp_path, "--mindir", str(tmp_path / "m.mindir"), *files)
    assert "input [2, 1, 161, 600]" in proc.stderr
    assert [c["end"] for r in from_mindir["results"] for c in r["chunks"]] == \
        [c["end"] for r in from_ckpt["results"] for c in r["chunks"]]
    assert [r["text"] for r in from_mindir["results"]] == [r["text"] for r in from_ckpt["results"]]


def test_a_dynamic_mindir_transcribes_as_its_checkpoint(model, tmp_path):
    """export.py's default file takes each batch at its longest chunk's length: no chunk cap, no padding
    to an exported length, any batch size; the words and their times are the checkpoint's."""
    proc = run_script("export.py", "--pre_trained_model_path", model, "--file_name", str(tmp_path / "d"), timeout=600)
    assert "(dynamic batch and time)" in proc.stdout
    files = FLACS[:3] + [os.path.join(FSDD, "3_george_12.wav")]
    _, from_ckpt = transcribe(tmp_path, "--pretrain_ckpt", model, *files, "--batch_size", "3")
    proc, from_mindir = transcribe(tmp_path, "--mindir", str(tmp_path / "d.mindir"), *files, "--batch_size", "3")
    assert "input [batch, 1, 161, frames]" in proc.stderr
    for ours, theirs in zip(from_mindir["results"], from_ckpt["results"]):
        check_words(ours)
        assert (ours["text"], ours["chunks"], ours["words"]) == (theirs["text"], theirs["chunks"], theirs["words"])
    assert from_mindir["summary"]["chunks"] == from_ckpt["summary"]["chunks"] == len(files)  # short files: whole


def test_a_model_is_required(tmp_path):
    usage = run_script("transcribe.py", FLACS[0], check=False)
    assert usage.returncode == 2 and "--pretrain_ckpt" in usage.stderr
