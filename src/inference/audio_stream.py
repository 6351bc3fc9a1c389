"""Audio of any format and length as a stream of bounded chunks, cut at silences where possible.

Transcription must not hold an hour of audio (or its spectrogram, or the network's activations
for it) at once. sox decodes any file it can read (FLAC, MP3 with libsox-fmt-mp3, OGG, WAV at any
rate and channel count) straight to 16 kHz mono 16-bit samples on a pipe, so no converted copy is
ever written; the samples are read block by block and cut into chunks of at most
``max_seconds``, each ending at the quietest 150 ms of its last ``search_seconds`` (a pause
between words, when there is one), so words are rarely split between chunks.
"""
import subprocess
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from src.data.features import AudioError

BLOCK_SECONDS = 5.0
ENERGY_FRAME_SECONDS = 0.01
SMOOTH_FRAMES = 15  # energy averaged over 150 ms: a pause between words, not a quiet instant inside one


@dataclass
class Chunk:
    start: float  # seconds from the beginning of the file
    samples: np.ndarray  # float32 mono at the stream's sample rate


def sox_samples(path: str, sample_rate: int = 16000, block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Float32 mono blocks of ``path`` resampled to ``sample_rate``, decoded by sox into a pipe."""
    command = ["sox", "-V1", path, "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1",
               "-r", str(sample_rate), "-"]
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise AudioError("sox is not installed (bash scripts/setup.sh installs it)") from None
    block_bytes = 2 * max(int(block_seconds * sample_rate), 1)
    finished = False
    try:
        pending = b""
        while True:
            data = proc.stdout.read(block_bytes)
            if not data:
                finished = True
                break
            data = pending + data
            usable = len(data) - len(data) % 2
            pending = data[usable:]
            if usable:
                yield np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
    finally:
        proc.stdout.close()
        if not finished:  # the reader stopped early: no need to decode the rest
            proc.kill()
        error = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        code = proc.wait()
    if code != 0:
        last = error.splitlines()[-1] if error else f"exit status {code}"
        raise AudioError(f"{path}: sox cannot read it ({last})")


def quietest_cut(samples: np.ndarray, sample_rate: int, search_seconds: float) -> int:
    """Sample index at the middle of the quietest 150 ms within the last ``search_seconds``."""
    frame = max(int(ENERGY_FRAME_SECONDS * sample_rate), 1)
    frames = len(samples) // frame
    search = min(max(int(search_seconds / ENERGY_FRAME_SECONDS), 1), frames)
    if frames == 0:
        return len(samples)
    energy = (samples[: frames * frame].reshape(frames, frame) ** 2).mean(axis=1)
    window = np.ones(SMOOTH_FRAMES)
    # a mean over the frames that exist: zero padding would make the edges look silent
    smooth = np.convolve(energy, window, mode="same") / np.convolve(np.ones(frames), window, mode="same")
    first = frames - search
    best = first + int(np.argmin(smooth[first:]))
    return max((best * frame) + frame // 2, 1)


def split_at_silences(blocks: Iterable[np.ndarray], sample_rate: int, max_seconds: float,
                      search_seconds: float) -> Iterator[Chunk]:
    """Chunks of at most ``max_seconds`` covering the stream exactly, in order, without overlap."""
    limit = max(int(max_seconds * sample_rate), 1)
    buffer = np.zeros(0, np.float32)
    offset = 0
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        while len(buffer) > limit:
            cut = quietest_cut(buffer[:limit], sample_rate, min(search_seconds, max_seconds))
            yield Chunk(offset / sample_rate, buffer[:cut].copy())
            buffer = buffer[cut:]
            offset += cut
    if len(buffer):
        yield Chunk(offset / sample_rate, buffer)
