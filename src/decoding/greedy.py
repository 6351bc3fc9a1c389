"""From network outputs to text: greedy CTC decoding, and the decoder choice of ``LMConfig``.

Greedy (the zoo's, the default) takes the best class per frame, merges repeats, drops blanks and
stops at the length. ``LMConfig.decoder_type = "beam"`` selects CTC prefix beam search with an
optional n-gram LM (src/decoding/beam.py). Both decoders answer ``decode(probs, lengths)`` with
an n-best list of ``Hypothesis`` per utterance, so eval, tuning and transcription use either.
"""
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np

from src.data.labels import Labels

# (word, first output frame, end output frame exclusive)
WordFrames = Tuple[str, int, int]


@dataclass
class Hypothesis:
    text: str
    words: List[WordFrames] = field(default_factory=list)
    score: float = 0.0  # log score: acoustic (+ weighted LM and word bonus for beam search)


def greedy_decode(probs: np.ndarray, lengths: Sequence[int], labels: Labels) -> List[str]:
    """probs: (N, T, C) batch-major (the inference network's output); one string per row.

    A repeat is merged only with the previous *frame*, so "L _ L" stays "LL" (as in the zoo).
    """
    best = np.asarray(probs).argmax(axis=-1)
    texts = []
    for row, length in zip(best, lengths):
        row = row[: int(length)]
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        texts.append(labels.decode([int(i) for i in row[keep] if i != labels.blank]))
    return texts


def greedy_word_frames(best: Sequence[int], labels: Labels) -> List[WordFrames]:
    """Words of one best-path row with the output frames they span (first to last character frame)."""
    words: List[WordFrames] = []
    chars: List[str] = []
    start = end = 0
    previous = None
    for t, label in enumerate(int(i) for i in best):
        if label == labels.space:
            if chars:
                words.append(("".join(chars), start, end))
                chars = []
        elif label != labels.blank:
            if label != previous:
                if not chars:
                    start = t
                chars.append(labels.symbols[label])
            end = t + 1
        previous = label
    if chars:
        words.append(("".join(chars), start, end))
    return words


class GreedyDecoder:
    """The zoo's decoding as a ``decode(probs, lengths)`` decoder: one hypothesis per utterance."""

    name = "greedy"

    def __init__(self, labels: Labels):
        self.labels = labels

    def decode(self, probs: Sequence[np.ndarray], lengths: Sequence[int]) -> List[List[Hypothesis]]:
        """probs: (N, T, C) or N arrays (T_i, C); lengths: valid frames of each."""
        out = []
        for row, length in zip(probs, lengths):
            row = np.asarray(row)[: int(length)]
            (text,) = greedy_decode(row[None], [len(row)], self.labels)
            best = row.argmax(axis=-1)
            with np.errstate(divide="ignore"):
                score = float(np.log(row[np.arange(len(best)), best]).sum()) if len(best) else 0.0
            out.append([Hypothesis(text, greedy_word_frames(best, self.labels), score)])
        return out

    def describe(self) -> str:
        return "greedy"

    def close(self) -> None:
        """Nothing to release (the beam decoder's worker pool needs this)."""

    def __enter__(self) -> "GreedyDecoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def build_decoder(labels: Labels, lm_cfg):
    """The decoder ``LMConfig`` asks for (``decoder_type`` greedy | beam)."""
    kind = str(lm_cfg.get("decoder_type", "greedy"))
    if kind == "greedy":
        return GreedyDecoder(labels)
    if kind == "beam":
        from src.decoding.beam import BeamDecoder, BeamSettings  # pyctcdecode/kenlm only when asked for
        return BeamDecoder(labels, BeamSettings.from_config(lm_cfg))
    raise ValueError(f"--decoder_type {kind!r}: choose greedy or beam")
