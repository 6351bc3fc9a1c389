"""The symbol set and transcript <-> label-id mapping.

``labels.json`` keeps the model zoo's order: apostrophe is id 0 and blank ``_`` is last, as
``ops.CTCLoss`` requires. The zoo lost every apostrophe by filtering ids with ``filter(None, ...)``
(id 0 is falsy); here ids are looked up explicitly so id 0 survives.
"""
import json
import os
import re
import unicodedata
from collections import Counter
from typing import Dict, List, Sequence, Tuple

from src import ROOT
from src.common.errors import LabelError

BLANK = "_"
DEFAULT_LABELS_PATH = os.path.join(ROOT, "labels.json")  # the zoo's 29 symbols beside the code


class Labels:
    """Symbols of the output layer, with the blank last."""

    def __init__(self, symbols: Sequence[str]):
        symbols = list(symbols)
        if not symbols or symbols[-1] != BLANK:
            raise LabelError(f"the blank symbol {BLANK!r} must be the last label (ops.CTCLoss uses the last class)")
        if len(set(symbols)) != len(symbols) or any(len(s) != 1 for s in symbols):
            raise LabelError("labels must be distinct single characters")
        self.symbols = symbols
        self.blank = len(symbols) - 1
        self._index: Dict[str, int] = {s: i for i, s in enumerate(symbols[:-1])}
        self.space = self._index.get(" ")

    @classmethod
    def load(cls, path: str) -> "Labels":
        if not os.path.isfile(path):
            raise LabelError(f"labels file not found: {path}")
        try:
            with open(path, encoding="utf-8") as fh:
                symbols = json.load(fh)
        except (OSError, json.JSONDecodeError) as err:
            raise LabelError(f"{path}: not a JSON list of symbols ({err})") from None
        if not isinstance(symbols, list):
            raise LabelError(f"{path}: expected a JSON list of symbols")
        try:
            return cls(symbols)
        except LabelError as err:
            raise LabelError(f"{path}: {err}") from None

    def __len__(self) -> int:
        return len(self.symbols)

    def normalise(self, text: str) -> Tuple[str, Counter]:
        """Upper-case, fold accents and typographic apostrophes, squeeze spaces.

        Returns the text keeping only label characters, and a Counter of the characters dropped
        (so callers can report them instead of losing them silently).
        """
        text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
        text = unicodedata.normalize("NFKD", text.upper())
        text = "".join(c for c in text if not unicodedata.combining(c))
        text = re.sub(r"[\s\-]+", " ", text)
        kept, dropped = [], Counter()
        for char in text:
            if char in self._index:
                kept.append(char)
            else:
                dropped[char] += 1
        return re.sub(" +", " ", "".join(kept)).strip(), dropped

    def encode(self, text: str) -> List[int]:
        """Ids of an already-normalised text (every character must be a label)."""
        return [self._index[c] for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.symbols[i] for i in ids if i != self.blank)
