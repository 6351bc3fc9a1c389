import glob
import os

import pytest
import soundfile

from src.librispeech_tree import convert_librispeech_tree, find_splits
from src.prep_common import TEMP_SUFFIX, PrepError
from tests.helpers import manifest_rows, mtime_snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "..", "shared", "data", "librispeech-sample")

pytestmark = pytest.mark.skipif(not os.path.isdir(SAMPLE), reason="LibriSpeech sample not present")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    target = tmp_path_factory.mktemp("libri")
    return target, convert_librispeech_tree(SAMPLE, str(target))


def _sample_transcripts():
    texts = {}
    for trans in glob.glob(os.path.join(SAMPLE, "LibriSpeech", "test-other", "*", "*", "*.trans.txt")):
        for line in open(trans, encoding="utf-8"):
            uid, text = line.strip().split(" ", 1)
            texts[uid] = text
    return texts


def test_converts_sample(converted):
    target, manifests = converted
    assert find_splits(SAMPLE) == ["test-other"]
    assert manifests == {"test-other": os.path.join(str(target), "libri_test_other_manifest.csv")}
    rows = manifest_rows(manifests["test-other"])
    texts = _sample_transcripts()
    assert len(rows) == len(texts) == 50
    for wav, txt in rows:
        uid = os.path.basename(wav)[:-4]
        assert wav == os.path.join(str(target), "test-other", "wav", uid + ".wav")
        assert txt == os.path.join(str(target), "test-other", "txt", uid + ".txt")
        assert open(txt, encoding="utf-8").read() == texts[uid] + "\n"
    # apostrophes survive (e.g. "DON'T"): the sample has several such transcripts
    with_apostrophe = [u for u, t in texts.items() if "'" in t]
    assert with_apostrophe
    for uid in with_apostrophe:
        assert "'" in open(os.path.join(str(target), "test-other", "txt", uid + ".txt")).read()


def test_rerun_redoes_nothing_and_survives_leftover_temp(converted):
    target, manifests = converted
    wav_dir = os.path.join(str(target), "test-other", "wav")
    victim = sorted(os.listdir(wav_dir))[0]
    os.remove(os.path.join(wav_dir, victim))  # as if the run died before this file was finished...
    leftover = os.path.join(wav_dir, f".{victim}.999999999.abc{TEMP_SUFFIX}")
    with open(leftover, "wb") as fh:           # ...leaving its half-written temp file behind
        fh.write(b"RIFF\x00\x00")
    before = mtime_snapshot(str(target))
    assert convert_librispeech_tree(SAMPLE, str(target), splits=["test-other"]) == manifests
    after = mtime_snapshot(str(target))
    assert not os.path.exists(leftover)
    assert os.path.isfile(os.path.join(wav_dir, victim))
    redone = {p for p in after if before.get(p) != after[p]}
    assert redone == {os.path.join(wav_dir, victim)}  # only the missing file; manifest unchanged
    assert len(manifest_rows(manifests["test-other"])) == 50
    before = after
    convert_librispeech_tree(SAMPLE, str(target))
    assert mtime_snapshot(str(target)) == before


def test_duration_filter(tmp_path):
    manifests = convert_librispeech_tree(SAMPLE, str(tmp_path), min_duration=3.0, max_duration=10.0)
    rows = manifest_rows(manifests["test-other"])
    assert 0 < len(rows) < 50
    assert all(3.0 <= soundfile.info(w).duration <= 10.0 for w, _ in rows)
    assert len(os.listdir(os.path.join(str(tmp_path), "test-other", "wav"))) == len(rows)  # dropped: not converted


def test_bad_input_errors(tmp_path):
    with pytest.raises(PrepError, match="not found: .*nowhere"):
        convert_librispeech_tree(str(tmp_path / "nowhere"), str(tmp_path / "out"))
    with pytest.raises(PrepError, match="train-clean-100"):
        convert_librispeech_tree(SAMPLE, str(tmp_path / "out"), splits=["train-clean-100"])
    with pytest.raises(PrepError, match="no LibriSpeech split"):
        convert_librispeech_tree(str(tmp_path), str(tmp_path / "out"))
