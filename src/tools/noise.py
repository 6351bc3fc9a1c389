"""Noise recordings for training and noisy copies of test sets, when no noise corpus is at hand.

- ``python -m src.tools.noise make --target_dir noise/train --babble_manifest M``: writes coloured noise
  (white, pink, brown) and babble (several voices talking at once, from the manifest's speech) as
  16 kHz wav files, a folder ``AugmentationConfig.noise_dir`` can point at.
- ``python -m src.tools.noise mix --manifest M --noise_dir N --snr 10 --target_dir D``: a noisy copy of a
  test set at an exact signal-to-noise ratio, with its own manifest, to measure how a model holds
  up in noise. Use a noise folder that training never saw.

The mixing is the same function training uses (``src.data.noise.add_noise``). Everything is seeded;
files are written under a temporary name and renamed, and finished files are kept on a re-run.
"""
import argparse
import os
from typing import List, Optional, Sequence

import numpy as np
import soundfile

from src.common.errors import run_main
from src.common.files import atomic_path
from src.data.features import load_audio
from src.data.manifest import read_manifest
from src.data.noise import add_noise, noise_files, noise_segment, snr_to_level
from src.prep.common import SAMPLE_RATE, PrepError, log, write_csv_manifest

COLOURS = ("white", "pink", "brown")


def coloured_noise(colour: str, length: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f power) or brown (1/f^2 power) noise, unit RMS."""
    if colour not in COLOURS:
        raise PrepError(f"noise colour {colour!r}: choose from {', '.join(COLOURS)}")
    white = rng.standard_normal(length)
    if colour == "white":
        noise = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(length)
        freqs[0] = freqs[1]
        spectrum /= freqs ** (0.5 if colour == "pink" else 1.0)
        noise = np.fft.irfft(spectrum, length)
    noise = noise - noise.mean()
    return (noise / np.sqrt(np.mean(noise ** 2))).astype(np.float32)


def babble(wav_paths: Sequence[str], length: int, rng: np.random.Generator, voices: int = 5) -> np.ndarray:
    """Several talkers at once: each voice is random utterances end to end, all at equal RMS."""
    if not wav_paths:
        raise PrepError("babble needs speech recordings, got none")
    mix = np.zeros(length, np.float32)
    for _ in range(voices):
        parts, have = [], 0
        while have < length:
            clip = load_audio(wav_paths[int(rng.integers(len(wav_paths)))], SAMPLE_RATE)
            rms = np.sqrt(np.mean(clip ** 2))
            if rms > 0:
                parts.append(clip / rms)
                have += len(clip)
        mix += np.concatenate(parts)[:length]
    return mix / np.sqrt(np.mean(mix ** 2))


def write_wav(path: str, samples: np.ndarray) -> None:
    """16-bit mono wav at 16 kHz, peak-limited, written atomically."""
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak > 0.99:
        samples = samples * (0.99 / peak)
    with atomic_path(path) as tmp:
        soundfile.write(tmp, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def make_noise_dir(target_dir: str, seconds: float = 60.0, seed: int = 0, colours: Sequence[str] = COLOURS,
                   babble_manifest: str = "", babble_files: int = 2, babble_dir: str = "") -> List[str]:
    """Coloured-noise and babble recordings in ``target_dir``; returns their paths.

    Babble is built from the speech of ``babble_manifest`` or of the audio files in ``babble_dir``.
    """
    os.makedirs(target_dir, exist_ok=True)
    length = int(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    made = []
    for colour in colours:
        made.append(os.path.join(target_dir, f"{colour}-{seed}.wav"))
        noise = coloured_noise(colour, length, rng)
        if not os.path.exists(made[-1]):
            write_wav(made[-1], 0.1 * noise)
    if babble_manifest or babble_dir:
        speech = ([e.wav_path for e in read_manifest(babble_manifest) if os.path.isfile(e.wav_path)]
                  if babble_manifest else list(noise_files(os.path.abspath(babble_dir))))
        for index in range(babble_files):
            made.append(os.path.join(target_dir, f"babble-{seed}-{index}.wav"))
            noise = babble(speech, length, rng)
            if not os.path.exists(made[-1]):
                write_wav(made[-1], 0.1 * noise)
    log(f"{len(made)} noise recordings in {target_dir}")
    return made


def noisy_copy(manifest: str, noise_dir: str, snr_db: float, target_dir: str, seed: int = 0) -> str:
    """Every utterance of ``manifest`` mixed with a random stretch of a random noise file at exactly
    ``snr_db``; returns the new CSV manifest (transcripts are the originals)."""
    entries = read_manifest(manifest)
    files = noise_files(os.path.abspath(noise_dir))
    if not files:
        raise PrepError(f"--noise_dir {noise_dir}: no .wav/.flac files found")
    os.makedirs(target_dir, exist_ok=True)
    level = snr_to_level(snr_db)
    pairs = []
    for index, entry in enumerate(entries):
        out = os.path.join(target_dir, f"{index:06d}-{os.path.splitext(os.path.basename(entry.wav_path))[0]}.wav")
        pairs.append((out, entry.txt_path))
        if os.path.exists(out):
            continue
        rng = np.random.default_rng([seed, index])
        speech = load_audio(entry.wav_path, SAMPLE_RATE)
        noise = noise_segment(load_audio(files[int(rng.integers(len(files)))], SAMPLE_RATE), len(speech), rng)
        write_wav(out, add_noise(speech, noise, level))
    name = os.path.splitext(os.path.basename(manifest))[0]
    path = os.path.join(target_dir, f"{name}_snr{snr_db:g}.csv")
    write_csv_manifest(path, pairs)
    log(f"{len(pairs)} utterances at {snr_db:g} dB SNR: {path}")
    return path


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make", help="write coloured noise and babble recordings")
    make.add_argument("--target_dir", required=True)
    make.add_argument("--seconds", type=float, default=60.0, help="length of each recording")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--colours", default=",".join(COLOURS), help="comma-separated: " + ", ".join(COLOURS))
    make.add_argument("--babble_manifest", default="", help="speech to build babble from (manifest)")
    make.add_argument("--babble_dir", default="", help="or: a folder of speech recordings (.wav/.flac)")
    make.add_argument("--babble_files", type=int, default=2)
    mix = commands.add_parser("mix", help="a noisy copy of a manifest at a fixed SNR")
    mix.add_argument("--manifest", required=True)
    mix.add_argument("--noise_dir", required=True)
    mix.add_argument("--snr", type=float, required=True, help="signal-to-noise ratio in dB")
    mix.add_argument("--target_dir", required=True)
    mix.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "make":
        colours = [c for c in args.colours.split(",") if c]
        make_noise_dir(args.target_dir, args.seconds, args.seed, colours, args.babble_manifest, args.babble_files,
                       args.babble_dir)
    else:
        noisy_copy(args.manifest, args.noise_dir, args.snr, args.target_dir, args.seed)


if __name__ == "__main__":
    raise SystemExit(run_main(main, prefix="[prep] ", resumable=True))
