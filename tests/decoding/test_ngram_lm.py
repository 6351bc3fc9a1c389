import kenlm
import pytest

from src.decoding.ngram_lm import BOS, EOS, UNK, adjusted_counts, arpa_vocabulary, count_ngrams, estimate, \
    estimate_discounts, write_arpa

CORPUS = [s.split() for s in [
    "I LIVE IN SAN FRANCISCO", "SAN FRANCISCO IS FOGGY", "WE FLEW TO SAN FRANCISCO", "SAN FRANCISCO AGAIN",
    "I LOST MY GLASSES", "HER GLASSES BROKE", "NEW GLASSES", "READING GLASSES HELP", "I LIVE HERE",
    "WE LIVE IN PARIS", "PARIS IS FOGGY TOO", "I FLEW TO PARIS AGAIN",
]]


def load(path):
    config = kenlm.Config()
    config.show_progress = False
    return kenlm.Model(str(path), config)


def after(model, words):
    state = kenlm.State()
    model.BeginSentenceWrite(state)
    for word in words:
        out = kenlm.State()
        model.BaseScore(state, word, out)
        state = out
    return state


def probability(model, history, word):
    return 10 ** model.BaseScore(after(model, history), word, kenlm.State())


@pytest.fixture(scope="module", params=[2, 3, 4])
def arpa(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / f"o{request.param}.arpa"
    write_arpa(estimate(CORPUS, request.param), str(path))
    return path


def test_kenlm_loads_it_and_every_context_sums_to_one(arpa):
    model = load(arpa)
    vocabulary = sorted(arpa_vocabulary(str(arpa))) + [EOS, UNK]
    assert len(vocabulary) == len({w for s in CORPUS for w in s}) + 2
    for history in ([], ["I"], ["I", "LIVE"], ["SAN", "FRANCISCO"], ["NEVER", "SEEN"], ["FOGGY", "I", "FLEW"]):
        total = sum(probability(model, history, w) for w in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-5), history


def test_kneser_ney_favours_words_seen_in_many_contexts(tmp_path):
    # FRANCISCO is as frequent as GLASSES but only ever follows SAN: after an unseen word the
    # continuation count, not the frequency, decides
    write_arpa(estimate(CORPUS, 2), str(tmp_path / "lm.arpa"))
    model = load(tmp_path / "lm.arpa")
    assert probability(model, ["PARIS"], "GLASSES") > 2 * probability(model, ["PARIS"], "FRANCISCO")
    assert probability(model, ["SAN"], "FRANCISCO") > 0.5


def test_seen_sequences_beat_unseen_ones(arpa):
    model = load(arpa)
    assert model.score("I LIVE IN PARIS") > model.score("PARIS IN LIVE I")
    assert model.score("I LIVE") > model.score("I BLORP")


def test_adjusted_counts_are_left_extensions_except_after_bos():
    raw = count_ngrams([["A", "B"], ["C", "B"], ["A", "B"]], 2)
    assert raw[1][(BOS, "A")] == 2 and raw[0][("B",)] == 3
    adjusted = adjusted_counts(raw)
    assert adjusted[0][("B",)] == 2  # after A and after C
    assert adjusted[0][("A",)] == 1  # only after <s>
    assert adjusted[1][(BOS, "A")] == 2  # highest order: raw
    assert (BOS,) not in adjusted[0]


def test_discounts_follow_chen_goodman_and_fall_back_on_tiny_data():
    # counts-of-counts t1..t4 = 4, 2, 1, 1: Y = 4 / 8; D1 = 1 - 2Y*2/4, D2 = 2 - 3Y/2, D3 = 3 - 4Y
    discounts, fell_back = estimate_discounts([1, 1, 1, 1, 2, 2, 3, 4, 7])
    assert not fell_back and discounts == pytest.approx((0.5, 1.25, 1.0))
    assert estimate_discounts([1, 1, 5]) == ((0.5, 1.0, 1.5), True)


def test_empty_corpus_and_bad_order_are_errors(tmp_path):
    with pytest.raises(ValueError, match="no sentences"):
        estimate([], 3)
    with pytest.raises(ValueError, match="order must be >= 1"):
        estimate(CORPUS, 0)
