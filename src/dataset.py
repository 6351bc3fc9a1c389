"""From a manifest to padded batches: manifest -> utterances -> buckets -> GeneratorDataset.

- Utterances are checked up front: a missing file, an empty transcript, or a transcript that
  cannot be aligned (CTC needs one output frame per label plus one per repeated pair) is skipped
  and counted, never cropped and never handed to CTC (which raises on CPU).
- Batches are consecutive runs of the duration-sorted utterances (buckets of similar length);
  their order is shuffled per epoch from ``seed + epoch``, so a resumed run sees the same order.
- Every batch has the same size: a short last batch is filled with copies weighted 0. Time is
  padded to a multiple of ``pad_multiple`` frames and labels to one fixed length, so graph mode
  compiles a handful of shapes instead of one per batch.
- Each index of the source is a whole batch; workers compute features in parallel processes.
"""
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np
import soundfile as sf

from src.augment import AugmentParams, perturb_waveform, spec_augment
from src.deepspeech2 import output_lengths
from src.features import AudioError, SpectParams, audio_features, load_audio, spectrogram
from src.labels import Labels
from src.manifest import Entry, read_manifest

COLUMNS = ["inputs", "input_length", "labels", "weights"]


@dataclass(frozen=True)
class Utterance:
    wav_path: str
    text: str
    ids: Tuple[int, ...]
    frames: int  # spectrogram frames
    where: str  # manifest file:line, for messages


@dataclass
class LoadReport:
    """What happened to a manifest's entries; printed before training/eval."""
    manifest: str
    total: int = 0
    kept: int = 0
    seconds: float = 0.0
    skipped: Counter = field(default_factory=Counter)
    examples: List[str] = field(default_factory=list)
    dropped_chars: Counter = field(default_factory=Counter)

    def skip(self, reason: str, message: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < 5:
            self.examples.append(message)

    def summary(self) -> str:
        lines = [f"{self.manifest}: {self.kept} of {self.total} utterances kept "
                 f"({self.seconds / 3600:.2f} h)"]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  skipped {count}: {reason}")
        lines += [f"    e.g. {m}" for m in self.examples]
        if self.dropped_chars:
            chars = ", ".join(f"{c!r} x{n}" for c, n in self.dropped_chars.most_common(10))
            lines.append(f"  characters outside labels.json removed from transcripts: {chars}")
        return "\n".join(lines)


def required_frames(ids: Sequence[int]) -> int:
    """CTC needs a frame per label and a blank between each repeated pair."""
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


def _audio_samples(path: str, sample_rate: int) -> int:
    info = sf.info(path)
    if info.frames <= 0:
        raise AudioError(f"{path}: the audio is empty")
    return int(round(info.frames * sample_rate / info.samplerate))


def load_utterances(manifest: str, labels: Labels, params: SpectParams,
                    max_duration: float = 0.0) -> Tuple[List[Utterance], LoadReport]:
    """Read a manifest and keep the utterances a CTC model can train or be scored on."""
    report = LoadReport(manifest)
    utts = []
    entries: List[Entry] = read_manifest(manifest)
    report.total = len(entries)
    for entry in entries:
        if not os.path.isfile(entry.wav_path):
            report.skip("audio file missing", f"{entry.where}: {entry.wav_path}")
            continue
        if not os.path.isfile(entry.txt_path):
            report.skip("transcript file missing", f"{entry.where}: {entry.txt_path}")
            continue
        try:
            with open(entry.txt_path, encoding="utf-8") as fh:
                raw = fh.read()
            samples = _audio_samples(entry.wav_path, params.sample_rate)
        except (OSError, UnicodeDecodeError, RuntimeError, AudioError) as err:
            report.skip("unreadable audio or transcript", f"{entry.where}: {err}")
            continue
        text, dropped = labels.normalise(raw)
        report.dropped_chars.update(dropped)
        if not text:
            report.skip("empty transcript", f"{entry.where}: {entry.txt_path}")
            continue
        seconds = samples / params.sample_rate
        if max_duration and seconds > max_duration:
            report.skip(f"longer than max_duration {max_duration:g} s", f"{entry.where}: {seconds:.1f} s")
            continue
        ids = tuple(labels.encode(text))
        frames = params.num_frames(samples)
        if required_frames(ids) > int(output_lengths(frames)):
            report.skip("transcript too long for its audio (cannot be aligned by CTC)",
                        f"{entry.where}: {len(ids)} labels, {int(output_lengths(frames))} output frames")
            continue
        utts.append(Utterance(entry.wav_path, text, ids, frames, entry.where))
        report.seconds += seconds
    report.kept = len(utts)
    return utts, report


def make_batches(utts: Sequence[Utterance], batch_size: int, shuffle: bool = True, seed: int = 0,
                 epoch: int = 0, rank: int = 0, group_size: int = 1, bucket_pool: int = 0) -> List[List[int]]:
    """Duration buckets: consecutive runs of the length-sorted utterances, in shuffled order.

    ``bucket_pool`` = 0 sorts the whole set (least padding, the zoo's way). When durations carry
    the class (isolated words: every "seven" is long), sorted batches are nearly single-class and
    learning crawls; ``bucket_pool`` = N shuffles first and sorts within pools of N batches, and 1
    gives plain random batches. With several ranks, each takes every ``group_size``-th bucket of
    the shared order; the list is padded by repeating buckets so no rank runs out early.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng(seed + epoch)
    order = list(range(len(utts)))
    if shuffle and bucket_pool > 0:
        order = [int(i) for i in rng.permutation(len(utts))]
        pool = batch_size * bucket_pool
        pools = [order[i:i + pool] for i in range(0, len(order), pool)]
    else:
        pools = [order]
    batches = []
    for members in pools:
        members = sorted(members, key=lambda i: (utts[i].frames, i))
        batches += [members[i:i + batch_size] for i in range(0, len(members), batch_size)]
    if shuffle:
        perm = rng.permutation(len(batches))
        batches = [batches[i] for i in perm]
    if group_size > 1 and batches:
        extra = (-len(batches)) % group_size
        batches = batches + batches[:extra]
        batches = batches[rank::group_size]
    return batches


class BatchSource:
    """Random-access source for ``GeneratorDataset``: item i is the i-th padded batch."""

    def __init__(self, utts: Sequence[Utterance], batches: List[List[int]], params: SpectParams,
                 blank: int, batch_size: int, label_pad_length: int = 0, pad_multiple: int = 64,
                 feature_fn=None, augment: AugmentParams = AugmentParams(), seed: int = 0, epoch: int = 0,
                 index_offset: int = 0):
        self.utts = list(utts)
        self.batches = batches
        self.params = params
        self.blank = blank
        self.batch_size = batch_size
        self.label_pad_length = label_pad_length
        self.pad_multiple = max(int(pad_multiple), 1)
        self.feature_fn = feature_fn  # e.g. a feature cache; default: compute from the audio
        self.augment = augment
        self.seed, self.epoch, self.index_offset = seed, epoch, index_offset

    def clean_features(self, utt: Utterance) -> np.ndarray:
        if self.feature_fn is not None:
            return self.feature_fn(utt)
        return audio_features(utt.wav_path, self.params)[0]

    def features(self, utt: Utterance, rng: np.random.Generator = None) -> np.ndarray:
        if not self.augment.enabled or rng is None:
            return self.clean_features(utt)
        spec = None
        if self.augment.waveform:
            samples = perturb_waveform(load_audio(utt.wav_path, self.params.sample_rate), rng, self.augment,
                                       self.params.sample_rate)
            spec = spectrogram(samples, self.params)
            if required_frames(utt.ids) > int(output_lengths(spec.shape[1])):
                spec = None  # sped up too far for its transcript: use the clean audio
        if spec is None:
            spec = self.clean_features(utt)
        return spec_augment(spec, rng, self.augment) if self.augment.spec_augment else spec

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        members = self.batches[index]
        rng = np.random.default_rng([self.seed, self.epoch, self.index_offset + index])
        feats = [self.features(self.utts[i], rng) for i in members]
        rows = len(members)
        longest = max(f.shape[1] for f in feats)
        width = -(-longest // self.pad_multiple) * self.pad_multiple
        label_len = max(self.label_pad_length, max(len(self.utts[i].ids) for i in members), 1)
        inputs = np.zeros((self.batch_size, 1, self.params.n_bins, width), np.float32)
        lengths = np.zeros(self.batch_size, np.int32)
        labels = np.full((self.batch_size, label_len), self.blank, np.int32)
        weights = np.zeros(self.batch_size, np.float32)
        for row in range(self.batch_size):
            src = row if row < rows else 0  # filler rows repeat the first, weighted 0
            feat, ids = feats[src], self.utts[members[src]].ids
            inputs[row, 0, :, :feat.shape[1]] = feat
            lengths[row] = feat.shape[1]
            labels[row, :len(ids)] = ids
            weights[row] = 1.0 if row < rows else 0.0
        return inputs, lengths, labels, weights


def create_dataset(source: BatchSource, num_workers: int = 1):
    """A MindSpore ``GeneratorDataset`` over the batches, in the source's order."""
    import mindspore.dataset as ds

    workers = max(1, min(int(num_workers), len(source) or 1))
    return ds.GeneratorDataset(source, column_names=COLUMNS, shuffle=False,
                               num_parallel_workers=workers, python_multiprocessing=workers > 1)
