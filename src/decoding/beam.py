"""CTC prefix beam search with an optional word n-gram LM (pyctcdecode + KenLM), over worker processes.

The search itself is pyctcdecode's (a maintained pure-Python prefix beam search that scores
whole words with a KenLM model, ARPA or KenLM binary): score = log P_ctc + alpha * ln P_lm +
beta * words, as deepspeech.pytorch's ctcdecode. The model zoo's ``LMConfig`` keys map onto it:

- ``beam_width``, ``alpha``, ``beta``, ``lm_path`` (empty: no LM), ``top_paths`` (n-best size);
- ``cutoff_top_n`` / ``cutoff_prob``: per frame only the ``cutoff_top_n`` most likely characters,
  and of those only as many as reach ``cutoff_prob`` cumulative probability, are extended (as
  ctcdecode); pyctcdecode's own thresholds are the new keys ``token_min_logp`` and
  ``beam_prune_logp``, and its out-of-vocabulary penalty is ``unk_score_offset``;
- ``lm_workers``: utterances of a batch are decoded in that many forked processes. The LM is
  loaded once, before the fork, so the workers share its memory.
"""
import logging
import math
import multiprocessing
import os
import warnings
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from src.config.schema import LMConfig
from src.data.labels import Labels
from src.decoding.base import Decoder, Hypothesis
from src.decoding.ngram_lm import arpa_vocabulary


@dataclass(frozen=True)
class BeamSettings(LMConfig):
    """``LMConfig`` (its keys and defaults; ranges are checked with the whole config, src/config/checks.py)."""

    @classmethod
    def from_config(cls, lm_cfg) -> "BeamSettings":
        """The section's values, and an LM file that exists."""
        settings = super().from_config(lm_cfg)
        if settings.lm_path and not os.path.isfile(settings.lm_path):
            raise ValueError(f"--lm_path {settings.lm_path}: file not found "
                             "(use --lm_path '' for beam search without an LM)")
        return settings


def candidate_log_probs(probs: np.ndarray, cutoff_top_n: int, cutoff_prob: float) -> np.ndarray:
    """(T, C) log probabilities with the characters ctcdecode's cutoffs exclude set to -inf.

    Per frame, characters are taken in order of probability until ``cutoff_top_n`` are taken or
    their sum reaches ``cutoff_prob``. The frame's best character is always kept.
    """
    probs = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logs = np.log(probs)
    if cutoff_top_n >= probs.shape[-1] and cutoff_prob >= 1.0:
        return logs.astype(np.float32)
    order = np.argsort(-probs, axis=-1, kind="stable")
    ranked = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked  # probability mass of the better characters
    keep_ranked = (np.arange(probs.shape[-1]) < cutoff_top_n) & (before < cutoff_prob)
    keep_ranked[:, 0] = True
    keep = np.zeros_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logs, -np.inf).astype(np.float32)


def _load_lm(path: str):
    import kenlm

    config = kenlm.Config()
    config.show_progress = False
    try:
        return kenlm.Model(path, config)
    except (OSError, RuntimeError) as err:
        raise ValueError(f"--lm_path {path}: not a KenLM-readable ARPA or binary model ({err})") from None


def _is_arpa(path: str) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    return head.startswith(b"\\data\\")


def _search(task: Tuple) -> List[Tuple[str, List, float, float]]:
    """One utterance (runs in a worker): pyctcdecode's beams as (text, word frames, acoustic, total)."""
    decoder, log_probs, alpha, beta, beam_width, token_min_logp, beam_prune_logp, prune_history = task
    if not len(log_probs):  # no output frames: nothing was said
        return [("", [], 0.0, 0.0)]
    decoder.reset_params(alpha=alpha, beta=beta)
    beams = decoder.decode_beams(log_probs, beam_width=beam_width, beam_prune_logp=beam_prune_logp,
                                 token_min_logp=token_min_logp, prune_history=prune_history)
    return [(text, frames, float(acoustic), float(total)) for text, _, frames, acoustic, total in beams]


class BeamDecoder(Decoder):
    """``decode(probs, lengths)`` -> the ``top_paths`` best hypotheses per utterance, best first.

    With ``lm_workers`` > 1 it holds a pool of worker processes: use it in a ``with`` block.
    """

    name = "beam"

    def __init__(self, labels: Labels, settings: BeamSettings):
        from pyctcdecode.alphabet import Alphabet
        from pyctcdecode.decoder import BeamSearchDecoderCTC
        from pyctcdecode.language_model import LanguageModel

        logging.getLogger("pyctcdecode").setLevel(logging.ERROR)  # its small-vocabulary notes are noise here
        self.labels = labels
        self.settings = settings
        self.alpha, self.beta = float(settings.alpha), float(settings.beta)
        language_model = None
        if settings.lm_path:
            kenlm_model = _load_lm(settings.lm_path)
            unigrams = arpa_vocabulary(settings.lm_path) if _is_arpa(settings.lm_path) else None
            if unigrams is None:
                warnings.warn(f"--lm_path {settings.lm_path}: a KenLM binary lists no vocabulary, so partial words "
                              "are not checked against it (an ARPA file decodes better)", stacklevel=2)
            self._check_spelling(unigrams)
            language_model = LanguageModel(kenlm_model, unigrams, alpha=self.alpha, beta=self.beta,
                                           unk_score_offset=float(settings.unk_score_offset))
        # labels.json order, blank "" last: the network's class order, as pyctcdecode needs
        alphabet = Alphabet([s if i != labels.blank else "" for i, s in enumerate(labels.symbols)], False)
        self._ctc = BeamSearchDecoderCTC(alphabet, language_model)
        self._pool = None
        if settings.lm_workers > 1:
            # forked after the LM is loaded: the workers share it instead of loading their own
            self._pool = multiprocessing.get_context("fork").Pool(settings.lm_workers)

    def _check_spelling(self, unigrams: Optional[set]) -> None:
        """An LM in another case or alphabet would silently score every word as unknown."""
        if not unigrams:
            return
        allowed = set(self.labels.symbols[:-1])
        spelled = sum(1 for w in unigrams if set(w) <= allowed)
        if spelled < 0.5 * len(unigrams):
            example = next(w for w in unigrams if not set(w) <= allowed)
            raise ValueError(f"--lm_path {self.settings.lm_path}: {len(unigrams) - spelled} of {len(unigrams)} "
                             f"words use characters outside labels.json (e.g. {example!r}; an LM in lower case?)")

    def set_weights(self, alpha: float, beta: float) -> None:
        """New LM weight and word bonus for the next ``decode`` (used by the parameter search)."""
        self.alpha, self.beta = float(alpha), float(beta)

    def decode(self, probs: Sequence[np.ndarray], lengths: Sequence[int]) -> List[List[Hypothesis]]:
        """probs: (N, T, C) or N arrays (T_i, C) of probabilities; lengths: valid frames of each."""
        s = self.settings
        tasks = [(self._ctc, candidate_log_probs(row[: int(n)], s.cutoff_top_n, s.cutoff_prob), self.alpha,
                  self.beta, s.beam_width, s.token_min_logp, s.beam_prune_logp, s.top_paths == 1)
                 for row, n in zip(probs, lengths)]
        if self._pool is not None and len(tasks) > 1:
            results = self._pool.map(_search, tasks, chunksize=1)
        else:
            results = [_search(task) for task in tasks]
        out = []
        for beams in results:
            hyps = [Hypothesis(text, [(word, start, end) for word, (start, end) in frames], total)
                    for text, frames, _, total in beams[: s.top_paths]]
            out.append(hyps or [Hypothesis("", [], -math.inf)])
        return out

    def describe(self) -> str:
        s = self.settings
        lm = (f"LM {s.lm_path} (alpha {self.alpha:g}, beta {self.beta:g})" if s.lm_path
              else "no LM")
        return f"beam {s.beam_width}, {lm}, {s.lm_workers} worker{'s' if s.lm_workers > 1 else ''}"

    def close(self) -> None:
        """Stop the worker processes (at once: after ``decode`` returns or raises they have no work)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self._ctc.cleanup()
