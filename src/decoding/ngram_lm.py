"""Word n-gram language models: interpolated modified Kneser-Ney estimation and ARPA files.

Users without the LibriSpeech LMs can build a small LM from their own training transcripts (the
pip ``kenlm`` module can only *query* models; it has no ``lmplz``). The estimate is the one
KenLM's ``lmplz`` makes (Chen & Goodman's interpolated modified Kneser-Ney):

- adjusted counts: the highest order and n-grams starting with ``<s>`` keep their raw counts;
  every other n-gram counts its distinct left extensions (how many contexts it continues);
- three discounts per order from the counts-of-counts, D1/D2/D3+ (with lmplz's fallback
  0.5/1/1.5 when the corpus is too small or too regular for the estimate, as lmplz's
  ``--discount_fallback``);
- p(w|h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w|h'), down to a uniform distribution over
  the vocabulary (``<unk>`` included), so every context's probabilities sum to 1.

Written as ARPA, gamma(h) is the back-off weight of h. Everything is held in memory: this is
meant for transcripts (up to a few million words), not for web-scale text.
"""
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Sequence, Set, Tuple

from src.common.files import atomic_write

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# The log10 probability ARPA files give <s>, which is a context and never predicted.
BOS_LOG10 = -99.0

Ngram = Tuple[str, ...]


@dataclass
class NgramModel:
    """Log10 probabilities and back-off weights of every n-gram, by order (index 0 = unigrams)."""
    order: int
    log10_prob: List[Dict[Ngram, float]] = field(default_factory=list)
    log10_backoff: List[Dict[Ngram, float]] = field(default_factory=list)
    discounts: List[Tuple[float, float, float]] = field(default_factory=list)
    fallback_orders: List[int] = field(default_factory=list)  # orders whose discounts fell back


def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> List[Counter]:
    """Raw counts of every 1..order-gram of the sentences, each wrapped in <s> ... </s>."""
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        tokens = [BOS, *words, EOS]
        for n in range(1, order + 1):
            table = counts[n - 1]
            for start in range(len(tokens) - n + 1):
                table[tuple(tokens[start:start + n])] += 1
    return counts


def adjusted_counts(raw: List[Counter]) -> List[Counter]:
    """Kneser-Ney counts: distinct left extensions below the top order, except after <s>."""
    order = len(raw)
    adjusted = [Counter() for _ in range(order)]
    adjusted[-1] = Counter(raw[-1])
    for n in range(order - 1, 0, -1):  # order n-grams from the (n+1)-grams' suffixes
        table = adjusted[n - 1]
        for longer in raw[n]:
            table[longer[1:]] += 1
        for gram, count in raw[n - 1].items():
            if gram[0] == BOS:
                table[gram] = count
    adjusted[0].pop((BOS,), None)  # <s> is only a context, never predicted
    return adjusted


def estimate_discounts(counts: Iterable[int]) -> Tuple[Tuple[float, float, float], bool]:
    """(D1, D2, D3+) from counts-of-counts (Chen & Goodman); (fallback, True) if not estimable."""
    of = Counter(c for c in counts if c <= 4)
    t1, t2, t3, t4 = (of[i] for i in (1, 2, 3, 4))
    if min(t1, t2, t3, t4) == 0:
        return FALLBACK_DISCOUNTS, True
    y = t1 / (t1 + 2 * t2)
    discounts = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    if not all(0 < d < i for i, d in enumerate(discounts, 1)):
        return FALLBACK_DISCOUNTS, True
    return discounts, False


def estimate(sentences: Iterable[Sequence[str]], order: int = 3) -> NgramModel:
    """Interpolated modified Kneser-Ney model of the sentences (lists of words)."""
    raw = count_ngrams(sentences, order)
    if not raw[0]:
        raise ValueError("the corpus has no sentences")
    adjusted = adjusted_counts(raw)
    model = NgramModel(order)
    vocabulary = {g[0] for g in adjusted[0]} | {UNK}
    lower: Dict[Ngram, float] = {}  # interpolated probabilities of the previous order
    gammas_below: Dict[Ngram, float] = {}
    for n in range(1, order + 1):
        table = adjusted[n - 1]
        discounts, fell_back = estimate_discounts(table.values())
        model.discounts.append(discounts)
        if fell_back:
            model.fallback_orders.append(n)
        totals: Dict[Ngram, float] = defaultdict(float)
        removed: Dict[Ngram, float] = defaultdict(float)
        for gram, count in table.items():
            totals[gram[:-1]] += count
            removed[gram[:-1]] += discounts[min(count, 3) - 1]
        gammas = {context: removed[context] / totals[context] for context in totals}
        probs: Dict[Ngram, float] = {}
        if n == 1:
            floor = gammas[()] / len(vocabulary)
            for word in vocabulary:
                count = table.get((word,), 0)
                discounted = (count - discounts[min(count, 3) - 1]) / totals[()] if count else 0.0
                probs[(word,)] = discounted + floor
        else:
            for gram, count in table.items():
                context = gram[:-1]
                probs[gram] = ((count - discounts[min(count, 3) - 1]) / totals[context]
                               + gammas[context] * lower[gram[1:]])
        model.log10_prob.append({g: math.log10(p) for g, p in probs.items()})
        if n > 1:  # the contexts of this order are the (n-1)-grams that back off to it
            model.log10_backoff.append({g: math.log10(gammas[g]) if g in gammas else 0.0
                                        for g in gammas_below})
        gammas_below = dict.fromkeys(list(probs) + ([(BOS,)] if n == 1 else []))
        lower = probs
    model.log10_prob[0][(BOS,)] = BOS_LOG10
    return model


def write_arpa(model: NgramModel, path: str) -> None:
    """ARPA text (what KenLM, pyctcdecode and SRILM read); written to a temp name, then renamed."""
    with atomic_write(path) as fh:
        fh.write("\n\\data\\\n")
        for n in range(1, model.order + 1):
            fh.write(f"ngram {n}={len(model.log10_prob[n - 1])}\n")
        for n in range(1, model.order + 1):
            fh.write(f"\n\\{n}-grams:\n")
            backoffs = model.log10_backoff[n - 1] if n < model.order else {}
            for gram in sorted(model.log10_prob[n - 1]):
                line = f"{model.log10_prob[n - 1][gram]:.7g}\t{' '.join(gram)}"
                if n < model.order:
                    line += f"\t{backoffs.get(gram, 0.0):.7g}"
                fh.write(line + "\n")
        fh.write("\n\\end\\\n")


def arpa_vocabulary(path: str) -> Set[str]:
    """The words of an ARPA file's unigram section (without <s>, </s>, <unk>)."""
    words: Set[str] = set()
    in_unigrams = False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if line == "\\1-grams:":
                in_unigrams = True
            elif in_unigrams and line.startswith("\\"):
                break
            elif in_unigrams and line:
                parts = line.split()
                if len(parts) >= 2:
                    words.add(parts[1])
    return words - {BOS, EOS, UNK}
