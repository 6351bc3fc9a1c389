"""From a manifest to padded batches: manifest -> utterances -> buckets -> GeneratorDataset.

- Utterances are checked up front (``src/data/sample_check.py``: missing or corrupt files, empty or
  unalignable transcripts, ...), skipped and counted or refused, never cropped and never handed
  to CTC (which raises on CPU).
- Batches are consecutive runs of the duration-sorted utterances (buckets of similar length);
  their order is shuffled per epoch from ``seed + epoch``, so a resumed run sees the same order.
- Every batch has the same size: a short last batch is filled with copies weighted 0. Time is
  padded to a multiple of ``pad_multiple`` frames and labels to one fixed length, so graph mode
  compiles a handful of shapes instead of one per batch.
- Each index of the source is a whole batch; workers compute features in parallel processes.
"""
import sys
from typing import List, Sequence, Tuple

import numpy as np

from src.data.augment import AugmentParams, perturb_waveform, spec_augment, vtlp
from src.data.features import AudioError, SpectParams, audio_features, load_audio, spectrogram
from src.data.sample_check import LoadReport, Utterance, load_utterances, required_frames  # noqa: F401 (re-exported)
from src.model.geometry import output_frames

COLUMNS = ["inputs", "input_length", "labels", "weights"]


def make_batches(utts: Sequence[Utterance], batch_size: int, shuffle: bool = True, seed: int = 0,
                 epoch: int = 0, rank: int = 0, group_size: int = 1, bucket_pool: int = 0) -> List[List[int]]:
    """Duration buckets: consecutive runs of the length-sorted utterances, in shuffled order.

    ``bucket_pool`` = 0 sorts the whole set (least padding, the zoo's way). When durations carry
    the class (isolated words: every "seven" is long), sorted batches are nearly single-class and
    learning crawls; ``bucket_pool`` = N shuffles first and sorts within pools of N batches, and 1
    gives plain random batches.

    With several ranks (data parallel), the buckets are built for the *global* batch
    ``batch_size * group_size`` exactly as one process with that batch would build them, and rank
    r takes the r-th slice of each: every utterance is seen once per epoch across the ranks, all
    ranks run the same number of steps, and the averaged gradient equals the one-process step. A
    short last global batch is split as evenly as possible; a rank left with nothing gets an
    empty batch, which ``BatchSource`` fills with weight-0 rows.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if group_size > 1:
        if not 0 <= rank < group_size:
            raise ValueError(f"rank {rank} is outside the group of {group_size}")
        merged = make_batches(utts, batch_size * group_size, shuffle, seed, epoch, bucket_pool=bucket_pool)
        return [rank_slice(members, rank, group_size) for members in merged]
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
    return batches


def rank_slice(members: List[int], rank: int, group_size: int) -> List[int]:
    """Rank ``rank``'s contiguous share of a global batch (sizes differ by at most one)."""
    base, extra = divmod(len(members), group_size)
    start = rank * base + min(rank, extra)
    return members[start:start + base + (1 if rank < extra else 0)]


class BatchSource:
    """Random-access source for ``GeneratorDataset``: item i is the i-th padded batch."""

    def __init__(self, utts: Sequence[Utterance], batches: List[List[int]], params: SpectParams,
                 blank: int, batch_size: int, label_pad_length: int = 0, pad_multiple: int = 64,
                 feature_fn=None, augment: AugmentParams = AugmentParams(), seed: int = 0, epoch: int = 0):
        self.utts = list(utts)
        self.batches = batches
        self.params = params
        self.blank = blank
        self.batch_size = batch_size
        self.label_pad_length = label_pad_length
        self.pad_multiple = max(int(pad_multiple), 1)
        self.feature_fn = feature_fn  # e.g. a feature cache; default: compute from the audio
        self.augment = augment
        self.seed, self.epoch = seed, epoch

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
            if required_frames(utt.ids) > int(output_frames(spec.shape[1])):
                spec = None  # sped up too far for its transcript: use the clean audio
        if spec is None:
            spec = self.clean_features(utt)
        if self.augment.vtlp:
            spec = vtlp(spec, rng, self.augment)
        return spec_augment(spec, rng, self.augment) if self.augment.spec_augment else spec

    def usable_features(self, utt: Utterance, rng: np.random.Generator) -> Tuple[np.ndarray, bool]:
        """(features, True), or (zeros, False) for audio that broke after the up-front header check
        (deleted, damaged past the header, NaN samples): its row gets weight 0 instead of the run
        dying in a data worker or one NaN poisoning the batch (and the batch-norm statistics)."""
        try:
            spec = self.features(utt, rng)
            if np.isfinite(spec).all():
                return spec, True
            problem = "non-finite samples"
        except (AudioError, OSError) as err:
            problem = str(err)
        print(f"warning: {utt.where}: {utt.wav_path} left out of this batch ({problem})", file=sys.stderr)
        return np.zeros((self.params.n_bins, utt.frames), np.float32), False

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        rows = len(self.batches[index])
        members = self.batches[index] or [0]  # an empty rank slice: all rows are weight-0 fillers
        # keyed by utterance, not batch: the same augmentation however the epoch is sharded or resumed
        feats, usable = zip(*[self.usable_features(self.utts[i], np.random.default_rng([self.seed, self.epoch, i]))
                              for i in members])
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
            weights[row] = 1.0 if row < rows and usable[src] else 0.0
        return inputs, lengths, labels, weights


def create_dataset(source: BatchSource, num_workers: int = 1):
    """A MindSpore ``GeneratorDataset`` over the batches, in the source's order."""
    import mindspore.dataset as ds

    workers = max(1, min(int(num_workers), len(source) or 1))
    return ds.GeneratorDataset(source, column_names=COLUMNS, shuffle=False,
                               num_parallel_workers=workers, python_multiprocessing=workers > 1)
