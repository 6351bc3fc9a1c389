"""src/tools/noise.py: coloured noise and babble, and noisy test copies at an exact SNR (real FSDD speech),
through ``python -m src.tools.noise make|mix`` as a user runs it."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from src.tools.noise import coloured_noise
from tests.helpers import ROOT, fsdd_manifest, mtime_snapshot


def noise_cli(*args):
    return subprocess.run([sys.executable, "-m", "src.tools.noise", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def band_power(x, lo, hi):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    return spectrum[(freqs >= lo) & (freqs < hi)].mean()


def test_colours_have_their_spectral_slopes():
    rng = np.random.default_rng(0)
    ratios = {}
    for colour in ("white", "pink", "brown"):
        noise = coloured_noise(colour, 16000 * 4, rng)
        assert np.sqrt(np.mean(noise ** 2)) == pytest.approx(1.0, rel=1e-3)
        ratios[colour] = band_power(noise, 100, 200) / band_power(noise, 4000, 8000)
    # power per Hz falls by 1/f (pink) and 1/f^2 (brown) over a ~40x frequency span
    assert 0.7 < ratios["white"] < 1.4
    assert 15 < ratios["pink"] < 80
    assert ratios["brown"] > 500


def test_make_and_mix_through_the_cli(tmp_path):
    manifest = fsdd_manifest(str(tmp_path / "speech"), per_digit=1)
    noise_dir = tmp_path / "noise"
    proc = noise_cli("make", "--target_dir", str(noise_dir), "--seconds", "3", "--seed", "4",
                     "--babble_manifest", manifest, "--babble_files", "1")
    assert proc.returncode == 0, proc.stderr
    names = sorted(os.listdir(noise_dir))
    assert names == ["babble-4-0.wav", "brown-4.wav", "pink-4.wav", "white-4.wav"]
    for name in names:
        info = soundfile.info(str(noise_dir / name))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 48000)

    proc = noise_cli("mix", "--manifest", manifest, "--noise_dir", str(noise_dir), "--snr", "10",
                     "--target_dir", str(tmp_path / "noisy"))
    assert proc.returncode == 0, proc.stderr
    noisy_manifest = tmp_path / "noisy" / "m_snr10.csv"
    rows = [line.split(",") for line in noisy_manifest.read_text().splitlines()]
    clean = {os.path.basename(line.split(",")[1]): line.split(",")[0] for line in open(manifest).read().splitlines()}
    assert len(rows) == len(clean) == 10
    for wav, txt in rows:
        noisy, _ = soundfile.read(wav, dtype="float32")
        speech, _ = soundfile.read(clean[os.path.basename(txt)], dtype="float32")
        snr = 10 * np.log10(np.mean(speech ** 2) / np.mean((noisy - speech) ** 2))
        assert snr == pytest.approx(10.0, abs=0.2)  # 16-bit rounding only
    before = mtime_snapshot(str(tmp_path / "noisy"))
    assert noise_cli("mix", "--manifest", manifest, "--noise_dir", str(noise_dir), "--snr", "10",
                     "--target_dir", str(tmp_path / "noisy")).returncode == 0
    assert mtime_snapshot(str(tmp_path / "noisy")) == before


def test_bad_input_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    manifest = fsdd_manifest(str(tmp_path / "speech"), per_digit=1)
    proc = noise_cli("mix", "--manifest", manifest, "--noise_dir", str(empty), "--snr", "5",
                     "--target_dir", str(tmp_path / "out"))
    assert proc.returncode == 2 and "no .wav/.flac files found" in proc.stderr
    proc = noise_cli("mix", "--manifest", str(tmp_path / "nope.csv"), "--noise_dir", str(empty), "--snr", "5",
                     "--target_dir", str(tmp_path / "out"))
    assert proc.returncode == 2 and "nope.csv" in proc.stderr and "Traceback" not in proc.stderr
