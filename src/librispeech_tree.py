"""Convert an already-extracted LibriSpeech tree into the toolkit's layout and CSV manifests.

Input: ``<root>/LibriSpeech/<split>/<speaker>/<chapter>/<utt>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (``UTTID TEXT`` lines). Output per split:
``<target>/<split>/wav/<utt>.wav`` (16 kHz, 16-bit, mono), ``<target>/<split>/txt/<utt>.txt`` and
``<target>/libri_<split with - as _>_manifest.csv``. No download or archive handling here: the
tree may come from anywhere (tarballs, a shared disk, the 50-utterance sample).
"""
import argparse
import os
from typing import Dict, List, Optional, Sequence, Tuple

import soundfile

from src.prep_common import (PrepError, atomic_write_text, convert_audio, convert_split, log, parallel_map,
                             remove_stale_temps,
                             require_dir, require_tool, run_cli, wav_duration)


def _split_root(libri_root: str) -> str:
    """Accept either the ``LibriSpeech`` folder or its parent."""
    libri_root = require_dir(libri_root, "LibriSpeech folder")
    inner = os.path.join(libri_root, "LibriSpeech")
    return inner if os.path.isdir(inner) else libri_root


def _is_split(folder: str) -> bool:
    """A split folder holds <speaker>/<chapter>/*.trans.txt."""
    for spk in os.scandir(folder):
        if spk.is_dir():
            for chap in os.scandir(spk.path):
                if chap.is_dir() and any(n.endswith(".trans.txt") for n in os.listdir(chap.path)):
                    return True
    return False


def find_splits(libri_root: str) -> List[str]:
    """Names of the split folders (e.g. ``test-other``) under a LibriSpeech root, sorted."""
    root = _split_root(libri_root)
    return sorted(d.name for d in os.scandir(root) if d.is_dir() and _is_split(d.path))


def read_split(split_dir: str) -> Tuple[List[Tuple[str, str, str]], int]:
    """(utt_id, flac_path, TEXT) for every transcribed flac of a split, sorted by id, and the number
    of flacs without a transcript line (reported, not fatal: one bad chapter should not stop a 1000 h run)."""
    utterances, untranscribed = [], 0
    for spk in sorted(os.listdir(split_dir)):
        spk_dir = os.path.join(split_dir, spk)
        if not os.path.isdir(spk_dir):
            continue
        for chap in sorted(os.listdir(spk_dir)):
            chap_dir = os.path.join(spk_dir, chap)
            if not os.path.isdir(chap_dir):
                continue
            texts: Dict[str, str] = {}
            names = os.listdir(chap_dir)
            for name in names:
                if not name.endswith(".trans.txt"):
                    continue
                trans = os.path.join(chap_dir, name)
                with open(trans, encoding="utf-8") as fh:
                    for number, line in enumerate(fh, 1):
                        line = line.strip()
                        if not line:
                            continue
                        uid, _, text = line.partition(" ")
                        if not text.strip():
                            raise PrepError(f"{trans}:{number}: expected 'UTTID TEXT', got {line!r}")
                        texts[uid] = " ".join(text.upper().split())
            for name in sorted(names):
                if name.endswith(".flac"):
                    uid = name[:-len(".flac")]
                    if uid in texts:
                        utterances.append((uid, os.path.join(chap_dir, name), texts[uid]))
                    else:
                        untranscribed += 1
    utterances.sort()
    return utterances, untranscribed


def _source_duration(job: Tuple[str, str, str]) -> float:
    try:
        info = soundfile.info(job[1])
    except (RuntimeError, OSError) as err:
        raise PrepError(f"cannot read audio header of {job[1]}: {err}") from None
    return info.frames / float(info.samplerate)


def _convert_one(job: Tuple[str, str, str, str]) -> Tuple[str, str, float, bool]:
    src, wav, txt, text = job
    did = convert_audio(src, wav)
    did = atomic_write_text(txt, text + "\n") or did
    return wav, txt, wav_duration(wav), did


def convert_librispeech_tree(libri_root: str, target_dir: str, splits: Optional[Sequence[str]] = None,
                             workers: int = 2, min_duration: Optional[float] = None,
                             max_duration: Optional[float] = None) -> Dict[str, str]:
    """Convert the given splits (default: every split found) and return {split: manifest path}.

    Utterances outside [min_duration, max_duration] seconds (judged from the flac header, before
    converting, so dropped audio costs nothing) are left out of the manifest and not converted.
    Idempotent: finished wav/txt files are skipped, so an interrupted run resumes.
    """
    require_tool("sox", "install sox and libsox-fmt-all (for FLAC)")
    root = _split_root(libri_root)
    available = find_splits(root)
    if splits is None:
        splits = available
        if not splits:
            raise PrepError(f"no LibriSpeech split (<split>/<speaker>/<chapter>/*.trans.txt) under {root}")
    for split in splits:
        if split not in available:
            raise PrepError(f"LibriSpeech split '{split}' not found under {root} "
                            f"(found: {', '.join(available) or 'none'})")
    target_dir = os.path.abspath(target_dir)
    manifests = {}
    for split in splits:
        utterances, untranscribed = read_split(os.path.join(root, split))
        if untranscribed:
            log(f"{split}: {untranscribed} flac file(s) without a transcript line, skipped")
        if not utterances:
            raise PrepError(f"no transcribed utterances in {os.path.join(root, split)}")
        kept, dropped_n, dropped_s = utterances, 0, 0.0
        if min_duration is not None or max_duration is not None:
            seconds = parallel_map(_source_duration, utterances, workers, desc=f"{split} durations")
            kept = []
            for utt, sec in zip(utterances, seconds):
                if (min_duration is not None and sec < min_duration) or (max_duration is not None and sec > max_duration):
                    dropped_n += 1
                    dropped_s += sec
                else:
                    kept.append(utt)
        wav_dir, txt_dir = os.path.join(target_dir, split, "wav"), os.path.join(target_dir, split, "txt")
        for folder in (wav_dir, txt_dir):
            os.makedirs(folder, exist_ok=True)
            remove_stale_temps(folder)
        jobs = [(flac, os.path.join(wav_dir, uid + ".wav"), os.path.join(txt_dir, uid + ".txt"), text)
                for uid, flac, text in kept]
        manifest = os.path.join(target_dir, f"libri_{split.replace('-', '_')}_manifest.csv")
        count, done, hours = convert_split(_convert_one, jobs, workers, manifest, split)
        log(f"{split}: kept {count} ({hours:.3f} h), dropped {dropped_n} ({dropped_s / 3600.0:.3f} h) "
            f"by duration; {done} (re)done, {count - done} already present -> {manifest}")
        manifests[split] = manifest
    return manifests


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    parser = argparse.ArgumentParser(description="Convert an extracted LibriSpeech tree to wav/txt + CSV manifests.")
    parser.add_argument("--libri_root", required=True, help="the LibriSpeech folder or its parent")
    parser.add_argument("--target_dir", required=True)
    parser.add_argument("--splits", nargs="*", default=None, help="e.g. train-clean-100 test-clean (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min_duration", type=float, default=None, help="seconds")
    parser.add_argument("--max_duration", type=float, default=None, help="seconds")
    args = parser.parse_args(argv)
    return convert_librispeech_tree(args.libri_root, args.target_dir, args.splits, args.workers,
                                    args.min_duration, args.max_duration)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
