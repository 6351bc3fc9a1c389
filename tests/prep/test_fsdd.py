import glob
import os

import pytest
import numpy as np
import soundfile

from src.prep.fsdd import DIGIT_WORDS, build_fsdd, main as fsdd_main
from src.common.files import is_temp_name
from src.prep.common import PrepError
from tests.helpers import ROOT, manifest_rows, mtime_snapshot

FSDD = os.path.join(ROOT, "..", "shared", "data", "fsdd")
SPEAKERS = {"george", "jackson", "lucas", "nicolas", "yweweler"}

pytestmark = pytest.mark.skipif(not os.path.isdir(FSDD), reason="FSDD not present")


def test_build_fsdd_split_by_speaker(tmp_path):
    manifests = build_fsdd(FSDD, str(tmp_path), test_speaker="lucas", limit_per_speaker=3)
    assert manifests == {"train": str(tmp_path / "fsdd_train_manifest.csv"),
                         "test": str(tmp_path / "fsdd_test_manifest.csv")}
    train, test = manifest_rows(manifests["train"]), manifest_rows(manifests["test"])
    assert len(train) == 12 and len(test) == 3
    speakers = {split: {os.path.basename(w).split("_")[1] for w, _ in rows}
                for split, rows in (("train", train), ("test", test))}
    assert speakers == {"train": SPEAKERS - {"lucas"}, "test": {"lucas"}}
    for wav, txt in train + test:
        digit = int(os.path.basename(wav).split("_")[0])
        assert open(txt, encoding="utf-8").read() == DIGIT_WORDS[digit] + "\n"
        assert os.path.dirname(os.path.dirname(wav)) == os.path.dirname(os.path.dirname(txt))
    # 8 kHz source -> 16 kHz output of the same length
    wav = test[0][0]
    src = os.path.join(FSDD, "recordings", os.path.basename(wav))
    assert abs(soundfile.info(wav).duration - soundfile.info(src).duration) < 0.002
    assert DIGIT_WORDS == ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")


def test_rerun_redoes_nothing_and_survives_leftover_temp(tmp_path):
    build_fsdd(FSDD, str(tmp_path), limit_per_speaker=2)
    wav_dir = tmp_path / "fsdd_test" / "wav"
    victim = sorted(os.listdir(wav_dir))[0]
    os.remove(wav_dir / victim)
    leftover = wav_dir / f".tmp-999999999-abc-{victim}"
    leftover.write_bytes(b"RIFF\x00")
    before = mtime_snapshot(str(tmp_path))
    manifests = build_fsdd(FSDD, str(tmp_path), limit_per_speaker=2)
    after = mtime_snapshot(str(tmp_path))
    assert not leftover.exists()
    assert {p for p in after if before.get(p) != after[p]} == {str(wav_dir / victim)}
    assert len(manifest_rows(manifests["test"])) == 2
    build_fsdd(FSDD, str(tmp_path), limit_per_speaker=2)
    assert mtime_snapshot(str(tmp_path)) == after


def test_bad_input_errors(tmp_path):
    with pytest.raises(PrepError, match="nowhere"):
        build_fsdd(str(tmp_path / "nowhere"), str(tmp_path / "out"))
    with pytest.raises(PrepError, match="'bob'.*george"):
        build_fsdd(FSDD, str(tmp_path / "out"), test_speaker="bob")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepError, match="no FSDD recordings"):
        build_fsdd(str(tmp_path / "empty"), str(tmp_path / "out"))


def test_killed_run_resumes_cleanly(tmp_path):
    """SIGKILL a real run midway: every file under its final name must be complete, and a re-run finishes."""
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "src.prep.fsdd", "--fsdd_dir", FSDD, "--target_dir", str(tmp_path),
           "--limit_per_speaker", "200"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wav_dir = tmp_path / "fsdd_train" / "wav"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if wav_dir.is_dir() and len(os.listdir(wav_dir)) >= 50:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the import finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    for path in glob.glob(str(tmp_path / "fsdd_*" / "wav" / "*.wav")):
        info = soundfile.info(path)  # complete, readable files only
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    manifests = build_fsdd(FSDD, str(tmp_path), limit_per_speaker=200)
    assert len(manifest_rows(manifests["train"])) == 800 and len(manifest_rows(manifests["test"])) == 200
    assert not [p for p in glob.glob(str(tmp_path / "fsdd_*" / "*" / ".*")) if is_temp_name(os.path.basename(p))]


def test_add_tts_joins_band_limited_synthetic_voices(tmp_path):
    """--add_tts: real + synthetic training manifest; synthetic audio has FSDD's 4 kHz bandwidth."""
    manifests = fsdd_main(["--fsdd_dir", FSDD, "--target_dir", str(tmp_path), "--limit_per_speaker", "2",
                           "--add_tts", "4", "--workers", "1"])
    combined = [tuple(row) for row in manifest_rows(manifests["train_tts"])]
    real = [tuple(row) for row in manifest_rows(manifests["train"])]
    assert len(real) == 8 and len(combined) == 12
    assert set(real) < set(combined)
    synthetic = [row for row in combined if row not in real]
    for wav, txt in synthetic:
        words = open(txt, encoding="utf-8").read().split()
        assert words and set(words) <= set(DIGIT_WORDS)
        audio, rate = soundfile.read(wav)
        assert rate == 16000
        power = np.abs(np.fft.rfft(audio)) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1 / rate)
        assert power[freqs > 4200].sum() < 1e-4 * power[freqs < 4000].sum()
    again = mtime_snapshot(str(tmp_path))
    fsdd_main(["--fsdd_dir", FSDD, "--target_dir", str(tmp_path), "--limit_per_speaker", "2", "--add_tts", "4",
               "--workers", "1"])
    assert mtime_snapshot(str(tmp_path)) == again  # a re-run rewrites nothing
