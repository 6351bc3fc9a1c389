import numpy as np

from src.decoding.greedy import greedy_decode
from src.data.labels import Labels

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


def test_word_frames_span_first_to_last_character_frame():
    from src.decoding.greedy import greedy_word_frames

    h, i, space = 8, 9, 27
    #         0  1  2  3  4      5      6  7  8  9
    frames = [B, h, h, B, i, space, space, B, i, B]
    assert greedy_word_frames(frames, L) == [("HI", 1, 5), ("I", 8, 9)]
    assert greedy_word_frames([B, space, B], L) == []


def test_greedy_decoder_text_is_greedy_decode_and_words_match_it():
    from src.decoding.greedy import GreedyDecoder
    from tests.ctc_frames import random_outputs

    rng = np.random.default_rng(0)
    probs = np.stack([random_outputs(rng, 90) for _ in range(8)])
    lengths = [90, 60, 1, 0, 45, 90, 30, 77]
    nbest = GreedyDecoder(L).decode(probs, lengths)
    assert [hyps[0].text for hyps in nbest] == greedy_decode(probs, lengths, L)
    for hyps, length in zip(nbest, lengths):
        (hyp,) = hyps
        assert " ".join(w for w, _, _ in hyp.words) == " ".join(hyp.text.split())
        assert all(0 <= s < e <= length for _, s, e in hyp.words)
        assert hyp.score <= 0


def test_greedy_decoder_output_is_unchanged():
    """Texts, word frames and scores of 40 random utterances, byte for byte as before the Decoder interface."""
    import hashlib

    from src.decoding.greedy import GreedyDecoder
    from tests.ctc_frames import random_outputs

    rng = np.random.default_rng(14)
    rows = [random_outputs(rng, int(n)) for n in rng.integers(0, 150, 40)]
    nbest = GreedyDecoder(L).decode(rows, [len(r) for r in rows])
    text = repr([[(h.text, h.words, h.score) for h in hyps] for hyps in nbest])
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "78e1d63f9e71bcdd28426e33a3fc102a758b159024a207846e0fe3ebf5e1234f"
