import pytest

from src.evaluation.evaluate import summary_line
from src.evaluation.metrics import ErrorRates, char_edits, word_edits


def test_hand_computed_edits():
    assert word_edits("THE CAT SAT", "THE BAT SAT ON") == 2
    assert char_edits("THE CAT", "THE BAT") == 1
    assert char_edits("AB CD", "ABCD") == 0  # spaces are not counted


def test_corpus_level_not_mean_of_utterances():
    rates = ErrorRates()
    assert rates.add("A B C D", "A B C D") == (0.0, 0.0)
    assert rates.add("X", "Y") == (1.0, 1.0)
    assert rates.wer == pytest.approx(100 * 1 / 5)
    assert rates.cer == pytest.approx(100 * 1 / 5)


def test_empty_reference_and_hypothesis_do_not_crash():
    rates = ErrorRates()
    assert rates.add("", "") == (0.0, 0.0)
    assert rates.add("", "HELLO") == (1.0, 5.0)
    assert rates.add("HELLO", "") == (1.0, 1.0)
    assert rates.utterances == 3


def test_summary_line_is_the_zoo_format():
    rates = ErrorRates()
    rates.add("A B", "A C")
    assert summary_line(rates) == "Test Summary \tAverage WER 50.000\tAverage CER 50.000\t"
