"""Constructed network outputs for decoder tests: a probability row per frame, spelled by hand."""
from typing import Dict, Sequence, Union

import numpy as np

from src.data.labels import Labels

Frame = Union[str, Dict[str, float]]  # one symbol (prob 0.9), or symbol -> probability


def spell(frames: Sequence[Frame], labels: Labels, peak: float = 0.9) -> np.ndarray:
    """(T, C) probabilities; ``"_"`` is the blank; mass left over is spread over the other classes."""
    out = np.zeros((len(frames), len(labels)), np.float32)
    index = {s: i for i, s in enumerate(labels.symbols)}
    for t, frame in enumerate(frames):
        chosen = {frame: peak} if isinstance(frame, str) else frame
        rest = (1.0 - sum(chosen.values())) / (len(labels) - len(chosen))
        out[t, :] = rest
        for symbol, p in chosen.items():
            out[t, index[symbol]] = p
    return out


def word_frames(text: str) -> list:
    """Each character of ``text`` for one frame, then a blank frame."""
    frames = []
    for char in text:
        frames += [char, "_"]
    return frames


def random_outputs(rng: np.random.Generator, frames: int, classes: int = 29, sharpness: float = 3.0) -> np.ndarray:
    """Peaked random softmax rows, like a trained network's (T, C)."""
    logits = rng.standard_normal((frames, classes)) * sharpness
    logits[:, -1] += 2.0  # blanks dominate, as in CTC outputs
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
