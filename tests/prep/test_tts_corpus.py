import glob
import hashlib
import os
import shutil

import pytest

from src.common.errors import PrepError
from src.prep.common import wav_duration
from src.prep.tts_corpus import DIGIT_WORDS, available_voices, build_tts_corpus, main, plan_corpus
from tests.helpers import manifest_rows, mtime_snapshot

pytestmark = pytest.mark.skipif(not (shutil.which("espeak-ng") or shutil.which("flite")) or not shutil.which("sox"),
                                reason="needs sox and espeak-ng or flite")

N_TRAIN, N_TEST = 14, 6


def _digests(folder):
    return {os.path.relpath(p, folder): hashlib.sha1(open(p, "rb").read()).hexdigest()
            for p in glob.glob(os.path.join(folder, "tts_*", "*", "*"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    target = tmp_path_factory.mktemp("tts")
    return target, build_tts_corpus(str(target), n_train=N_TRAIN, n_test=N_TEST, seed=0)


def test_voices_are_split():
    voices = available_voices()
    train, test = {v.id for v in voices["train"]}, {v.id for v in voices["test"]}
    assert train and test and not train & test
    if shutil.which("flite"):
        assert "flite:rms" in test and "flite:rms" not in train
        assert {"flite:kal", "flite:kal16"} <= train  # one speaker: never split across train/test
    if shutil.which("espeak-ng"):
        assert all(v.split("+")[-1] in ("m7", "f4") for v in test if v.startswith("espeak:"))
        assert not any(v.endswith(("+m7", "+f4")) for v in train)


def test_plan_is_deterministic():
    voices = available_voices()
    a, b = plan_corpus(voices, 30, 10, seed=1), plan_corpus(voices, 30, 10, seed=1)
    assert a == b
    assert plan_corpus(voices, 30, 10, seed=2)["train"] != a["train"]
    for split in ("train", "test"):
        for utt in a[split]:
            words = utt.text.split()
            assert 1 <= len(words) <= 4 and all(w in DIGIT_WORDS for w in words)
            assert "OH" not in words and utt.voice in voices[split]


def test_build_writes_corpus(corpus):
    target, manifests = corpus
    assert manifests == {"train": str(target / "tts_train_manifest.csv"), "test": str(target / "tts_test_manifest.csv")}
    train, test = manifest_rows(manifests["train"], 10), manifest_rows(manifests["test"], 10)
    assert len(train) == N_TRAIN and len(test) == N_TEST
    for split, rows in (("train", train), ("test", test)):
        for wav, txt in rows:
            assert os.path.dirname(wav) == str(target / f"tts_{split}" / "wav")
            assert os.path.dirname(txt) == str(target / f"tts_{split}" / "txt")
            text = open(txt, encoding="utf-8").read()
            assert text.endswith("\n") and text.count("\n") == 1
            assert all(w in DIGIT_WORDS for w in text.split())
    # voices recorded per utterance: disjoint between splits
    used = {}
    for split in ("train", "test"):
        lines = open(target / f"tts_{split}_meta.tsv", encoding="utf-8").read().splitlines()[1:]
        assert len(lines) == len(train if split == "train" else test)
        used[split] = {line.split("\t")[1] for line in lines}
    assert not used["train"] & used["test"]


def test_rerun_redoes_nothing_and_survives_leftover_temp(corpus):
    target, manifests = corpus
    before = mtime_snapshot(str(target))
    assert build_tts_corpus(str(target), n_train=N_TRAIN, n_test=N_TEST, seed=0) == manifests
    assert mtime_snapshot(str(target)) == before
    wav_dir = target / "tts_train" / "wav"
    victim = sorted(os.listdir(wav_dir))[3]
    content = (wav_dir / victim).read_bytes()
    os.remove(wav_dir / victim)
    leftover = wav_dir / f".tmp-999999999-abc-{victim}"
    leftover.write_bytes(content[:100])  # a half-written temp file from a killed run
    before = mtime_snapshot(str(target))
    build_tts_corpus(str(target), n_train=N_TRAIN, n_test=N_TEST, seed=0)
    after = mtime_snapshot(str(target))
    assert not leftover.exists()
    assert {p for p in after if before.get(p) != after[p]} == {str(wav_dir / victim)}
    assert (wav_dir / victim).read_bytes() == content  # re-synthesised bit-exactly


def test_same_seed_same_bytes(corpus, tmp_path):
    target, _ = corpus
    build_tts_corpus(str(tmp_path), n_train=N_TRAIN, n_test=N_TEST, seed=0)
    assert _digests(str(tmp_path)) == _digests(str(target))


SENTENCES = ("HER MOTHER WAS A WOMAN OF USEFUL PLAIN SENSE", "I DON'T KNOW", "THE END")


def _sentence_manifest(folder, texts):
    """A training manifest of these transcripts (lower case); its wavs are empty, only the transcripts are read."""
    lines = []
    for i, text in enumerate(texts):
        wav, txt = folder / f"real_{i}.wav", folder / f"real_{i}.txt"
        wav.write_bytes(b"")
        txt.write_text(text.lower() + "\n")
        lines.append(f"{wav},{txt}\n")
    manifest = folder / "train_manifest.csv"
    manifest.write_text("".join(lines))
    return manifest


def test_plan_of_sentences_says_each_once_before_any_repeats():
    voices = available_voices()
    plan = plan_corpus(voices, 7, 1, seed=3, texts=SENTENCES)["train"]
    said = [u.text for u in plan]
    assert sorted(said[:3]) == sorted(SENTENCES) and sorted(said[3:6]) == sorted(SENTENCES) and said[6] in SENTENCES
    assert plan == plan_corpus(voices, 7, 1, seed=3, texts=SENTENCES)["train"]


def test_texts_from_a_manifest_spoken_and_joined_within_the_duration_limit(corpus, tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    _, digit_manifests = corpus  # real utterances: the digit corpus' test side stands in for recordings
    joined = tmp_path / "train_plus_tts.csv"
    manifests = main(["--target_dir", str(tmp_path / "tts"), "--n_train", "4", "--n_test", "1",
                      "--texts_from", str(_sentence_manifest(real_dir, SENTENCES)),
                      "--join", digit_manifests["test"], "--joined_manifest", str(joined), "--max_duration", "2.5"])
    synthetic = manifest_rows(manifests["train"])
    texts = [open(txt).read().strip() for _, txt in synthetic]
    assert len(texts) == 4 and set(texts) == set(SENTENCES)  # upper case, as transcripts are
    rows = {tuple(r) for r in manifest_rows(str(joined), max_seconds=2.5)}
    real = {tuple(r) for r in manifest_rows(digit_manifests["test"])}
    short = {tuple(r) for r in synthetic if wav_duration(r[0]) <= 2.5}
    assert rows == real | short  # the real ones are all short digit strings
    assert 0 < len(short) < 4  # "THE END" fits, the 9-word sentence does not
def test_texts_from_refuses_an_unspeakable_transcript_naming_its_line(tmp_path):
    manifest = _sentence_manifest(tmp_path, ["FINE", "NO DIGITS 42 HERE"])
    with pytest.raises(PrepError, match=r"train_manifest.csv, line 2: .*real_1.txt.*NO DIGITS 42"):
        main(["--target_dir", str(tmp_path / "tts"), "--texts_from", str(manifest)])
    assert not (tmp_path / "tts").exists()
