import os

import pytest

from src.prep.common import PrepError
from src.prep.librispeech_tree import convert_part, find_parts, read_part, read_record, split_rows
from tests.helpers import LIBRI, mtime_snapshot


pytestmark = pytest.mark.skipif(not os.path.isdir(LIBRI), reason="LibriSpeech sample not present")


@pytest.fixture
def small_tree(tmp_path):
    """Two speakers (20 utterances) of the real sample, as its own LibriSpeech/test-other tree."""
    part = tmp_path / "LibriSpeech" / "test-other"
    part.mkdir(parents=True)
    for speaker in ("1688", "367"):
        os.symlink(os.path.join(LIBRI, "test-other", speaker), part / speaker)
    return str(part)


def test_read_part_keeps_apostrophes_and_counts_untranscribed(small_tree, tmp_path):
    assert find_parts(os.path.dirname(os.path.dirname(small_tree))) == ["test-other"]
    assert find_parts(LIBRI) == ["test-other"]  # the LibriSpeech folder itself works too
    utterances, untranscribed = read_part(small_tree)
    assert len(utterances) == 20 and untranscribed == 0
    assert [u[0] for u in utterances] == sorted(u[0] for u in utterances)
    assert any("'" in text for _, _, text in utterances)
    assert all(text == text.upper() and "  " not in text for _, _, text in utterances)
    bad = tmp_path / "bad" / "1" / "2"
    bad.mkdir(parents=True)
    (bad / "1-2.trans.txt").write_text("1-2-0000 HELLO\n1-2-0001\n")
    with pytest.raises(PrepError, match=r"1-2.trans.txt:2: expected 'UTTID TEXT'"):
        read_part(str(tmp_path / "bad"))


def test_convert_part_records_and_resumes(small_tree, tmp_path):
    split_dir = str(tmp_path / "out" / "test_other")
    record = convert_part(small_tree, split_dir, workers=2)
    assert len(record) == 20 and read_record(split_dir, "test-other") == record
    rows = split_rows(split_dir)
    assert sorted(os.path.basename(w)[:-4] for w, _, _ in rows) == sorted(record)
    wav_dir = os.path.join(split_dir, "wav")
    victim = sorted(os.listdir(wav_dir))[0]
    os.remove(os.path.join(wav_dir, victim))  # as if the run died before this file was finished...
    assert read_record(split_dir, "test-other") is None  # ...the part no longer counts as finished
    assert split_rows(split_dir) == []  # and is left out of manifests (with a warning), not listed half
    leftover = os.path.join(wav_dir, f".tmp-999999999-abc-{victim}")
    with open(leftover, "wb") as fh:  # ...leaving its half-written temp file behind
        fh.write(b"RIFF\x00\x00")
    before = mtime_snapshot(split_dir)
    assert convert_part(small_tree, split_dir, workers=1) == record
    after = mtime_snapshot(split_dir)
    assert not os.path.exists(leftover)
    redone = {p for p in after if before.get(p) != after[p]}
    assert os.path.join(wav_dir, victim) in redone and len(redone) == 1  # the record is unchanged, not rewritten
