"""WER / CER as the zoo and deepspeech.pytorch count them: edit counts, summed over a corpus.

WER = sum(word edits) / sum(reference words); CER = sum(char edits, spaces removed) /
sum(reference chars without spaces). Empty references count 0 words, so they never divide by 0.
"""
from dataclasses import dataclass
from typing import Tuple

import Levenshtein


def word_edits(ref: str, hyp: str) -> int:
    return Levenshtein.distance(ref.split(), hyp.split())


def char_edits(ref: str, hyp: str) -> int:
    return Levenshtein.distance(ref.replace(" ", ""), hyp.replace(" ", ""))


@dataclass
class ErrorRates:
    """Running corpus-level totals."""
    word_edits: int = 0
    words: int = 0
    char_edits: int = 0
    chars: int = 0
    utterances: int = 0

    def add(self, ref: str, hyp: str) -> Tuple[float, float]:
        """Add one utterance; returns its own (WER, CER) as fractions (0 edits on 0 refs -> 0)."""
        we, ce = word_edits(ref, hyp), char_edits(ref, hyp)
        nw, nc = len(ref.split()), len(ref.replace(" ", ""))
        self.word_edits += we
        self.words += nw
        self.char_edits += ce
        self.chars += nc
        self.utterances += 1
        return we / max(nw, 1), ce / max(nc, 1)

    @property
    def wer(self) -> float:
        """Percent."""
        return 100.0 * self.word_edits / max(self.words, 1)

    @property
    def cer(self) -> float:
        return 100.0 * self.char_edits / max(self.chars, 1)
