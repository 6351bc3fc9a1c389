"""Greedy CTC decoding, the zoo's (and the default): the best class per frame, repeats merged,
blanks dropped, stopping at the length. The beam search with an LM is src/decoding/beam.py; both
are ``Decoder``s (src/decoding/base.py), chosen by ``LMConfig.decoder_type`` in src/decoding/select.py.
"""
from typing import List, Sequence

import numpy as np

from src.data.labels import Labels
from src.decoding.base import Decoder, Hypothesis, WordFrames


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


class GreedyDecoder(Decoder):
    """The zoo's decoding as a ``Decoder``: one hypothesis per utterance; holds nothing to close."""

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
