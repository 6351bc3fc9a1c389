"""Reading an extracted LibriSpeech tree and converting one part of it to wav/txt.

Input: ``<root>/LibriSpeech/<part>/<speaker>/<chapter>/<utt>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (``UTTID TEXT`` lines). Output of a part:
``<split_dir>/wav/<utt>.wav`` (16 kHz, 16-bit, mono), ``<split_dir>/txt/<utt>.txt`` (upper case)
and ``<split_dir>/<part>.prepared.json`` (utterance ids and durations), written last, which marks
the part as finished. Which parts exist, where the tree comes from (download, tarball) and the
manifests are ``src/prep/librispeech.py``'s business.
"""
import json
import os
import time
from typing import Dict, List, Optional, Tuple

from src.common.files import atomic_write_text, is_temp_name
from src.prep.common import PrepError, convert_pair, log, parallel_map, pair_jobs, require_dir, require_tool


def parts_root(libri_root: str) -> str:
    """Accept either the ``LibriSpeech`` folder or its parent."""
    libri_root = require_dir(libri_root, "LibriSpeech folder")
    inner = os.path.join(libri_root, "LibriSpeech")
    return inner if os.path.isdir(inner) else libri_root


def _is_part(folder: str) -> bool:
    """A part folder (``test-other``...) holds <speaker>/<chapter>/*.trans.txt."""
    for spk in os.scandir(folder):
        if spk.is_dir():
            for chap in os.scandir(spk.path):
                if chap.is_dir() and any(n.endswith(".trans.txt") for n in os.listdir(chap.path)):
                    return True
    return False


def find_parts(libri_root: str) -> List[str]:
    """Names of the part folders (e.g. ``test-other``) under a LibriSpeech root, sorted."""
    root = parts_root(libri_root)
    return sorted(d.name for d in os.scandir(root) if d.is_dir() and _is_part(d.path))


def read_part(part_dir: str) -> Tuple[List[Tuple[str, str, str]], int]:
    """(utt_id, flac_path, TEXT) for every transcribed flac of a part, sorted by id, and the number
    of flacs without a transcript line (reported, not fatal: one bad chapter should not stop a 1000 h run)."""
    utterances, untranscribed = [], 0
    for spk in sorted(os.listdir(part_dir)):
        spk_dir = os.path.join(part_dir, spk)
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


def _record_path(split_dir: str, part: str) -> str:
    return os.path.join(split_dir, f"{part}.prepared.json")


def read_record(split_dir: str, part: str) -> Optional[Dict[str, float]]:
    """``{utt_id: seconds}`` of a finished part, or None if it is not (completely) prepared in
    ``split_dir``: no record, or a wav/txt it lists has gone missing since."""
    try:
        with open(_record_path(split_dir, part), encoding="utf-8") as fh:
            utterances = json.load(fh)["utterances"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for uid in utterances:
        if not (os.path.isfile(os.path.join(split_dir, "wav", uid + ".wav"))
                and os.path.isfile(os.path.join(split_dir, "txt", uid + ".txt"))):
            return None
    return utterances


def split_rows(split_dir: str) -> List[Tuple[str, str, float]]:
    """``(wav, txt, seconds)`` of every finished part in ``split_dir`` (e.g. all three train parts)."""
    rows = []
    for name in sorted(os.listdir(split_dir)) if os.path.isdir(split_dir) else []:
        if name.endswith(".prepared.json") and not is_temp_name(name):
            part = name[:-len(".prepared.json")]
            record = read_record(split_dir, part)
            if record is None:
                log(f"warning: {part} in {split_dir} lost files since it was prepared; left out of the "
                    f"manifest (prepare it again with --files-to-use {part})")
                continue
            for uid, seconds in record.items():
                rows.append((os.path.join(split_dir, "wav", uid + ".wav"),
                             os.path.join(split_dir, "txt", uid + ".txt"), seconds))
    return rows


def convert_part(part_dir: str, split_dir: str, workers: int = 2) -> Dict[str, float]:
    """Convert one extracted part (e.g. ``.../LibriSpeech/train-clean-100``) into ``split_dir``/wav|txt and
    record it as finished; returns ``{utt_id: seconds}``.

    Idempotent: finished wav/txt files are skipped, so an interrupted run resumes where it
    stopped. The record is written last, so its presence means every file it lists is complete.
    """
    require_tool("sox", "install sox and libsox-fmt-all (for FLAC)")
    part = os.path.basename(os.path.normpath(part_dir))
    utterances, untranscribed = read_part(part_dir)
    if untranscribed:
        log(f"{part}: {untranscribed} flac file(s) without a transcript line, skipped")
    if not utterances:
        raise PrepError(f"no transcribed utterances in {part_dir}")
    jobs = pair_jobs(split_dir, utterances)
    start = time.monotonic()
    results = parallel_map(convert_pair, jobs, workers, desc=f"convert {part}")
    seconds = time.monotonic() - start
    done = sum(r[3] for r in results)
    log(f"convert {part}: {len(results)} utterances ({sum(r[2] for r in results) / 3600.0:.3f} h) in "
        f"{seconds:.1f} s ({len(results) / max(seconds, 1e-9):.1f} utterances/s, {workers} worker(s)); "
        f"{done} converted, {len(results) - done} already present")
    record = {uid: round(r[2], 4) for (uid, _, _), r in zip(utterances, results)}
    atomic_write_text(_record_path(split_dir, part),
                      json.dumps({"part": part, "source": os.path.abspath(part_dir), "utterances": record}) + "\n")
    return record
