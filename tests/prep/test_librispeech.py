"""librispeech.py run as a user runs it, on the real 50-utterance LibriSpeech sample: from the extracted
tree, from a tarball, and downloaded from a local HTTP server; plus a run killed midway, and Mini
LibriSpeech (two speakers of the shared train-clean-5)."""
import glob
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import soundfile

from src.data.manifest import read_manifest
from src.common.files import is_temp_name
from src.prep.common import PrepError
from src.prep.librispeech import PART_SPLIT, convert_librispeech_tree, official_url
from tests.helpers import ROOT, LIBRI, SHARED, FileServer, libri_tarball, manifest_rows, mtime_snapshot, run_script

SAMPLE = os.path.dirname(LIBRI)  # the folder holding LibriSpeech/
MINI_TRAIN = os.path.join(SHARED, "mini-librispeech", "LibriSpeech", "train-clean-5")
pytestmark = pytest.mark.skipif(not os.path.isdir(LIBRI), reason="LibriSpeech sample not present")


def prep(*args, check=True):
    return run_script("librispeech.py", *args, check=check)


def sample_utterances(speakers=None, part_dir=os.path.join(LIBRI, "test-other")):
    """uid -> (TEXT, seconds) of the sample (or another part), read straight from the corpus files."""
    found = {}
    for trans in glob.glob(os.path.join(part_dir, "*", "*", "*.trans.txt")):
        if speakers is not None and trans.split(os.sep)[-3] not in speakers:
            continue
        for line in open(trans, encoding="utf-8"):
            uid, text = line.strip().split(" ", 1)
            found[uid] = (text, soundfile.info(os.path.join(os.path.dirname(trans), uid + ".flac")).duration)
    return found


def check_split(target, split, expected, listed=None):
    """wav/txt of ``split`` are exactly ``expected`` (uid -> (TEXT, seconds)), and both manifests list
    ``listed`` (default: all of them), the same rows shortest first; returns the CSV rows."""
    split_dir = os.path.join(target, split)
    assert sorted(os.listdir(os.path.join(split_dir, "wav"))) == sorted(u + ".wav" for u in expected)
    assert sorted(os.listdir(os.path.join(split_dir, "txt"))) == sorted(u + ".txt" for u in expected)
    for uid, (text, seconds) in expected.items():
        info = soundfile.info(os.path.join(split_dir, "wav", uid + ".wav"))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        assert abs(info.duration - seconds) < 0.002
        assert open(os.path.join(split_dir, "txt", uid + ".txt"), encoding="utf-8").read() == text.upper() + "\n"
    rows = manifest_rows(os.path.join(target, f"libri_{split}_manifest.csv"))  # checks format + order
    assert sorted(os.path.basename(w)[:-4] for w, _ in rows) == sorted(expected if listed is None else listed)
    entries = read_manifest(os.path.join(target, f"libri_{split}_manifest.json"))
    assert [(e.wav_path, e.txt_path) for e in entries] == [tuple(r) for r in rows]
    doc = json.load(open(os.path.join(target, f"libri_{split}_manifest.json")))
    assert doc["root_path"] == split_dir and doc["samples"][0]["wav_path"].startswith("wav/")
    return rows


def test_from_extracted_tree_then_rerun_does_nothing(tmp_path):
    target = str(tmp_path / "data")
    proc = prep("--libri-root", SAMPLE, "--target-dir", target, "--num-workers", "2")
    expected = sample_utterances()
    assert len(expected) == 50
    rows = check_split(target, "test_other", expected)
    assert len(rows) == 50  # test splits are not filtered by duration (the sample has 15-23 s utterances)
    assert max(d for _, d in expected.values()) > 15
    with_apostrophe = [u for u, (t, _) in expected.items() if "'" in t]
    assert len(with_apostrophe) >= 3
    assert "utterances/s" in proc.stdout and "ETA" in proc.stdout
    assert sorted(os.listdir(target)) == ["libri_test_other_manifest.csv", "libri_test_other_manifest.json",
                                          "test_other"]
    before = mtime_snapshot(target)
    again = prep("--libri-root", SAMPLE, "--target-dir", target, "--num-workers", "2")
    assert "test-other: already prepared" in again.stdout and "convert" not in again.stdout
    assert mtime_snapshot(target) == before


def test_from_tarball_train_split_is_filtered_and_sorted(tmp_path):
    """A train part (the sample repacked as train-clean-100): duration filter, counts printed, all audio
    converted so that new limits only rewrite the manifests, even after the tarball is gone."""
    tarballs = tmp_path / "tarballs"
    tarballs.mkdir()
    tar = libri_tarball(tarballs / "train-clean-100.tar.gz", part="train-clean-100")
    target = str(tmp_path / "data")
    wrong = prep("--tarball-dir", str(tarballs), "--target-dir", target, check=False)
    assert wrong.returncode == 2 and "does not match its checksum" in wrong.stderr  # not the official file
    assert "Traceback" not in wrong.stderr and not os.path.exists(os.path.join(target, "train"))

    proc = prep("--tarball-dir", str(tarballs), "--target-dir", target, "--skip-checksums",
                "--min-duration", "4", "--max-duration", "10")
    expected = sample_utterances()
    kept = {u: v for u, v in expected.items() if 4 <= v[1] <= 10}
    dropped = len(expected) - len(kept)
    assert 0 < dropped and 0 < len(kept) < 50
    rows = check_split(target, "train", expected, kept)
    assert all(4 <= soundfile.info(w).duration <= 10 for w, _ in rows)
    assert f"kept {len(kept)} utterances" in proc.stdout and f"dropped {dropped} " in proc.stdout
    assert not os.path.exists(os.path.join(target, "extracted"))  # unpacked flac tree removed
    assert os.path.isfile(tar)  # the user's tarball is never touched

    os.remove(tar)
    os.makedirs(os.path.join(target, "extracted", "train-clean-100", "LibriSpeech"))  # as if killed before cleanup
    prep("--tarball-dir", str(tarballs), "--target-dir", target, "--files-to-use", "train-clean-100.tar.gz")
    rows = check_split(target, "train", expected, [u for u, v in expected.items() if 1 <= v[1] <= 15])  # defaults
    assert max(soundfile.info(w).duration for w, _ in rows) <= 15 < max(v[1] for v in expected.values())
    assert sorted(os.listdir(target)) == ["libri_train_manifest.csv", "libri_train_manifest.json", "train"]


def test_download_from_local_server_resumes_and_checks(tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    speakers = {"1688", "367"}
    tar = libri_tarball(served / "test-other.tar.gz", speakers=speakers)
    md5 = hashlib.md5(open(tar, "rb").read()).hexdigest()
    (served / "md5sum.txt").write_text(f"{md5}  test-other.tar.gz\n")
    target = str(tmp_path / "data")
    args = ["--target-dir", target, "--files-to-use", "test-other.tar.gz", "--num-workers", "2"]
    with FileServer(str(served)) as server:
        args += ["--base-url", server.url, "--checksums", server.url + "md5sum.txt"]
        server.cut_after = os.path.getsize(tar) // 2
        broken = prep(*args, check=False)
        assert broken.returncode == 2 and "truncated" in broken.stderr and "re-run to resume" in broken.stderr
        part = os.path.join(target, "downloads", "test-other.tar.gz.part")
        assert os.path.getsize(part) == os.path.getsize(tar) // 2
        assert not os.path.exists(os.path.join(target, "test_other"))

        prep(*args)
        assert server.requests[-1] == ("/test-other.tar.gz", f"bytes={os.path.getsize(tar) // 2}-")  # resumed
        check_split(target, "test_other", sample_utterances(speakers))
        assert os.listdir(os.path.join(target, "downloads")) == ["test-other.tar.gz"]
        asked = len(server.requests)
        before = mtime_snapshot(target)
        prep("--target-dir", target, "--files-to-use", "test-other", "--base-url", server.url)
        assert len(server.requests) == asked and mtime_snapshot(target) == before  # done: no network, no writes

        (served / "md5sum.txt").write_text(f"{'0' * 32}  dev-clean.tar.gz\n")
        os.rename(tar, served / "dev-clean.tar.gz")
        corrupt = prep("--target-dir", target, "--files-to-use", "dev-clean", "--base-url", server.url,
                       "--checksums", server.url + "md5sum.txt", check=False)
        assert corrupt.returncode == 2 and "does not match its checksum" in corrupt.stderr
        assert os.listdir(os.path.join(target, "downloads")) == ["test-other.tar.gz"]  # bad download removed
        missing = prep("--target-dir", target, "--files-to-use", "test-clean", "--base-url", server.url, check=False)
        assert missing.returncode == 2 and "HTTP 404" in missing.stderr
        other = str(tmp_path / "other")
        os.rename(served / "dev-clean.tar.gz", tar)
        prep("--target-dir", other, "--files-to-use", "test-other", "--base-url", server.url, "--skip-checksums",
             "--delete-downloads", "--keep-extracted", "--manifest-dir", str(tmp_path / "manifests"))
        assert os.listdir(os.path.join(other, "downloads")) == []
        assert os.path.isdir(os.path.join(other, "extracted", "test-other", "LibriSpeech", "test-other", "367"))
        assert len(manifest_rows(str(tmp_path / "manifests" / "libri_test_other_manifest.csv"))) == 20


def test_killed_conversion_resumes_without_partial_files(tmp_path):
    target = tmp_path / "data"
    wav_dir = target / "test_other" / "wav"

    def final_wavs():  # the file being written when killed has a hidden temporary name
        return [n for n in os.listdir(wav_dir) if n.endswith(".wav") and not is_temp_name(n)]

    cmd = [sys.executable, "librispeech.py", "--libri-root", SAMPLE, "--target-dir", str(target), "--num-workers", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if wav_dir.is_dir() and len(final_wavs()) >= 10:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the conversion finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    finished = final_wavs()
    assert 10 <= len(finished) < 50
    for name in finished:  # everything under a final name is complete
        info = soundfile.info(str(wav_dir / name))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16") and info.frames > 0
    assert not glob.glob(str(target / "*manifest*")) and not (target / "test_other" / "test-other.prepared.json").exists()
    mtimes = {n: os.stat(wav_dir / n).st_mtime_ns for n in finished}

    proc = prep("--libri-root", SAMPLE, "--target-dir", str(target), "--num-workers", "2")
    converted, present = map(int, re.search(r"(\d+) converted, (\d+) already present", proc.stdout).groups())
    # the one utterance in flight when killed may have its wav but not yet its txt: that one counts as redone
    assert converted + present == 50 and present >= len(finished) - 1
    assert all(os.stat(wav_dir / n).st_mtime_ns == t for n, t in mtimes.items())  # finished files not redone
    check_split(str(target), "test_other", sample_utterances())
    assert not [p for p in glob.glob(str(target / "**" / ".*"), recursive=True) if is_temp_name(os.path.basename(p))]


def test_user_errors_are_one_line_and_write_nothing(tmp_path):
    target = str(tmp_path / "data")
    cases = [
        (["--files-to-use", "train-clean-99"], "unknown LibriSpeech part 'train-clean-99'"),
        (["--libri-root", SAMPLE, "--files-to-use", "dev-clean"], "dev-clean not found under"),
        (["--tarball-dir", str(tmp_path)], "no LibriSpeech tarball"),
        (["--libri-root", SAMPLE, "--min-duration", "20", "--max-duration", "10"], "--min-duration 20.0 is above"),
        (["--libri-root", SAMPLE, "--num-workers", "0"], "--num-workers must be at least 1"),
    ]
    for args, message in cases:
        proc = prep("--target-dir", target, *args, check=False)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    both = prep("--target-dir", target, "--libri-root", SAMPLE, "--tarball-dir", str(tmp_path), check=False)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    tar = libri_tarball(tmp_path / "test-other.tar.gz", speakers={"367"})
    data = open(tar, "rb").read()
    open(tar, "wb").write(data[: len(data) * 2 // 3])  # a truncated archive
    cut = prep("--target-dir", target, "--tarball-dir", str(tmp_path), "--skip-checksums", check=False)
    assert cut.returncode == 2 and "is truncated or corrupt" in cut.stderr and "test-other.tar.gz" in cut.stderr
    assert not os.path.exists(os.path.join(target, "test_other"))


def test_first_api_still_works(tmp_path):
    """``convert_librispeech_tree`` (the first API): all parts found, no duration filter, {split: CSV}."""
    root = tmp_path / "tree"
    (root / "LibriSpeech" / "test-other").mkdir(parents=True)
    for speaker in ("1688", "367"):
        os.symlink(os.path.join(LIBRI, "test-other", speaker), root / "LibriSpeech" / "test-other" / speaker)
    manifests = convert_librispeech_tree(str(root), str(tmp_path / "a"), workers=2)
    assert manifests == {"test_other": str(tmp_path / "a" / "libri_test_other_manifest.csv")}
    assert len(manifest_rows(manifests["test_other"])) == 20
    with pytest.raises(PrepError, match="not found: .*nowhere"):
        convert_librispeech_tree(str(tmp_path / "nowhere"), str(tmp_path / "out"))
    with pytest.raises(PrepError, match="train-clean-100"):
        convert_librispeech_tree(str(root), str(tmp_path / "out"), splits=["train-clean-100"])
    with pytest.raises(PrepError, match="no LibriSpeech part"):
        convert_librispeech_tree(str(tmp_path / "a"), str(tmp_path / "out2"))  # a folder, but no corpus


@pytest.mark.skipif(not os.path.isdir(MINI_TRAIN), reason="Mini LibriSpeech not present")
def test_mini_librispeech_from_a_tree_and_a_tarball(tmp_path):
    """train-clean-5 (two real speakers, in the corpus layout) goes to train, dev-clean-2 to val; a part
    the tool does not know is named with the known ones."""
    assert (PART_SPLIT["train-clean-5"], PART_SPLIT["dev-clean-2"]) == ("train", "val")
    assert official_url("dev-clean-2") == "https://www.openslr.org/resources/31/dev-clean-2.tar.gz"
    assert official_url("dev-clean") == "https://www.openslr.org/resources/12/dev-clean.tar.gz"
    tree = tmp_path / "mini"
    speakers = sorted(os.listdir(MINI_TRAIN))[:2]
    for part in ("train-clean-5", "train-clean-7"):
        (tree / part / "LibriSpeech" / part).mkdir(parents=True)
        for speaker in speakers:
            os.symlink(os.path.join(MINI_TRAIN, speaker), tree / part / "LibriSpeech" / part / speaker)
    target = str(tmp_path / "data")
    unknown = prep("--libri-root", str(tree / "train-clean-7"), "--target-dir", target, check=False)
    assert unknown.returncode == 2 and "unknown LibriSpeech part 'train-clean-7'" in unknown.stderr
    assert f"known: {', '.join(PART_SPLIT)};" in unknown.stderr and not os.path.exists(target)

    prep("--libri-root", str(tree / "train-clean-5"), "--target-dir", target, "--num-workers", "2")
    expected = sample_utterances(part_dir=str(tree / "train-clean-5" / "LibriSpeech" / "train-clean-5"))
    assert len(expected) > 50
    check_split(target, "train", expected, [u for u, (_, seconds) in expected.items() if 1 <= seconds <= 15])

    tarballs = tmp_path / "tarballs"
    tarballs.mkdir()
    libri_tarball(tarballs / "dev-clean-2.tar.gz", part="dev-clean-2", speakers={"367"})
    wrong = prep("--tarball-dir", str(tarballs), "--target-dir", target, check=False)
    assert wrong.returncode == 2 and "does not match its checksum" in wrong.stderr  # OpenSLR's MD5 is built in
    prep("--tarball-dir", str(tarballs), "--target-dir", target, "--skip-checksums")
    check_split(target, "val", sample_utterances({"367"}))
