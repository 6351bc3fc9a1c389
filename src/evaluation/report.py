"""A Markdown report of an evaluation: which utterances fail, and how.

``eval.py`` prints per-utterance lines and one summary; to see *what* goes wrong a person wants
the distribution of utterance WERs, the worst utterances with the differing words marked, and
which characters get confused. Written beside the JSON results (``<result_file>.report.md``);
its totals are the console's (the same ``ErrorRates``), formatted the same way.
"""
import os
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import Levenshtein

from src.common.files import atomic_write
from src.evaluation.evaluate import summary_line
from src.evaluation.metrics import ErrorRates

WER_BINS = ((0.0, 0.0, "0 %"), (0.0, 0.25, "(0, 25] %"), (0.25, 0.5, "(25, 50] %"), (0.5, 0.75, "(50, 75] %"),
            (0.75, 1.0, "(75, 100] %"), (1.0, float("inf"), "> 100 %"))


def report_path(result_file: str) -> str:
    return os.path.splitext(result_file)[0] + ".report.md"


def wer_distribution(wers: Sequence[float]) -> List[Tuple[str, int]]:
    """(bin label, utterances) for the WER bins; every utterance falls in exactly one."""
    counts = []
    for low, high, label in WER_BINS:
        counts.append((label, sum(1 for w in wers if (w == 0 if high == 0 else low < w <= high))))
    return counts


def marked_words(ref: str, hyp: str) -> Tuple[str, str]:
    """Ref and hyp with the words that differ (substituted, deleted, inserted) in bold; a deleted
    or inserted word faces an empty slot ``·`` on the other side, so both lines align word by word."""
    ref_words, hyp_words = ref.lower().split(), hyp.lower().split()
    ref_out, hyp_out = [], []
    for op, i1, i2, j1, j2 in Levenshtein.opcodes(ref_words, hyp_words):
        left, right = ref_words[i1:i2], hyp_words[j1:j2]
        if op == "equal":
            ref_out += left
            hyp_out += right
            continue
        width = max(len(left), len(right))
        ref_out += [f"**{w}**" for w in left] + ["·"] * (width - len(left))
        hyp_out += [f"**{w}**" for w in right] + ["·"] * (width - len(right))
    return " ".join(ref_out) or "(empty)", " ".join(hyp_out) or "(empty)"


def confusions(pairs: Sequence[Tuple[str, str]], unit: str = "char") -> Dict[str, Counter]:
    """Edits over all (ref, hyp) pairs, by character (spaces removed, as CER counts them) or by
    word: ``substitutions[(ref, hyp)]``, ``deletions[ref]``, ``insertions[hyp]``."""
    def tokens(text: str):
        return text.lower().split() if unit == "word" else text.replace(" ", "").lower()

    found = {"substitutions": Counter(), "deletions": Counter(), "insertions": Counter()}
    for ref, hyp in pairs:
        ref, hyp = tokens(ref), tokens(hyp)
        for op, i, j in Levenshtein.editops(ref, hyp):
            if op == "replace":
                found["substitutions"][(ref[i], hyp[j])] += 1
            elif op == "delete":
                found["deletions"][ref[i]] += 1
            else:
                found["insertions"][hyp[j]] += 1
    return found


def _confusion_table(found: Dict[str, Counter], top: int = 15) -> List[str]:
    """Substitutions, deletions and insertions side by side, most frequent first."""
    out = ["| reference → hypothesis | times | | deleted | times | | inserted | times |",
           "| --- | ---: | --- | --- | ---: | --- | --- | ---: |"]
    columns = [[(f"`{a}` → `{b}`", n) for (a, b), n in found["substitutions"].most_common(top)],
               [(f"`{c}`", n) for c, n in found["deletions"].most_common(top)],
               [(f"`{c}`", n) for c, n in found["insertions"].most_common(top)]]
    for row in range(max(len(c) for c in columns)):
        cells = [c[row] if row < len(c) else ("", "") for c in columns]
        out.append(" | | ".join(f"{text} | {n}" for text, n in cells).join(("| ", " |")))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def render_report(outcome: Dict, meta: Optional[Dict] = None, worst: int = 20) -> str:
    """The report as Markdown text (see the module docstring)."""
    rates: ErrorRates = outcome["rates"]
    results: List[Dict] = outcome["utterances"]
    paths = [r["wav_path"] for r in results]
    root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0]) if paths else ""
    name = {p: os.path.relpath(p, root) if root else p for p in paths}
    out = ["# Evaluation report", ""]
    out += [f"- {key}: `{value}`" for key, value in (meta or {}).items()]
    out += ["", "## Summary", "", "| | edits | in the references | rate (%) |", "| --- | ---: | ---: | ---: |",
            f"| words | {rates.word_edits} | {rates.words} | {rates.wer:.3f} |",
            f"| characters (without spaces) | {rates.char_edits} | {rates.chars} | {rates.cer:.3f} |", "",
            f"{rates.utterances} utterances; the console's summary line:", "", "```",
            summary_line(rates).expandtabs(4), "```", ""]

    wers = [r["wer"] for r in results]
    out += ["## WER distribution (per utterance)", "", "| utterance WER | utterances | share | |",
            "| --- | ---: | ---: | --- |"]
    for label, count in wer_distribution(wers):
        share = count / max(len(wers), 1)
        out.append(f"| {label} | {count} | {_pct(share)} % | {'█' * round(30 * share)} |")
    if wers:
        ordered = sorted(wers)
        out += ["", f"Median utterance WER {_pct(ordered[len(ordered) // 2])} %, mean {_pct(sum(wers) / len(wers))} % "
                    "(the corpus WER above weights utterances by their length)."]

    ranked = sorted(range(len(results)), key=lambda i: (-results[i]["wer"], -results[i]["cer"], i))
    shown = [i for i in ranked[:worst] if results[i]["wer"] > 0]
    out += ["", f"## Worst utterances ({len(shown)} shown)", "",
            "Differing words are **bold**; `·` is the empty slot facing a deleted or inserted word.", ""]
    for rank, index in enumerate(shown, 1):
        r = results[index]
        ref, hyp = marked_words(r["ref"], r["hyp"])
        out += [f"{rank}. `{name[r['wav_path']]}` — WER {_pct(r['wer'])} %, CER {_pct(r['cer'])} %  ",
                f"   Ref: {ref}  ", f"   Hyp: {hyp}", ""]

    pairs = [(r["ref"], r["hyp"]) for r in results]
    for unit, title, how in (("word", "Word", "as WER counts them"),
                             ("char", "Character", "spaces removed, as CER counts them")):
        found = confusions(pairs, unit)
        out += [f"## {title} confusions", "",
                f"Over all utterances, {how}: {sum(found['substitutions'].values())} substitutions, "
                f"{sum(found['deletions'].values())} deletions, {sum(found['insertions'].values())} insertions.", ""]
        out += _confusion_table(found) + [""]
    out += ["## Every utterance", "", "| # | file | WER (%) | CER (%) | reference | hypothesis |",
            "| ---: | --- | ---: | ---: | --- | --- |"]
    for number, r in enumerate(results, 1):
        out.append(f"| {number} | {_cell(name[r['wav_path']])} | {_pct(r['wer'])} | {_pct(r['cer'])} | "
                   f"{_cell(r['ref'].lower())} | {_cell(r['hyp'].lower())} |")
    return "\n".join(out) + "\n"


def write_eval_report(result_file: str, outcome: Dict, meta: Optional[Dict] = None) -> str:
    """Write the report beside ``result_file`` (atomically); returns its path."""
    path = report_path(result_file)
    with atomic_write(path) as fh:
        fh.write(render_report(outcome, meta))
    return path
