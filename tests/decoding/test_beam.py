import numpy as np
import pytest

import config
from src.decoding.beam import BeamDecoder, BeamSettings, candidate_log_probs
from src.decoding.greedy import GreedyDecoder
from src.decoding.select import build_decoder
from src.data.labels import Labels
from src.decoding.ngram_lm import estimate, write_arpa
from tests.ctc_frames import random_outputs, spell, word_frames

L = Labels.load("labels.json")


def beam_settings(**settings) -> BeamSettings:
    """LMConfig's settings (the schema's defaults), here without an LM and in one process unless given."""
    return BeamSettings(**{"lm_path": "", "lm_workers": 1, **settings})


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """A 3-gram LM where TWO follows ONE and TOO only follows ME."""
    corpus = [["ONE", "TWO", "THREE"]] * 20 + [["ME", "TOO"]] * 5 + [["THREE", "TWO", "ONE"]] * 10
    path = str(tmp_path_factory.mktemp("lm") / "lm.arpa")
    write_arpa(estimate(corpus, 3), path)
    return path


def texts(decoder, rows):
    return [hyps[0].text for hyps in decoder.decode(rows, [len(r) for r in rows])]


def test_beam_one_without_lm_is_greedy():
    rng = np.random.default_rng(0)
    rows = [random_outputs(rng, int(rng.integers(1, 120))) for _ in range(60)] + [random_outputs(rng, 0)]
    greedy = texts(GreedyDecoder(L), rows)
    with BeamDecoder(L, beam_settings(beam_width=1, token_min_logp=-1e9)) as beam:
        # the beam search joins words with single spaces; greedy keeps the raw label string
        assert texts(beam, rows) == [" ".join(t.split()) for t in greedy]
    assert any(len(t.split()) > 1 for t in greedy)


def test_lm_turns_an_out_of_vocabulary_spelling_into_a_word(lm):
    # T, then W (0.4) or O (0.5), then O: the acoustics alone say "TOO"
    frames = word_frames("T") + [{"W": 0.4, "O": 0.5}, "_"] + word_frames("O") + [" "] + word_frames("THREE")
    row = spell(frames, L)
    assert texts(GreedyDecoder(L), [row]) == ["TOO THREE"]
    with BeamDecoder(L, beam_settings(beam_width=16)) as plain:
        assert texts(plain, [row]) == ["TOO THREE"]
    with BeamDecoder(L, beam_settings(lm_path=lm, beam_width=16, alpha=1.0, beta=0.0)) as with_lm:
        assert texts(with_lm, [row]) == ["TWO THREE"]


def test_lm_prefers_the_word_sequence_it_has_seen(lm):
    # TOO and TWO are both words of the LM; after ONE only TWO was seen
    frames = word_frames("ONE") + [" ", "T", "_", {"W": 0.4, "O": 0.5}, "_", "O", "_"]
    row = spell(frames, L)
    with BeamDecoder(L, beam_settings(beam_width=16)) as plain:
        assert texts(plain, [row]) == ["ONE TOO"]
    with BeamDecoder(L, beam_settings(lm_path=lm, beam_width=16, alpha=1.0, beta=0.0)) as with_lm:
        assert texts(with_lm, [row]) == ["ONE TWO"]
        with_lm.set_weights(0.0, 0.0)  # LM switched off: the acoustics win again
        assert texts(with_lm, [row]) == ["ONE TOO"]


def test_workers_give_the_same_hypotheses_as_one_process(lm):
    rng = np.random.default_rng(1)
    rows = [random_outputs(rng, int(rng.integers(20, 80))) for _ in range(12)]
    settings = dict(lm_path=lm, beam_width=8, alpha=0.8, beta=0.5, top_paths=3)
    with BeamDecoder(L, beam_settings(lm_workers=1, **settings)) as one, \
            BeamDecoder(L, beam_settings(lm_workers=2, **settings)) as two:
        a, b = one.decode(rows, [len(r) for r in rows]), two.decode(rows, [len(r) for r in rows])
    assert [[h.text for h in hyps] for hyps in a] == [[h.text for h in hyps] for hyps in b]
    assert [h.score for hyps in a for h in hyps] == pytest.approx([h.score for hyps in b for h in hyps])


def test_top_paths_are_distinct_and_best_first():
    rng = np.random.default_rng(2)
    rows = [random_outputs(rng, 50, sharpness=1.0) for _ in range(4)]
    with BeamDecoder(L, beam_settings(beam_width=10, top_paths=3, token_min_logp=-1e9, beam_prune_logp=-1e9)) as beam:
        for hyps in beam.decode(rows, [50] * 4):
            assert len(hyps) == 3 and len({h.text for h in hyps}) == 3
            scores = [h.score for h in hyps]
            assert scores == sorted(scores, reverse=True)


def test_word_frames_are_ordered_and_inside_the_utterance(lm):
    rng = np.random.default_rng(3)
    rows = [random_outputs(rng, int(rng.integers(30, 150))) for _ in range(10)]
    with BeamDecoder(L, beam_settings(lm_path=lm, beam_width=8, alpha=0.5, beta=1.0)) as beam:
        for row, hyps in zip(rows, beam.decode(rows, [len(r) for r in rows])):
            words = hyps[0].words
            assert " ".join(w for w, _, _ in words) == hyps[0].text
            for (_, start, end), (_, next_start, _) in zip(words, words[1:] + [("", len(row), len(row))]):
                assert 0 <= start < end <= next_start <= len(row)


def test_cutoffs_keep_the_likeliest_characters_as_ctcdecode():
    probs = np.array([[0.5, 0.3, 0.15, 0.05]])
    kept = lambda n, p: np.flatnonzero(np.isfinite(candidate_log_probs(probs, n, p)[0])).tolist()  # noqa: E731
    assert kept(4, 1.0) == [0, 1, 2, 3]
    assert kept(2, 1.0) == [0, 1]
    assert kept(4, 0.7) == [0, 1]  # 0.5 + 0.3 reaches 0.7
    assert kept(4, 0.4) == [0]
    assert kept(1, 0.01) == [0]
    assert candidate_log_probs(probs, 2, 1.0)[0, 0] == pytest.approx(np.log(0.5))


def test_bad_settings_name_the_option(tmp_path):
    # the ranges (top_paths <= beam_width, cutoff_prob in (0, 1] ...) are checked with the whole config:
    # tests/config/test_checks.py
    with pytest.raises(ValueError, match="--lm_path .*none.arpa: file not found"):
        BeamSettings.from_config(dict(config.eval_config.LMConfig, lm_path=str(tmp_path / "none.arpa")))
    garbage = tmp_path / "garbage.arpa"
    garbage.write_text("not a model\n")
    with pytest.raises(ValueError, match="not a KenLM-readable"):
        BeamDecoder(L, beam_settings(lm_path=str(garbage)))
    lower = tmp_path / "lower.arpa"
    write_arpa(estimate([["one", "two"], ["two", "three"]], 2), str(lower))
    with pytest.raises(ValueError, match="outside labels.json .*lower case"):
        BeamDecoder(L, beam_settings(lm_path=str(lower)))
    with pytest.raises(ValueError, match="--decoder_type 'prefix'"):
        build_decoder(L, {"decoder_type": "prefix"})


def test_config_keys_reach_the_settings(lm):
    cfg = dict(config.eval_config.LMConfig, decoder_type="beam", lm_path=lm, beam_width=7, top_paths=2,
               cutoff_top_n=5, cutoff_prob=0.9, lm_workers=1, alpha=0.25, beta=1.5)
    decoder = build_decoder(L, cfg)
    try:
        s = decoder.settings
        assert (s.beam_width, s.top_paths, s.cutoff_top_n, s.cutoff_prob, s.lm_workers) == (7, 2, 5, 0.9, 1)
        assert (decoder.alpha, decoder.beta, s.lm_path) == (0.25, 1.5, lm)
        assert "beam 7" in decoder.describe() and "alpha 0.25" in decoder.describe()
    finally:
        decoder.close()
