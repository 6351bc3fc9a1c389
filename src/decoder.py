"""Greedy CTC decoding: best class per frame, merge repeats, drop blanks, stop at the length."""
from typing import List, Sequence

import numpy as np

from src.labels import Labels


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
