"""Build a word n-gram LM (ARPA) from transcripts, for beam search when no LibriSpeech LM is at hand.

``python -m src.tools.build_lm --manifest data/train_manifest.csv --order 3 --out lm.arpa``
(or ``--text corpus.txt``, one sentence per line; both may be given and repeated). Text is
normalised exactly as transcripts are for training (``Labels.normalise``: upper case, only the
characters of labels.json), so the LM's words are spelled the way the network spells them.
The estimate is interpolated modified Kneser-Ney (src/decoding/ngram_lm.py).
"""
import argparse
import os
import sys
from typing import Iterator, List, Sequence

from src.common.errors import run_main
from src.data.labels import DEFAULT_LABELS_PATH, Labels
from src.data.manifest import read_manifest
from src.decoding.ngram_lm import estimate, write_arpa

DEFAULT_LABELS = DEFAULT_LABELS_PATH


def _text_lines(path: str) -> Iterator[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--text {path}: file not found")
    with open(path, encoding="utf-8", errors="replace") as fh:
        yield from fh


def _manifest_transcripts(path: str) -> Iterator[str]:
    for entry in read_manifest(path):
        if not os.path.isfile(entry.txt_path):
            raise FileNotFoundError(f"{entry.where}: transcript not found: {entry.txt_path}")
        with open(entry.txt_path, encoding="utf-8", errors="replace") as fh:
            yield fh.read()


def corpus_sentences(texts: Sequence[str], manifests: Sequence[str], labels: Labels) -> List[List[str]]:
    """Normalised, non-empty sentences (as word lists) of text files and manifests' transcripts."""
    sentences = []
    sources = [_text_lines(p) for p in texts] + [_manifest_transcripts(p) for p in manifests]
    for source in sources:
        for raw in source:
            text, _ = labels.normalise(raw)
            if text:
                sentences.append(text.split())
    return sentences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", action="append", default=[], help="text file, one sentence per line (repeatable)")
    parser.add_argument("--manifest", action="append", default=[],
                        help="CSV/JSON manifest whose transcripts are the corpus (repeatable)")
    parser.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    parser.add_argument("--out", required=True, help="ARPA file to write")
    parser.add_argument("--labels_path", default=DEFAULT_LABELS, help="labels.json (defines the characters kept)")
    args = parser.parse_args(argv)
    if not args.text and not args.manifest:
        parser.error("give at least one --text or --manifest")
    if not 2 <= args.order <= 9:
        parser.error(f"--order {args.order}: choose 2 to 9 (KenLM reads bigram models and up)")
    labels = Labels.load(args.labels_path)
    sentences = corpus_sentences(args.text, args.manifest, labels)
    if not sentences:
        raise ValueError("the corpus is empty after normalisation (no characters of labels.json left)")
    model = estimate(sentences, args.order)
    write_arpa(model, args.out)
    words = sum(len(s) for s in sentences)
    sizes = ", ".join(f"{n + 1}-grams {len(table)}" for n, table in enumerate(model.log10_prob))
    print(f"{len(sentences)} sentences, {words} words, {len(model.log10_prob[0]) - 3} word types; {sizes}")
    for n, (d1, d2, d3) in enumerate(model.discounts, 1):
        note = " (fallback: too little data to estimate)" if n in model.fallback_orders else ""
        print(f"  order {n} discounts D1 {d1:.3f} D2 {d2:.3f} D3+ {d3:.3f}{note}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
