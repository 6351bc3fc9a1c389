"""Import the Free Spoken Digit Dataset (FSDD) into the toolkit's layout, split by speaker.

``<fsdd_dir>/<digit>_<speaker>_<index>.wav`` (8 kHz) becomes
``<target>/fsdd_{train,test}/wav/<digit>_<speaker>_<index>.wav`` (16 kHz, via sox) plus a ``txt``
holding the digit's English word. One speaker is held out for test, so the test score measures
generalisation to an unseen voice rather than memorised recordings.

With ``--add_tts N``, N synthetic digit utterances from the offline TTS corpus
(``src/prep/tts_corpus.py``, its training voices) are added to the training side: four real speakers
are too few to generalise to a fifth, and many synthetic voices fill in the variety. They are
passed through FSDD's 8 kHz rate (``rate 8000 rate 16000``) so their bandwidth matches the real
recordings, and ``fsdd_tts_train_manifest.csv`` lists the real and synthetic training data.
"""
import argparse
import functools
import os
import re
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from src.common.errors import run_main
from src.data.manifest import read_manifest
from src.prep.common import (PrepError, convert_pair, convert_split, join_manifests, log, pair_jobs, require_dir,
                             require_tool)
from src.prep.tts_corpus import build_tts_corpus

FSDD_RATE = 8000

DIGIT_WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
_NAME_RE = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)\.wav$")


def _find_recordings(fsdd_dir: str) -> str:
    """The folder holding the wavs: ``fsdd_dir`` itself or its ``recordings`` subfolder (repo layout)."""
    fsdd_dir = require_dir(fsdd_dir, "FSDD folder")
    sub = os.path.join(fsdd_dir, "recordings")
    return sub if os.path.isdir(sub) else fsdd_dir


def list_fsdd(fsdd_dir: str) -> List[Tuple[str, str, int, int]]:
    """All recordings as (path, speaker, digit, index), sorted by (speaker, index, digit)."""
    folder = _find_recordings(fsdd_dir)
    found, ignored = [], 0
    for name in os.listdir(folder):
        match = _NAME_RE.match(name)
        if match:
            found.append((os.path.join(folder, name), match.group(2), int(match.group(1)), int(match.group(3))))
        elif name.endswith(".wav"):
            ignored += 1
    if ignored:
        log(f"ignored {ignored} wav file(s) not named <digit>_<speaker>_<index>.wav in {folder}")
    if not found:
        raise PrepError(f"no FSDD recordings (<digit>_<speaker>_<index>.wav) in {folder}")
    found.sort(key=lambda r: (r[1], r[3], r[2]))
    return found


def build_fsdd(fsdd_dir: str, target_dir: str, test_speaker: str = "george", workers: int = 2,
               limit_per_speaker: Optional[int] = None) -> Dict[str, str]:
    """Convert FSDD and write ``fsdd_train_manifest.csv`` (all other speakers) and
    ``fsdd_test_manifest.csv`` (``test_speaker``) in ``target_dir``; returns {'train': path, 'test': path}.

    ``limit_per_speaker`` keeps only the first N recordings of each speaker, in (index, digit)
    order so that N=10 gives every digit once -- for quick tests. Idempotent: finished files are
    skipped, so an interrupted run resumes.
    """
    require_tool("sox", "install sox")
    recordings = list_fsdd(fsdd_dir)
    speakers = sorted({r[1] for r in recordings})
    if test_speaker not in speakers:
        raise PrepError(f"test speaker '{test_speaker}' not in FSDD folder {fsdd_dir} (speakers: {', '.join(speakers)})")
    if limit_per_speaker is not None:
        kept: Dict[str, int] = defaultdict(int)
        subset = []
        for rec in recordings:
            if kept[rec[1]] < limit_per_speaker:
                kept[rec[1]] += 1
                subset.append(rec)
        recordings = subset
    target_dir = os.path.abspath(target_dir)
    log(f"FSDD: {len(recordings)} recordings, speakers {', '.join(speakers)}; test speaker: {test_speaker}")

    manifests = {}
    for split in ("train", "test"):
        split_dir = os.path.join(target_dir, f"fsdd_{split}")
        jobs = pair_jobs(split_dir, [(f"{digit}_{speaker}_{index}", src, DIGIT_WORDS[digit])
                                     for src, speaker, digit, index in recordings
                                     if (speaker == test_speaker) == (split == "test")])
        manifest = os.path.join(target_dir, f"fsdd_{split}_manifest.csv")
        count, done, hours = convert_split(convert_pair, jobs, workers, manifest, f"fsdd_{split}")
        log(f"fsdd_{split}: {count} utterances ({hours:.2f} h), {done} (re)done, "
            f"{count - done} already present -> {manifest}")
        manifests[split] = manifest
    return manifests


def add_tts(target_dir: str, train_manifest: str, n_utterances: int, workers: int = 2, seed: int = 0) -> str:
    """Synthesise ``n_utterances`` training utterances, band-limit them like FSDD and write
    ``fsdd_tts_train_manifest.csv`` (real + synthetic); returns its path."""
    target_dir = os.path.abspath(target_dir)
    tts = build_tts_corpus(os.path.join(target_dir, "tts"), n_train=n_utterances, n_test=1, seed=seed, workers=workers)
    jobs = []
    for entry in read_manifest(tts["train"]):
        with open(entry.txt_path, encoding="utf-8") as handle:
            text = handle.read()
        jobs.append((os.path.splitext(os.path.basename(entry.wav_path))[0], entry.wav_path, text.strip()))
    band_dir = os.path.join(target_dir, f"tts_{FSDD_RATE // 1000}k_train")
    limited = os.path.join(target_dir, f"tts_{FSDD_RATE // 1000}k_train_manifest.csv")
    band_limit = functools.partial(convert_pair, effects=["rate", str(FSDD_RATE), "rate", "16000"])
    count, done, hours = convert_split(band_limit, pair_jobs(band_dir, jobs), workers, limited, "tts_8k")
    log(f"tts at FSDD's bandwidth: {count} utterances ({hours:.2f} h), {done} (re)done -> {limited}")
    combined = os.path.join(target_dir, "fsdd_tts_train_manifest.csv")
    count = join_manifests(combined, [train_manifest, limited])
    log(f"fsdd + tts training manifest: {count} utterances -> {combined}")
    return combined


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    parser = argparse.ArgumentParser(description="Import the Free Spoken Digit Dataset, split by speaker.")
    parser.add_argument("--fsdd_dir", required=True, help="FSDD folder (or its recordings/ subfolder)")
    parser.add_argument("--target_dir", required=True)
    parser.add_argument("--test_speaker", default="george")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit_per_speaker", type=int, default=None)
    parser.add_argument("--add_tts", type=int, default=0, metavar="N",
                        help="also synthesise N digit utterances of many TTS voices for training "
                             "(written to fsdd_tts_train_manifest.csv with the real training data)")
    args = parser.parse_args(argv)
    if args.add_tts < 0:
        raise PrepError(f"--add_tts must be >= 0, got {args.add_tts}")
    manifests = build_fsdd(args.fsdd_dir, args.target_dir, args.test_speaker, args.workers, args.limit_per_speaker)
    if args.add_tts:
        manifests["train_tts"] = add_tts(args.target_dir, manifests["train"], args.add_tts, args.workers)
    return manifests


if __name__ == "__main__":
    raise SystemExit(run_main(main, prefix="[prep] ", resumable=True))
