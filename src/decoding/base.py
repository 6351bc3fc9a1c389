"""What every decoder is: ``decode(probs, lengths)`` -> an n-best list of ``Hypothesis`` per utterance.

Decoders may hold resources (the beam decoder's LM worker processes), so they are context
managers: ``with build_decoder(labels, lm_cfg) as decoder:`` releases them however the block ends.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np

# (word, first output frame, end output frame exclusive)
WordFrames = Tuple[str, int, int]


@dataclass
class Hypothesis:
    text: str
    words: List[WordFrames] = field(default_factory=list)
    score: float = 0.0  # log score: acoustic (+ weighted LM and word bonus for beam search)


class Decoder(ABC):
    """Network outputs -> text. Subclasses set ``name`` and implement ``decode`` and ``describe``."""

    name = ""

    @abstractmethod
    def decode(self, probs: Sequence[np.ndarray], lengths: Sequence[int]) -> List[List[Hypothesis]]:
        """probs: (N, T, C) or N arrays (T_i, C) of probabilities; lengths: valid frames of each.
        Returns each utterance's hypotheses, best first."""

    @abstractmethod
    def describe(self) -> str:
        """One line for logs and result files (e.g. ``greedy``, ``beam 8, no LM, 1 worker``)."""

    def close(self) -> None:
        """Release what the decoder holds (nothing, unless a subclass says otherwise)."""

    def __enter__(self) -> "Decoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
