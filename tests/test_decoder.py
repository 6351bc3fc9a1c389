import numpy as np

from src.decoder import greedy_decode
from src.labels import Labels

L = Labels.load("labels.json")
B = L.blank


def one_hot(ids, classes=29):
    out = np.full((len(ids), classes), 0.01, np.float32)
    out[np.arange(len(ids)), ids] = 1.0
    return out


def test_merges_repeats_and_drops_blanks():
    a, l, apos, space = 1, 12, 0, 27
    frames = [B, a, a, B, l, l, B, l, space, apos, apos, B, B]
    assert greedy_decode(one_hot(frames)[None], [len(frames)], L) == ["ALL '"]


def test_stops_at_output_length_and_handles_all_blank():
    frames = [1, 1, B, 2, 3]
    probs = np.stack([one_hot(frames), one_hot([B] * 5)])
    assert greedy_decode(probs, [3, 5], L) == ["A", ""]
